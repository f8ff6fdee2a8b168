import { describe, expect, it } from 'vitest';
import {
  ASSIGNER_NAMES,
  ConfigError,
  ESTIMATOR_NAMES,
  isRegistryName,
  parseCreditPipelineConfig,
} from '../src/index.js';
import { expectHicraError } from '../src/testing/index.js';

function configError(value: unknown): ConfigError {
  return expectHicraError(() => parseCreditPipelineConfig(value), { errorClass: ConfigError });
}

describe('parseCreditPipelineConfig', () => {
  it('accepts the documented shape and keeps plug-in settings', () => {
    const config = parseCreditPipelineConfig({
      estimator: { name: 'grpo', normByStd: false },
      assigners: [{ name: 'hicra', alpha: 0.2 }, { name: 'fork-tokens' }],
    });
    expect(config.estimator).toEqual({ name: 'grpo', normByStd: false });
    expect(config.assigners.map((a) => a.name)).toEqual(['hicra', 'fork-tokens']);
  });

  it('defaults assigners to an empty list', () => {
    expect(parseCreditPipelineConfig({ estimator: { name: 'rloo' } }).assigners).toEqual([]);
  });

  it.each([
    [null, '', 'expected an object'],
    [[], '', 'got an array'],
    [{ estimator: { name: 'grpo' }, extra: 1 }, 'extra', 'unknown key'],
    [{}, 'estimator', 'expected an object with a "name"'],
    [{ estimator: { name: 'GRPO' } }, 'estimator.name', 'kebab-case'],
    [{ estimator: { name: 'grpo' }, assigners: {} }, 'assigners', 'expected an array'],
    [
      { estimator: { name: 'grpo' }, assigners: [{ name: 'hicra' }, 'x'] },
      'assigners[1]',
      'got string',
    ],
    [
      { estimator: { name: 'grpo' }, assigners: [{ alpha: 1 }] },
      'assigners[0].name',
      'got undefined',
    ],
  ])('rejects %j at key %s', (value, path, fragment) => {
    const error = configError(value);
    expect(error.path).toBe(path);
    expect(error.message).toContain(fragment);
  });
});

describe('registry names', () => {
  it('built-in names are unique kebab-case', () => {
    for (const names of [ESTIMATOR_NAMES, ASSIGNER_NAMES]) {
      expect(new Set(names).size).toBe(names.length);
      for (const name of names) expect(isRegistryName(name)).toBe(true);
    }
    for (const bad of ['', 'Grpo', 'grpo_', '-grpo', 'grpo--x', 3, null])
      expect(isRegistryName(bad)).toBe(false);
  });
});
