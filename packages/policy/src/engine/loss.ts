/**
 * The local engine's one door to its losses.
 *
 * PLACEHOLDER: `computeLoss` is to be replaced by `engineLoss` from `@hicra/tensor`
 * (packages/tensor/src/ops/engine-loss.ts) when that lands: same signature, every loss of
 * `LOSS_NAMES`. Until then it implements only `cross-entropy`, `importance-sampling` and `ppo`
 * (PROTOCOLS.md 1.8, token sums), plus the entropy bonus and the KL term, so that the engine and
 * its tests run. The engine calls nothing else, so the swap is this file only.
 */
import {
  InvalidArgumentError,
  InvalidValueError,
  type LossNameV1,
  type LossSettingsV1,
  MissingInputError,
} from '@hicra/spec';
import { klPenalty, type Scalar, type Tensor, tf } from '@hicra/tensor';

const SOURCE = '@hicra/policy';

/** The per-token inputs of a loss, every one a float32 `[B, T]` tensor (0 at padding). */
export interface EngineLossInput {
  /** Learner log-probs of the target tokens (differentiable). */
  readonly logProbs: Tensor;
  /** Sampler log-probs (`DatumV1.logProbs`). */
  readonly oldLogProbs?: Tensor;
  readonly advantages?: Tensor;
  /** Per-token weights; absent: 1 on every valid position. */
  readonly weights?: Tensor;
  /** 1 on valid positions, 0 on padding. */
  readonly mask: Tensor;
  /** Entropies of the next-token distributions (differentiable). */
  readonly entropies?: Tensor;
  readonly refLogProbs?: Tensor;
}

/** A loss as a token sum, and its metrics (`name:reduction` keys) as scalars. */
export interface EngineLossResult {
  readonly loss: Scalar;
  readonly metrics: Record<string, Scalar>;
}

/**
 * The loss `name` over a packed batch: a token sum (no normalisation), plus
 * `-entropyCoefficient · Σ w·H` and `klCoefficient · Σ w·KL(klEstimator)` when those are set.
 * Metrics: `entropy:sum` and `kl:sum` (weighted sums) when those terms are on.
 *
 * PLACEHOLDER until `engineLoss` from `@hicra/tensor` lands (see the file comment).
 */
export function computeLoss(
  name: LossNameV1,
  input: EngineLossInput,
  settings: LossSettingsV1 = {},
): EngineLossResult {
  return tf.tidy(() => {
    const { logProbs, mask } = input;
    const weights = input.weights === undefined ? mask : tf.mul(input.weights, mask);
    const need = (field: 'oldLogProbs' | 'advantages' | 'refLogProbs' | 'entropies'): Tensor => {
      const value = input[field];
      if (value === undefined)
        throw new MissingInputError(`loss ${name}: ${field} is required but absent`, {
          source: SOURCE,
          details: { loss: name, field },
        });
      return value;
    };
    let loss: Tensor;
    switch (name) {
      case 'cross-entropy':
        // loss = (-target_logprobs * weights).sum()
        loss = tf.neg(tf.sum(tf.mul(logProbs, weights)));
        break;
      case 'importance-sampling': {
        // loss = -(exp(target_logprobs - sampling_logprobs) * advantages).sum()
        const ratio = tf.exp(tf.sub(logProbs, need('oldLogProbs')));
        loss = tf.neg(tf.sum(tf.mul(tf.mul(ratio, need('advantages')), mask)));
        break;
      }
      case 'ppo': {
        const low = settings.clipLowThreshold ?? 0.8;
        const high = settings.clipHighThreshold ?? 1.2;
        if (!(low >= 0 && low <= 1 && high >= 1 && Number.isFinite(high))) {
          throw new InvalidValueError(
            `loss ppo: clipLowThreshold and clipHighThreshold must satisfy 0 <= low <= 1 <= high, got ${low} and ${high}`,
            {
              source: SOURCE,
              details: { loss: name, clipLowThreshold: low, clipHighThreshold: high },
            },
          );
        }
        // loss = -min(ratio * A, clamp(ratio, low, high) * A).sum()
        const advantages = need('advantages');
        const ratio = tf.exp(tf.sub(logProbs, need('oldLogProbs')));
        const surrogate = tf.minimum(
          tf.mul(ratio, advantages),
          tf.mul(tf.clipByValue(ratio, low, high), advantages),
        );
        loss = tf.neg(tf.sum(tf.mul(surrogate, mask)));
        break;
      }
      default:
        throw new InvalidArgumentError(
          `loss ${name} is not available yet: the local engine's placeholder loss implements cross-entropy, importance-sampling and ppo until engineLoss from @hicra/tensor lands`,
          { source: SOURCE, details: { loss: name } },
        );
    }
    const metrics: Record<string, Scalar> = {};
    const entropyCoefficient = settings.entropyCoefficient ?? 0;
    if (entropyCoefficient !== 0) {
      const entropy = tf.sum(tf.mul(need('entropies'), weights)) as Scalar;
      metrics['entropy:sum'] = entropy;
      loss = tf.sub(loss, tf.mul(entropyCoefficient, entropy));
    }
    const klCoefficient = settings.klCoefficient ?? 0;
    if (klCoefficient !== 0) {
      const kl = tf.sum(
        tf.mul(klPenalty(logProbs, need('refLogProbs'), settings.klEstimator ?? 'k3'), weights),
      ) as Scalar;
      metrics['kl:sum'] = kl;
      loss = tf.add(loss, tf.mul(klCoefficient, kl));
    }
    return { loss: loss as Scalar, metrics };
  });
}
