import { InvalidArgumentError, InvalidValueError, ShapeError } from '@hicra/spec';

export const SOURCE = '@hicra/semantic-entropy';

/** A short description of a value for error messages: `Float32Array(12)`, `Array(3)`, `string`. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (ArrayBuffer.isView(value))
    return `${value.constructor.name}(${(value as unknown as { length: number }).length})`;
  if (Array.isArray(value)) return `Array(${value.length})`;
  return typeof value;
}

/** Throws unless `batchSize` and `seqLen` are non-negative integers. */
export function checkLayout(where: string, batchSize: unknown, seqLen: unknown): void {
  for (const [name, value] of [
    ['batchSize', batchSize],
    ['seqLen', seqLen],
  ] as const) {
    if (!Number.isInteger(value) || (value as number) < 0) {
      throw new InvalidValueError(
        `${where}: ${name} must be a non-negative integer, got ${String(value)}`,
        { source: SOURCE, details: { where, argument: name, value: String(value) } },
      );
    }
  }
}

type Kind =
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | Uint8ArrayConstructor
  | Int32ArrayConstructor;

/** Throws unless `array` is a typed array of one of `kinds` with `length` entries. */
export function checkTypedArray(
  where: string,
  name: string,
  array: unknown,
  length: number,
  kinds: readonly Kind[],
): void {
  if (!kinds.some((kind) => array instanceof kind)) {
    throw new InvalidArgumentError(
      `${where}: ${name} must be a ${kinds.map((k) => k.name).join(' or ')}, got ${describe(array)}`,
      { source: SOURCE, details: { where, argument: name } },
    );
  }
  const actual = (array as { length: number }).length;
  if (actual !== length) {
    throw new ShapeError(
      `${where}: ${name} has length ${actual}, expected ${length} (batchSize·seqLen)`,
      { source: SOURCE, details: { where, argument: name, expected: length, actual } },
    );
  }
}

/** Throws unless `value` is an array (of any element type) with `length` entries. */
export function checkList(where: string, name: string, value: unknown, length: number): void {
  if (!Array.isArray(value)) {
    throw new InvalidArgumentError(`${where}: ${name} must be an array, got ${describe(value)}`, {
      source: SOURCE,
      details: { where, argument: name },
    });
  }
  if (value.length !== length) {
    throw new ShapeError(`${where}: ${name} has length ${value.length}, expected ${length}`, {
      source: SOURCE,
      details: { where, argument: name, expected: length, actual: value.length },
    });
  }
}

/** Throws unless `count` is a non-negative safe integer. */
export function checkCount(where: string, name: string, count: unknown): void {
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
    throw new InvalidValueError(
      `${where}: ${name} must be a non-negative integer count, got ${typeof count === 'number' ? count : describe(count)}`,
      { source: SOURCE, details: { where, argument: name, value: String(count) } },
    );
  }
}
