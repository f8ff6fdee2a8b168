import { describe, expect, it } from 'vitest';
import { ConfigError, ErrorCode, HicraError, InvalidValueError, ShapeError } from '../src/index.js';
import { type BadInputCase, expectHicraError, expectHicraRejection } from '../src/testing/index.js';

const source = '@hicra/example';
const thrower = (error: unknown) => () => {
  throw error;
};
const invalid = () =>
  new InvalidValueError('testFraction must be > 0, got 0', {
    source,
    details: { field: 'testFraction' },
  });

/** The message of the Error `fn` throws; fails when it throws none. */
function failureOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(Error);
    expect(HicraError.isInstance(error)).toBe(false);
    return (error as Error).message;
  }
  throw new Error('the expectation passed where it should have failed');
}

/** As {@link failureOf} for a promise. */
async function rejectionMessageOf(promise: Promise<unknown>): Promise<string> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(outcome, 'the expectation passed where it should have failed').toBeInstanceOf(Error);
  expect(HicraError.isInstance(outcome)).toBe(false);
  return (outcome as Error).message;
}

describe('expectHicraError', () => {
  it('returns the thrown HicraError when every given field matches', () => {
    const error = invalid();
    expect(expectHicraError(thrower(error))).toBe(error);
    expect(
      expectHicraError(thrower(error), {
        code: ErrorCode.InvalidValue,
        errorClass: InvalidValueError,
        source,
        message: ['testFraction', '> 0', 'got 0'],
      }),
    ).toBe(error);
    expect(expectHicraError(thrower(error), { message: 'must be > 0' })).toBe(error);
    expect(expectHicraError(thrower(error), { message: /^@hicra\/example: test\w+ must/ })).toBe(
      error,
    );
    expect(expectHicraError(thrower(error), { message: [] })).toBe(error);
  });

  it('returns the error typed as errorClass', () => {
    const error = expectHicraError(thrower(new ConfigError('assigners[1].alpha', 'must be >= 0')), {
      errorClass: ConfigError,
    });
    // `path` exists on ConfigError only: this line type-checks because of the narrowed type
    expect(error.path).toBe('assigners[1].alpha');
  });

  it('recognises a HicraError from another copy of @hicra/spec (the marker, not the class)', () => {
    const foreign = Object.assign(new Error('foreign'), {
      [Symbol.for('@hicra/spec/error')]: true,
      code: ErrorCode.ShapeMismatch,
      name: 'ShapeError',
    });
    expect(expectHicraError(thrower(foreign), { errorClass: ShapeError })).toBe(foreign);
  });

  it('fails when the function returns, saying what it expected and what came back', () => {
    expect(failureOf(() => expectHicraError(() => 42, { code: ErrorCode.InvalidValue }))).toBe(
      'expected a HicraError with code HICRA_INVALID_VALUE to be thrown, but the function returned number 42',
    );
    expect(failureOf(() => expectHicraError(() => undefined))).toBe(
      'expected a HicraError to be thrown, but the function returned undefined',
    );
  });

  it('fails on an async function, pointing at expectHicraRejection', () => {
    const message = failureOf(() => expectHicraError(() => Promise.reject(invalid())));
    expect(message).toContain('returned a promise');
    expect(message).toContain('expectHicraRejection');
  });

  it('fails on an error that is not a HicraError, keeping it as the cause', () => {
    const original = new TypeError('x is not a function');
    let caught: unknown;
    try {
      expectHicraError(thrower(original), { code: ErrorCode.InvalidArgument });
    } catch (error) {
      caught = error;
    }
    expect((caught as Error).message).toBe(
      'expected a HicraError with code HICRA_INVALID_ARGUMENT, but it threw TypeError "x is not a function" (not a HicraError)',
    );
    expect((caught as Error).cause).toBe(original);
    expect(failureOf(() => expectHicraError(thrower('a string')))).toContain(
      'but it threw string (not a HicraError)',
    );
  });

  it('fails on a wrong code, naming both codes', () => {
    expect(
      failureOf(() => expectHicraError(thrower(invalid()), { code: ErrorCode.InvalidConfig })),
    ).toBe(
      'expected a HicraError with code HICRA_INVALID_CONFIG, but it threw InvalidValueError HICRA_INVALID_VALUE "@hicra/example: testFraction must be > 0, got 0": code HICRA_INVALID_VALUE instead of HICRA_INVALID_CONFIG',
    );
  });

  it('fails on a wrong class or source', () => {
    expect(
      failureOf(() => expectHicraError(thrower(invalid()), { errorClass: ConfigError })),
    ).toContain('expected a ConfigError, but it threw InvalidValueError');
    expect(
      failureOf(() => expectHicraError(thrower(invalid()), { errorClass: ConfigError })),
    ).toContain(': InvalidValueError instead of ConfigError');
    expect(
      failureOf(() =>
        expectHicraError(thrower(new ConfigError('x', 'bad')), { errorClass: InvalidValueError }),
      ),
    ).toContain('expected an InvalidValueError, but it threw ConfigError');
    expect(
      failureOf(() => expectHicraError(thrower(invalid()), { source: '@hicra/tasks' })),
    ).toContain('source "@hicra/example" instead of "@hicra/tasks"');
  });

  it('fails on a missing message part, naming only the missing ones', () => {
    const message = failureOf(() =>
      expectHicraError(thrower(invalid()), {
        code: ErrorCode.InvalidValue,
        message: ['testFraction', 'seed', '< 1'],
      }),
    );
    expect(message).toBe(
      'expected a HicraError with code HICRA_INVALID_VALUE whose message contains "testFraction", "seed", "< 1", but it threw InvalidValueError HICRA_INVALID_VALUE "@hicra/example: testFraction must be > 0, got 0": a message without "seed", "< 1"',
    );
    expect(failureOf(() => expectHicraError(thrower(invalid()), { message: /seed/ }))).toContain(
      'a message that does not match /seed/',
    );
  });

  it('lists every mismatch at once', () => {
    const message = failureOf(() =>
      expectHicraError(thrower(invalid()), { code: ErrorCode.ShapeMismatch, message: 'seed' }),
    );
    expect(message).toContain(
      'code HICRA_INVALID_VALUE instead of HICRA_SHAPE_MISMATCH; a message without "seed"',
    );
  });

  it('checks a bad-input table row by row', () => {
    const cases: BadInputCase[] = [
      ['a zero fraction', thrower(invalid()), ErrorCode.InvalidValue, ['testFraction', '> 0']],
      [
        'a bad path',
        thrower(new ConfigError('seed', 'unknown key')),
        ErrorCode.InvalidConfig,
        ['seed'],
      ],
    ];
    for (const [, call, code, message] of cases) expectHicraError(call, { code, message });
    const [, call, code] = cases[1]!;
    expect(failureOf(() => expectHicraError(call, { code, message: ['timeLimitMs'] }))).toContain(
      'a message without "timeLimitMs"',
    );
  });
});

describe('expectHicraRejection', () => {
  it('returns the HicraError a promise (or an async function) rejects with', async () => {
    const error = invalid();
    await expect(
      expectHicraRejection(Promise.reject(error), {
        code: ErrorCode.InvalidValue,
        message: ['testFraction'],
      }),
    ).resolves.toBe(error);
    await expect(
      expectHicraRejection(async () => {
        throw error;
      }),
    ).resolves.toBe(error);
    // a function that throws synchronously counts as rejecting
    await expect(expectHicraRejection(thrower(error))).resolves.toBe(error);
  });

  it('fails when the promise resolves, saying what it resolved to', async () => {
    expect(
      await rejectionMessageOf(
        expectHicraRejection(Promise.resolve(new Float32Array(3)), { code: ErrorCode.CorruptFile }),
      ),
    ).toBe(
      'expected a rejection with a HicraError with code HICRA_CORRUPT_FILE, but it resolved to Float32Array(3)',
    );
  });

  it('fails when a synchronous function returns', async () => {
    expect(await rejectionMessageOf(expectHicraRejection(() => 'done'))).toBe(
      'expected a rejection with a HicraError, but it resolved to string',
    );
  });

  it('fails on a wrong code, a missing message part, or a rejection that is not a HicraError', async () => {
    expect(
      await rejectionMessageOf(
        expectHicraRejection(Promise.reject(invalid()), { code: ErrorCode.CorruptFile }),
      ),
    ).toContain('but it rejected with InvalidValueError HICRA_INVALID_VALUE');
    expect(
      await rejectionMessageOf(
        expectHicraRejection(Promise.reject(invalid()), { message: ['model.safetensors'] }),
      ),
    ).toContain('a message without "model.safetensors"');
    expect(
      await rejectionMessageOf(expectHicraRejection(Promise.reject(new RangeError('too big')))),
    ).toBe('expected a HicraError, but it rejected with RangeError "too big" (not a HicraError)');
  });
});
