import { describeValue, formatValue, InvalidArgumentError, ShapeError } from '@hicra/spec';
import type { DataType, Tensor } from '../tf.js';
import { tf } from '../tf.js';

export const SOURCE = '@hicra/tensor';

const shapeOf = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/** Throws unless `value` is a live tfjs tensor of the given rank(s) and dtype(s). */
export function assertTensor(
  op: string,
  name: string,
  value: unknown,
  expected: { rank?: number | readonly number[]; dtype?: DataType | readonly DataType[] } = {},
): asserts value is Tensor {
  if (!(value instanceof tf.Tensor)) {
    throw new InvalidArgumentError(
      `${op}: ${name} must be a tf.Tensor, got ${describeValue(value)}`,
      {
        source: SOURCE,
        details: { op, argument: name },
      },
    );
  }
  if (value.isDisposed) {
    throw new InvalidArgumentError(`${op}: ${name} is a disposed tensor`, {
      source: SOURCE,
      details: { op, argument: name },
    });
  }
  const ranks = expected.rank === undefined ? undefined : ([] as number[]).concat(expected.rank);
  if (ranks && !ranks.includes(value.rank)) {
    throw new ShapeError(
      `${op}: ${name} must have rank ${ranks.join(' or ')}, got shape ${shapeOf(value.shape)}`,
      { source: SOURCE, details: { op, argument: name, shape: value.shape } },
    );
  }
  const dtypes =
    expected.dtype === undefined ? undefined : ([] as DataType[]).concat(expected.dtype);
  if (dtypes && !dtypes.includes(value.dtype)) {
    throw new InvalidArgumentError(
      `${op}: ${name} must have dtype ${dtypes.join(' or ')}, got ${value.dtype}`,
      {
        source: SOURCE,
        details: { op, argument: name, dtype: value.dtype },
      },
    );
  }
}

/** Throws unless every tensor has the shape of the first one. */
export function assertSameShape(op: string, tensors: Record<string, Tensor | undefined>): void {
  const entries = Object.entries(tensors).filter((e): e is [string, Tensor] => e[1] !== undefined);
  const [firstName, first] = entries[0]!;
  for (const [name, tensor] of entries.slice(1)) {
    if (!tf.util.arraysEqual(tensor.shape, first.shape)) {
      throw new ShapeError(
        `${op}: ${name} has shape ${shapeOf(tensor.shape)} but ${firstName} has shape ${shapeOf(first.shape)}; they must match`,
        {
          source: SOURCE,
          details: {
            op,
            argument: name,
            shape: tensor.shape,
            expected: first.shape,
            reference: firstName,
          },
        },
      );
    }
  }
}

export function assertOneOf<T extends string>(
  op: string,
  name: string,
  value: unknown,
  allowed: readonly T[],
): asserts value is T {
  if (!(allowed as readonly unknown[]).includes(value)) {
    throw new InvalidArgumentError(
      `${op}: ${name} must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${formatValue(value)}`,
      {
        source: SOURCE,
        details: { op, argument: name, value: String(value), known: [...allowed] },
      },
    );
  }
}

export function assertFiniteNumber(
  op: string,
  name: string,
  value: unknown,
  range: { min?: number; max?: number; integer?: boolean } = {},
): asserts value is number {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (range.integer !== true || Number.isInteger(value)) &&
    (range.min === undefined || value >= range.min) &&
    (range.max === undefined || value <= range.max);
  if (!ok) {
    const bounds = `${range.integer ? 'an integer' : 'a finite number'}${range.min === undefined ? '' : ` >= ${range.min}`}${range.max === undefined ? '' : ` <= ${range.max}`}`;
    throw new InvalidArgumentError(`${op}: ${name} must be ${bounds}, got ${String(value)}`, {
      source: SOURCE,
      details: { op, argument: name, value: String(value) },
    });
  }
}
