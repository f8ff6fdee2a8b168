import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BackendUnavailableError,
  ConfigError,
  CorruptFileError,
  ErrorCode,
  HicraError,
  InvalidArgumentError,
  InvalidValueError,
  MissingInputError,
  NonFiniteError,
  ResourceLimitError,
  RunLockedError,
  RunMismatchError,
  ShapeError,
  UnknownNameError,
} from '../src/index.js';

const copyDir = mkdtempSync(join(tmpdir(), 'hicra-spec-copy-'));
afterAll(() => rmSync(copyDir, { recursive: true, force: true }));

/** Loads a second, independent copy of the errors module, as a duplicate install would. */
async function loadSecondCopy(): Promise<typeof import('../src/errors.js')> {
  const target = join(copyDir, 'errors.ts');
  copyFileSync(new URL('../src/errors.ts', import.meta.url), target);
  return import(/* @vite-ignore */ target);
}

describe('HicraError', () => {
  it('keeps codes stable (they are part of the public contract)', () => {
    expect(ErrorCode).toEqual({
      InvalidArgument: 'HICRA_INVALID_ARGUMENT',
      ShapeMismatch: 'HICRA_SHAPE_MISMATCH',
      InvalidValue: 'HICRA_INVALID_VALUE',
      UnknownName: 'HICRA_UNKNOWN_NAME',
      InvalidConfig: 'HICRA_INVALID_CONFIG',
      BackendUnavailable: 'HICRA_BACKEND_UNAVAILABLE',
      CorruptFile: 'HICRA_CORRUPT_FILE',
      MissingInput: 'HICRA_MISSING_INPUT',
      NonFinite: 'HICRA_NON_FINITE',
      RunLocked: 'HICRA_RUN_LOCKED',
      RunMismatch: 'HICRA_RUN_MISMATCH',
    });
  });

  it.each([
    [InvalidArgumentError, ErrorCode.InvalidArgument],
    [ShapeError, ErrorCode.ShapeMismatch],
    [InvalidValueError, ErrorCode.InvalidValue],
    [BackendUnavailableError, ErrorCode.BackendUnavailable],
    [CorruptFileError, ErrorCode.CorruptFile],
    [MissingInputError, ErrorCode.MissingInput],
    [NonFiniteError, ErrorCode.NonFinite],
    [RunLockedError, ErrorCode.RunLocked],
    [RunMismatchError, ErrorCode.RunMismatch],
    [ResourceLimitError, ErrorCode.ResourceLimit],
  ] as const)('%o carries its code, source prefix, details and name', (Ctor, code) => {
    const cause = new Error('root');
    const error = new Ctor('something is off', {
      source: '@hicra/x',
      details: { field: 'a' },
      cause,
    });
    expect(error.code).toBe(code);
    expect(error.message).toBe('@hicra/x: something is off');
    expect(error.name).toBe(Ctor.name);
    expect(error.details).toEqual({ field: 'a' });
    expect(error.cause).toBe(cause);
    expect(error).toBeInstanceOf(Error);
    expect(HicraError.isInstance(error)).toBe(true);
    expect(Ctor.isInstance(error)).toBe(true);
  });

  it('subclass isInstance checks the code, base isInstance accepts every hicra error', () => {
    const shape = new ShapeError('x');
    expect(InvalidValueError.isInstance(shape)).toBe(false);
    expect(HicraError.isInstance(shape)).toBe(true);
    for (const value of [
      new Error('plain'),
      null,
      undefined,
      'HICRA_SHAPE_MISMATCH',
      { code: ErrorCode.ShapeMismatch },
    ]) {
      expect(HicraError.isInstance(value)).toBe(false);
      expect(ShapeError.isInstance(value)).toBe(false);
    }
  });

  it('is recognised across two copies of the module', async () => {
    const copy = await loadSecondCopy();
    expect(copy.HicraError).not.toBe(HicraError);
    const foreign = new copy.ShapeError('from the other copy');
    expect(foreign).not.toBeInstanceOf(HicraError);
    expect(HicraError.isInstance(foreign)).toBe(true);
    expect(ShapeError.isInstance(foreign)).toBe(true);
    expect(InvalidValueError.isInstance(foreign)).toBe(false);
    const local = new UnknownNameError('estimator', 'gpro', ['grpo']);
    expect(copy.HicraError.isInstance(local)).toBe(true);
    expect(copy.UnknownNameError.isInstance(local)).toBe(true);
  });

  it('UnknownNameError lists the known names, sorted', () => {
    const error = new UnknownNameError('estimator', 'gpro', ['rloo', 'grpo'], {
      source: '@hicra/advantage',
    });
    expect(error.message).toBe(
      '@hicra/advantage: unknown estimator "gpro"; known estimators: "grpo", "rloo"',
    );
    expect(error.known).toEqual(['grpo', 'rloo']);
    expect(error.details).toEqual({
      kind: 'estimator',
      requested: 'gpro',
      known: ['grpo', 'rloo'],
    });
    expect(new UnknownNameError('assigner', 'x', []).message).toContain('(none registered)');
  });

  it('ConfigError points at the key', () => {
    const error = new ConfigError('assigners[1].alpha', 'must be in [0, 1], got 2');
    expect(error.path).toBe('assigners[1].alpha');
    expect(error.message).toBe('config key assigners[1].alpha: must be in [0, 1], got 2');
    expect(new ConfigError('', 'empty file').message).toBe('config: empty file');
  });

  it('serialises to JSON with its code and details', () => {
    const error = new InvalidValueError('bad', { source: '@hicra/spec', details: { index: 3 } });
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      name: 'InvalidValueError',
      code: ErrorCode.InvalidValue,
      message: '@hicra/spec: bad',
      source: '@hicra/spec',
      details: { index: 3 },
    });
  });
});
