import {
  describeValue,
  InvalidArgumentError,
  InvalidValueError,
  MissingInputError,
  type PlanningInputV1,
  ShapeError,
} from '@hicra/spec';
import { SOURCE } from './source.js';

/** A checked {@link PlanningInputV1} with the valid-token mask made explicit. */
export interface CheckedPlanningInput {
  readonly batchSize: number;
  readonly seqLen: number;
  readonly texts: readonly string[];
  readonly tokenSpans: Int32Array;
  /** `[B·T]` 0/1: the response mask, or (without one) 1 where the span is not `(-1, -1)`. */
  readonly valid: Uint8Array;
  readonly entropies: Float32Array | undefined;
  /** `input.step`, 0 when absent. */
  readonly step: number;
}

/**
 * Checks a planning input against its contract and throws a `HicraError` naming the field,
 * the response, the token and the sizes at the first violation. Spans of valid tokens must
 * satisfy `0 <= start <= end <= text length`, and starts and ends must each be non-decreasing
 * along a response (decision 0003: byte-level BPE tokens may share a span). Spans of masked
 * tokens are not read.
 */
export function checkPlanningInput(
  input: PlanningInputV1,
  classifier: string,
  options: { readonly requireEntropies?: boolean } = {},
): CheckedPlanningInput {
  const where = `${classifier}.classify`;
  if (typeof input !== 'object' || input === null) {
    throw new InvalidArgumentError(
      `${where}: input must be an object, got ${describeValue(input)}`,
      {
        source: SOURCE,
        details: { classifier, argument: 'input' },
      },
    );
  }
  const { batchSize, seqLen, texts, tokenSpans, responseMask, entropies, step } = input;
  for (const [name, value] of [
    ['batchSize', batchSize],
    ['seqLen', seqLen],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new InvalidValueError(
        `${where}: ${name} must be a non-negative integer, got ${String(value)}`,
        { source: SOURCE, details: { classifier, field: name } },
      );
    }
  }
  if (step !== undefined && (!Number.isSafeInteger(step) || step < 0)) {
    throw new InvalidValueError(
      `${where}: step must be a non-negative integer (the training step or a call counter), got ${typeof step === 'number' ? String(step) : describeValue(step)}`,
      { source: SOURCE, details: { classifier, field: 'step' } },
    );
  }
  const tokens = batchSize * seqLen;
  const shape = `batchSize·seqLen = ${batchSize}·${seqLen} = ${tokens}`;
  if (!Array.isArray(texts)) {
    throw new InvalidArgumentError(
      `${where}: texts must be an array of strings, got ${describeValue(texts)}`,
      {
        source: SOURCE,
        details: { classifier, field: 'texts' },
      },
    );
  }
  if (texts.length !== batchSize) {
    throw new ShapeError(
      `${where}: texts has ${texts.length} entries but batchSize is ${batchSize}; one text per response`,
      {
        source: SOURCE,
        details: { classifier, field: 'texts', expected: batchSize, actual: texts.length },
      },
    );
  }
  texts.forEach((text, i) => {
    if (typeof text !== 'string') {
      throw new InvalidArgumentError(
        `${where}: texts[${i}] must be a string, got ${describeValue(text)}`,
        {
          source: SOURCE,
          details: { classifier, field: 'texts', index: i },
        },
      );
    }
  });
  if (!(tokenSpans instanceof Int32Array)) {
    throw new InvalidArgumentError(
      `${where}: tokenSpans must be an Int32Array of [start, end) pairs, got ${describeValue(tokenSpans)}`,
      { source: SOURCE, details: { classifier, field: 'tokenSpans' } },
    );
  }
  if (tokenSpans.length !== 2 * tokens) {
    throw new ShapeError(
      `${where}: tokenSpans has length ${tokenSpans.length}; expected batchSize·seqLen·2 = ${2 * tokens}`,
      {
        source: SOURCE,
        details: {
          classifier,
          field: 'tokenSpans',
          expected: 2 * tokens,
          actual: tokenSpans.length,
        },
      },
    );
  }
  let valid: Uint8Array;
  if (responseMask !== undefined) {
    if (!(responseMask instanceof Uint8Array)) {
      throw new InvalidArgumentError(
        `${where}: responseMask must be a Uint8Array, got ${describeValue(responseMask)}`,
        { source: SOURCE, details: { classifier, field: 'responseMask' } },
      );
    }
    if (responseMask.length !== tokens) {
      throw new ShapeError(
        `${where}: responseMask has length ${responseMask.length}; expected ${shape}`,
        {
          source: SOURCE,
          details: {
            classifier,
            field: 'responseMask',
            expected: tokens,
            actual: responseMask.length,
          },
        },
      );
    }
    valid = responseMask;
  } else {
    valid = new Uint8Array(tokens);
    for (let k = 0; k < tokens; k++)
      valid[k] = tokenSpans[2 * k] === -1 && tokenSpans[2 * k + 1] === -1 ? 0 : 1;
  }
  if (entropies !== undefined) {
    if (!(entropies instanceof Float32Array)) {
      throw new InvalidArgumentError(
        `${where}: entropies must be a Float32Array, got ${describeValue(entropies)}`,
        { source: SOURCE, details: { classifier, field: 'entropies' } },
      );
    }
    if (entropies.length !== tokens) {
      throw new ShapeError(
        `${where}: entropies has length ${entropies.length}; expected ${shape}`,
        {
          source: SOURCE,
          details: { classifier, field: 'entropies', expected: tokens, actual: entropies.length },
        },
      );
    }
  } else if (options.requireEntropies) {
    throw new MissingInputError(
      `${where}: entropies are required (token entropies [B·T] in nats); pass input.entropies`,
      { source: SOURCE, details: { classifier, field: 'entropies' } },
    );
  }
  for (let i = 0; i < batchSize; i++) {
    const bad = firstBadSpan(tokenSpans, valid, i * seqLen, seqLen, texts[i]!.length);
    if (bad >= 0)
      throwBadSpan(where, classifier, tokenSpans, valid, i, seqLen, bad, texts[i]!.length);
  }
  return { batchSize, seqLen, texts, tokenSpans, valid, entropies, step: step ?? 0 };
}

/** The first valid token of a row whose span breaks the rules, or -1 (the hot loop, kept small). */
function firstBadSpan(
  spans: Int32Array,
  valid: Uint8Array,
  base: number,
  seqLen: number,
  textLength: number,
): number {
  let lastStart = 0;
  let lastEnd = 0;
  for (let t = 0; t < seqLen; t++) {
    const k = base + t;
    const m = valid[k]!;
    if (m === 0) continue;
    if (m !== 1) return t;
    const start = spans[2 * k]!;
    const end = spans[2 * k + 1]!;
    // start >= lastStart >= 0 covers negative starts and (-1, -1).
    if (start < lastStart || end < start || end > textLength || end < lastEnd) return t;
    lastStart = start;
    lastEnd = end;
  }
  return -1;
}

function throwBadSpan(
  where: string,
  classifier: string,
  spans: Int32Array,
  valid: Uint8Array,
  i: number,
  seqLen: number,
  t: number,
  textLength: number,
): never {
  const k = i * seqLen + t;
  if (valid[k]! > 1) {
    throw new InvalidValueError(
      `${where}: responseMask holds ${valid[k]} at response ${i}, token ${t}; masks hold only 0 and 1`,
      { source: SOURCE, details: { classifier, field: 'responseMask', index: k } },
    );
  }
  const start = spans[2 * k]!;
  const end = spans[2 * k + 1]!;
  if (start === -1 && end === -1) {
    throw new InvalidValueError(
      `${where}: tokenSpans is (-1, -1) at response ${i}, token ${t}, a valid token; only padding may lack a span`,
      { source: SOURCE, details: { classifier, field: 'tokenSpans', row: i, column: t } },
    );
  }
  if (start < 0 || end < start || end > textLength) {
    throw new InvalidValueError(
      `${where}: tokenSpans has [${start}, ${end}) at response ${i}, token ${t}; expected 0 <= start <= end <= text length ${textLength}`,
      {
        source: SOURCE,
        details: { classifier, field: 'tokenSpans', row: i, column: t, start, end, textLength },
      },
    );
  }
  let previous = t - 1;
  while (valid[i * seqLen + previous] === 0) previous--;
  const p = i * seqLen + previous;
  throw new InvalidValueError(
    `${where}: tokenSpans is not monotonic at response ${i}, token ${t}: [${start}, ${end}) after [${spans[2 * p]}, ${spans[2 * p + 1]}); starts and ends must not decrease`,
    { source: SOURCE, details: { classifier, field: 'tokenSpans', row: i, column: t } },
  );
}

/**
 * Sets `mask[row·T + t] = 1` for every valid token whose span shares at least one character
 * with one of the sorted, disjoint intervals `[starts[j], ends[j])`. Empty spans share none.
 * Relies on the monotonic spans checked above (two pointers, O(T + intervals)).
 */
export function markOverlappingTokens(
  input: CheckedPlanningInput,
  row: number,
  starts: Int32Array,
  ends: Int32Array,
  count: number,
  mask: Uint8Array,
): void {
  if (count === 0) return;
  const { seqLen, tokenSpans, valid } = input;
  let j = 0;
  const base = row * seqLen;
  for (let t = 0; t < seqLen; t++) {
    const k = base + t;
    if (valid[k] === 0) continue;
    const s = tokenSpans[2 * k]!;
    const e = tokenSpans[2 * k + 1]!;
    while (j < count && ends[j]! <= s) j++;
    if (j === count) return;
    if (s < e && starts[j]! < e) mask[k] = 1;
  }
}
