import {
  InvalidValueError,
  MissingInputError,
  type RewardFunctionV1,
  type RewardInputV1,
  type RewardResultV1,
} from '@hicra/spec';
import { readNumber, readSettings, SOURCE } from '../settings.js';
import { checkRewardInput } from './reward-input.js';

export interface OverlongPenaltySettings {
  /** L_max, the generation limit in tokens. Default: `input.maxResponseLength`. */
  readonly maxLength?: number;
  /** L_cache, the soft band before L_max. Default: `cacheFraction * L_max`, rounded. */
  readonly cacheLength?: number;
  /** L_cache as a share of L_max when `cacheLength` is not given. Default 0.2 (DAPO: 4096 / 20480). */
  readonly cacheFraction?: number;
  /** Scale of the penalty (verl's `overlong_buffer.penalty_factor`). Default 1. */
  readonly penaltyFactor?: number;
}

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
  const where = 'createOverlongPenaltyReward: settings';
  const raw = readSettings(settings, where, [
    'maxLength',
    'cacheLength',
    'cacheFraction',
    'penaltyFactor',
  ]);
  const maxLength =
    raw.maxLength === undefined
      ? undefined
      : readNumber(raw.maxLength, `${where}.maxLength`, undefined, { integer: true, min: 1 });
  const cacheLength =
    raw.cacheLength === undefined
      ? undefined
      : readNumber(raw.cacheLength, `${where}.cacheLength`, undefined, {
          integer: true,
          min: 0,
          max: maxLength,
        });
  const cacheFraction = readNumber(raw.cacheFraction, `${where}.cacheFraction`, 0.2, {
    min: 0,
    max: 1,
  });
  const penaltyFactor = readNumber(raw.penaltyFactor, `${where}.penaltyFactor`, 1, { min: 0 });
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
