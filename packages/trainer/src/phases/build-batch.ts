import type {
  DatumOutputV1,
  DatumV1,
  LossAggregationMode,
  RolloutBatchV1,
  ScoreRequestV1,
} from '@hicra/spec';
import type { Problem } from '../problem.js';
import { toRagged } from '../rollouts.js';
import type { ScoredResponse } from './sample-and-score.js';

/** One kept response. */
export interface GroupRow {
  readonly ids: Int32Array;
  readonly text: string;
  readonly spans: Int32Array;
  readonly scored: ScoredResponse;
  readonly length: number;
  readonly finished: boolean;
}

/** A prompt's group of responses that the step keeps. */
export interface KeptGroup {
  readonly problem: Problem;
  readonly promptIds: Int32Array;
  readonly rows: readonly GroupRow[];
}

/** The step's batch: rows with a reward, right-padded to the longest response. */
export interface StepBatch {
  readonly groups: readonly KeptGroup[];
  /** Each row's response and its group index. */
  readonly rows: readonly (GroupRow & { readonly group: number })[];
  readonly batch: RolloutBatchV1 & { tokenSpans: Int32Array; responseTexts: string[] };
  /** The whole batch as a score request at the sampling temperature (the KL reference's input). */
  readonly request: ScoreRequestV1;
}

/** Builds the step's batch from the kept groups: responses with a reward (unscorable ones are left out). */
export function buildStepBatch(groups: readonly KeptGroup[], temperature: number): StepBatch {
  const rows = groups.flatMap((group, g) =>
    group.rows
      .filter((row) => row.scored.reward !== undefined)
      .map((row) => ({ ...row, group: g })),
  );
  const B = rows.length;
  const T = Math.max(1, ...rows.map((row) => row.length));
  const prompts = toRagged(groups.map((group) => group.promptIds));
  const batch: StepBatch['batch'] = {
    batchSize: B,
    seqLen: T,
    groupIds: Int32Array.from(rows, (row) => row.group),
    prompts: {
      groupIds: Int32Array.from(groups, (_, g) => g),
      texts: groups.map((group) => group.problem.prompt),
      tokenIds: prompts.tokenIds,
      tokenOffsets: prompts.offsets,
    },
    tokenIds: new Int32Array(B * T),
    responseMask: new Uint8Array(B * T),
    rewards: Float32Array.from(rows, (row) => row.scored.reward!),
    responseTexts: rows.map((row) => row.text),
    tokenSpans: new Int32Array(B * T * 2).fill(-1),
  };
  rows.forEach((row, i) => {
    batch.tokenIds.set(row.ids, i * T);
    batch.responseMask.fill(1, i * T, i * T + row.length);
    batch.tokenSpans.set(row.spans, i * T * 2);
  });
  const request: ScoreRequestV1 = {
    prompts: toRagged(rows.map((row) => groups[row.group]!.promptIds)),
    batchSize: B,
    seqLen: T,
    tokenIds: batch.tokenIds,
    responseMask: batch.responseMask,
    temperature,
  };
  return { groups, rows, batch, request };
}

/** Per-token `[B·T]` arrays of the step batch that a datum carries. */
export interface DatumFields {
  readonly weights?: Float32Array;
  readonly logProbs?: Float32Array;
  readonly advantages?: Float32Array;
  readonly refLogProbs?: Float32Array;
}

/**
 * Datums of some rows of the step batch (`fields` indexed like `rows`: `[rows.length·T]`). Row
 * i's prompt p and response r make the sequence x = p ++ r; the datum's `inputTokens` are
 * x[0..L-2] and `targetTokens` x[1..L-1], so response token t is the target at position
 * |p| - 1 + t; prompt positions get 0 in every per-token field.
 */
export function datumsOf(
  step: StepBatch,
  rows: readonly number[],
  fields: DatumFields = {},
): DatumV1[] {
  const T = step.batch.seqLen;
  return rows.map((r, i) => {
    const row = step.rows[r]!;
    const prompt = step.groups[row.group]!.promptIds;
    const length = prompt.length + row.length - 1;
    const sequence = new Int32Array(length + 1);
    sequence.set(prompt);
    sequence.set(row.ids.subarray(0, row.length), prompt.length);
    const start = prompt.length - 1;
    const perToken = (values: Float32Array | undefined) => {
      if (values === undefined) return undefined;
      const out = new Float32Array(length);
      out.set(values.subarray(i * T, i * T + row.length), start);
      return out;
    };
    const weights = perToken(fields.weights);
    const logProbs = perToken(fields.logProbs);
    const advantages = perToken(fields.advantages);
    const refLogProbs = perToken(fields.refLogProbs);
    return {
      inputTokens: sequence.subarray(0, length),
      targetTokens: sequence.subarray(1),
      ...(weights ? { weights } : {}),
      ...(logProbs ? { logProbs } : {}),
      ...(advantages ? { advantages } : {}),
      ...(refLogProbs ? { refLogProbs } : {}),
    };
  });
}

/** The response part of each datum's output, back in `[rows.length·T]` layout (0 on padding). */
export function responseValues(
  step: StepBatch,
  rows: readonly number[],
  outputs: readonly DatumOutputV1[],
  field: 'logProbs' | 'entropies',
): Float32Array | undefined {
  const T = step.batch.seqLen;
  const out = new Float32Array(rows.length * T);
  for (let i = 0; i < rows.length; i++) {
    const row = step.rows[rows[i]!]!;
    const values = outputs[i]?.[field];
    if (values === undefined) return undefined;
    const start = step.groups[row.group]!.promptIds.length - 1;
    out.set(values.subarray(start, start + row.length), i * T);
  }
  return out;
}

/**
 * Per-token weights `[B·T]` that make a token sum equal the aggregation `mode` over this
 * mini-batch (verl's `agg_loss`), so every loss can be a token sum: `lossMask` selects the
 * tokens that take gradient, the **response mask** counts tokens and sequences for the
 * normaliser (clearing a token of `lossMask` does not rescale the others):
 *
 * - `token-mean`: lossMask / Σ responseMask
 * - `seq-mean-token-sum`: lossMask / (sequences with a response token)
 * - `seq-mean-token-mean`: lossMask / (that sequence's response tokens · sequences)
 * - `seq-mean-token-sum-norm`: lossMask / `scaleFactor`
 *
 * Sequences without a response token get weight 0 and are not counted; an empty mini-batch
 * gives zeros.
 */
export function aggregationWeights(
  lossMask: Uint8Array,
  responseMask: Uint8Array,
  batchSize: number,
  seqLen: number,
  mode: LossAggregationMode,
  scaleFactor: number,
): Float32Array {
  const weights = new Float32Array(batchSize * seqLen);
  const counts = new Float64Array(batchSize);
  let tokens = 0;
  let sequences = 0;
  for (let b = 0; b < batchSize; b++) {
    let count = 0;
    for (let t = 0; t < seqLen; t++) count += responseMask[b * seqLen + t]!;
    counts[b] = count;
    tokens += count;
    if (count > 0) sequences++;
  }
  for (let b = 0; b < batchSize; b++) {
    if (counts[b] === 0) continue;
    let factor: number;
    switch (mode) {
      case 'token-mean':
        factor = 1 / tokens;
        break;
      case 'seq-mean-token-sum':
        factor = 1 / sequences;
        break;
      case 'seq-mean-token-mean':
        factor = 1 / (counts[b]! * sequences);
        break;
      case 'seq-mean-token-sum-norm':
        factor = 1 / scaleFactor;
        break;
    }
    for (let t = 0; t < seqLen; t++) {
      const k = b * seqLen + t;
      if (lossMask[k]) weights[k] = factor;
    }
  }
  return weights;
}
