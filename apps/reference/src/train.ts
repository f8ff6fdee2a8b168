import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CreditRegistry } from '@hicra/advantage';
import {
  type PlanningClassifierConfig,
  type PlanningClassifierRegistry,
  planningClassifierRegistry,
} from '@hicra/planning';
import { HuggingFaceTokenizer, loadCheckpoint, loadCheckpointTokenizer } from '@hicra/policy';
import { TinkerTrainingClient } from '@hicra/remote';
import {
  ConfigError,
  CorruptFileError,
  type HicraWarningV1,
  type PluginConfigV1,
  type RewardFunctionV1,
  type TokenizerV1,
} from '@hicra/spec';
import { type RewardConfig, type RewardRegistry, rewardRegistry } from '@hicra/tasks';
import {
  type OpenRun,
  openRunDirectory,
  type Problem,
  parseRlConfig,
  type RlConfigInput,
  type RunProgress,
  type RunResult,
  runRl,
} from '@hicra/trainer';
import {
  type AppLevel,
  countdownReward,
  countdownSetup,
  levelOfCheckpoint,
  planningClassifier,
} from './countdown-setup.js';
import { loadDatasetTask } from './dataset-task.js';
import { strategyByName } from './strategies.js';

const SOURCE = '@hicra/reference';

/** A Tinker-protocol server that trains the policy (`hicra serve`, verl's `verl_tinker`, ...). */
export interface TinkerEngineOptions {
  readonly kind: 'tinker';
  /** E.g. `http://127.0.0.1:8000`. */
  readonly baseUrl: string;
  /** The model the server trains (`base_model`). */
  readonly model: string;
  /**
   * The policy's tokenizer, local: a `tokenizer.json` (or its folder), or a hicra checkpoint
   * folder. A Tinker server names a Hub tokenizer, which cannot be fetched offline.
   */
  readonly tokenizer: string;
  /** Default `TINKER_API_KEY`. */
  readonly apiKey?: string;
}

export interface TrainOptions {
  /** Base checkpoint folder (from `hicra pretrain`); not with a remote engine. */
  readonly from?: string;
  /** Train through a remote engine instead of in process. */
  readonly engine?: TinkerEngineOptions;
  /** Run directory. */
  readonly out: string;
  readonly strategy: string;
  /** Replaces the strategy's advantage estimator (a registry name of `@hicra/advantage`). */
  readonly estimator?: string;
  readonly seed: number;
  /**
   * Overrides of the RL config (`@hicra/trainer`'s schema), merged key by key into the app's
   * defaults; a `credit` pipeline here replaces the strategy's.
   */
  readonly config?: RlConfigInput;
  /** Countdown level; default the level the checkpoint was pretrained on. Not with `dataset`. */
  readonly level?: AppLevel;
  /**
   * Train on a math dataset instead of Countdown: a Parquet file in verl's layout (see
   * `loadDatasetTask`), rewarded by the math verifier.
   */
  readonly dataset?: string;
  /** The dataset's evaluation rows; default the last rows of `dataset`, held out. */
  readonly evalDataset?: string;
  /** Where credit pipelines are built from (default the built-ins of `@hicra/advantage`). */
  readonly registry?: CreditRegistry;
  /** The plug-in files `registry` holds beyond the built-ins, recorded in `run.json`. */
  readonly plugins?: readonly string[];
  /**
   * The planning classifier, as a config `{ name, ...settings }` built from `classifiers`;
   * replaces the strategy's (Strategic Grams, or the placebo). Recorded in `run.json`.
   */
  readonly classifier?: PluginConfigV1;
  /**
   * The training reward, as a config built from `rewards`; replaces the task's (Countdown's
   * verifier, or the math verifier of a dataset). Evaluations use it too. Recorded in `run.json`.
   */
  readonly reward?: PluginConfigV1;
  /** Where `classifier` is built from (default the built-ins of `@hicra/planning`). */
  readonly classifiers?: PlanningClassifierRegistry;
  /** Where `reward` is built from (default the built-ins of `@hicra/tasks`). */
  readonly rewards?: RewardRegistry;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: RunProgress) => void;
  /** A warning about the run (e.g. a step whose responses all lack an answer). */
  readonly onWarning?: (warning: HicraWarningV1) => void;
  /**
   * Called once the run directory is locked, with the open run: the caller can release the lock
   * if it has to exit before `train` returns (the app does on a second Ctrl-C).
   */
  readonly onRunOpened?: (run: OpenRun) => void;
}

/** The default RL settings of the reference app (small, CPU-sized; a config file overrides them). */
export const DEFAULT_RL_CONFIG: RlConfigInput = {
  steps: 40,
  promptsPerStep: 8,
  samplesPerPrompt: 8,
  sampling: { maxNewTokens: 64, temperature: 1 },
  optimizer: { learningRate: 3e-4, warmupSteps: 2 },
  update: { miniBatchSize: 32, epochs: 1, clipRatioLow: 0.2, clipRatioHigh: 0.28 },
  evaluation: { every: 10, problems: 48, k: 4, temperature: 0.6 },
  checkpointEvery: 10,
  rolloutsLoggedPerStep: 4,
};

/**
 * Settings a resumed run may change: `config.steps` extends (or shortens) a run. Every other
 * setting of `run.json` must match, or the run is refused.
 */
export const RESUMABLE_SETTINGS = ['config.steps'] as const;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `overrides` merged into `base` key by key: nested objects merge (`optimizer: {learningRate}`
 * keeps the default warm-up), anything else replaces.
 */
export function mergeConfig(
  base: Readonly<Record<string, unknown>>,
  overrides: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    const current = merged[key];
    merged[key] =
      isPlainObject(current) && isPlainObject(value) ? mergeConfig(current, value) : value;
  }
  return merged;
}

/**
 * The RL config a `train` call runs with: the app's defaults, the overrides, the seed, and the
 * strategy's credit pipeline (with `estimator` swapped in) unless the overrides give one.
 * Validated by `@hicra/trainer`'s schema: a `ConfigError` names the key.
 */
export function resolveTrainConfig(
  options: Pick<TrainOptions, 'strategy' | 'estimator' | 'seed' | 'config'>,
): RlConfigInput {
  const strategy = strategyByName(options.strategy);
  const overrides = (options.config ?? {}) as Record<string, unknown>;
  if (!isPlainObject(overrides)) {
    throw new ConfigError('', `must be an object, got ${JSON.stringify(overrides)}`, {
      source: SOURCE,
    });
  }
  const credit =
    overrides.credit ??
    (options.estimator
      ? { ...strategy.credit, estimator: { name: options.estimator } }
      : strategy.credit);
  // What the strategy is (Dr.GRPO's loss, an entropy bonus) wins over the config file.
  const methodUpdate = {
    ...(strategy.update ?? {}),
    ...(strategy.entropyCoefficient === undefined
      ? {}
      : { entropyCoefficient: strategy.entropyCoefficient }),
  };
  const config = mergeConfig(
    mergeConfig(DEFAULT_RL_CONFIG as Record<string, unknown>, {
      ...overrides,
      seed: options.seed,
      credit,
    }),
    { update: methodUpdate },
  ) as RlConfigInput;
  parseRlConfig(config);
  return config;
}

/**
 * RL from a base checkpoint with one strategy and one seed, into a run directory. The directory
 * is locked for the run; a rerun resumes from its last checkpoint, and is refused when its
 * settings differ from the saved `run.json` (other than {@link RESUMABLE_SETTINGS}).
 */
export async function train(options: TrainOptions): Promise<RunResult> {
  if (options.engine !== undefined) return trainRemotely(options, options.engine);
  const strategy = strategyByName(options.strategy);
  if (options.from === undefined) {
    throw new ConfigError('from', 'give the base checkpoint folder (or a remote engine)', {
      source: SOURCE,
    });
  }
  const from = resolve(options.from);
  if (!existsSync(join(from, 'config.json'))) {
    throw new CorruptFileError(
      `${options.from}: not a checkpoint folder (no config.json); run \`hicra pretrain\` first`,
      { source: SOURCE, details: { path: options.from } },
    );
  }
  const config = resolveTrainConfig(options);
  const { policy, tokenizer, metadata, stopTokenIds } = await loadCheckpoint(from);
  let run: OpenRun | undefined;
  try {
    if (tokenizer === undefined) {
      throw new ConfigError(
        'from',
        `${options.from} has no tokenizer.json; the Countdown task encodes its prompts with the model's tokenizer`,
        { source: SOURCE },
      );
    }
    const task = await taskOf(options, from, () => options.level ?? levelOfCheckpoint(metadata));
    const estimator = (config.credit as { estimator: { name: string } }).estimator.name;
    run = await openRunDirectory(options.out, {
      settings: {
        strategy: strategy.name,
        estimator,
        seed: options.seed,
        from,
        ...task.settings,
        ...(options.plugins?.length ? { plugins: options.plugins } : {}),
        ...pluginSettings(options),
        config,
      },
      ignore: RESUMABLE_SETTINGS,
      command: 'hicra train',
    });
    options.onRunOpened?.(run);
    return await runRl({
      ...runOptions(options, config, task, run, tokenizer, stopTokenIds),
      policy,
      checkpointTokenizer: tokenizer,
    });
  } finally {
    run?.close();
    policy.dispose();
    if (tokenizer instanceof HuggingFaceTokenizer) await tokenizer.close();
  }
}

/** What a run trains on: Countdown at a level, or a dataset file. */
interface Task {
  /** What run.json records of it. */
  readonly settings: Record<string, unknown>;
  readonly reward: RewardFunctionV1;
  readonly trainProblems: readonly Problem[];
  readonly evalProblems: readonly Problem[];
  readonly addSpecialTokens: boolean;
}

/** What run.json records of the plug-ins a run names beyond its strategy. */
function pluginSettings(options: TrainOptions): Record<string, unknown> {
  return {
    ...(options.classifier === undefined ? {} : { classifier: options.classifier }),
    ...(options.reward === undefined ? {} : { reward: options.reward }),
  };
}

async function taskOf(
  options: TrainOptions,
  modelDir: string | undefined,
  level: () => AppLevel,
): Promise<Task> {
  const task = await defaultTaskOf(options, modelDir, level);
  if (options.reward === undefined) return task;
  return {
    ...task,
    reward: (options.rewards ?? rewardRegistry).create(options.reward as RewardConfig),
  };
}

async function defaultTaskOf(
  options: TrainOptions,
  modelDir: string | undefined,
  level: () => AppLevel,
): Promise<Task> {
  if (options.dataset === undefined) {
    if (options.evalDataset !== undefined)
      throw new ConfigError('evalDataset', 'an evaluation dataset goes with a dataset', {
        source: SOURCE,
      });
    const at = level();
    const setup = countdownSetup(at);
    return {
      settings: { level: at },
      reward: countdownReward(),
      trainProblems: setup.problems('train', 1000 + options.seed, 2000),
      evalProblems: setup.problems('test', 0, 256),
      addSpecialTokens: true,
    };
  }
  if (options.level !== undefined)
    throw new ConfigError('level', 'a Countdown level does not go with a dataset', {
      source: SOURCE,
    });
  const dataset = resolve(options.dataset);
  const evalDataset = options.evalDataset === undefined ? undefined : resolve(options.evalDataset);
  const task = await loadDatasetTask({
    dataset,
    ...(evalDataset === undefined ? {} : { evalDataset }),
    ...(modelDir === undefined ? {} : { modelDir }),
  });
  for (const note of task.notes)
    options.onWarning?.({ code: 'dataset', message: note, source: SOURCE });
  return {
    settings: { dataset, ...(evalDataset === undefined ? {} : { evalDataset }) },
    reward: task.reward,
    trainProblems: task.trainProblems,
    evalProblems: task.evalProblems,
    addSpecialTokens: task.addSpecialTokens,
  };
}

/** What a run needs besides the engine, for either kind of engine. */
function runOptions(
  options: TrainOptions,
  config: RlConfigInput,
  task: Task,
  run: OpenRun,
  tokenizer: TokenizerV1,
  stopTokenIds: readonly number[] | undefined,
) {
  const strategy = strategyByName(options.strategy);
  return {
    run,
    runDir: options.out,
    tokenizer,
    ...(stopTokenIds ? { stopTokenIds } : {}),
    reward: task.reward,
    classifier:
      options.classifier === undefined
        ? planningClassifier(strategy.classifier, options.seed)
        : (options.classifiers ?? planningClassifierRegistry).create(
            options.classifier as PlanningClassifierConfig,
          ),
    trainProblems: task.trainProblems,
    evalProblems: task.evalProblems,
    addSpecialTokens: task.addSpecialTokens,
    ...(options.registry ? { registry: options.registry } : {}),
    config,
    metadata: { strategy: strategy.name, seed: String(options.seed) },
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.onWarning ? { hooks: { onWarning: options.onWarning } } : {}),
  };
}

/**
 * RL through a Tinker-protocol server: the loop, rewards, planning classification, credit and
 * metrics run here; forward/backward, the optimizer and sampling run on the server. The run
 * directory keeps the loop's state and where the server saved its state each checkpoint.
 */
async function trainRemotely(options: TrainOptions, engineOptions: TinkerEngineOptions) {
  const strategy = strategyByName(options.strategy);
  const config = resolveTrainConfig(options);
  const tokenizer = await loadTokenizer(engineOptions.tokenizer);
  let run: OpenRun | undefined;
  let engine: TinkerTrainingClient | undefined;
  try {
    const task = await taskOf(options, engineOptions.tokenizer, () => options.level ?? 0);
    const estimator = (config.credit as { estimator: { name: string } }).estimator.name;
    const engineSettings = {
      kind: engineOptions.kind,
      baseUrl: engineOptions.baseUrl,
      model: engineOptions.model,
    };
    run = await openRunDirectory(options.out, {
      settings: {
        strategy: strategy.name,
        estimator,
        seed: options.seed,
        engine: engineSettings,
        ...task.settings,
        ...(options.plugins?.length ? { plugins: options.plugins } : {}),
        ...pluginSettings(options),
        config,
      },
      ignore: RESUMABLE_SETTINGS,
      command: 'hicra train',
    });
    options.onRunOpened?.(run);
    engine = await TinkerTrainingClient.create({
      baseUrl: engineOptions.baseUrl,
      baseModel: engineOptions.model,
      ...(engineOptions.apiKey === undefined ? {} : { apiKey: engineOptions.apiKey }),
      vocabSize: tokenizer.vocabSize,
    });
    const eos = tokenizer.specialTokens.eos;
    return await runRl({
      ...runOptions(options, config, task, run, tokenizer, eos === undefined ? undefined : [eos]),
      engine,
    });
  } finally {
    await engine?.dispose();
    run?.close();
    if (tokenizer instanceof HuggingFaceTokenizer) await tokenizer.close();
  }
}

/** A tokenizer from a hicra checkpoint folder, or a `tokenizer.json` (or its folder). */
async function loadTokenizer(path: string): Promise<TokenizerV1> {
  const at = resolve(path);
  if (existsSync(join(at, 'config.json'))) {
    const tokenizer = await loadCheckpointTokenizer(at);
    if (tokenizer === undefined) {
      throw new ConfigError('tokenizer', `${path}: the model folder has no tokenizer.json`, {
        source: SOURCE,
      });
    }
    return tokenizer;
  }
  return HuggingFaceTokenizer.load(at);
}
