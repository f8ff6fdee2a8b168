/**
 * Ragged token sequences: sequence `s` is `tokenIds[offsets[s] .. offsets[s + 1])`.
 */
export interface RaggedTokensV1 {
  /** Flat int32 token ids of every sequence, concatenated. */
  readonly tokenIds: Int32Array;
  /** `[S + 1]` int32, non-decreasing, from 0 to `tokenIds.length`. */
  readonly offsets: Int32Array;
}

/** Sampling settings. */
export interface SamplingOptionsV1 {
  /** Maximum number of new tokens per response (the padded width T of the result). */
  readonly maxNewTokens: number;
  /** Softmax temperature; 0 means greedy. Default 1. */
  readonly temperature?: number;
  /** Keep only the k most likely tokens (0 or absent: all). */
  readonly topK?: number;
  /** Nucleus sampling: keep the smallest set with cumulative probability >= p (1 or absent: all). */
  readonly topP?: number;
  /** Generation of a response stops after any of these ids (the stop token is part of the response). */
  readonly stopTokenIds?: readonly number[];
  /** Seed of the sampling stream; the same seed, prompts and weights give the same tokens. */
  readonly seed: number;
}

/** A request for G samples of each prompt. */
export interface SampleRequestV1 extends SamplingOptionsV1 {
  /** P prompts as token ids. */
  readonly prompts: RaggedTokensV1;
  /** G: samples per prompt. Responses of prompt p are rows `p·G .. p·G + G - 1`. */
  readonly samplesPerPrompt: number;
}

/** Sampled responses, right-padded. */
export interface SampleResultV1 {
  /** B = P·G. */
  readonly batchSize: number;
  /** T = maxNewTokens. */
  readonly seqLen: number;
  /** `[B]` int32: index of the prompt each response answers. */
  readonly promptIndex: Int32Array;
  /** `[B·T]` int32 sampled ids (pad id after the end). */
  readonly tokenIds: Int32Array;
  /** `[B·T]` uint8: 1 for generated tokens. */
  readonly responseMask: Uint8Array;
  /**
   * `[B·T]` float32: log-probability of each sampled token **after temperature, before
   * top-k/top-p**: `log_softmax(logits / temperature)[token]`, the distribution a PPO ratio must
   * use (score with the same `temperature` to reproduce it). Greedy sampling (temperature 0)
   * returns the untempered log-prob (temperature 1).
   */
  readonly logProbs: Float32Array;
  /** `[B]` uint8: 1 when the response ended with a stop token, 0 when it hit `maxNewTokens`. */
  readonly finished: Uint8Array;
}

/** Teacher-forced scoring of given responses. */
export interface ScoreRequestV1 {
  /** B prompts (one per response) as token ids. */
  readonly prompts: RaggedTokensV1;
  readonly batchSize: number;
  readonly seqLen: number;
  /** `[B·T]` int32 response ids. */
  readonly tokenIds: Int32Array;
  /** `[B·T]` uint8 response mask. */
  readonly responseMask: Uint8Array;
  /**
   * Softmax temperature of the scored distribution, > 0: log-probs and entropies are those of
   * `softmax(logits / temperature)`. Default 1. An RL trainer scores (and differentiates) at its
   * sampling temperature, so the PPO ratio compares the distribution the sampler drew from.
   */
  readonly temperature?: number;
}

/** Per-token scores of the responses; 0 outside the mask. */
export interface ScoreResultV1 {
  /** `[B·T]` float32 natural-log probabilities of the given tokens. */
  readonly logProbs: Float32Array;
  /** `[B·T]` float32 entropy (nats) of the next-token distribution at each position. */
  readonly entropies: Float32Array;
}

/** A language-model policy seen through typed arrays: sampling and scoring, no gradients. */
export interface PolicyV1 {
  readonly vocabSize: number;
  /** Maximum prompt + response length in tokens. */
  readonly contextLength: number;
  sample(request: SampleRequestV1): Promise<SampleResultV1>;
  score(request: ScoreRequestV1): Promise<ScoreResultV1>;
}
