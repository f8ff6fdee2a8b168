import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadCheckpoint, WordTokenizer } from '@hicra/policy';
import { ConfigError, CorruptFileError } from '@hicra/spec';
import { type RlConfigInput, type RunProgress, type RunResult, runRl } from '@hicra/trainer';
import {
  type AppLevel,
  countdownReward,
  countdownSetup,
  levelOfCheckpoint,
  planningClassifier,
} from './countdown-setup.js';
import { strategyByName } from './strategies.js';

export interface TrainOptions {
  /** Base checkpoint folder (from `hicra pretrain`). */
  readonly from: string;
  /** Run directory. */
  readonly out: string;
  readonly strategy: string;
  /** Replaces the strategy's advantage estimator (a registry name of `@hicra/advantage`). */
  readonly estimator?: string;
  readonly seed: number;
  /** Overrides of the RL config (`@hicra/trainer`'s schema); `credit` comes from the strategy. */
  readonly config?: RlConfigInput;
  /** Countdown level; default the level the checkpoint was pretrained on. */
  readonly level?: AppLevel;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: RunProgress) => void;
}

/** The default RL settings of the reference app (small, CPU-sized; a config file overrides them). */
export const DEFAULT_RL_CONFIG: RlConfigInput = {
  steps: 40,
  promptsPerStep: 8,
  samplesPerPrompt: 8,
  sampling: { maxNewTokens: 64, temperature: 1 },
  optimizer: { learningRate: 3e-4, warmupSteps: 2 },
  update: { miniBatchSize: 32, epochs: 1, clipRatioLow: 0.2, clipRatioHigh: 0.28 },
  evaluation: { every: 10, problems: 48, k: 4, temperature: 1 },
  checkpointEvery: 10,
  rolloutsLoggedPerStep: 4,
};

/** RL from a base checkpoint with one strategy and one seed, into a run directory (resumable). */
export async function train(options: TrainOptions): Promise<RunResult> {
  const strategy = strategyByName(options.strategy);
  if (!existsSync(join(options.from, 'config.json'))) {
    throw new CorruptFileError(
      `${options.from}: not a checkpoint folder (no config.json); run \`hicra pretrain\` first`,
      {
        source: '@hicra/reference',
        details: { path: options.from },
      },
    );
  }
  const { policy, tokenizer, metadata } = await loadCheckpoint(options.from);
  try {
    if (!(tokenizer instanceof WordTokenizer)) {
      throw new ConfigError(
        'from',
        `${options.from} has no word tokenizer; the Countdown task needs the one \`hicra pretrain\` saves`,
        {
          source: '@hicra/reference',
        },
      );
    }
    const setup = countdownSetup(options.level ?? levelOfCheckpoint(metadata));
    const overrides = options.config ?? {};
    const config: RlConfigInput = {
      ...DEFAULT_RL_CONFIG,
      ...overrides,
      seed: options.seed,
      // A `credit` in the config file wins; otherwise the strategy's, with --estimator swapped in.
      credit:
        overrides.credit ??
        (options.estimator
          ? { ...strategy.credit, estimator: { name: options.estimator } }
          : strategy.credit),
      update: {
        ...DEFAULT_RL_CONFIG.update,
        ...overrides.update,
        ...(strategy.entropyCoefficient === undefined
          ? {}
          : { entropyCoefficient: strategy.entropyCoefficient }),
      },
    };
    await mkdir(options.out, { recursive: true });
    await writeFile(
      join(options.out, 'run.json'),
      `${JSON.stringify({ strategy: strategy.name, estimator: (config.credit as { estimator: { name: string } }).estimator.name, seed: options.seed, from: options.from, config }, null, 2)}\n`,
    );
    return await runRl({
      runDir: options.out,
      policy,
      tokenizer,
      checkpointTokenizer: tokenizer,
      reward: countdownReward(),
      classifier: planningClassifier(strategy.classifier, options.seed),
      trainProblems: setup.problems('train', 1000 + options.seed, 2000),
      evalProblems: setup.problems('test', 0, 256),
      config,
      metadata: { strategy: strategy.name, seed: String(options.seed) },
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
  } finally {
    policy.dispose();
  }
}
