import type { CreditPipeline, PipelineCreditV1 } from '@hicra/advantage';
import {
  type KlEstimatorName,
  type PlanningClassifierV1,
  type PlanningResultV1,
  type RolloutBatchV1,
  type SamplingClientV1,
  type TrainingClientV1,
  validateRolloutBatch,
} from '@hicra/spec';
import { klValues } from '@hicra/tensor/kernels';
import { datumsOf, responseValues, type StepBatch } from './build-batch.js';

export interface AssignCreditSettings {
  readonly engine: TrainingClientV1;
  /** The KL reference: a sampler on the initial weights. */
  readonly reference: SamplingClientV1 | undefined;
  readonly temperature: number;
  /** verl's KL penalty in the reward (`r_t = score_t - β·kl_t`) rather than in the loss. */
  readonly klInReward: boolean;
  readonly klCoefficient: number;
  readonly klEstimator: KlEstimatorName;
  /** DAPO: responses cut at the length limit get no gradient. */
  readonly overlongFilter: boolean;
  /** The strategy's classifier: drives credit. */
  readonly classifier: PlanningClassifierV1;
  /** The classifier the metrics measure with (Strategic Grams by default). */
  readonly metricsClassifier: PlanningClassifierV1;
  readonly credit: CreditPipeline;
  /** 0-based training step, passed to seeded classifiers. */
  readonly step: number;
}

export interface AssignedCredit {
  /** The batch with old log-probs, entropies (where the engine gives them), planning mask, KL inputs. */
  readonly batch: RolloutBatchV1;
  readonly credit: PipelineCreditV1;
  /** The credit's loss mask, with the overlong filter applied. */
  readonly lossMask: Uint8Array;
  readonly planning: PlanningResultV1;
  readonly metricsPlanning: PlanningResultV1;
  /** `[B·T]` log-probs of the sampled tokens under the weights that sampled them. */
  readonly oldLogProbs: Float32Array;
  /** `[B·T]` token entropies; absent when the engine cannot return them. */
  readonly entropies: Float32Array | undefined;
  readonly refLogProbs: Float32Array | undefined;
}

/**
 * Scores the step's batch and assigns credit: old log-probs (and entropies) from a forward pass
 * of the engine on the weights that sampled (verl's recomputed `old_log_prob`), reference
 * log-probs from the KL reference's sampler, the KL penalty in the token rewards when
 * configured, planning classification, then the credit pipeline.
 */
export async function assignCredit(
  step: StepBatch,
  settings: AssignCreditSettings,
): Promise<AssignedCredit> {
  const { batch, request } = step;
  const B = batch.batchSize;
  const T = batch.seqLen;
  const all = Array.from({ length: B }, (_, i) => i);
  let oldLogProbs: Float32Array = new Float32Array(0);
  let entropies: Float32Array | undefined;
  if (B > 0) {
    const scored = await settings.engine.forward(datumsOf(step, all), undefined, {
      temperature: settings.temperature,
    });
    oldLogProbs = responseValues(step, all, scored.outputs, 'logProbs')!;
    entropies = responseValues(step, all, scored.outputs, 'entropies');
  }
  const refLogProbs =
    settings.reference && B > 0 ? await settings.reference.computeLogProbs(request) : undefined;
  let tokenRewards: Float32Array | undefined;
  if (settings.klInReward && refLogProbs) {
    const kl = klValues(oldLogProbs, refLogProbs, settings.klEstimator);
    tokenRewards = new Float32Array(B * T);
    step.rows.forEach((row, i) => {
      for (let t = 0; t < row.length; t++) {
        const k = i * T + t;
        tokenRewards![k] = -settings.klCoefficient * kl[k]!;
      }
      tokenRewards![i * T + row.length - 1]! += batch.rewards[i]!;
    });
  }
  const planningInput = {
    batchSize: B,
    seqLen: T,
    texts: batch.responseTexts,
    tokenSpans: batch.tokenSpans,
    responseMask: batch.responseMask,
    ...(entropies ? { entropies } : {}),
    step: settings.step,
  };
  const planning = settings.classifier.classify(planningInput);
  const metricsPlanning =
    settings.metricsClassifier === settings.classifier
      ? planning
      : settings.metricsClassifier.classify(planningInput);
  const fullBatch: RolloutBatchV1 = validateRolloutBatch(
    {
      ...batch,
      oldLogProbs,
      ...(entropies ? { entropies } : {}),
      planningMask: planning.mask,
      ...(refLogProbs ? { refLogProbs } : {}),
      ...(tokenRewards ? { tokenRewards } : {}),
    },
    { source: '@hicra/trainer' },
  );
  const credit = settings.credit.run(fullBatch);
  let lossMask = credit.lossMask;
  if (settings.overlongFilter) {
    lossMask = new Uint8Array(lossMask);
    step.rows.forEach((row, i) => {
      if (!row.finished) lossMask.fill(0, i * T, (i + 1) * T);
    });
  }
  return {
    batch: fullBatch,
    credit,
    lossMask,
    planning,
    metricsPlanning,
    oldLogProbs,
    entropies,
    refLogProbs,
  };
}
