import { type MetricRecordV1, TRAIN_METRIC_KEYS } from '@hicra/spec';
import { maskedMean } from '@hicra/tensor/kernels';
import type { AssignedCredit } from './assign-credit.js';
import type { StepBatch } from './build-batch.js';
import type { GeneratedGroups } from './generate-groups.js';
import type { UpdateMetrics } from './update.js';

const K = TRAIN_METRIC_KEYS;

/** Everything one step measured, for its metric record. */
export interface StepMeasurements {
  /** 1-based step, as logged. */
  readonly step: number;
  readonly generated: GeneratedGroups;
  readonly stepBatch: StepBatch;
  readonly assigned: AssignedCredit | undefined;
  readonly updates: readonly UpdateMetrics[];
  readonly learningRate: number;
  readonly entropyCoefficient: number;
  /** Strategy and token-class metrics of the step (`stepMetrics`), if any. */
  readonly strategy: Readonly<Record<string, number>>;
  readonly timings: {
    readonly creditMs: number;
    readonly updateMs: number;
    readonly stepMs: number;
  };
}

/**
 * The step's metric record under the keys of `@hicra/spec`. A value that could not be measured
 * (no update applied, an engine without entropies) is absent, never 0; non-finite values are
 * dropped.
 */
export function stepRecord(m: StepMeasurements): MetricRecordV1 {
  const { counts } = m.generated;
  const { batch } = m.stepBatch;
  const B = batch.batchSize;
  const applied = m.updates.filter((u) => !u.skipped);
  const mean = (pick: (u: UpdateMetrics) => number | undefined) => {
    const values = applied.map(pick).filter((v): v is number => v !== undefined);
    return values.length ? values.reduce((a, v) => a + v, 0) / values.length : undefined;
  };
  const rewards = Array.from(batch.rewards);
  const rewardMean = rewards.length
    ? rewards.reduce((a, b) => a + b, 0) / rewards.length
    : undefined;
  const tokens = batch.responseMask.reduce((a, b) => a + b, 0);
  const sampled = Math.max(1, counts.sampled);
  const entropy = mean((u) => u.entropy);
  const record: Record<string, number | string | undefined> = {
    kind: 'train',
    step: m.step,
    time: new Date().toISOString(),
    [K.rewardMean]: rewardMean,
    [K.rewardStd]:
      rewardMean === undefined
        ? undefined
        : Math.sqrt(rewards.reduce((a, r) => a + (r - rewardMean) ** 2, 0) / rewards.length),
    [K.accuracy]: counts.correct / sampled,
    [K.unscorableFraction]: counts.unscorable / sampled,
    [K.responseLengthMean]: counts.totalLength / sampled,
    [K.responseLengthMax]: counts.maxLength,
    [K.responseLengthClipRatio]: counts.clipped / sampled,
    [K.policyLoss]: mean((u) => u.policyLoss),
    [K.clipFraction]: mean((u) => u.clipFraction),
    [K.clipFractionLower]: mean((u) => u.clipFractionLower),
    [K.approxKl]: mean((u) => u.approxKl),
    [K.gradNorm]: mean((u) => u.gradNorm),
    [K.learningRate]: m.learningRate,
    [K.entropyBonus]:
      m.entropyCoefficient === 0
        ? 0
        : entropy === undefined
          ? undefined
          : m.entropyCoefficient * entropy,
    [K.klLoss]: mean((u) => u.klLoss),
    [K.amplifiedTokenShare]: 0,
    ...(m.assigned?.credit.diagnostics ?? {}),
    [K.lossMaskedShare]:
      B > 0 && m.assigned
        ? 1 - maskedMean(Float32Array.from(m.assigned.lossMask), batch.responseMask)
        : undefined,
    [K.planningTokenShare]:
      B > 0 && m.assigned
        ? maskedMean(Float32Array.from(m.assigned.planning.mask), batch.responseMask)
        : undefined,
    ...m.strategy,
    [K.timeGenerate]: m.generated.generateMs / 1000,
    [K.timeReward]: m.generated.rewardMs / 1000,
    [K.timeCredit]: m.timings.creditMs / 1000,
    [K.timeUpdate]: m.timings.updateMs / 1000,
    [K.timeStep]: m.timings.stepMs / 1000,
    [K.tokensPerSecond]: tokens / Math.max(1e-9, m.timings.stepMs / 1000),
    'train/skipped_updates': m.updates.length - applied.length,
    'train/groups_kept': m.stepBatch.groups.length,
  };
  return Object.fromEntries(
    Object.entries(record).filter(
      ([, v]) => v !== undefined && (typeof v !== 'number' || Number.isFinite(v)),
    ),
  ) as MetricRecordV1;
}
