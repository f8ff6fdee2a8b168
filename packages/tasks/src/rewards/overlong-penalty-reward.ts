import {
  ConfigError,
  definePlugin,
  defineSettings,
  InvalidValueError,
  MissingInputError,
  parsePluginSettings,
  type RewardFunctionV1,
  type RewardInputV1,
  type RewardResultV1,
  type SettingsInputV1,
} from '@hicra/spec';
import { readNumber, SOURCE } from '../settings.js';
import { checkRewardInput } from './reward-input.js';

/**
 * Settings of `overlong-penalty`: `maxLength`, L_max, the generation limit in tokens (default:
 * `input.maxResponseLength`); `cacheLength`, L_cache, the soft band before L_max (default:
 * `cacheFraction * L_max`, rounded); `cacheFraction`, L_cache as a share of L_max when
 * `cacheLength` is not given (default 0.2, DAPO: 4096 / 20480); `penaltyFactor`, the scale of
 * the penalty (verl's `overlong_buffer.penalty_factor`, default 1).
 */
export const overlongPenaltySettings = defineSettings({
  maxLength: {
    type: 'number',
    integer: true,
    min: 1,
    description: 'L_max in tokens (default: the input maxResponseLength)',
  },
  cacheLength: {
    type: 'number',
    integer: true,
    min: 0,
    description: 'L_cache, the soft band before L_max (default: cacheFraction · L_max)',
  },
  cacheFraction: {
    type: 'number',
    min: 0,
    max: 1,
    default: 0.2,
    description: 'L_cache as a share of L_max',
  },
  penaltyFactor: { type: 'number', min: 0, default: 1, description: 'scale of the penalty' },
});
export type OverlongPenaltySettings = SettingsInputV1<typeof overlongPenaltySettings>;

/**
 * DAPO's soft overlong punishment (Yu et al. 2025, eq. 13), scaled by `penaltyFactor`:
 *
 *     R(L) = 0                                   if L <= L_max - L_cache
 *          = ((L_max - L_cache) - L) / L_cache    if L_max - L_cache < L <= L_max
 *          = -1                                  if L > L_max
 *
 * It is meant to be added to the correctness reward (see `createWeightedReward`). Needs
 * `input.responseLength` (tokens) and L_max (setting or `input.maxResponseLength`).
 * With `cacheLength: 0` it is a hard cut: 0 up to L_max, -1 beyond. Registry name `overlong-penalty`.
 */
export function createOverlongPenaltyReward(settings?: OverlongPenaltySettings): RewardFunctionV1 {
  const name = 'overlong-penalty';
  const { maxLength, cacheLength, cacheFraction, penaltyFactor } = parsePluginSettings(
    { name, settings: overlongPenaltySettings },
    settings,
    { source: SOURCE },
  );
  if (maxLength !== undefined && cacheLength !== undefined && cacheLength > maxLength)
    throw new ConfigError(
      'cacheLength',
      `${name}: expected a number <= maxLength (${maxLength}), got ${cacheLength}`,
      { source: SOURCE, details: { setting: 'cacheLength' } },
    );
  return {
    name,
    score(input: RewardInputV1): RewardResultV1 {
      checkRewardInput(input, name);
      if (input.responseLength === undefined) {
        throw new MissingInputError(`reward ${name}: input.responseLength (tokens) is required`, {
          source: SOURCE,
          details: { argument: 'input.responseLength', reward: name },
        });
      }
      const length = readNumber(
        input.responseLength,
        `reward ${name}: input.responseLength`,
        undefined,
        { integer: true, min: 0 },
      );
      let limit = maxLength;
      if (limit === undefined) {
        if (input.maxResponseLength === undefined) {
          throw new MissingInputError(
            `reward ${name}: L_max is unknown; set maxLength or pass input.maxResponseLength`,
            { source: SOURCE, details: { argument: 'input.maxResponseLength', reward: name } },
          );
        }
        limit = readNumber(
          input.maxResponseLength,
          `reward ${name}: input.maxResponseLength`,
          undefined,
          { integer: true, min: 1 },
        );
      }
      const cache = cacheLength ?? Math.round(cacheFraction * limit);
      if (cache > limit) {
        throw new InvalidValueError(`reward ${name}: cacheLength ${cache} exceeds L_max ${limit}`, {
          source: SOURCE,
          details: { cacheLength: cache, maxLength: limit },
        });
      }
      const expected = limit - cache;
      let penalty: number;
      if (length <= expected) penalty = 0;
      else if (length <= limit) penalty = (expected - length) / cache;
      else penalty = -1;
      const reward = penalty === 0 ? 0 : penalty * penaltyFactor;
      return { kind: 'scored', reward, components: { [name]: reward } };
    },
  };
}

/** The overlong penalty with DAPO's proportions (L_cache = 20% of L_max from the input). */
export const overlongPenaltyReward: RewardFunctionV1 = createOverlongPenaltyReward();

/** The registration of `overlong-penalty`. */
export const overlongPenaltyRegistration = definePlugin({
  kind: 'reward',
  name: 'overlong-penalty',
  description: "DAPO's soft overlong punishment, to add to a correctness reward",
  settings: overlongPenaltySettings,
  create: (settings) => createOverlongPenaltyReward(settings),
});
