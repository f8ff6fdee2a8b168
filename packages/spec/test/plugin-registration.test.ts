import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  checkRegistration,
  type SettingsSchemaV1,
  validateSettings,
} from '../src/index.js';
import { expectHicraError } from '../src/testing/index.js';

const schema: SettingsSchemaV1 = {
  alpha: { type: 'number', min: 0, max: 1, default: 0.2, description: 'amplification' },
  epsilon: { type: 'number', greaterThan: 0, default: 1e-6, description: 'std floor' },
  steps: { type: 'number', integer: true, min: 1, description: 'optional count' },
  normByStd: { type: 'boolean', default: true, description: 'divide by std' },
  scope: { type: 'string', oneOf: ['batch', 'sequence'], default: 'batch', description: 'where' },
};

function configError(fn: () => unknown): ConfigError {
  return expectHicraError(fn, { errorClass: ConfigError });
}

describe('validateSettings', () => {
  it('fills defaults, keeps given values and ignores the name', () => {
    expect(validateSettings(schema, { name: 'hicra', alpha: 0.5 })).toEqual({
      alpha: 0.5,
      epsilon: 1e-6,
      steps: undefined,
      normByStd: true,
      scope: 'batch',
    });
  });

  it.each([
    [{ alpha: 1.5 }, 'assigners[0].alpha', 'expected a number <= 1, got 1.5'],
    [{ alpha: -0.1 }, 'assigners[0].alpha', 'expected a number >= 0'],
    [{ alpha: Number.NaN }, 'assigners[0].alpha', 'expected a finite number, got NaN'],
    [
      { epsilon: Number.POSITIVE_INFINITY },
      'assigners[0].epsilon',
      'expected a finite number, got Infinity',
    ],
    [{ epsilon: -1 }, 'assigners[0].epsilon', 'expected a number > 0, got -1'],
    [{ alpha: '0.2' }, 'assigners[0].alpha', 'expected a finite number, got "0.2"'],
    [{ epsilon: 0 }, 'assigners[0].epsilon', 'expected a number > 0'],
    [{ steps: 2.5 }, 'assigners[0].steps', 'expected an integer'],
    [{ normByStd: 'yes' }, 'assigners[0].normByStd', 'expected true or false'],
    [{ scope: 'token' }, 'assigners[0].scope', 'expected one of "batch", "sequence", got "token"'],
    [
      { alhpa: 0.2 },
      'assigners[0].alhpa',
      'hicra: unknown setting; valid settings: alpha (number >= 0 <= 1, default 0.2); epsilon (number > 0, default 0.000001)',
    ],
  ])('rejects %j at %s', (values, path, fragment) => {
    const error = configError(() =>
      validateSettings(schema, values, { path: 'assigners[0]', plugin: 'hicra' }),
    );
    expect(error.path).toBe(path);
    expect(error.message).toContain(fragment);
  });
});

describe('checkRegistration', () => {
  const good = {
    kind: 'assigner' as const,
    name: 'my-strategy',
    description: 'x',
    settings: {},
    create: () => ({}) as never,
  };
  it('accepts a well-formed registration and rejects malformed ones', () => {
    expect(checkRegistration(good)).toBe(good);
    expect(() => checkRegistration({ ...good, name: 'My Strategy' })).toThrow(
      /name must be kebab-case/,
    );
    expect(() => checkRegistration({ ...good, kind: 'metric' as never })).toThrow(
      /kind must be "estimator" or "assigner" or "classifier" or "reward"/,
    );
    expect(() => checkRegistration({ ...good, create: 3 as never })).toThrow(
      /my-strategy: create must be a function/,
    );
  });
});
