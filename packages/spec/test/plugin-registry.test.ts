import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  type AdvantageEstimatorV1,
  ConfigError,
  createRegistry,
  definePlugin,
  defineSettings,
  isStandardSchema,
  parsePluginSettings,
  type RewardFunctionV1,
  type RewardResultV1,
  type StandardSchemaV1,
  UnknownNameError,
} from '../src/index.js';
import { expectHicraError } from '../src/testing/index.js';

const constantReward = (name: string, value: number): RewardFunctionV1 => ({
  name,
  score: () => ({ kind: 'scored', reward: value }),
});

const constant = definePlugin({
  kind: 'reward',
  name: 'constant',
  description: 'the same reward for every response',
  settings: defineSettings({
    value: { type: 'number', min: -1, max: 1, default: 1, description: 'the reward' },
    label: { type: 'string', oneOf: ['a', 'b'], description: 'an optional label' },
  }),
  create: (settings) => {
    expectTypeOf(settings.value).toEqualTypeOf<number>();
    expectTypeOf(settings.label).toEqualTypeOf<'a' | 'b' | undefined>();
    return constantReward('constant', settings.value);
  },
});

/** A reward built from its parts by the registry it is created in (a nested plug-in). */
const sum = definePlugin({
  kind: 'reward',
  name: 'sum',
  description: 'the sum of its parts',
  settings: defineSettings({
    parts: {
      type: 'custom',
      description: 'reward configs',
      expects: 'a non-empty array of reward configs',
      parse: (value, path) => {
        if (!Array.isArray(value) || value.length === 0)
          throw new ConfigError(path, `expected a non-empty array, got ${JSON.stringify(value)}`);
        return value as ({ name: string } & Record<string, unknown>)[];
      },
    },
  }),
  create: ({ parts }, context) => {
    const rewards = (parts ?? []).map((part, i) =>
      context.create('reward', part, `${context.path}.parts[${i}]`),
    );
    return {
      name: 'sum',
      score: (input) => ({
        kind: 'scored',
        reward: rewards.reduce((total, r) => {
          const result = r.score(input) as RewardResultV1;
          return total + (result.kind === 'scored' ? result.reward : 0);
        }, 0),
      }),
    };
  },
});

const input = { prompt: 'p', response: 'r', groundTruth: 'g' } as never;

describe('defineSettings', () => {
  it('is a Standard Schema that validates, fills defaults and reports the key', () => {
    const schema = defineSettings({
      beta: { type: 'number', greaterThan: 0, lessThan: 1, default: 0.5, description: 'b' },
    });
    expect(isStandardSchema(schema)).toBe(true);
    expect(schema['~standard'].validate({})).toEqual({ value: { beta: 0.5 } });
    const bad = schema['~standard'].validate({ beta: 1 });
    expect(bad).toEqual({ issues: [{ message: 'expected a number < 1, got 1', path: ['beta'] }] });
    expect(schema['~standard'].validate([])).toMatchObject({ issues: [{ message: /object/ }] });
  });
});

describe('createRegistry', () => {
  const registry = createRegistry({ registrations: [constant, sum], sealed: true });

  it('creates plug-ins from a name or a config, with settings validated by the schema', () => {
    expect(registry.create('reward', 'constant').score(input)).toEqual({
      kind: 'scored',
      reward: 1,
    });
    const error = expectHicraError<ConfigError>(
      () => registry.create('reward', { name: 'constant', value: 2 }, { path: 'reward' }),
      { message: ['constant', 'a number <= 1, got 2'] },
    );
    expect(error.path).toBe('reward.value');
    expectHicraError(() => registry.create('reward', { name: 'constant', valu: 1 }), {
      message: ['unknown setting', 'value (number >= -1 <= 1, default 1)'],
    });
  });

  it('builds nested plug-ins through the context, with paths into the config', () => {
    const config = { name: 'sum', parts: [{ name: 'constant', value: 0.5 }, 'constant'] };
    expect(registry.create('reward', config, { path: 'reward' }).score(input)).toMatchObject({
      reward: 1.5,
    });
    const error = expectHicraError<ConfigError>(() =>
      registry.create(
        'reward',
        { name: 'sum', parts: [{ name: 'constant', value: -3 }] },
        { path: 'reward' },
      ),
    );
    expect(error.path).toBe('reward.parts[0].value');
    expectHicraError<ConfigError>(() => registry.create('reward', { name: 'sum', parts: [] }), {
      message: 'expected a non-empty array',
    });
  });

  it('names the known plug-ins of the kind for an unknown name', () => {
    const error = expectHicraError<UnknownNameError>(() =>
      registry.create('reward', { name: 'constnat' }, { path: 'reward' }),
    );
    expect(UnknownNameError.isInstance(error)).toBe(true);
    expect(error.known).toEqual(['constant', 'sum']);
    expect(error.details).toMatchObject({ path: 'reward.name' });
    expectHicraError(() => registry.create('reward', { name: 3 } as never), {
      message: "expected the reward's registry name (a string), got 3",
    });
  });

  it('is sealed when asked; extend() gives a registry to add to, leaving the sealed one as it was', () => {
    expectHicraError(() => registry.register(constant), { message: 'cannot change' });
    const own = registry.extend();
    expect(own.sealed).toBe(false);
    own.register({ ...constant, name: 'zero', create: () => constantReward('zero', 0) });
    expect(own.names('reward')).toEqual(['constant', 'sum', 'zero']);
    expect(registry.names('reward')).toEqual(['constant', 'sum']);
    expectHicraError(() => own.register(constant), {
      message: 'a reward named "constant" is already registered',
    });
    own.register({ ...constant, create: () => constantReward('constant', -1) }, { replace: true });
    expect(own.create('reward', 'constant').score(input)).toMatchObject({ reward: -1 });
  });

  it('refuses kinds it does not hold, malformed registrations and products of the wrong shape', () => {
    const credit = createRegistry({ kinds: ['estimator', 'assigner'] });
    expectHicraError(() => credit.register(constant), {
      message: 'kind must be "estimator" or "assigner", got "reward"',
    });
    expectHicraError(() => credit.names('reward'), { message: 'not "reward"' });
    const own = createRegistry();
    expectHicraError(
      () => own.register({ ...constant, invariants: ['never-flips-sign'] } as never),
      { message: 'invariant "never-flips-sign" applies to assigners, not rewards' },
    );
    expectHicraError(() => own.register({ ...constant, invariants: ['fast'] } as never), {
      message: 'unknown invariant "fast"',
    });
    expectHicraError(
      () => own.register({ ...constant, settings: { x: { type: 'date' } } } as never),
      { message: 'settings.x must be a setting spec' },
    );
    own.register({ ...constant, name: 'broken', create: () => 42 as never });
    expectHicraError(() => own.create('reward', 'broken'), {
      message: 'reward "broken": create() returned 42, expected an object with score()',
    });
  });
});

describe('Standard Schema validators of other libraries', () => {
  it('takes a zod schema and infers the settings type from it', () => {
    const damping = definePlugin({
      kind: 'estimator',
      name: 'damped',
      description: 'x',
      settings: z.object({ beta: z.number().min(0).max(1).default(0.5) }).strict(),
      create: (settings): AdvantageEstimatorV1 => {
        expectTypeOf(settings).toEqualTypeOf<{ beta: number }>();
        return {
          name: 'damped',
          estimate: () => ({
            advantages: new Float32Array([settings.beta]),
            diagnostics: {},
            warnings: [],
          }),
        };
      },
    });
    const registry = createRegistry({ registrations: [damping] });
    expect(registry.create('estimator', 'damped').name).toBe('damped');
    const error = expectHicraError<ConfigError>(
      () => registry.create('estimator', { name: 'damped', beta: 2 }, { path: 'estimator' }),
      { message: 'damped: ' },
    );
    expect(error.path).toBe('estimator.beta');
    expectHicraError<ConfigError>(
      () => registry.create('estimator', { name: 'damped', gamma: 1 }, { path: 'estimator' }),
      { message: 'damped: ' },
    );
  });

  it('refuses an asynchronous schema with a clear error', () => {
    const asyncSchema: StandardSchemaV1<unknown, { x: number }> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: async () => ({ value: { x: 1 } }),
      },
    };
    expectHicraError(
      () => parsePluginSettings({ name: 'slow', settings: asyncSchema }, {}, { path: 'reward' }),
      { message: ['slow', 'validates asynchronously', 'synchronously'] },
    );
  });
});
