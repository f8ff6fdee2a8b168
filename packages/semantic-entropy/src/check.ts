import { describeValue, InvalidArgumentError, InvalidValueError, ShapeError } from '@hicra/spec';

export const SOURCE = '@hicra/semantic-entropy';

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
      `${where}: ${name} must be a ${kinds.map((k) => k.name).join(' or ')}, got ${describeValue(array)}`,
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
    throw new InvalidArgumentError(
      `${where}: ${name} must be an array, got ${describeValue(value)}`,
      {
        source: SOURCE,
        details: { where, argument: name },
      },
    );
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
      `${where}: ${name} must be a non-negative integer count, got ${typeof count === 'number' ? count : describeValue(count)}`,
      { source: SOURCE, details: { where, argument: name, value: String(count) } },
    );
  }
}
