import {
  ConfigError,
  type CreditPipelineConfigV1,
  formatValue,
  parseCreditPipelineConfig,
} from '@hicra/spec';
import { z } from 'zod';
import { RL_LOSS_NAMES } from './phases/update.js';

const SOURCE = '@hicra/trainer';

/**
 * The most responses one step may sample (`promptsPerStep · samplesPerPrompt`, and
 * `evaluation.problems · evaluation.k`): far above any CPU run (the reference app samples 64),
 * and low enough that a typo (`promptsPerStep: 1e8`) is a configuration error rather than V8
 * running out of memory minutes later.
 */
export const MAX_RESPONSES_PER_STEP = 65_536;

/**
 * The most response tokens one step may sample: responses per step · `sampling.maxNewTokens`
 * (65,536 responses of 256 tokens, or 4,096 of 4,096).
 */
export const MAX_TOKENS_PER_STEP = 16_777_216;

/** The most dynamic-sampling refill rounds per step. */
export const MAX_REFILLS = 100;

/** The most epochs over one step's rollouts. */
export const MAX_EPOCHS = 100;

interface Range {
  readonly integer?: boolean;
  /** Inclusive bounds. */
  readonly min?: number;
  readonly max?: number;
  /** Exclusive bounds. */
  readonly greaterThan?: number;
  readonly lessThan?: number;
}

/** `an integer >= 1`, `a number in (0, 1]`: the whole allowed range, for every failed check. */
function describeRange(range: Range): string {
  const kind = range.integer ? 'an integer' : 'a number';
  const low =
    range.min !== undefined
      ? `[${range.min}`
      : range.greaterThan !== undefined
        ? `(${range.greaterThan}`
        : undefined;
  const high =
    range.max !== undefined
      ? `${range.max}]`
      : range.lessThan !== undefined
        ? `${range.lessThan})`
        : undefined;
  if (low !== undefined && high !== undefined) return `${kind} in ${low}, ${high}`;
  if (range.min !== undefined) return `${kind} >= ${range.min}`;
  if (range.greaterThan !== undefined) return `${kind} > ${range.greaterThan}`;
  if (range.max !== undefined) return `${kind} <= ${range.max}`;
  if (range.lessThan !== undefined) return `${kind} < ${range.lessThan}`;
  return `a finite ${range.integer ? 'integer' : 'number'}`;
}

/** A finite number in `range`; every failure says `expected <the range>`. */
function numberIn(range: Range) {
  const message = `expected ${describeRange(range)}`;
  let schema = z.number(message);
  if (range.integer) schema = schema.int(message);
  if (range.min !== undefined) schema = schema.min(range.min, message);
  if (range.max !== undefined) schema = schema.max(range.max, message);
  if (range.greaterThan !== undefined) schema = schema.gt(range.greaterThan, message);
  if (range.lessThan !== undefined) schema = schema.lt(range.lessThan, message);
  return schema;
}

const positiveInt = numberIn({ integer: true, min: 1 });
const nonNegativeInt = numberIn({ integer: true, min: 0 });
const share = numberIn({ min: 0, max: 1 });
/** Peak and floor learning rates: above 1 no run of this trainer converges (1e30 filled a checkpoint with 1e30). */
const learningRate = numberIn({ greaterThan: 0, max: 1 });
const beta = numberIn({ min: 0, lessThan: 1 });
/**
 * Sampling temperature. Below 0.001 sampling is greedy in all but name, and 1/temperature can
 * overflow the logits; 0 (greedy) is allowed where noted.
 */
const SAMPLING_TEMPERATURE: Range = { min: 0.001, max: 100 };
const samplingTemperature = numberIn(SAMPLING_TEMPERATURE);
const evaluationTemperature = z
  .number('expected 0 (greedy) or a number in [0.001, 100]')
  .refine(
    (t) => t === 0 || (t >= SAMPLING_TEMPERATURE.min! && t <= SAMPLING_TEMPERATURE.max!),
    'expected 0 (greedy) or a number in [0.001, 100]',
  );

/** The RL run's configuration; every field has a documented default. */
export const rlConfigSchema = z
  .object({
    /** Seed of every random stream of the run (prompt order, sampling). */
    seed: nonNegativeInt.default(0),
    /** Optimizer steps of RL (one step = one batch of rollouts, `epochs` passes over it); >= 1. */
    steps: positiveInt.default(100),
    /** Prompts per step; `promptsPerStep · samplesPerPrompt` <= {@link MAX_RESPONSES_PER_STEP}. */
    promptsPerStep: positiveInt.default(8),
    /** G: responses per prompt. Group-relative estimators need G >= 2. */
    samplesPerPrompt: positiveInt.default(8),
    sampling: z
      .object({
        /** Responses per step · maxNewTokens <= {@link MAX_TOKENS_PER_STEP}. */
        maxNewTokens: positiveInt.default(64),
        /**
         * In [0.001, 100]: RL needs a distribution to sample from (0 would be greedy). Old
         * log-probs, reference log-probs and the update's log-probs are scored at this
         * temperature too (as verl does), so the PPO ratio compares the sampled distribution.
         */
        temperature: samplingTemperature.default(1),
        /** 0: off. On in RL, the ratio is against a different distribution: a warning. */
        topK: nonNegativeInt.default(0),
        /** 1: off. Below 1 in RL: a warning, as for `topK`. */
        topP: numberIn({ greaterThan: 0, max: 1 }).default(1),
      })
      .strict()
      .default({ maxNewTokens: 64, temperature: 1, topK: 0, topP: 1 }),
    /** The credit pipeline (`@hicra/advantage` config). */
    credit: z.unknown().default({ estimator: { name: 'grpo' }, assigners: [] }),
    update: z
      .object({
        /**
         * The policy loss, a loss of the engine contracts (every one a token sum; the
         * aggregation is folded into per-token weights, or into the advantages for a loss that
         * reads no weights): `verl-ppo` (clip-higher and dual clip), `gspo` (sequence-level
         * ratio), or Tinker's `ppo`, `cispo` and `importance-sampling` (clip thresholds
         * 1 - clipRatioLow and 1 + clipRatioHigh; no dual clip). The engine must offer it.
         */
        loss: z.enum(RL_LOSS_NAMES).default('verl-ppo'),
        epochs: numberIn({ integer: true, min: 1, max: MAX_EPOCHS }).default(1),
        miniBatchSize: numberIn({ integer: true, min: 1, max: MAX_RESPONSES_PER_STEP }).default(16),
        lossAggregation: z
          .enum([
            'token-mean',
            'seq-mean-token-sum',
            'seq-mean-token-mean',
            'seq-mean-token-sum-norm',
          ])
          .default('token-mean'),
        /**
         * The constant divisor of `seq-mean-token-sum-norm` (Dr.GRPO; verl's
         * `loss_scale_factor`). Default: `sampling.maxNewTokens`, the same every step (not the
         * step's longest response).
         */
        lossScaleFactor: numberIn({ greaterThan: 0 }).optional(),
        clipRatioLow: share.default(0.2),
        clipRatioHigh: numberIn({ min: 0 }).default(0.28),
        clipRatioC: numberIn({ greaterThan: 1 }).default(3),
        /** Entropy bonus coefficient, aggregated with `lossAggregation` (0: off). */
        entropyCoefficient: numberIn({ min: 0 }).default(0),
        /**
         * KL to a frozen reference policy (0: off). Above 0 the trainer needs a reference: the
         * caller's `referencePolicy`, or a frozen copy of the initial policy (`clone()`).
         */
        klCoefficient: numberIn({ min: 0 }).default(0),
        /** Estimator of the KL term, in the loss and in the reward alike. */
        klEstimator: z.enum(['k1', 'abs', 'k2', 'k3']).default('k3'),
        /** Put the KL penalty into the token rewards instead of the loss. */
        klInReward: z.boolean().default(false),
        maxGradNorm: numberIn({ greaterThan: 0 }).default(1),
      })
      .strict()
      .default({
        loss: 'verl-ppo',
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
        /** Peak learning rate, in (0, 1]. */
        learningRate: learningRate.default(1e-4),
        warmupSteps: nonNegativeInt.default(0),
        /** Floor of the cosine decay, in [0, 1] and at most `learningRate`. */
        minLearningRate: share.default(0),
        /** AdamW's decoupled weight decay, in [0, 1]. */
        weightDecay: share.default(0),
        beta1: beta.default(0.9),
        beta2: beta.default(0.999),
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
        maxRefills: numberIn({ integer: true, min: 0, max: MAX_REFILLS }).default(2),
      })
      .strict()
      .default({ enabled: false, maxRefills: 2 }),
    /** DAPO overlong filtering: responses that hit maxNewTokens get no gradient. */
    overlongFilter: z.boolean().default(false),
    evaluation: z
      .object({
        every: nonNegativeInt.default(10),
        /** `problems · k` <= {@link MAX_RESPONSES_PER_STEP}. */
        problems: positiveInt.default(32),
        k: positiveInt.default(4),
        /**
         * 0 (greedy) or in [0.001, 100]. Default 0.6, the paper's: `eval/mean_at_k` is then its
         * pass@1 estimated from k samples. Greedy accuracy is logged at every evaluation too.
         */
        temperature: evaluationTemperature.default(0.6),
      })
      .strict()
      .default({ every: 10, problems: 32, k: 4, temperature: 0.6 }),
    checkpointEvery: nonNegativeInt.default(10),
    /** Rollouts logged per step to rollouts.jsonl. */
    rolloutsLoggedPerStep: nonNegativeInt.default(4),
    /** A non-finite loss or gradient: stop with an error, or skip the update. */
    onNonFinite: z.enum(['error', 'skip']).default('error'),
    /** A reward function that throws or returns NaN for a response: exclude it and go on, or stop. */
    onRewardError: z.enum(['exclude', 'stop']).default('exclude'),
  })
  .strict();

export type RlConfigInput = z.input<typeof rlConfigSchema>;
type ParsedConfig = z.output<typeof rlConfigSchema>;
export type RlConfig = Omit<ParsedConfig, 'credit' | 'update'> & {
  readonly credit: CreditPipelineConfigV1;
  /** `lossScaleFactor` is always filled (default `sampling.maxNewTokens`). */
  readonly update: Omit<ParsedConfig['update'], 'lossScaleFactor'> & {
    readonly lossScaleFactor: number;
  };
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
 * offending key (`update.clipRatioLow`) with the allowed range and the value given; a config
 * that is not an object (a number, `null`, an array) is a `ConfigError` at path `''`.
 * `undefined` gives every default.
 */
export function parseRlConfig(input: unknown): RlConfig {
  const data = parseWith(rlConfigSchema, input, 'RL config', {});
  const credit = parseCreditPipelineConfig(data.credit, 'credit');
  const config = {
    ...data,
    credit,
    update: {
      ...data.update,
      lossScaleFactor: data.update.lossScaleFactor ?? data.sampling.maxNewTokens,
    },
  };
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
  const responses = config.promptsPerStep * config.samplesPerPrompt;
  if (responses > MAX_RESPONSES_PER_STEP) {
    throw new ConfigError(
      'promptsPerStep',
      `promptsPerStep · samplesPerPrompt = ${config.promptsPerStep} · ${config.samplesPerPrompt} = ${responses} responses per step, more than the maximum ${MAX_RESPONSES_PER_STEP}`,
      { source: SOURCE, details: { responses, maximum: MAX_RESPONSES_PER_STEP } },
    );
  }
  const tokens = responses * config.sampling.maxNewTokens;
  if (tokens > MAX_TOKENS_PER_STEP) {
    throw new ConfigError(
      'sampling.maxNewTokens',
      `promptsPerStep · samplesPerPrompt · sampling.maxNewTokens = ${responses} · ${config.sampling.maxNewTokens} = ${tokens} response tokens per step, more than the maximum ${MAX_TOKENS_PER_STEP}`,
      { source: SOURCE, details: { tokens, maximum: MAX_TOKENS_PER_STEP } },
    );
  }
  const evaluated = config.evaluation.problems * config.evaluation.k;
  if (evaluated > MAX_RESPONSES_PER_STEP) {
    throw new ConfigError(
      'evaluation.problems',
      `evaluation.problems · evaluation.k = ${config.evaluation.problems} · ${config.evaluation.k} = ${evaluated} responses per evaluation, more than the maximum ${MAX_RESPONSES_PER_STEP}`,
      { source: SOURCE, details: { responses: evaluated, maximum: MAX_RESPONSES_PER_STEP } },
    );
  }
  if (evaluated * config.sampling.maxNewTokens > MAX_TOKENS_PER_STEP) {
    throw new ConfigError(
      'evaluation.problems',
      `evaluation.problems · evaluation.k · sampling.maxNewTokens = ${evaluated} · ${config.sampling.maxNewTokens} = ${evaluated * config.sampling.maxNewTokens} response tokens per evaluation, more than the maximum ${MAX_TOKENS_PER_STEP}`,
      { source: SOURCE, details: { maximum: MAX_TOKENS_PER_STEP } },
    );
  }
  checkFloor('optimizer.minLearningRate', config.optimizer);
  return config as RlConfig;
}

/** The supervised warm start's settings (`SftSettings` of `trainSupervised`), checked. */
export const sftSettingsSchema = z
  .object({
    /** Optimizer steps, >= 1. */
    steps: positiveInt,
    /** Examples per step, in [1, {@link MAX_RESPONSES_PER_STEP}]. */
    batchSize: numberIn({ integer: true, min: 1, max: MAX_RESPONSES_PER_STEP }),
    /** Peak learning rate, in (0, 1]. */
    learningRate,
    warmupSteps: nonNegativeInt.optional(),
    /** In [0, 1] and at most `learningRate`. */
    minLearningRate: share.optional(),
    maxGradNorm: numberIn({ greaterThan: 0 }).optional(),
    seed: nonNegativeInt.optional(),
    optimizer: z
      .object({
        name: z.enum(['adam', 'adamw']).optional(),
        beta1: beta.optional(),
        beta2: beta.optional(),
        epsilon: numberIn({ greaterThan: 0 }).optional(),
        weightDecay: share.optional(),
      })
      .strict()
      .optional(),
    evaluateEvery: nonNegativeInt.optional(),
  })
  .strict();

/**
 * Checks the settings of `trainSupervised` before any work: a `ConfigError` at the key
 * (`learningRate`, `optimizer.beta1`) with the allowed range and the value given; settings that
 * are not an object are an error at path `''`.
 */
export function checkSftSettings(input: unknown): void {
  const settings = parseWith(sftSettingsSchema, input, 'SFT settings', undefined);
  checkFloor('minLearningRate', settings);
}

/** The floor of a cosine schedule must not exceed its peak. */
function checkFloor(
  path: string,
  settings: { readonly learningRate: number; readonly minLearningRate?: number | undefined },
): void {
  const floor = settings.minLearningRate ?? 0;
  if (floor > settings.learningRate) {
    throw new ConfigError(
      path,
      `expected a number in [0, learningRate = ${settings.learningRate}], got ${floor}; the floor of the decay cannot exceed the peak`,
      { source: SOURCE },
    );
  }
}

/**
 * Parses `input` with `schema`; the first issue becomes a `ConfigError` at its key path, with
 * the value given. `undefined` parses as `fallback`; anything else that is not a plain object is
 * an error at path `''` naming what was given.
 */
function parseWith<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: string,
  fallback: unknown,
): z.output<S> {
  if (input === undefined) input = fallback;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ConfigError(
      '',
      `${what}: expected an object of settings, got ${describeGiven(input)}`,
      {
        source: SOURCE,
        details: { given: input === null ? 'null' : Array.isArray(input) ? 'array' : typeof input },
      },
    );
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path
    .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
    .join('.')
    .replace(/\.\[/g, '[');
  const given = issue.code === 'unrecognized_keys' ? undefined : valueAt(input, issue.path);
  throw new ConfigError(
    path,
    `${issue.message}${given === NOTHING ? ', got nothing' : given === undefined ? '' : `, got ${formatValue(given)}`}`,
    { source: SOURCE, details: { issues: result.error.issues.length } },
  );
}

const NOTHING = Symbol('nothing');

/** The input's value at `path` (`NOTHING` where a key is absent). */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || !(key in value)) return NOTHING;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** `the number 42`, `null`, `an array of 3 entries`, `the string "x"`. */
function describeGiven(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length} entries`;
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean')
    return `the ${typeof value} ${formatValue(value)}`;
  return `a ${typeof value}`;
}
