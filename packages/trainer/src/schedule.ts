import { InvalidArgumentError } from '@hicra/spec';

export interface ScheduleSettings {
  /** Peak learning rate. */
  readonly learningRate: number;
  /** Linear warm-up from 0 over this many steps. Default 0. */
  readonly warmupSteps?: number;
  /** Total steps; after warm-up, cosine decay to `minLearningRate` at this step. Absent: constant. */
  readonly totalSteps?: number;
  /** Floor of the cosine decay. Default 0. */
  readonly minLearningRate?: number;
}

/**
 * Learning rate at optimizer step `step` (0-based): linear warm-up to the peak over
 * `warmupSteps` (step 0 gets peak/warmupSteps, never 0), then a cosine decay to the floor at
 * `totalSteps` (constant when `totalSteps` is absent), then the floor.
 */
export function learningRateAt(step: number, settings: ScheduleSettings): number {
  const { learningRate } = settings;
  const warmup = settings.warmupSteps ?? 0;
  const floor = settings.minLearningRate ?? 0;
  if (!(learningRate > 0) || !Number.isFinite(learningRate)) {
    throw new InvalidArgumentError(`learningRate must be a positive number, got ${learningRate}`, {
      source: '@hicra/trainer',
    });
  }
  if (step < warmup) return (learningRate * (step + 1)) / warmup;
  if (settings.totalSteps === undefined) return learningRate;
  const span = settings.totalSteps - warmup;
  if (span <= 0) return learningRate;
  const progress = Math.min(1, (step - warmup) / span);
  return floor + 0.5 * (learningRate - floor) * (1 + Math.cos(Math.PI * progress));
}
