import {
  type BuiltinRewardName,
  ConfigError,
  HicraError,
  InvalidArgumentError,
  InvalidValueError,
  isRegistryName,
  type RewardFunctionV1,
  UnknownNameError,
} from '@hicra/spec';
import { describe, SOURCE } from '../settings.js';
import {
  createCountdownCorrectnessReward,
  createMathCorrectnessReward,
} from './correctness-reward.js';
import { createCountdownFormatReward, createFormatReward } from './format-reward.js';
import { createOverlongPenaltyReward } from './overlong-penalty-reward.js';
import { createWeightedReward } from './weighted-reward.js';

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

/** Builds a reward function from its settings (the config without `name`). */
export type RewardFactory = (
  settings: Record<string, unknown>,
  registry: RewardRegistry,
) => RewardFunctionV1;

export interface RewardRegistry {
  /** Registered names, sorted. */
  names(): string[];
  has(name: string): boolean;
  /** Adds a factory under a new kebab-case name. */
  register(name: string, factory: RewardFactory): void;
  /** A reward function from a config; unknown names fail with the list of known ones. */
  create(config: RewardConfig): RewardFunctionV1;
}

function createWeightedFromConfig(
  settings: Record<string, unknown>,
  registry: RewardRegistry,
): RewardFunctionV1 {
  const { components, ...rest } = settings;
  if (!Array.isArray(components)) {
    throw new ConfigError(
      'components',
      `must be an array of { weight, reward }, got ${describe(components)}`,
      {
        source: SOURCE,
      },
    );
  }
  return createWeightedReward({
    ...rest,
    components: components.map((component: unknown, i) => {
      const path = `components[${i}]`;
      if (typeof component !== 'object' || component === null || Array.isArray(component)) {
        throw new ConfigError(path, `must be { weight, reward }, got ${describe(component)}`, {
          source: SOURCE,
        });
      }
      const { weight, reward, ...unknown } = component as Record<string, unknown>;
      const extra = Object.keys(unknown)[0];
      if (extra !== undefined) {
        throw new ConfigError(`${path}.${extra}`, 'unknown key; known keys: reward, weight', {
          source: SOURCE,
        });
      }
      try {
        return { weight: weight as number, reward: registry.create(reward as RewardConfig) };
      } catch (error) {
        if (error instanceof ConfigError) {
          throw new ConfigError(
            `${path}.reward${error.path ? `.${error.path}` : ''}`,
            error.message,
            {
              source: SOURCE,
              cause: error,
            },
          );
        }
        if (HicraError.isInstance(error)) {
          throw new ConfigError(`${path}.reward`, error.message, { source: SOURCE, cause: error });
        }
        throw error;
      }
    }),
  } as never);
}

/** A registry holding the built-in reward functions; third parties may register more. */
export function createRewardRegistry(): RewardRegistry {
  // One factory for every name of @hicra/spec's REWARD_NAMES, and no other: the type says so.
  const builtins = {
    'math-correctness': (s) => createMathCorrectnessReward(s),
    'countdown-correctness': (s) => createCountdownCorrectnessReward(s),
    format: (s) => createFormatReward(s),
    'countdown-format': (s) => createCountdownFormatReward(s),
    'overlong-penalty': (s) => createOverlongPenaltyReward(s),
    weighted: createWeightedFromConfig,
  } satisfies Record<BuiltinRewardName, RewardFactory>;
  const factories = new Map<string, RewardFactory>(Object.entries(builtins));
  const registry: RewardRegistry = {
    names: () => [...factories.keys()].sort(),
    has: (name) => factories.has(name),
    register(name, factory) {
      if (!isRegistryName(name)) {
        throw new InvalidValueError(
          `RewardRegistry.register: name must be kebab-case, got ${describe(name)}`,
          {
            source: SOURCE,
            details: { argument: 'name' },
          },
        );
      }
      if (factories.has(name)) {
        throw new InvalidValueError(
          `RewardRegistry.register: ${JSON.stringify(name)} is already registered`,
          {
            source: SOURCE,
            details: { argument: 'name', name },
          },
        );
      }
      if (typeof factory !== 'function') {
        throw new InvalidArgumentError(
          `RewardRegistry.register: factory must be a function, got ${describe(factory)}`,
          {
            source: SOURCE,
            details: { argument: 'factory' },
          },
        );
      }
      factories.set(name, factory);
    },
    create(config) {
      if (typeof config !== 'object' || config === null || Array.isArray(config)) {
        throw new ConfigError(
          '',
          `a reward config must be an object with a name, got ${describe(config)}`,
          {
            source: SOURCE,
          },
        );
      }
      const { name, ...settings } = config;
      if (typeof name !== 'string') {
        throw new ConfigError('name', `must be a string, got ${describe(name)}`, {
          source: SOURCE,
        });
      }
      const factory = factories.get(name);
      if (factory === undefined) {
        throw new UnknownNameError('reward', name, [...factories.keys()], { source: SOURCE });
      }
      return factory(settings, registry);
    },
  };
  return registry;
}

const builtins = createRewardRegistry();

/**
 * The registry of built-in reward functions. It cannot change: `register` on it throws. Add
 * rewards to your own, `createRewardRegistry()`, which starts with the built-ins.
 */
export const rewardRegistry: RewardRegistry = Object.freeze({
  names: () => builtins.names(),
  has: (name: string) => builtins.has(name),
  create: (config: RewardConfig) => builtins.create(config),
  register(name: string): void {
    throw new ConfigError(
      '',
      `the default reward registry holds the built-ins and cannot change; register ${JSON.stringify(name)} in your own: createRewardRegistry() starts with the built-ins`,
      { source: SOURCE },
    );
  },
});

/** `rewardRegistry.create(config)`. */
export function createReward(config: RewardConfig): RewardFunctionV1 {
  return rewardRegistry.create(config);
}
