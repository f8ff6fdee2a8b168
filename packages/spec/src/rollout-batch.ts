/**
 * The batch of sampled responses that every stage of the pipeline reads.
 *
 * Layout: B responses, right-padded to T tokens. Every per-token array is flat and row-major
 * with length B·T: the value for response `i`, token `t` is at index `i * seqLen + t`.
 * Per-response arrays have length B. Nothing here is a tensor: the batch can come from a local
 * policy, an inference server or a JSON Lines export of another system without conversion.
 */

/** The prompts a batch answers, one entry per group (prompt). */
export interface PromptsV1 {
  /** `[P]` int32: the group id of each prompt; unique. Every `RolloutBatchV1.groupIds` value appears here. */
  readonly groupIds: Int32Array;
  /** `[P]`: the prompt text of each group. */
  readonly texts: readonly string[];
  /**
   * Optional ragged prompt token ids: prompt `p` is `tokenIds[tokenOffsets[p] .. tokenOffsets[p + 1])`.
   * Flat int32 array of all prompts' tokens concatenated.
   */
  readonly tokenIds?: Int32Array;
  /** `[P + 1]` int32, non-decreasing, `tokenOffsets[0] = 0`, last = `tokenIds.length`. Required with `tokenIds`. */
  readonly tokenOffsets?: Int32Array;
}

/**
 * A batch of B responses (responses only: prompts are described by {@link PromptsV1}).
 *
 * Invariants (checked by `validateRolloutBatch`):
 * - every `[B·T]` array has length `batchSize * seqLen`, every `[B]` array length `batchSize`;
 * - masks hold only 0 and 1;
 * - token spans are `[start, end)` character offsets into `responseTexts[i]`, non-decreasing
 *   along a response, `(-1, -1)` at padding.
 */
export interface RolloutBatchV1 {
  /** B: number of responses. A batch may hold zero responses only if every array is empty. */
  readonly batchSize: number;
  /** T: padded response length in tokens (the width of every `[B·T]` array). */
  readonly seqLen: number;

  /** `[B]` int32: responses to the same prompt share an id; ids need not be sorted or contiguous. A group of one is valid. */
  readonly groupIds: Int32Array;
  /** The prompt of each group. */
  readonly prompts: PromptsV1;
  /** `[B·T]` int32: response token ids; any value (conventionally the pad id) at padding. */
  readonly tokenIds: Int32Array;
  /** `[B·T]` uint8, 0/1: 1 where the token is part of the response. Usually a prefix of each row. */
  readonly responseMask: Uint8Array;
  /** `[B]` float32: the outcome reward of each response. Must be finite. */
  readonly rewards: Float32Array;

  /** `[B·T]` float32: per-token rewards (process rewards). When absent, the outcome reward sits on the last valid token. */
  readonly tokenRewards?: Float32Array;
  /** `[B·T]` float32: log-probabilities of the sampled tokens under the policy that generated them (natural log). */
  readonly oldLogProbs?: Float32Array;
  /** `[B·T]` float32: log-probabilities under the frozen reference policy, for KL terms. */
  readonly refLogProbs?: Float32Array;
  /** `[B·T]` float32: entropy (nats) of the next-token distribution at each response position. */
  readonly entropies?: Float32Array;
  /** `[B·T]` float32: critic value estimates, for GAE. */
  readonly values?: Float32Array;
  /** `[B·T]` uint8, 0/1: 1 where the token belongs to a planning phrase (a subset of `responseMask`). */
  readonly planningMask?: Uint8Array;
  /** `[B]`: decoded response texts. Required when `tokenSpans` is given. */
  readonly responseTexts?: readonly string[];
  /** `[B·T·2]` int32: `[start, end)` character span of each token in its response text; `(-1, -1)` at padding. */
  readonly tokenSpans?: Int32Array;
}

/** Names of the `[B·T]` float32 fields, in the order the validator checks them. */
export const TOKEN_FLOAT_FIELDS = [
  'tokenRewards',
  'oldLogProbs',
  'refLogProbs',
  'entropies',
  'values',
] as const satisfies readonly (keyof RolloutBatchV1)[];

export type TokenFloatField = (typeof TOKEN_FLOAT_FIELDS)[number];

/** Index of response `row`, token `column` in a flat `[B·T]` array. */
export function tokenIndex(
  batch: Pick<RolloutBatchV1, 'seqLen'>,
  row: number,
  column: number,
): number {
  return row * batch.seqLen + column;
}

/** Number of valid (mask = 1) tokens of each response, as `[B]` int32. */
export function responseLengths(
  batch: Pick<RolloutBatchV1, 'batchSize' | 'seqLen' | 'responseMask'>,
): Int32Array {
  const { batchSize, seqLen, responseMask } = batch;
  const lengths = new Int32Array(batchSize);
  for (let i = 0; i < batchSize; i++) {
    let count = 0;
    const offset = i * seqLen;
    for (let t = 0; t < seqLen; t++) count += responseMask[offset + t]!;
    lengths[i] = count;
  }
  return lengths;
}
