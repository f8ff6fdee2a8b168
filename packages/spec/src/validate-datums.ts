import type { DatumV1 } from './engine.js';
import {
  InvalidArgumentError,
  InvalidValueError,
  MissingInputError,
  ShapeError,
} from './errors.js';
import { describeValue } from './format-value.js';

/** The optional per-token float fields of a {@link DatumV1}. */
export const DATUM_FLOAT_FIELDS = ['weights', 'logProbs', 'advantages', 'refLogProbs'] as const;
export type DatumFloatField = (typeof DATUM_FLOAT_FIELDS)[number];

export interface ValidateDatumsOptions {
  /** Vocabulary size V: every input and target id must be in `[0, V)`. */
  readonly vocabSize: number;
  /** Optional fields the loss needs; a datum without one is a `MissingInputError`. */
  readonly requires?: readonly DatumFloatField[];
  /** Longest datum accepted (the engine's context length), when known. */
  readonly contextLength?: number;
  /** Name of the caller, prefixed to messages (`@hicra/policy`). Default `@hicra/spec`. */
  readonly source?: string;
}

const SPEC = '@hicra/spec';

/**
 * Checks datums against {@link DatumV1} before an engine scores them, and throws a `HicraError`
 * naming the datum index, the field and the sizes at the first violation:
 *
 * - `InvalidArgumentError`: `data` is not a non-empty array, a datum is not an object, a field
 *   has the wrong array type (`Int32Array` for tokens, `Float32Array` for the float fields);
 * - `InvalidValueError`: an empty datum (no tokens), a datum longer than `contextLength`, a token
 *   id outside `[0, vocabSize)`, a NaN or ±Infinity weight, log-prob, advantage or reference
 *   log-prob;
 * - `ShapeError`: a per-token array whose length differs from `inputTokens.length`;
 * - `MissingInputError`: a field listed in `requires` is absent.
 *
 * Returns `data`, so it can be used inline. Cost: one pass over every array.
 */
export function validateDatums(
  data: readonly DatumV1[],
  options: ValidateDatumsOptions,
): readonly DatumV1[] {
  const source = options.source ?? SPEC;
  const { vocabSize, contextLength } = options;
  if (!Number.isInteger(vocabSize) || vocabSize < 1) {
    throw new InvalidArgumentError(
      `validateDatums: vocabSize must be a positive integer, got ${String(vocabSize)}`,
      { source, details: { argument: 'vocabSize' } },
    );
  }
  if (!Array.isArray(data)) {
    throw new InvalidArgumentError(
      `datums must be an array of DatumV1, got ${describeValue(data)}`,
      {
        source,
        details: { argument: 'data' },
      },
    );
  }
  if (data.length === 0) {
    throw new InvalidArgumentError('datums: the list is empty; pass at least one datum', {
      source,
      details: { argument: 'data', length: 0 },
    });
  }
  data.forEach((datum, index) => {
    validateDatum(datum, index, vocabSize, contextLength, options.requires ?? [], source);
  });
  return data;
}

function validateDatum(
  datum: DatumV1,
  index: number,
  vocabSize: number,
  contextLength: number | undefined,
  requires: readonly DatumFloatField[],
  source: string,
): void {
  const where = `datum ${index}`;
  if (typeof datum !== 'object' || datum === null) {
    throw new InvalidArgumentError(
      `${where} must be a DatumV1 object, got ${describeValue(datum)}`,
      {
        source,
        details: { datum: index },
      },
    );
  }
  for (const field of ['inputTokens', 'targetTokens'] as const) {
    const value = datum[field];
    if (!(value instanceof Int32Array)) {
      throw new InvalidArgumentError(
        `${where}: ${field} must be an Int32Array, got ${describeValue(value)}`,
        { source, details: { datum: index, field, actualType: describeValue(value) } },
      );
    }
  }
  const n = datum.inputTokens.length;
  if (n === 0) {
    throw new InvalidValueError(
      `${where} is empty (inputTokens has no tokens); a datum scores at least one position`,
      { source, details: { datum: index, field: 'inputTokens', length: 0 } },
    );
  }
  if (contextLength !== undefined && n > contextLength) {
    throw new InvalidValueError(
      `${where} has ${n} tokens, more than the context length ${contextLength}`,
      { source, details: { datum: index, field: 'inputTokens', length: n, contextLength } },
    );
  }
  if (datum.targetTokens.length !== n) {
    throw new ShapeError(
      `${where}: targetTokens has length ${datum.targetTokens.length}, but inputTokens has ${n}; every per-token array has the length of inputTokens`,
      {
        source,
        details: {
          datum: index,
          field: 'targetTokens',
          expected: n,
          actual: datum.targetTokens.length,
        },
      },
    );
  }
  for (const field of DATUM_FLOAT_FIELDS) {
    const value = datum[field];
    if (value === undefined) {
      if (requires.includes(field)) {
        throw new MissingInputError(`${where}: ${field} is required by this loss but absent`, {
          source,
          details: { datum: index, field },
        });
      }
      continue;
    }
    if (!(value instanceof Float32Array)) {
      throw new InvalidArgumentError(
        `${where}: ${field} must be a Float32Array, got ${describeValue(value)}`,
        { source, details: { datum: index, field, actualType: describeValue(value) } },
      );
    }
    if (value.length !== n) {
      throw new ShapeError(
        `${where}: ${field} has length ${value.length}, but inputTokens has ${n}; every per-token array has the length of inputTokens`,
        { source, details: { datum: index, field, expected: n, actual: value.length } },
      );
    }
  }
  for (const field of ['inputTokens', 'targetTokens'] as const) {
    const ids = datum[field];
    for (let k = 0; k < n; k++) {
      const id = ids[k]!;
      if (id < 0 || id >= vocabSize) {
        throw new InvalidValueError(
          `${where}: ${field}[${k}] = ${id} is outside the vocabulary [0, ${vocabSize})`,
          { source, details: { datum: index, field, index: k, value: id, vocabSize } },
        );
      }
    }
  }
  for (const field of DATUM_FLOAT_FIELDS) {
    const value = datum[field];
    if (value === undefined) continue;
    for (let k = 0; k < n; k++) {
      if (!Number.isFinite(value[k]!)) {
        throw new InvalidValueError(
          `${where}: ${field}[${k}] is ${value[k]}; ${field} must be finite`,
          { source, details: { datum: index, field, index: k, value: String(value[k]) } },
        );
      }
    }
  }
}
