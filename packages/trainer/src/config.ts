import { ConfigError, type CreditPipelineConfigV1, parseCreditPipelineConfig } from '@hicra/spec';
import { z } from 'zod';

const SOURCE = '@hicra/trainer';

const positiveInt = z.number().int().positive();
const share = z.number().min(0).max(1);

/** The RL run's configuration; every field has a documented default. */
export const rlConfigSchema = z
  .object({
    /** Seed of every random stream of the run (prompt order, sampling). */
    seed: z.number().int().nonnegative().default(0),
    /** Optimizer steps of RL (one step = one batch of rollouts, `epochs` passes over it). */
    steps: positiveInt.default(100),
    /** Prompts per step. */
    promptsPerStep: positiveInt.default(8),
    /** G: responses per prompt. Group-relative estimators need G >= 2. */
    samplesPerPrompt: positiveInt.default(8),
    sampling: z
      .object({
        maxNewTokens: positiveInt.default(64),
        temperature: z.number().min(0).default(1),
        topK: z.number().int().nonnegative().default(0),
        topP: z.number().gt(0).max(1).default(1),
      })
      .strict()
      .default({ maxNewTokens: 64, temperature: 1, topK: 0, topP: 1 }),
    /** The credit pipeline (`@hicra/advantage` config). */
    credit: z.unknown().default({ estimator: { name: 'grpo' }, assigners: [] }),
    update: z
      .object({
        epochs: positiveInt.default(1),
        miniBatchSize: positiveInt.default(16),
        lossAggregation: z
          .enum([
            'token-mean',
            'seq-mean-token-sum',
            'seq-mean-token-mean',
            'seq-mean-token-sum-norm',
          ])
          .default('token-mean'),
        clipRatioLow: share.default(0.2),
        clipRatioHigh: z.number().min(0).default(0.28),
        clipRatioC: z.number().gt(1).default(3),
        entropyCoefficient: z.number().min(0).default(0),
        klCoefficient: z.number().min(0).default(0),
        klEstimator: z.enum(['k1', 'abs', 'k2', 'k3']).default('k3'),
        /** Put the KL penalty into the token rewards instead of the loss. */
        klInReward: z.boolean().default(false),
        maxGradNorm: z.number().positive().default(1),
      })
      .strict()
      .default({
        epochs: 1,
        miniBatchSize: 16,
        lossAggregation: 'token-mean',
        clipRatioLow: 0.2,
        clipRatioHigh: 0.28,
        clipRatioC: 3,
        entropyCoefficient: 0,
        klCoefficient: 0,
        klEstimator: 'k3',
        klInReward: false,
        maxGradNorm: 1,
      }),
    optimizer: z
      .object({
        name: z.enum(['adam', 'adamw']).default('adamw'),
        learningRate: z.number().positive().default(1e-4),
        warmupSteps: z.number().int().nonnegative().default(0),
        minLearningRate: z.number().nonnegative().default(0),
        weightDecay: z.number().nonnegative().default(0),
        beta1: z.number().min(0).lt(1).default(0.9),
        beta2: z.number().min(0).lt(1).default(0.999),
      })
      .strict()
      .default({
        name: 'adamw',
        learningRate: 1e-4,
        warmupSteps: 0,
        minLearningRate: 0,
        weightDecay: 0,
        beta1: 0.9,
        beta2: 0.999,
      }),
    dynamicSampling: z
      .object({
        /** DAPO: drop groups whose rewards are all equal and refill. */
        enabled: z.boolean().default(false),
        /** Extra sampling rounds per step to refill dropped groups. */
        maxRefills: z.number().int().nonnegative().default(2),
      })
      .strict()
      .default({ enabled: false, maxRefills: 2 }),
    /** DAPO overlong filtering: responses that hit maxNewTokens get no gradient. */
    overlongFilter: z.boolean().default(false),
    evaluation: z
      .object({
        every: z.number().int().nonnegative().default(10),
        problems: positiveInt.default(32),
        k: positiveInt.default(4),
        temperature: z.number().min(0).default(1),
      })
      .strict()
      .default({ every: 10, problems: 32, k: 4, temperature: 1 }),
    checkpointEvery: z.number().int().nonnegative().default(10),
    /** Rollouts logged per step to rollouts.jsonl. */
    rolloutsLoggedPerStep: z.number().int().nonnegative().default(4),
    /** A non-finite loss or gradient: stop with an error, or skip the update. */
    onNonFinite: z.enum(['error', 'skip']).default('error'),
    /** A reward function that throws or returns NaN for a response: exclude it and go on, or stop. */
    onRewardError: z.enum(['exclude', 'stop']).default('exclude'),
  })
  .strict();

export type RlConfigInput = z.input<typeof rlConfigSchema>;
export type RlConfig = Omit<z.output<typeof rlConfigSchema>, 'credit'> & {
  readonly credit: CreditPipelineConfigV1;
};

/** Estimators whose baseline comes from the group: they need at least two responses per prompt. */
const GROUP_RELATIVE = new Set([
  'grpo',
  'dr-grpo',
  'rloo',
  'opo',
  'reinforce-plus-plus-baseline',
  'grpo-pass-k',
]);

/**
 * Validates an RL config and fills defaults. Errors are `ConfigError`s whose path points at the
 * offending key (`update.clipRatioLow`) with a readable reason.
 */
export function parseRlConfig(input: unknown): RlConfig {
  const result = rlConfigSchema.safeParse(input ?? {});
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issue.path
      .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
      .join('.')
      .replace(/\.\[/g, '[');
    throw new ConfigError(path, issue.message, {
      source: SOURCE,
      details: { issues: result.error.issues.length },
    });
  }
  const credit = parseCreditPipelineConfig(result.data.credit, 'credit');
  const config = { ...result.data, credit };
  if (config.samplesPerPrompt < 2 && GROUP_RELATIVE.has(credit.estimator.name)) {
    throw new ConfigError(
      'samplesPerPrompt',
      `estimator "${credit.estimator.name}" is group-relative and needs at least 2 samples per prompt, got ${config.samplesPerPrompt}`,
      { source: SOURCE },
    );
  }
  if (config.update.klInReward && config.update.klCoefficient === 0) {
    throw new ConfigError('update.klInReward', 'needs klCoefficient > 0', { source: SOURCE });
  }
  return config as RlConfig;
}
