import { describeValue, InvalidArgumentError, InvalidValueError, ShapeError } from '@hicra/spec';
import { firstNonBinary, maskWords } from './mask-words.js';

export const SOURCE = '@hicra/tensor';

type Numeric = Float32Array | Float64Array | Int32Array | Uint8Array;

/** Throws unless `array` is a typed array of one of the given kinds with `length` entries. */
export function checkArray(
  kernel: string,
  name: string,
  array: unknown,
  length: number | undefined,
  kinds: readonly (new (n: number) => Numeric)[] = [Float32Array, Float64Array],
): void {
  if (!kinds.some((kind) => array instanceof kind)) {
    throw new InvalidArgumentError(
      `${kernel}: ${name} must be a ${kinds.map((k) => k.name).join(' or ')}, got ${describeValue(array)}`,
      { source: SOURCE, details: { kernel, argument: name } },
    );
  }
  const actual = (array as Numeric).length;
  if (length !== undefined && actual !== length) {
    throw new ShapeError(`${kernel}: ${name} has length ${actual}, expected ${length}`, {
      source: SOURCE,
      details: { kernel, argument: name, expected: length, actual },
    });
  }
}

/** Throws unless `mask` is a `Uint8Array` of 0/1 with `length` entries. */
export function checkMask(
  kernel: string,
  name: string,
  mask: unknown,
  length: number | undefined,
): asserts mask is Uint8Array {
  checkArray(kernel, name, mask, length, [Uint8Array]);
  const m = mask as Uint8Array;
  // Four entries at a time; the index of the first bad one if any.
  const k = firstNonBinary(maskWords(m));
  if (k >= 0) {
    throw new InvalidValueError(`${kernel}: ${name}[${k}] = ${m[k]}; masks hold only 0 and 1`, {
      source: SOURCE,
      details: { kernel, argument: name, index: k, value: m[k] },
    });
  }
}

/** Throws unless `batchSize · seqLen` matches. */
export function checkLayout(kernel: string, batchSize: number, seqLen: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 0 || !Number.isInteger(seqLen) || seqLen < 0) {
    throw new InvalidValueError(
      `${kernel}: batchSize and seqLen must be non-negative integers, got ${batchSize} and ${seqLen}`,
      {
        source: SOURCE,
        details: { kernel, batchSize, seqLen },
      },
    );
  }
}
