import type {
  PolicyV1,
  RolloutBatchV1,
  RolloutRequestV1,
  RolloutSourceV1,
  TokenizerV1,
} from '@hicra/spec';
import { decodeWithSpans, toRagged } from './rollouts.js';

/**
 * The local policy as a `RolloutSourceV1`: prompts are tokenised (with the tokenizer's special
 * tokens by default), sampled with the policy's KV-cache sampler, decoded to texts with
 * character spans. Responses of prompt p are rows p·G .. p·G + G - 1 with group id
 * `prompts[p].groupId`; `oldLogProbs` are the sampler's log-probs; rewards are 0 (the trainer
 * scores them).
 */
export class PolicyRolloutSource implements RolloutSourceV1 {
  readonly name = 'local-policy';
  readonly #policy: PolicyV1;
  readonly #tokenizer: TokenizerV1;
  readonly #addSpecialTokens: boolean;

  constructor(
    policy: PolicyV1,
    tokenizer: TokenizerV1,
    options: { readonly addSpecialTokens?: boolean } = {},
  ) {
    this.#policy = policy;
    this.#tokenizer = tokenizer;
    this.#addSpecialTokens = options.addSpecialTokens ?? true;
  }

  async generate(request: RolloutRequestV1): Promise<RolloutBatchV1> {
    const promptIds = request.prompts.map(
      (p) =>
        p.tokenIds ??
        this.#tokenizer.encode(p.text, { addSpecialTokens: this.#addSpecialTokens }).ids,
    );
    const sampled = await this.#policy.sample({
      prompts: toRagged(promptIds),
      samplesPerPrompt: request.samplesPerPrompt,
      maxNewTokens: request.maxNewTokens,
      ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
      ...(request.topK === undefined ? {} : { topK: request.topK }),
      ...(request.topP === undefined ? {} : { topP: request.topP }),
      ...(request.stopTokenIds === undefined ? {} : { stopTokenIds: request.stopTokenIds }),
      seed: request.seed,
    });
    const { batchSize: B, seqLen: T } = sampled;
    const texts: string[] = [];
    const spans = new Int32Array(B * T * 2).fill(-1);
    for (let r = 0; r < B; r++) {
      let length = 0;
      for (let t = 0; t < T; t++) length += sampled.responseMask[r * T + t]!;
      const decoded = decodeWithSpans(
        this.#tokenizer,
        sampled.tokenIds.subarray(r * T, r * T + length),
      );
      texts.push(decoded.text);
      spans.set(decoded.spans, r * T * 2);
    }
    const prompts = toRagged(promptIds);
    return {
      batchSize: B,
      seqLen: T,
      groupIds: Int32Array.from(sampled.promptIndex, (p) => request.prompts[p]!.groupId),
      prompts: {
        groupIds: Int32Array.from(request.prompts, (p) => p.groupId),
        texts: request.prompts.map((p) => p.text),
        tokenIds: prompts.tokenIds,
        tokenOffsets: prompts.offsets,
      },
      tokenIds: sampled.tokenIds,
      responseMask: sampled.responseMask,
      rewards: new Float32Array(B),
      oldLogProbs: sampled.logProbs,
      responseTexts: texts,
      tokenSpans: spans,
    };
  }
}
