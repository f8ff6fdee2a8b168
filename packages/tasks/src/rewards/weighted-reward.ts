import {
  ConfigError,
  definePlugin,
  defineSettings,
  formatValue,
  InvalidArgumentError,
  InvalidValueError,
  isRegistryName,
  NonFiniteError,
  type PluginConfigV1,
  type RewardFunctionV1,
  type RewardInputV1,
  type RewardResultV1,
} from '@hicra/spec';
import { describe, readNumber, readSettings, SOURCE } from '../settings.js';

export interface WeightedRewardComponent {
  readonly reward: RewardFunctionV1;
  /** Finite weight (may be negative or 0). */
  readonly weight: number;
}

export interface WeightedRewardSettings {
  /** At least one component. Their rewards are summed with these weights. */
  readonly components: readonly WeightedRewardComponent[];
  /** Registry name of the combination. Default `weighted`. */
  readonly name?: string;
}

/**
 * A weighted sum of reward functions: `reward = Σ weight_i · reward_i`. If any component is
 * unscorable, so is the sum (with that component's reason): an unverifiable answer is never
 * turned into a number by the other components. `correct` is set when a component sets it
 * (all of them must agree it is correct), and so is `missingAnswer` (the first component's
 * reason, named) when a component scored a response without an answer. `components` holds
 * each component's unweighted reward by name (`name#2` for a repeated name). Synchronous when
 * every component is.
 */
export function createWeightedReward(settings: WeightedRewardSettings): RewardFunctionV1 {
  const where = 'createWeightedReward: settings';
  const raw = readSettings(settings, where, ['components', 'name']);
  if (raw === undefined || !Array.isArray(raw.components) || raw.components.length === 0) {
    throw new InvalidArgumentError(
      `${where}.components must be a non-empty array, got ${describe(raw?.components)}`,
      {
        source: SOURCE,
        details: { argument: `${where}.components` },
      },
    );
  }
  const name = raw.name ?? 'weighted';
  if (!isRegistryName(name)) {
    throw new InvalidValueError(`${where}.name must be a kebab-case name, got ${describe(name)}`, {
      source: SOURCE,
      details: { argument: `${where}.name` },
    });
  }
  const components = raw.components.map((component, i) => {
    const at = `${where}.components[${i}]`;
    if (
      typeof component?.reward?.score !== 'function' ||
      typeof component.reward.name !== 'string'
    ) {
      throw new InvalidArgumentError(
        `${at}.reward must be a RewardFunctionV1 (name and score), got ${describe(component?.reward)}`,
        {
          source: SOURCE,
          details: { argument: `${at}.reward`, index: i },
        },
      );
    }
    return {
      reward: component.reward,
      weight: readNumber(component.weight, `${at}.weight`, undefined),
    };
  });
  const keys: string[] = [];
  for (const { reward } of components) {
    let key = reward.name;
    for (let n = 2; keys.includes(key); n++) key = `${reward.name}#${n}`;
    keys.push(key);
  }

  const combine = (results: readonly RewardResultV1[]): RewardResultV1 => {
    let total = 0;
    let correct: boolean | undefined;
    let missingAnswer: string | undefined;
    const parts: Record<string, number> = {};
    for (let i = 0; i < results.length; i++) {
      const result = results[i]!;
      if (result.kind === 'unscorable') {
        return { kind: 'unscorable', reason: `${keys[i]}: ${result.reason}` };
      }
      if (!Number.isFinite(result.reward)) {
        throw new NonFiniteError(`reward ${name}: component ${keys[i]} returned ${result.reward}`, {
          source: SOURCE,
          details: { component: keys[i], index: i },
        });
      }
      total += components[i]!.weight * result.reward;
      parts[keys[i]!] = result.reward;
      if (result.correct !== undefined) correct = (correct ?? true) && result.correct;
      if (result.missingAnswer !== undefined && missingAnswer === undefined)
        missingAnswer = `${keys[i]}: ${result.missingAnswer}`;
    }
    return {
      kind: 'scored',
      reward: total,
      ...(correct === undefined ? {} : { correct }),
      components: parts,
      ...(missingAnswer === undefined ? {} : { missingAnswer }),
    };
  };

  // The answer as the first component that reads answers reads it (the correctness part).
  const reader = components.find(({ reward }) => reward.extractAnswer !== undefined)?.reward;
  return {
    name,
    score(input: RewardInputV1): RewardResultV1 | Promise<RewardResultV1> {
      const results = components.map(({ reward }) => reward.score(input));
      if (results.some(isPromiseLike)) return Promise.all(results).then(combine);
      return combine(results as RewardResultV1[]);
    },
    ...(reader ? { extractAnswer: (response: string) => reader.extractAnswer!(response) } : {}),
  };
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** One part of a weighted reward's config: a finite weight and a reward config. */
export interface WeightedRewardComponentConfig {
  readonly weight: number;
  readonly reward: string | PluginConfigV1;
}

function parseComponents(
  value: readonly WeightedRewardComponentConfig[],
  path: string,
): readonly WeightedRewardComponentConfig[] {
  const fail = (at: string, message: string): never => {
    throw new ConfigError(at, `weighted: ${message}`, { source: SOURCE });
  };
  if (!Array.isArray(value) || value.length === 0)
    fail(path, `expected a non-empty array of { weight, reward }, got ${formatValue(value)}`);
  value.forEach((component: unknown, i) => {
    const at = `${path}[${i}]`;
    if (typeof component !== 'object' || component === null || Array.isArray(component))
      fail(at, `expected { weight, reward }, got ${formatValue(component)}`);
    const { weight, reward, ...unknown } = component as Record<string, unknown>;
    const extra = Object.keys(unknown)[0];
    if (extra !== undefined) fail(`${at}.${extra}`, 'unknown key; known keys: reward, weight');
    if (typeof weight !== 'number' || !Number.isFinite(weight))
      fail(`${at}.weight`, `expected a finite number, got ${formatValue(weight)}`);
    if (reward === undefined)
      fail(`${at}.reward`, 'a reward config { name, ...settings } is required');
  });
  return value;
}

/**
 * Settings of `weighted` as a config: `components`, `[{ weight, reward: { name, ...settings } }]`
 * whose rewards the registry builds, and an optional `name` for the combination.
 */
export const weightedRewardSettings = defineSettings({
  components: {
    type: 'custom',
    description: 'the parts, each { weight, reward: { name, ...settings } }',
    expects: 'a non-empty array of { weight, reward }',
    parse: parseComponents,
  },
  name: { type: 'string', description: 'registry name of the combination (default "weighted")' },
});

/** The registration of `weighted`: its parts are built by the registry it is created in. */
export const weightedRewardRegistration = definePlugin({
  kind: 'reward',
  name: 'weighted',
  description: 'a weighted sum of other rewards, unscorable when any part is',
  settings: weightedRewardSettings,
  create: ({ components, name }, context) => {
    const at = (key: string) => (context.path ? `${context.path}.${key}` : key);
    if (components === undefined)
      throw new ConfigError(
        at('components'),
        'weighted: expected a non-empty array of { weight, reward }, got undefined',
        {
          source: SOURCE,
        },
      );
    return createWeightedReward({
      ...(name === undefined ? {} : { name }),
      components: components.map((component, i) => ({
        weight: component.weight,
        reward: context.create('reward', component.reward, at(`components[${i}].reward`)),
      })),
    });
  },
});
