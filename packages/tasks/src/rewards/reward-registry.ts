import {
  type BuiltinRewardName,
  ConfigError,
  createRegistry,
  definePlugin,
  InvalidArgumentError,
  type PluginRegistryV1,
  type RewardFunctionV1,
  type RewardRegistrationV1,
  type StandardSchemaV1,
} from '@hicra/spec';
import { describe, SOURCE } from '../settings.js';
import {
  countdownCorrectnessRegistration,
  mathCorrectnessRegistration,
} from './correctness-reward.js';
import { countdownFormatRewardRegistration, formatRewardRegistration } from './format-reward.js';
import { overlongPenaltyRegistration } from './overlong-penalty-reward.js';
import { weightedRewardRegistration } from './weighted-reward.js';

/** Names of the built-in reward functions, defined once in `@hicra/spec`. */
export { type BuiltinRewardName, REWARD_NAMES } from '@hicra/spec';

/**
 * A reward function by name: `{ "name": "countdown-correctness", "missingAnswer": "incorrect" }`.
 * Every key besides `name` is a setting of that function. A weighted sum lists its parts:
 *
 * ```json
 * { "name": "weighted", "components": [
 *   { "weight": 1, "reward": { "name": "countdown-correctness" } },
 *   { "weight": 1, "reward": { "name": "overlong-penalty", "maxLength": 96, "cacheLength": 16 } }
 * ] }
 * ```
 */
export interface RewardConfig {
  readonly name: string;
  readonly [setting: string]: unknown;
}

/**
 * Builds a reward function from its settings (the config without `name`).
 * @deprecated Register a `RewardRegistrationV1` (`definePlugin({ kind: 'reward', ... })`), whose
 * settings schema validates the config; `register(name, factory)` is kept for one release.
 */
export type RewardFactory = (
  settings: Record<string, unknown>,
  registry: RewardRegistry,
) => RewardFunctionV1;

export interface RewardRegistry {
  /** Registered names, sorted. */
  names(): string[];
  has(name: string): boolean;
  /** The plug-in registry underneath (`@hicra/spec`'s one shape), e.g. to list settings. */
  readonly plugins: PluginRegistryV1;
  /** Adds a reward registration (a name already taken is an error unless `replace`). */
  register(registration: RewardRegistrationV1, options?: { readonly replace?: boolean }): void;
  /** @deprecated Register a `RewardRegistrationV1` instead; kept for one release. */
  register(name: string, factory: RewardFactory): void;
  /** A reward function from a config; unknown names fail with the list of known ones. */
  create(config: RewardConfig): RewardFunctionV1;
}

/**
 * Registrations of the built-in reward functions, each defined in its reward's file, under the
 * names of `@hicra/spec` (typed against them, so a name cannot drift).
 */
export const builtinRewards: readonly RewardRegistrationV1[] = [
  mathCorrectnessRegistration,
  countdownCorrectnessRegistration,
  formatRewardRegistration,
  countdownFormatRewardRegistration,
  overlongPenaltyRegistration,
  weightedRewardRegistration,
] satisfies readonly (RewardRegistrationV1 & { readonly name: BuiltinRewardName })[];

/** A schema that hands any settings object through, for the deprecated `(name, factory)` form. */
const passThrough: StandardSchemaV1<unknown, Record<string, unknown>> = {
  '~standard': {
    version: 1,
    vendor: 'hicra',
    validate: (value) => ({ value: value as Record<string, unknown> }),
  },
};

function wrap(plugins: PluginRegistryV1): RewardRegistry {
  const registry: RewardRegistry = {
    names: () => plugins.names('reward'),
    has: (name) => plugins.has('reward', name),
    plugins,
    register(
      registration: RewardRegistrationV1 | string,
      second?: RewardFactory | { readonly replace?: boolean },
    ) {
      if (typeof registration !== 'string') {
        plugins.register(registration, typeof second === 'object' ? second : {});
        return;
      }
      const factory = second;
      if (typeof factory !== 'function')
        throw new InvalidArgumentError(
          `RewardRegistry.register: factory must be a function, got ${describe(factory)}`,
          { source: SOURCE, details: { argument: 'factory' } },
        );
      plugins.register(
        definePlugin({
          kind: 'reward',
          name: registration,
          description: `${registration} (registered with a factory)`,
          settings: passThrough,
          create: (settings) => factory(settings, registry),
        }),
      );
    },
    create(config) {
      if (typeof config !== 'object' || config === null || Array.isArray(config))
        throw new ConfigError(
          '',
          `a reward config must be an object with a name, got ${describe(config)}`,
          { source: SOURCE },
        );
      return plugins.create('reward', config);
    },
  };
  return registry;
}

/** A registry holding the built-in reward functions; third parties may register more. */
export function createRewardRegistry(): RewardRegistry {
  return wrap(createRegistry({ kinds: ['reward'], registrations: builtinRewards, source: SOURCE }));
}

/**
 * The registry of built-in reward functions. It cannot change: `register` on it throws. Add
 * rewards to your own, `createRewardRegistry()`, which starts with the built-ins.
 */
export const rewardRegistry: RewardRegistry = wrap(
  createRegistry({
    kinds: ['reward'],
    registrations: builtinRewards,
    source: SOURCE,
    sealed: true,
    extendHint: 'createRewardRegistry() starts with the built-ins',
  }),
);

/** `rewardRegistry.create(config)`. */
export function createReward(config: RewardConfig): RewardFunctionV1 {
  return rewardRegistry.create(config);
}
