/**
 * Engines: what the RL loop talks to instead of a model. A `TrainingClientV1` accumulates
 * gradients over datums and steps an optimizer; a `SamplingClientV1` samples and scores on a
 * fixed set of weights. Both are async (an engine may be remote) and carry typed arrays. They
 * are modelled on the Tinker training API (`forward_backward`, `optim_step`,
 * `save_weights_for_sampler`, `sample`, `compute_logprobs`), so a Tinker client is a thin
 * mapping: loss names here are kebab-case, snake_case on the wire.
 */
import type { KlEstimatorName } from './names.js';
import type { SampleRequestV1, SampleResultV1, ScoreRequestV1 } from './policy.js';

/** Tinker's built-in losses (token sums, no normalisation), offered by every engine. */
export const TINKER_LOSS_NAMES = [
  'cross-entropy',
  'importance-sampling',
  'ppo',
  'cispo',
  'dro',
] as const;

/**
 * Losses a local engine adds: verl's PPO (clip-higher, dual clip, log-ratio clamp) and GSPO
 * (verl's sequence-level importance ratio), both as token sums weighted per token.
 */
export const LOCAL_LOSS_NAMES = ['verl-ppo', 'gspo'] as const;

export const LOSS_NAMES = [...TINKER_LOSS_NAMES, ...LOCAL_LOSS_NAMES] as const;
export type LossNameV1 = (typeof LOSS_NAMES)[number];

/**
 * Loss settings. Which keys a loss reads:
 *
 * - `ppo`, `cispo`: `clipLowThreshold`, `clipHighThreshold`, **absolute** ratio bounds (Tinker's
 *   `clip_low_threshold` / `clip_high_threshold`; defaults 0.8 / 1.2 for `ppo`, 0 / 4 for `cispo`).
 * - `dro`: `beta` (> 0, required).
 * - `verl-ppo`, `gspo`: `clipRatioLow`, `clipRatioHigh` (ε, relative: the ratio is clipped to
 *   `[1 - low, 1 + high]`), `clipRatioC` (dual clip, > 1; `verl-ppo` only, absent: off),
 *   `logRatioClamp` (|log ratio| bound before exp; default 20).
 * - Any loss on an engine with the capability: `entropyCoefficient` (subtracts coefficient ·
 *   weighted entropy sum) and `klCoefficient` + `klEstimator` (adds coefficient · weighted KL to
 *   `DatumV1.refLogProbs`).
 */
export interface LossSettingsV1 {
  readonly clipLowThreshold?: number;
  readonly clipHighThreshold?: number;
  readonly beta?: number;
  readonly clipRatioLow?: number;
  readonly clipRatioHigh?: number;
  readonly clipRatioC?: number;
  readonly logRatioClamp?: number;
  readonly entropyCoefficient?: number;
  readonly klCoefficient?: number;
  readonly klEstimator?: KlEstimatorName;
}

/** A loss by name with its settings. */
export interface LossSpecV1 {
  readonly name: LossNameV1;
  readonly settings?: LossSettingsV1;
}

/**
 * One training sequence, as Tinker's `Datum`: position i of `inputTokens` predicts
 * `targetTokens[i]`, and every per-token array has the same length N = `inputTokens.length`.
 * For a prompt + response `x[0..L-1]`: `inputTokens = x[0..L-2]`, `targetTokens = x[1..L-1]`,
 * zero weights and advantages on the prompt positions.
 */
export interface DatumV1 {
  /** `[N]` int32 model input. */
  readonly inputTokens: Int32Array;
  /** `[N]` int32 token each position is scored on. */
  readonly targetTokens: Int32Array;
  /**
   * `[N]` float32 per-token weights: `cross-entropy`'s weights, and for `verl-ppo`, `gspo` and
   * the KL and entropy terms the per-token factor that folds the loss aggregation in (0 where a
   * token takes no gradient). Absent: 1 everywhere for those losses.
   */
  readonly weights?: Float32Array;
  /** `[N]` float32 log-probs of `targetTokens` under the sampler (0 on prompt positions). */
  readonly logProbs?: Float32Array;
  /** `[N]` float32 per-token advantages (0 on prompt positions). */
  readonly advantages?: Float32Array;
  /** `[N]` float32 log-probs under a reference policy, for a KL term. */
  readonly refLogProbs?: Float32Array;
}

/** Options of a forward or forward-backward pass. */
export interface ForwardOptionsV1 {
  /** Score `softmax(logits / temperature)` (default 1); needs the `temperature` capability otherwise. */
  readonly temperature?: number;
}

/** What a forward pass gives back for one datum. */
export interface DatumOutputV1 {
  /** `[N]` float32 learner log-probs of `targetTokens`. */
  readonly logProbs: Float32Array;
  /** `[N]` float32 entropies of the next-token distributions, where the engine can. */
  readonly entropies?: Float32Array;
}

/** The result of `forward` / `forwardBackward`. */
export interface ForwardResultV1 {
  /** One output per datum, in request order. */
  readonly outputs: readonly DatumOutputV1[];
  /** Loss metrics with their reduction in the key (`loss:sum`), summable across calls. */
  readonly metrics: Readonly<Record<string, number>>;
}

/** Adam(W) settings of one optimizer step, with Tinker's defaults. */
export interface AdamParamsV1 {
  /** > 0. */
  readonly learningRate: number;
  /** Default 0.9. */
  readonly beta1?: number;
  /** Default 0.95. */
  readonly beta2?: number;
  /** Default 1e-12. */
  readonly eps?: number;
  /** Decoupled weight decay (AdamW); default 0. */
  readonly weightDecay?: number;
  /** Global-norm gradient clipping; 0 (default) is off. */
  readonly gradClipNorm?: number;
}

/** The result of `optimStep`. */
export interface OptimStepResultV1 {
  /** E.g. `learning_rate`, `grad_norm` (before clipping) where the engine knows it. */
  readonly metrics: Readonly<Record<string, number>>;
}

/** What an engine can do beyond Tinker's built-ins. */
export interface EngineCapabilitiesV1 {
  /** Per-token entropies in forward outputs. */
  readonly entropies: boolean;
  /** A KL-to-reference term in the loss (`klCoefficient`). */
  readonly klTerm: boolean;
  /** An entropy bonus in the loss (`entropyCoefficient`). */
  readonly entropyBonus: boolean;
  /** Forward passes at a temperature other than 1. */
  readonly temperature: boolean;
  /** The losses it offers. */
  readonly losses: readonly LossNameV1[];
}

/** An engine's description. */
export interface EngineInfoV1 {
  readonly modelName: string;
  readonly vocabSize: number;
  /** Longest input it accepts, when known. */
  readonly contextLength?: number;
  readonly capabilities: EngineCapabilitiesV1;
}

/** Samples and scores on one fixed set of weights. */
export interface SamplingClientV1 {
  /**
   * G samples of each prompt (`PolicyV1.sample`'s batch shape); `logProbs` after temperature,
   * before top-k/top-p; `finished` 1 for a stop token ("stop"), 0 at the length limit.
   */
  sample(request: SampleRequestV1): Promise<SampleResultV1>;
  /** `[B·T]` teacher-forced log-probs of given responses (0 outside the mask). */
  computeLogProbs(request: ScoreRequestV1): Promise<Float32Array>;
  /**
   * Releases what the client holds (a local engine's frozen copy of the weights, a remote
   * session), once its calls in flight have finished. Optional: a client without it holds
   * nothing that needs releasing. Whoever obtained the client calls it when done.
   */
  dispose?(): void | Promise<void>;
}

/** Trains one model: gradients accumulate over `forwardBackward` calls until `optimStep`. */
export interface TrainingClientV1 {
  info(): Promise<EngineInfoV1>;
  /** Scores datums and accumulates the gradient of `loss` (a token sum over every datum). */
  forwardBackward(
    data: readonly DatumV1[],
    loss: LossSpecV1,
    options?: ForwardOptionsV1,
  ): Promise<ForwardResultV1>;
  /** Scores datums without gradients (metrics of `loss` when given). */
  forward(
    data: readonly DatumV1[],
    loss?: LossSpecV1,
    options?: ForwardOptionsV1,
  ): Promise<ForwardResultV1>;
  /** Applies the accumulated gradient and clears it; an error when nothing was accumulated. */
  optimStep(adam: AdamParamsV1): Promise<OptimStepResultV1>;
  /** Saves weights and optimizer state under `name`; resolves to where (a path or URI). */
  saveState(name: string): Promise<string>;
  /** Restores what `saveState` saved (weights and optimizer moments, exactly). */
  loadState(location: string): Promise<void>;
  /** Freezes the current weights into a sampling client. */
  saveWeightsForSampler(name: string): Promise<SamplingClientV1>;
}
