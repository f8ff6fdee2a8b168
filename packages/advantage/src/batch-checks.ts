import { type RolloutBatchV1, validateRolloutBatch } from '@hicra/spec';

export const SOURCE = '@hicra/advantage';

/**
 * Batches already validated whole. The contract treats a batch as immutable once built, so a
 * pipeline validates it once (in its estimator) and its assigners only check the optional
 * fields they need.
 */
const validated = new WeakSet<RolloutBatchV1>();

/** Validates a batch for a component, requiring the optional fields it needs. */
export function checkBatch(
  batch: RolloutBatchV1,
  require: readonly (keyof RolloutBatchV1)[] = [],
): RolloutBatchV1 {
  if (typeof batch === 'object' && batch !== null && validated.has(batch)) {
    for (const field of require) {
      if (batch[field] === undefined)
        validateRolloutBatch(batch, { source: SOURCE, require: [field] });
    }
    return batch;
  }
  validateRolloutBatch(batch, { source: SOURCE, require });
  validated.add(batch);
  return batch;
}

/**
 * The outcome score of each response: the sum of its token rewards over valid tokens when the
 * batch carries token rewards (outcome rewards placed on the last token, or rewards shaped by a
 * KL penalty), otherwise its outcome reward. As verl's `token_level_rewards.sum(-1)`.
 */
export function outcomeScores(batch: RolloutBatchV1): Float64Array {
  const { batchSize, seqLen, responseMask, tokenRewards, rewards } = batch;
  const scores = new Float64Array(batchSize);
  if (tokenRewards === undefined) {
    for (let i = 0; i < batchSize; i++) scores[i] = rewards[i]!;
    return scores;
  }
  for (let i = 0; i < batchSize; i++) {
    let sum = 0;
    const offset = i * seqLen;
    for (let t = 0; t < seqLen; t++)
      if (responseMask[offset + t] === 1) sum += tokenRewards[offset + t]!;
    scores[i] = sum;
  }
  return scores;
}

/**
 * Per-token rewards: the batch's token rewards, or the outcome reward on the last valid token
 * of each response (zero elsewhere).
 */
export function tokenLevelRewards(batch: RolloutBatchV1): Float32Array {
  if (batch.tokenRewards !== undefined) return batch.tokenRewards;
  const { batchSize, seqLen, responseMask, rewards } = batch;
  const out = new Float32Array(batchSize * seqLen);
  for (let i = 0; i < batchSize; i++) {
    for (let t = seqLen - 1; t >= 0; t--) {
      if (responseMask[i * seqLen + t] === 1) {
        out[i * seqLen + t] = rewards[i]!;
        break;
      }
    }
  }
  return out;
}

/** Broadcasts one value per response over its valid tokens (zero elsewhere), as float32. */
export function broadcastOverMask(
  batch: RolloutBatchV1,
  perResponse: ArrayLike<number>,
): Float32Array {
  const { batchSize, seqLen, responseMask } = batch;
  const out = new Float32Array(batchSize * seqLen);
  for (let i = 0; i < batchSize; i++) {
    const value = Math.fround(perResponse[i]!);
    const offset = i * seqLen;
    for (let t = 0; t < seqLen; t++) if (responseMask[offset + t] === 1) out[offset + t] = value;
  }
  return out;
}
