import {
  type AdamParamsV1,
  type KlEstimatorName,
  type LossAggregationMode,
  type LossNameV1,
  type LossSpecV1,
  NonFiniteError,
  type TrainingClientV1,
} from '@hicra/spec';
import { aggregationWeights, datumsOf, responseValues, type StepBatch } from './build-batch.js';

const SOURCE = '@hicra/trainer';

/** The policy losses the RL loop can run (a loss of the engine contracts that takes advantages). */
export const RL_LOSS_NAMES = ['verl-ppo', 'gspo', 'ppo', 'cispo', 'importance-sampling'] as const;
export type RlLossName = (typeof RL_LOSS_NAMES)[number];

/** Losses that read per-token weights; the others get the aggregation folded into the advantages. */
const WEIGHTED: ReadonlySet<LossNameV1> = new Set(['verl-ppo', 'gspo']);

/** Settings of the policy update. */
export interface UpdateSettings {
  readonly loss: RlLossName;
  readonly lossAggregation: LossAggregationMode;
  readonly lossScaleFactor: number;
  readonly clipRatioLow: number;
  readonly clipRatioHigh: number;
  /** Dual clip (`verl-ppo` only). */
  readonly clipRatioC: number;
  readonly entropyCoefficient: number;
  /** KL-to-reference loss coefficient (0: off, or the KL is in the reward). */
  readonly klCoefficient: number;
  readonly klEstimator: KlEstimatorName;
  readonly miniBatchSize: number;
  readonly epochs: number;
  /** Scoring temperature (the sampling temperature). */
  readonly temperature: number;
  /** Adam(W) settings besides the learning rate. */
  readonly adam: Omit<AdamParamsV1, 'learningRate'>;
  readonly onNonFinite: 'error' | 'skip';
}

/** The step's per-token inputs of the update, `[B·T]`. */
export interface UpdateInputs {
  readonly oldLogProbs: Float32Array;
  readonly advantages: Float32Array;
  readonly lossMask: Uint8Array;
  readonly refLogProbs?: Float32Array;
}

/** What one mini-batch update measured. */
export interface UpdateMetrics {
  readonly skipped: boolean;
  readonly policyLoss: number;
  readonly clipFraction: number;
  readonly clipFractionLower: number;
  readonly approxKl: number;
  /** The aggregated entropy, when the engine returned it. */
  readonly entropy: number | undefined;
  /** The aggregated KL to the reference in the loss (0 without a KL term; absent if not returned). */
  readonly klLoss: number | undefined;
  readonly gradNorm: number | undefined;
}

/** The loss spec of `settings` (thresholds of Tinker's losses are absolute ratios). */
export function lossSpec(settings: UpdateSettings): LossSpecV1 {
  const terms = {
    ...(settings.entropyCoefficient > 0 ? { entropyCoefficient: settings.entropyCoefficient } : {}),
    ...(settings.klCoefficient > 0
      ? { klCoefficient: settings.klCoefficient, klEstimator: settings.klEstimator }
      : {}),
  };
  switch (settings.loss) {
    case 'verl-ppo':
      return {
        name: 'verl-ppo',
        settings: {
          clipRatioLow: settings.clipRatioLow,
          clipRatioHigh: settings.clipRatioHigh,
          clipRatioC: settings.clipRatioC,
          ...terms,
        },
      };
    case 'gspo':
      return {
        name: 'gspo',
        settings: {
          clipRatioLow: settings.clipRatioLow,
          clipRatioHigh: settings.clipRatioHigh,
          ...terms,
        },
      };
    case 'ppo':
    case 'cispo':
      return {
        name: settings.loss,
        settings: {
          clipLowThreshold: 1 - settings.clipRatioLow,
          clipHighThreshold: 1 + settings.clipRatioHigh,
          ...terms,
        },
      };
    case 'importance-sampling':
      return { name: 'importance-sampling', settings: terms };
  }
}

/** Where an update runs, for error messages (1-based, as the metrics). */
export interface UpdateContext {
  readonly step: number;
  readonly epoch: number;
  readonly miniBatch: number;
}

/**
 * The policy update over one step's batch: `epochs` passes over mini-batches of `order` (the
 * step's seeded row order). Each mini-batch: the aggregation folded into per-token weights
 * (and, for a loss without weights, into the advantages), one `forwardBackward` with the
 * sampler's log-probs and the credit's advantages, then one `optimStep`. Clip fractions and the
 * approximate KL are computed here from the log-probs the engine returns.
 *
 * A non-finite loss or gradient norm throws a `NonFiniteError` naming the step, epoch and
 * mini-batch (the engine leaves the weights unchanged), or, with `onNonFinite: 'skip'`, is
 * recorded as a skipped update.
 */
export async function updatePolicy(
  engine: TrainingClientV1,
  step: StepBatch,
  inputs: UpdateInputs,
  settings: UpdateSettings,
  learningRate: number,
  order: readonly number[],
  stepNumber: number,
): Promise<UpdateMetrics[]> {
  const { batch } = step;
  const T = batch.seqLen;
  const loss = lossSpec(settings);
  const weighted = WEIGHTED.has(settings.loss);
  const updates: UpdateMetrics[] = [];
  for (let epoch = 0; epoch < settings.epochs; epoch++) {
    for (let from = 0; from < order.length; from += settings.miniBatchSize) {
      const pick = order.slice(from, from + settings.miniBatchSize);
      const context = {
        step: stepNumber,
        epoch: epoch + 1,
        miniBatch: from / settings.miniBatchSize + 1,
      };
      const sub = <A extends Float32Array | Uint8Array>(array: A): A => {
        const out = new (array.constructor as new (n: number) => A)(pick.length * T);
        pick.forEach((r, i) => {
          out.set(array.subarray(r * T, (r + 1) * T), i * T);
        });
        return out;
      };
      const lossMask = sub(inputs.lossMask);
      const responseMask = sub(batch.responseMask);
      const weights = aggregationWeights(
        lossMask,
        responseMask,
        pick.length,
        T,
        settings.lossAggregation,
        settings.lossScaleFactor,
      );
      // Tokens outside the loss mask carry no advantage: they add nothing and count in no metric.
      const advantages = sub(inputs.advantages);
      for (let k = 0; k < advantages.length; k++) {
        if (!lossMask[k]) advantages[k] = 0;
        else if (!weighted) advantages[k]! *= weights[k]!;
      }
      const oldLogProbs = sub(inputs.oldLogProbs);
      const datums = datumsOf(step, pick, {
        weights,
        logProbs: oldLogProbs,
        advantages,
        ...(settings.klCoefficient > 0 && inputs.refLogProbs
          ? { refLogProbs: sub(inputs.refLogProbs) }
          : {}),
      });
      const result = await engine.forwardBackward(datums, loss, {
        temperature: settings.temperature,
      });
      const metric = (key: string) => result.metrics[key];
      const total = metric('loss:sum') ?? Number.NaN;
      const entropy = metric('entropy:sum');
      const kl = metric('kl:sum');
      const policyLoss =
        total -
        (settings.klCoefficient > 0 ? settings.klCoefficient * (kl ?? 0) : 0) +
        (settings.entropyCoefficient > 0 ? settings.entropyCoefficient * (entropy ?? 0) : 0);
      const logProbs = responseValues(step, pick, result.outputs, 'logProbs')!;
      const statistics = ratioStatistics(
        logProbs,
        oldLogProbs,
        sub(inputs.advantages),
        lossMask,
        responseMask,
        pick.length,
        T,
        settings,
      );
      let gradNorm: number | undefined;
      let skipped = false;
      try {
        // With 'skip', a non-finite loss still goes to optimStep: its gradient is non-finite
        // too, and the engine refuses it and discards it (nothing may stay accumulated).
        if (!Number.isFinite(total) && settings.onNonFinite !== 'skip') {
          throw new NonFiniteError(
            `the loss is ${total} (gradient not applied; the weights were not changed)`,
            { source: SOURCE, details: { ...context, quantity: 'loss', loss: String(total) } },
          );
        }
        const stepped = await engine.optimStep({ ...settings.adam, learningRate });
        gradNorm = stepped.metrics.grad_norm;
      } catch (error) {
        if (!NonFiniteError.isInstance(error)) throw error;
        if (settings.onNonFinite !== 'skip' || /non-finite weights/.test(error.message)) {
          throw new NonFiniteError(
            `step ${context.step} (epoch ${context.epoch}, mini-batch ${context.miniBatch}): policy update: ${error.message}`,
            { source: SOURCE, details: { ...context, ...(error.details ?? {}) }, cause: error },
          );
        }
        skipped = true;
      }
      updates.push({
        skipped,
        policyLoss,
        ...statistics,
        entropy,
        // No KL term in the loss: its value is 0 (known), not unmeasured.
        klLoss: settings.klCoefficient > 0 ? kl : 0,
        gradNorm,
      });
    }
  }
  return updates;
}

/**
 * Clip fractions and the approximate KL of one mini-batch, from the learner's log-probs before
 * the update and the sampler's: verl's definitions (`clipFraction`: share of loss-mask tokens
 * where the clipped term is the larger loss; `clipFractionLower`: share where the dual-clip cap
 * binds, `verl-ppo` only; `approxKl`: mean of old - new log-prob, clamped to ±20, over the
 * response mask). `gspo` clips its sequence-level ratio; `cispo` counts ratios outside the
 * thresholds; `importance-sampling` never clips.
 */
export function ratioStatistics(
  logProbs: Float32Array,
  oldLogProbs: Float32Array,
  advantages: Float32Array,
  lossMask: Uint8Array,
  responseMask: Uint8Array,
  batchSize: number,
  seqLen: number,
  settings: Pick<UpdateSettings, 'loss' | 'clipRatioLow' | 'clipRatioHigh' | 'clipRatioC'>,
): { clipFraction: number; clipFractionLower: number; approxKl: number } {
  const low = 1 - settings.clipRatioLow;
  const high = 1 + settings.clipRatioHigh;
  const dual = settings.loss === 'verl-ppo';
  let lossTokens = 0;
  let clipped = 0;
  let capped = 0;
  let klSum = 0;
  let responseTokens = 0;
  for (let b = 0; b < batchSize; b++) {
    let sequenceLogRatio = 0;
    if (settings.loss === 'gspo') {
      let n = 0;
      for (let t = 0; t < seqLen; t++) {
        const k = b * seqLen + t;
        if (!lossMask[k]) continue;
        sequenceLogRatio += logProbs[k]! - oldLogProbs[k]!;
        n++;
      }
      sequenceLogRatio /= Math.max(n, 1);
    }
    for (let t = 0; t < seqLen; t++) {
      const k = b * seqLen + t;
      const logRatio = Math.min(20, Math.max(-20, logProbs[k]! - oldLogProbs[k]!));
      if (responseMask[k]) {
        klSum -= logRatio;
        responseTokens++;
      }
      if (!lossMask[k]) continue;
      lossTokens++;
      const ratio = Math.exp(settings.loss === 'gspo' ? sequenceLogRatio : logRatio);
      const a = advantages[k]!;
      const unclipped = -a * ratio;
      const clippedLoss = -a * Math.min(high, Math.max(low, ratio));
      if (settings.loss === 'cispo') {
        // CISPO clips the ratio's weight, whatever the advantage's sign.
        if (ratio < low || ratio > high) clipped++;
      } else if (settings.loss !== 'importance-sampling' && clippedLoss > unclipped) clipped++;
      if (dual && a < 0 && Math.max(unclipped, clippedLoss) > -a * settings.clipRatioC) capped++;
    }
  }
  return {
    clipFraction: clipped / Math.max(lossTokens, 1),
    clipFractionLower: capped / Math.max(lossTokens, 1),
    approxKl: klSum / Math.max(responseTokens, 1),
  };
}
