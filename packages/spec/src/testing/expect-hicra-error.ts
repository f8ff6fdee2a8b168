/**
 * Assertions on the errors hicra code throws, free of any test runner: each returns the error
 * it checked, or throws a plain `Error` whose message says what was expected and what happened,
 * so vitest, node:test and jest report it as a failed test alike.
 */

import { type ErrorCode, HicraError } from '../errors.js';
import { describeValue } from '../format-value.js';

/**
 * A HicraError subclass, as its class: `ConfigError`, `ShapeError`. Matched with its
 * `isInstance`, so also across two copies of `@hicra/spec`.
 */
export interface HicraErrorClass<E extends HicraError = HicraError> {
  readonly name: string;
  readonly prototype: E;
  isInstance(value: unknown): boolean;
}

/**
 * What a thrown error must be. Every field given is checked; none given: any HicraError. With
 * `errorClass`, the assertions return the error typed as that class.
 */
export interface HicraErrorExpectation<E extends HicraError = HicraError> {
  /** The error's `code`, e.g. `ErrorCode.InvalidValue` (`HICRA_INVALID_VALUE`). */
  readonly code?: ErrorCode | string;
  /** A HicraError subclass the error must be, e.g. `ConfigError`. */
  readonly errorClass?: HicraErrorClass<E>;
  /**
   * The message: a string or each string of an array must appear in it; a RegExp must match it.
   * An empty array checks nothing.
   */
  readonly message?: string | RegExp | readonly string[];
  /** The package that raised it (`error.source`), e.g. `@hicra/tasks`. */
  readonly source?: string;
}

/**
 * One row of a bad-input table: what the input is, a call with it, the error code it must
 * raise, and the parts its message must contain (the field's name, the offending value). Run a
 * table with your runner's `each`, checking each row with {@link expectHicraError}:
 *
 * @example
 * const cases: BadInputCase[] = [
 *   ['a zero time limit', () => createMathVerifier({ timeLimitMs: 0 }), ErrorCode.InvalidValue, ['timeLimitMs', '>= 1']],
 * ];
 * it.each(cases)('%s', (_about, call, code, message) => {
 *   expectHicraError(call, { code, message });
 * });
 */
export type BadInputCase = readonly [
  about: string,
  call: () => unknown,
  code: ErrorCode | string,
  messageParts: readonly string[],
];

/**
 * Calls `fn` and returns the HicraError it throws, after checking it against `expected`.
 * Throws an `Error` saying what was expected and what happened when `fn` returns, throws
 * something that is not a HicraError (that error is the `cause`), or throws a HicraError that
 * does not match. For a function that returns a promise, use {@link expectHicraRejection}.
 *
 * @example
 * expectHicraError(() => createCountdownTask({ testFraction: 0 }), {
 *   code: ErrorCode.InvalidValue,
 *   message: ['testFraction', '> 0'],
 * });
 */
export function expectHicraError<E extends HicraError = HicraError>(
  fn: () => unknown,
  expected: HicraErrorExpectation<E> = {},
): E {
  let returned: unknown;
  try {
    returned = fn();
  } catch (error) {
    return checkHicraError(error, expected, 'threw');
  }
  if (isPromiseLike(returned)) {
    // A rejection the caller never sees would be reported as an unhandled one; swallow it.
    void Promise.resolve(returned).catch(() => undefined);
    throw new Error(
      `expected ${expectationText(expected)} to be thrown, but the function returned a promise; use expectHicraRejection for async functions`,
    );
  }
  throw new Error(
    `expected ${expectationText(expected)} to be thrown, but the function returned ${describeValue(returned)}`,
  );
}

/**
 * Awaits `promise` (or the promise `fn` returns) and returns the HicraError it rejects with,
 * after checking it against `expected`. Rejects with an `Error` saying what was expected and
 * what happened when the promise resolves, rejects with something that is not a HicraError (as
 * the `cause`), or rejects with a HicraError that does not match. A function may also be
 * synchronous, or throw before it returns a promise: its throw counts as a rejection, so one
 * call covers an operation that fails either way.
 *
 * @example
 * await expectHicraRejection(openSafetensorsFile(path), {
 *   code: ErrorCode.CorruptFile,
 *   message: [path, 'truncated'],
 * });
 */
export async function expectHicraRejection<E extends HicraError = HicraError>(
  promise: PromiseLike<unknown> | (() => unknown),
  expected: HicraErrorExpectation<E> = {},
): Promise<E> {
  let resolved: unknown;
  try {
    resolved = await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    return checkHicraError(error, expected, 'rejected with');
  }
  throw new Error(
    `expected a rejection with ${expectationText(expected)}, but it resolved to ${describeValue(resolved)}`,
  );
}

/** `error` as a HicraError meeting `expected`, or an Error listing every mismatch. */
function checkHicraError<E extends HicraError>(
  error: unknown,
  expected: HicraErrorExpectation<E>,
  verb: string,
): E {
  if (!HicraError.isInstance(error)) {
    throw new Error(
      `expected ${expectationText(expected)}, but it ${verb} ${errorText(error)} (not a HicraError)`,
      { cause: error },
    );
  }
  const problems: string[] = [];
  if (expected.code !== undefined && error.code !== expected.code)
    problems.push(`code ${error.code} instead of ${expected.code}`);
  if (expected.errorClass !== undefined && !expected.errorClass.isInstance(error))
    problems.push(`${error.name} instead of ${expected.errorClass.name}`);
  if (expected.source !== undefined && error.source !== expected.source)
    problems.push(
      `source ${JSON.stringify(error.source)} instead of ${JSON.stringify(expected.source)}`,
    );
  const message = expected.message;
  if (message instanceof RegExp) {
    if (!message.test(error.message)) problems.push(`a message that does not match ${message}`);
  } else if (message !== undefined) {
    const missing = (typeof message === 'string' ? [message] : message).filter(
      (part) => !error.message.includes(part),
    );
    if (missing.length > 0)
      problems.push(`a message without ${missing.map((part) => JSON.stringify(part)).join(', ')}`);
  }
  if (problems.length > 0) {
    throw new Error(
      `expected ${expectationText(expected)}, but it ${verb} ${errorText(error)}: ${problems.join('; ')}`,
      { cause: error },
    );
  }
  return error as E;
}

/** `a HicraError with code X whose message contains "a", "b"`. */
function expectationText(expected: HicraErrorExpectation<HicraError>): string {
  const parts: string[] = [];
  if (expected.code !== undefined) parts.push(`code ${expected.code}`);
  if (expected.source !== undefined) parts.push(`source ${JSON.stringify(expected.source)}`);
  const what = `${expected.errorClass === undefined ? 'a HicraError' : withArticle(expected.errorClass.name)}${parts.length > 0 ? ` with ${parts.join(' and ')}` : ''}`;
  const message = expected.message;
  if (message instanceof RegExp) return `${what} whose message matches ${message}`;
  if (message === undefined || (typeof message !== 'string' && message.length === 0)) return what;
  const list = typeof message === 'string' ? [message] : message;
  return `${what} whose message contains ${list.map((part) => JSON.stringify(part)).join(', ')}`;
}

/** `ConfigError HICRA_INVALID_CONFIG "config key x: ..."`, `TypeError "..."`, `the number 3`. */
function errorText(error: unknown): string {
  if (HicraError.isInstance(error))
    return `${error.name} ${error.code} ${JSON.stringify(error.message)}`;
  if (error instanceof Error) return `${error.name} ${JSON.stringify(error.message)}`;
  return describeValue(error);
}

/** `an InvalidValueError`, `a ConfigError`. */
function withArticle(name: string): string {
  return `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}`;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
