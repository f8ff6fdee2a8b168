import {
  type KlEstimatorName,
  type LossAggregationMode,
  NonFiniteError,
  type ScoreRequestV1,
  ShapeError,
} from '@hicra/spec';
import {
  aggregateLoss,
  type DifferentiablePolicy,
  klPenalty,
  policyLoss,
  type Scalar,
  type Tensor,
  tf,
} from '@hicra/tensor';
import { type AdamOptimizer, clipByGlobalNorm, firstNonFiniteWeight } from './optimizer.js';

const SOURCE = '@hicra/trainer';

/** Settings of the PPO-clip update. */
export interface PolicyUpdateSettings {
  /** How the policy loss, the entropy bonus and the KL loss are aggregated. */
  readonly lossAggregation: LossAggregationMode;
  /**
   * The constant divisor of `seq-mean-token-sum-norm` (verl's `loss_scale_factor`). Default:
   * the mini-batch's padded width T (verl's default when unset); the trainer passes
   * `update.lossScaleFactor` (default `sampling.maxNewTokens`) so it is the same every step.
   */
  readonly lossScaleFactor?: number;
  readonly clipRatioLow: number;
  readonly clipRatioHigh: number;
  readonly clipRatioC: number;
  /**
   * Entropy bonus coefficient (0: off); the paper's entropy-regularisation baseline. The
   * entropy is aggregated with `lossAggregation`, as verl does.
   */
  readonly entropyCoefficient: number;
  /** KL-to-reference loss coefficient (0: off). */
  readonly klCoefficient: number;
  readonly klEstimator: KlEstimatorName;
  /** Gradient clipping by global norm. */
  readonly maxGradNorm: number;
}

/** The rows of one mini-batch, on typed arrays. */
export interface PolicyUpdateBatch {
  /**
   * Prompts and responses to score (B rows, T columns), at `request.temperature` (the sampling
   * temperature, so the ratio is against the distribution that produced `oldLogProbs`).
   */
  readonly request: ScoreRequestV1;
  /** `[B·T]` log-probs under the sampling policy. */
  readonly oldLogProbs: Float32Array;
  /** `[B·T]` credit advantages. */
  readonly advantages: Float32Array;
  /** `[B·T]` credit loss mask (tokens that receive gradient). */
  readonly lossMask: Uint8Array;
  /** `[B·T]` reference-policy log-probs, when a KL loss is used. */
  readonly refLogProbs?: Float32Array;
}

export interface UpdateMetrics {
  readonly loss: number;
  readonly policyLoss: number;
  readonly clipFraction: number;
  readonly clipFractionLower: number;
  readonly approxKl: number;
  readonly entropy: number;
  readonly klLoss: number;
  readonly gradNorm: number;
}

/** What to do with a non-finite loss or gradient: throw (default) or skip the update. */
export type NonFinitePolicy = 'error' | 'skip';

/** Where an update runs, for the messages of its non-finite guard (1-based, as the metrics). */
export interface UpdateContext {
  /** The training step (as logged in metrics.jsonl). */
  readonly step: number;
  readonly epoch?: number;
  readonly miniBatch?: number;
}

function describeContext(context: UpdateContext | undefined): string {
  if (context === undefined) return '';
  const parts = [
    ...(context.epoch === undefined ? [] : [`epoch ${context.epoch}`]),
    ...(context.miniBatch === undefined ? [] : [`mini-batch ${context.miniBatch}`]),
  ];
  return `step ${context.step}${parts.length ? ` (${parts.join(', ')})` : ''}: `;
}

/**
 * The guard before an optimizer step: a non-finite loss or gradient norm. Names the step, the
 * quantity and both values.
 */
function nonFiniteUpdate(
  what: string,
  loss: number,
  gradNorm: number,
  context: UpdateContext | undefined,
): NonFiniteError {
  const quantity = Number.isFinite(loss) ? 'gradient norm' : 'loss';
  return new NonFiniteError(
    `${describeContext(context)}${what} produced a non-finite ${quantity} (loss ${loss}, gradient norm ${gradNorm}); the weights were not changed`,
    {
      source: SOURCE,
      details: { ...context, quantity, loss: String(loss), gradNorm: String(gradNorm) },
    },
  );
}

/**
 * The guard after an optimizer step: finite gradients can still push weights past float32 (a
 * learning rate far too large). The weights are already changed, so this always throws.
 */
function checkWeightsAfterUpdate(
  what: string,
  policy: DifferentiablePolicy,
  learningRate: number,
  context: UpdateContext | undefined,
): void {
  const bad = firstNonFiniteWeight(policy.trainableVariables());
  if (bad === undefined) return;
  throw new NonFiniteError(
    `${describeContext(context)}${what} left non-finite weights: "${bad.name}"[${bad.index}] = ${bad.value} after the optimizer step at learning rate ${learningRate}; the learning rate or the gradients are too large, and this policy must not be saved`,
    {
      source: SOURCE,
      details: {
        ...context,
        quantity: 'weights',
        variable: bad.name,
        index: bad.index,
        value: String(bad.value),
        learningRate,
      },
    },
  );
}

/**
 * One PPO-clip optimizer update on one mini-batch: forward through the policy's differentiable
 * token statistics, clipped surrogate with clip-higher and dual clip aggregated over the
 * credit's loss mask and normalised by the response mask, optional entropy bonus and KL loss,
 * global-norm gradient clipping, then the optimizer step. A non-finite loss or gradient norm
 * leaves the weights untouched and throws a `NonFiniteError` (or returns `skipped`); weights
 * that are not finite after the step always throw. `context` names the step in those errors.
 */
export function policyUpdate(
  policy: DifferentiablePolicy,
  optimizer: AdamOptimizer,
  batch: PolicyUpdateBatch,
  settings: PolicyUpdateSettings,
  learningRate: number,
  onNonFinite: NonFinitePolicy = 'error',
  context?: UpdateContext,
): UpdateMetrics & { readonly skipped: boolean } {
  const { request } = batch;
  const B = request.batchSize;
  const T = request.seqLen;
  for (const [name, array] of [
    ['oldLogProbs', batch.oldLogProbs],
    ['advantages', batch.advantages],
    ['lossMask', batch.lossMask],
    ...(batch.refLogProbs ? [['refLogProbs', batch.refLogProbs] as const] : []),
  ] as const) {
    if (array.length !== B * T) {
      throw new ShapeError(
        `policyUpdate: ${name} has length ${array.length}, expected batchSize·seqLen = ${B * T}`,
        { source: SOURCE },
      );
    }
  }
  if (settings.klCoefficient > 0 && batch.refLogProbs === undefined) {
    throw new ShapeError('policyUpdate: klCoefficient > 0 needs refLogProbs', { source: SOURCE });
  }
  const scaleFactor = settings.lossScaleFactor ?? T;
  const kept: Record<string, Scalar> = {};
  const { value, grads } = tf.variableGrads(() => {
    const shape: [number, number] = [B, T];
    const { logProbs, entropies } = policy.tokenStatistics(request);
    const responseMask = tf.tensor2d(request.responseMask, shape, 'float32');
    const result = policyLoss(
      {
        logProbs,
        oldLogProbs: tf.tensor2d(batch.oldLogProbs, shape),
        advantages: tf.tensor2d(batch.advantages, shape),
        lossMask: tf.tensor2d(batch.lossMask, shape, 'float32'),
        normaliserMask: responseMask,
      },
      {
        mode: settings.lossAggregation,
        clipRatioLow: settings.clipRatioLow,
        clipRatioHigh: settings.clipRatioHigh,
        clipRatioC: settings.clipRatioC,
        scaleFactor,
      },
    );
    const entropy = aggregateLoss(entropies, responseMask, settings.lossAggregation, {
      scaleFactor,
    });
    let loss: Tensor = result.loss;
    if (settings.entropyCoefficient > 0)
      loss = tf.sub(loss, tf.mul(settings.entropyCoefficient, entropy));
    let klLoss: Scalar = tf.scalar(0);
    if (settings.klCoefficient > 0) {
      klLoss = aggregateLoss(
        klPenalty(logProbs, tf.tensor2d(batch.refLogProbs!, shape), settings.klEstimator),
        responseMask,
        settings.lossAggregation,
        { scaleFactor },
      );
      loss = tf.add(loss, tf.mul(settings.klCoefficient, klLoss));
    }
    for (const [name, tensor] of Object.entries({ ...result, entropy, klLoss }))
      kept[name] = tf.keep(tensor as Scalar);
    return loss as Scalar;
  }, policy.trainableVariables());
  const read = (t: Tensor) => t.dataSync()[0]!;
  const metrics = {
    loss: read(value),
    policyLoss: read(kept.loss!),
    clipFraction: read(kept.clipFraction!),
    clipFractionLower: read(kept.clipFractionLower!),
    approxKl: read(kept.approxKl!),
    entropy: read(kept.entropy!),
    klLoss: read(kept.klLoss!),
  };
  tf.dispose([value, ...Object.values(kept)]);
  const clipped = clipByGlobalNorm(grads, settings.maxGradNorm);
  tf.dispose(Object.values(grads));
  try {
    if (!Number.isFinite(metrics.loss) || !Number.isFinite(clipped.norm)) {
      if (onNonFinite === 'skip') return { ...metrics, gradNorm: clipped.norm, skipped: true };
      throw nonFiniteUpdate('policy update', metrics.loss, clipped.norm, context);
    }
    optimizer.apply(clipped.grads, learningRate);
  } finally {
    tf.dispose(Object.values(clipped.grads));
  }
  checkWeightsAfterUpdate('policy update', policy, learningRate, context);
  return { ...metrics, gradNorm: clipped.norm, skipped: false };
}

/**
 * One supervised (cross-entropy) update: the mean negative log-likelihood of the response
 * tokens given the prompt (prompt tokens are context only, never targets).
 */
export function supervisedUpdate(
  policy: DifferentiablePolicy,
  optimizer: AdamOptimizer,
  request: ScoreRequestV1,
  learningRate: number,
  maxGradNorm: number,
  context?: UpdateContext,
): { loss: number; gradNorm: number; tokens: number } {
  let tokens = 0;
  for (let k = 0; k < request.responseMask.length; k++) tokens += request.responseMask[k]!;
  const { value, grads } = tf.variableGrads(() => {
    const { logProbs } = policy.tokenStatistics(request);
    return tf.div(tf.neg(tf.sum(logProbs)), Math.max(tokens, 1)) as Scalar;
  }, policy.trainableVariables());
  const loss = value.dataSync()[0]!;
  value.dispose();
  const clipped = clipByGlobalNorm(grads, maxGradNorm);
  tf.dispose(Object.values(grads));
  try {
    if (!Number.isFinite(loss) || !Number.isFinite(clipped.norm))
      throw nonFiniteUpdate('supervised update', loss, clipped.norm, context);
    optimizer.apply(clipped.grads, learningRate);
  } finally {
    tf.dispose(Object.values(clipped.grads));
  }
  checkWeightsAfterUpdate('supervised update', policy, learningRate, context);
  return { loss, gradNorm: clipped.norm, tokens };
}
