import { buildStepBatch, type KeptGroup, type StepBatch } from '../src/phases/build-batch.js';

export {
  aggregationWeights,
  learningRateAt,
  parseRlConfig,
  ratioStatistics,
  type UpdateSettings,
} from '../src/index.js';
export { updatePolicy } from '../src/phases/update.js';

/**
 * A step batch of B rows × T columns whose row i has the response mask's length (a prefix), a
 * one-token prompt by default, token ids 3 unless given: what `updatePolicy` needs.
 */
export function buildStepBatchForTest(
  responseMask: Uint8Array,
  B: number,
  T: number,
  given: { prompts?: Int32Array[]; tokenIds?: Int32Array } = {},
): StepBatch {
  const groups: KeptGroup[] = Array.from({ length: B }, (_, i) => {
    let length = 0;
    for (let t = 0; t < T; t++) length += responseMask[i * T + t]!;
    const ids = given.tokenIds
      ? given.tokenIds.slice(i * T, i * T + length)
      : new Int32Array(length).fill(3);
    return {
      problem: { id: `row-${i}`, prompt: '' },
      promptIds: given.prompts?.[i] ?? Int32Array.of(1),
      rows: [
        {
          ids,
          text: '',
          spans: new Int32Array(length * 2).fill(-1),
          scored: { reward: 0, correct: false },
          length,
          finished: true,
        },
      ],
    };
  });
  const step = buildStepBatch(groups, 1);
  // buildStepBatch pads to the longest row; the cases are T columns wide: pad the rest.
  const width = step.batch.seqLen;
  if (width === T) return step;
  const widen = <A extends Int32Array | Uint8Array>(array: A, per = 1, fill = 0): A => {
    const out = new (array.constructor as new (n: number) => A)(B * T * per);
    out.fill(fill);
    for (let i = 0; i < B; i++)
      out.set(array.subarray(i * width * per, (i + 1) * width * per), i * T * per);
    return out;
  };
  const batch = {
    ...step.batch,
    seqLen: T,
    tokenIds: widen(step.batch.tokenIds),
    responseMask: widen(step.batch.responseMask),
    tokenSpans: widen(step.batch.tokenSpans, 2, -1),
  };
  return {
    ...step,
    batch,
    request: {
      ...step.request,
      seqLen: T,
      tokenIds: batch.tokenIds,
      responseMask: batch.responseMask,
    },
  };
}
