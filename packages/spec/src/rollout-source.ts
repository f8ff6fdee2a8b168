import type { SamplingOptionsV1 } from './policy.js';
import type { RolloutBatchV1 } from './rollout-batch.js';

/** One prompt to roll out. */
export interface RolloutPromptV1 {
  /** Group id given to this prompt's responses in the returned batch. */
  readonly groupId: number;
  readonly text: string;
  /** Token ids of the prompt, when the caller has them. */
  readonly tokenIds?: Int32Array;
}

/** A request for G responses to each of P prompts. */
export interface RolloutRequestV1 extends SamplingOptionsV1 {
  readonly prompts: readonly RolloutPromptV1[];
  /** G: responses per prompt. */
  readonly samplesPerPrompt: number;
}

/**
 * Anything that produces rollouts: the local policy, an inference-server client, a file of
 * rollouts exported by another system. The returned batch has `B = P·G` responses with
 * `responseTexts`, `tokenSpans` and `oldLogProbs` filled where the source can provide them, and
 * `rewards` set to 0 (rewards are computed by the trainer).
 */
export interface RolloutSourceV1 {
  readonly name: string;
  generate(request: RolloutRequestV1): Promise<RolloutBatchV1>;
}
