/**
 * A `RolloutSourceV1` over an {@link OpenAISamplingClient}: the remote counterpart of the
 * trainer's `SamplerRolloutSource`, with the same batch layout.
 */
import {
  decodeWithSpans,
  type RolloutBatchV1,
  type RolloutRequestV1,
  type RolloutSourceV1,
  type TokenizerV1,
} from '@hicra/spec';
import type { OpenAICallOptions, OpenAISamplingClient } from './sampling-client.js';

export interface OpenAIRolloutSourceOptions {
  /**
   * Tokenises prompts given as text only, and decodes responses to texts with character spans.
   * Without one, text prompts are tokenised by the server, response texts are the server's, and
   * batches have no `tokenSpans` (see {@link OpenAIRolloutSource.missing}).
   */
  readonly tokenizer?: TokenizerV1;
  /** Adds the tokenizer's special tokens (BOS) to text prompts. Default true. */
  readonly addSpecialTokens?: boolean;
  /** Default `openai-compatible`. */
  readonly name?: string;
}

/**
 * Rollouts from an OpenAI-compatible server. Prompts are sent as their `tokenIds` when given,
 * else tokenised with the tokenizer, else as text for the server to tokenise. Responses of
 * prompt p are rows p·G .. p·G + G - 1 with group id `prompts[p].groupId`; `oldLogProbs` are
 * the server's log-probs; rewards are 0 (the trainer scores them). `prompts.tokenIds` is filled
 * when every prompt's ids are known (given, tokenised here, or reported by the server).
 *
 * `client` is a client or a function returning the current one (after a weight sync the loop
 * may point at another server).
 */
export class OpenAIRolloutSource implements RolloutSourceV1 {
  readonly name: string;
  /**
   * Fields this source's batches always lack, each with why, e.g. `tokenSpans: no tokenizer
   * ...`. Empty with a tokenizer. (Without one, `responseTexts` are the server's decoding:
   * special tokens skipped and a final stop token left out; `prompts.tokenIds` is absent when
   * a text prompt's ids were not reported.)
   */
  readonly missing: readonly string[];
  readonly #client: () => OpenAISamplingClient;
  readonly #tokenizer: TokenizerV1 | undefined;
  readonly #addSpecialTokens: boolean;

  constructor(
    client: OpenAISamplingClient | (() => OpenAISamplingClient),
    options: OpenAIRolloutSourceOptions = {},
  ) {
    this.#client = typeof client === 'function' ? client : () => client;
    this.#tokenizer = options.tokenizer;
    this.#addSpecialTokens = options.addSpecialTokens ?? true;
    this.name = options.name ?? 'openai-compatible';
    this.missing =
      options.tokenizer === undefined
        ? [
            'tokenSpans: no tokenizer (pass options.tokenizer to compute character spans; the trainer needs them)',
          ]
        : [];
  }

  async generate(
    request: RolloutRequestV1,
    options: OpenAICallOptions = {},
  ): Promise<RolloutBatchV1> {
    const tokenizer = this.#tokenizer;
    const prompts = request.prompts.map(
      (p) =>
        p.tokenIds ??
        (tokenizer === undefined
          ? p.text
          : tokenizer.encode(p.text, { addSpecialTokens: this.#addSpecialTokens }).ids),
    );
    const sampled = await this.#client().sampleDetailed(
      {
        prompts,
        samplesPerPrompt: request.samplesPerPrompt,
        maxNewTokens: request.maxNewTokens,
        ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
        ...(request.topK === undefined ? {} : { topK: request.topK }),
        ...(request.topP === undefined ? {} : { topP: request.topP }),
        ...(request.stopTokenIds === undefined ? {} : { stopTokenIds: request.stopTokenIds }),
        seed: request.seed,
        addSpecialTokens: this.#addSpecialTokens,
      },
      options,
    );
    const { batchSize: B, seqLen: T } = sampled;
    let texts: readonly string[] = sampled.texts;
    let spans: Int32Array | undefined;
    if (tokenizer !== undefined) {
      const decoded: string[] = [];
      spans = new Int32Array(B * T * 2).fill(-1);
      for (let r = 0; r < B; r++) {
        let length = 0;
        for (let t = 0; t < T; t++) length += sampled.responseMask[r * T + t]!;
        const result = decodeWithSpans(tokenizer, sampled.tokenIds.subarray(r * T, r * T + length));
        decoded.push(result.text);
        spans.set(result.spans, r * T * 2);
      }
      texts = decoded;
    }
    const known = sampled.promptTokenIds.every((ids) => ids !== undefined);
    let promptTokens: { tokenIds: Int32Array; tokenOffsets: Int32Array } | undefined;
    if (known) {
      const lists = sampled.promptTokenIds as readonly Int32Array[];
      const tokenOffsets = new Int32Array(lists.length + 1);
      lists.forEach((ids, p) => {
        tokenOffsets[p + 1] = tokenOffsets[p]! + ids.length;
      });
      const tokenIds = new Int32Array(tokenOffsets[lists.length]!);
      lists.forEach((ids, p) => {
        tokenIds.set(ids, tokenOffsets[p]!);
      });
      promptTokens = { tokenIds, tokenOffsets };
    }
    return {
      batchSize: B,
      seqLen: T,
      groupIds: Int32Array.from(sampled.promptIndex, (p) => request.prompts[p]!.groupId),
      prompts: {
        groupIds: Int32Array.from(request.prompts, (p) => p.groupId),
        texts: request.prompts.map((p) => p.text),
        ...(promptTokens ?? {}),
      },
      tokenIds: sampled.tokenIds,
      responseMask: sampled.responseMask,
      rewards: new Float32Array(B),
      oldLogProbs: sampled.logProbs,
      responseTexts: texts,
      ...(spans === undefined ? {} : { tokenSpans: spans }),
    };
  }
}
