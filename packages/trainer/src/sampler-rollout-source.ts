import type {
  PolicyV1,
  RolloutBatchV1,
  RolloutRequestV1,
  RolloutSourceV1,
  SamplingClientV1,
  TokenizerV1,
} from '@hicra/spec';
import { decodeWithSpans, toRagged } from './rollouts.js';

export interface SamplerRolloutSourceOptions {
  /** Adds the tokenizer's special tokens (BOS) when encoding prompts. Default true. */
  readonly addSpecialTokens?: boolean;
}

/**
 * A `SamplingClientV1` as a `RolloutSourceV1`: prompts are tokenised (with the tokenizer's
 * special tokens by default), sampled by the client, decoded to texts with character spans.
 * Responses of prompt p are rows p·G .. p·G + G - 1 with group id `prompts[p].groupId`;
 * `oldLogProbs` are the sampler's log-probs; rewards are 0 (the trainer scores them).
 *
 * `sampler` is a client or a function returning the current one: the RL loop swaps in a new
 * sampling client after every optimizer step, and the source always samples from the latest.
 */
export class SamplerRolloutSource implements RolloutSourceV1 {
  readonly name: string = 'sampling-client';
  readonly #sampler: () => SamplingClientV1;
  readonly #tokenizer: TokenizerV1;
  readonly #addSpecialTokens: boolean;

  constructor(
    sampler: SamplingClientV1 | (() => SamplingClientV1),
    tokenizer: TokenizerV1,
    options: SamplerRolloutSourceOptions = {},
  ) {
    this.#sampler = typeof sampler === 'function' ? sampler : () => sampler;
    this.#tokenizer = tokenizer;
    this.#addSpecialTokens = options.addSpecialTokens ?? true;
  }

  async generate(request: RolloutRequestV1): Promise<RolloutBatchV1> {
    const promptIds = request.prompts.map(
      (p) =>
        p.tokenIds ??
        this.#tokenizer.encode(p.text, { addSpecialTokens: this.#addSpecialTokens }).ids,
    );
    const sampled = await this.#sampler().sample({
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

/**
 * An in-process `PolicyV1` as a `RolloutSourceV1` (its KV-cache sampler): a
 * {@link SamplerRolloutSource} over the policy. For evaluating a model outside a training run.
 */
export class PolicyRolloutSource extends SamplerRolloutSource {
  override readonly name = 'local-policy';

  constructor(policy: PolicyV1, tokenizer: TokenizerV1, options: SamplerRolloutSourceOptions = {}) {
    super(
      {
        sample: (request) => policy.sample(request),
        computeLogProbs: async (request) => (await policy.score(request)).logProbs,
      },
      tokenizer,
      options,
    );
  }
}
