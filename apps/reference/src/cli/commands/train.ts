import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { CreditRegistry } from '@hicra/advantage';
import type { PlanningClassifierRegistry } from '@hicra/planning';
import {
  ConfigError,
  HicraError,
  InvalidValueError,
  type PluginConfigV1,
  UnknownNameError,
} from '@hicra/spec';
import type { RewardRegistry } from '@hicra/tasks';
import type { AppLevel } from '../../countdown-setup.js';
import { PluginError, type PluginRegistries, registryWithPlugins } from '../../plugins.js';
import { resolveTrainConfig, train } from '../../train.js';
import {
  type CommandContext,
  defineCommand,
  readJsonObjectFile,
  requireCheckpointFolder,
} from '../command.js';
import { EXIT, InputError, UsageError } from '../errors.js';
import { nearest, OPTIONS } from '../options.js';
import { formatProgress, progress } from '../output.js';
import { interruptOnSignals, onForcedExit } from '../signals.js';

/**
 * The registries a command builds its plug-ins from: the built-ins plus `--plugin` files.
 * A missing file is an input error (exit 1); a file that is not a plug-in, a usage error (2).
 */
export async function pluginRegistry(
  files: readonly string[] | undefined,
): Promise<PluginRegistries & { plugins: string[] }> {
  try {
    const { registry, classifiers, rewards, loaded } = await registryWithPlugins(files ?? []);
    return { registry, classifiers, rewards, plugins: loaded.map((p) => p.file) };
  } catch (error) {
    if (error instanceof PluginError)
      throw error.missing ? new InputError(error.message) : new UsageError(error.message);
    throw error;
  }
}

/** The errors a registry or schema raises for a bad setting (not for a failure of the work). */
export function isSettingsError(error: unknown): error is HicraError {
  return (
    ConfigError.isInstance(error) ||
    UnknownNameError.isInstance(error) ||
    InvalidValueError.isInstance(error)
  );
}

/** The `engine` section of a `--config` file: `--engine tinker`'s settings, flags win. */
export interface EngineSection {
  readonly kind: 'local' | 'tinker';
  readonly baseUrl?: string;
  readonly model?: string;
  /** Resolved against the config file's folder. */
  readonly tokenizer?: string;
}

const ENGINE_SECTION_KEYS = ['kind', 'baseUrl', 'model', 'tokenizer'] as const;
const ENGINE_KEY_OF = { 'base-url': 'baseUrl', model: 'model', tokenizer: 'tokenizer' } as const;

/**
 * Reads a config file's `engine` section ({ kind, baseUrl, model, tokenizer }); errors name the
 * file and the key. An API key has no place in a file: `--api-key` or `TINKER_API_KEY`.
 */
function engineSection(value: unknown, configPath: string): EngineSection {
  const where = `--config ${configPath}: engine`;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new UsageError(`${where} must be an object like {"kind": "tinker", "baseUrl": ...}`);
  const section = value as Record<string, unknown>;
  for (const key of Object.keys(section)) {
    if (key === 'apiKey')
      throw new UsageError(
        `${where}.apiKey: keep API keys out of config files; give --api-key or set TINKER_API_KEY`,
      );
    if (!(ENGINE_SECTION_KEYS as readonly string[]).includes(key))
      throw new UsageError(
        `${where}: unknown key ${JSON.stringify(key)} (known: ${ENGINE_SECTION_KEYS.join(', ')})`,
      );
  }
  const kind = section.kind ?? 'local';
  if (kind !== 'local' && kind !== 'tinker')
    throw new UsageError(`${where}.kind must be "local" or "tinker", got ${JSON.stringify(kind)}`);
  const out: { -readonly [K in keyof EngineSection]: EngineSection[K] } = { kind };
  for (const key of ['baseUrl', 'model', 'tokenizer'] as const) {
    const given = section[key];
    if (given === undefined) continue;
    if (typeof given !== 'string' || given === '')
      throw new UsageError(
        `${where}.${key} must be a non-empty string, got ${JSON.stringify(given)}`,
      );
    out[key] = given;
  }
  // The same check (and trailing-slash trim) as the --base-url flag's.
  if (out.baseUrl !== undefined)
    out.baseUrl = OPTIONS['base-url'].parse(out.baseUrl, `${where}.baseUrl`);
  if (out.tokenizer !== undefined) out.tokenizer = resolve(dirname(configPath), out.tokenizer);
  return out;
}

/**
 * A config file's `classifier` or `reward` section: a plug-in config `{ name, ...settings }`
 * (or a bare name), built once here so that an unknown name or a bad setting fails before any
 * work, naming the file and the key.
 */
function pluginSection(
  value: unknown,
  key: 'classifier' | 'reward',
  configPath: string,
  build: (config: PluginConfigV1) => unknown,
): PluginConfigV1 {
  const where = `--config ${configPath}: ${key}`;
  const config = typeof value === 'string' ? { name: value } : value;
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw new UsageError(
      `${where} must be a name or an object like {"name": "${key === 'classifier' ? 'strategic-grams' : 'math-correctness'}", ...settings}`,
    );
  try {
    build(config as PluginConfigV1);
  } catch (error) {
    if (isSettingsError(error) || HicraError.isInstance(error)) {
      const path =
        ConfigError.isInstance(error) && (error as ConfigError).path
          ? `.${(error as ConfigError).path}`
          : '';
      throw new UsageError(
        `${where}${path}: ${error.message.replace(/^@hicra\/[\w-]+: (config( key [^:]*)?: )?/, '')}`,
      );
    }
    throw error;
  }
  return config as PluginConfigV1;
}

/**
 * Checks `--estimator` and the config file before any work, as `hicra train` and
 * `hicra compare` both do: errors name the flag, the file and the key, and exit 2. Returns the
 * RL overrides of the file and, apart, its `engine`, `classifier` and `reward` sections.
 */
export function checkTrainSettings(settings: {
  strategy: string;
  estimator?: string | undefined;
  seed: number;
  configPath?: string | undefined;
  registry: CreditRegistry;
  classifiers?: PlanningClassifierRegistry;
  rewards?: RewardRegistry;
}): {
  config: Record<string, unknown> | undefined;
  engine: EngineSection | undefined;
  classifier: PluginConfigV1 | undefined;
  reward: PluginConfigV1 | undefined;
} {
  const estimatorNames = [...settings.registry.estimatorNames()];
  if (settings.estimator !== undefined && !estimatorNames.includes(settings.estimator)) {
    const near = nearest(settings.estimator, estimatorNames);
    throw new UsageError(
      `unknown estimator ${JSON.stringify(settings.estimator)} for --estimator${near ? `; did you mean ${JSON.stringify(near)}?` : ''} (known: ${estimatorNames.join(', ')})`,
    );
  }
  let config: Record<string, unknown> | undefined;
  let engine: EngineSection | undefined;
  let classifier: PluginConfigV1 | undefined;
  let reward: PluginConfigV1 | undefined;
  if (settings.configPath !== undefined) {
    const {
      engine: section,
      classifier: classifierSection,
      reward: rewardSection,
      ...rest
    } = readJsonObjectFile(settings.configPath, '--config');
    config = rest;
    if (section !== undefined) engine = engineSection(section, settings.configPath);
    if (classifierSection !== undefined) {
      const classifiers = settings.classifiers;
      classifier = pluginSection(classifierSection, 'classifier', settings.configPath, (c) =>
        classifiers === undefined
          ? undefined
          : classifiers.create(c as { name: string; [k: string]: unknown }),
      );
    }
    if (rewardSection !== undefined) {
      const rewards = settings.rewards;
      reward = pluginSection(rewardSection, 'reward', settings.configPath, (c) =>
        rewards === undefined ? undefined : rewards.create(c as { name: string }),
      );
    }
  }
  try {
    const resolved = resolveTrainConfig({
      strategy: settings.strategy,
      seed: settings.seed,
      ...(settings.estimator === undefined ? {} : { estimator: settings.estimator }),
      ...(config === undefined ? {} : { config }),
    });
    // Builds the credit pipeline once: unknown estimator or assigner names and bad settings
    // in a config file's "credit" are found here, not at the first step.
    settings.registry.pipeline(resolved.credit);
  } catch (error) {
    if (isSettingsError(error)) {
      const where = settings.configPath === undefined ? '' : `--config ${settings.configPath}: `;
      throw new UsageError(`${where}${error.message}`);
    }
    throw error;
  }
  return { config, engine, classifier, reward };
}

export const trainCommand = defineCommand({
  spec: {
    command: 'train',
    options: [
      'from',
      'out',
      'strategy',
      'estimator',
      'seed',
      'steps',
      'config',
      'level',
      'dataset',
      'eval-dataset',
      'plugin',
      'engine',
      'base-url',
      'model',
      'tokenizer',
      'api-key',
    ],
    required: ['out', 'strategy'],
  },
  summary: 'RL from a checkpoint with one strategy and seed -> a run directory (resumable)',
  usage:
    'hicra train (--from CHECKPOINT | --engine tinker --base-url URL --model NAME --tokenizer PATH [--api-key KEY]) --out RUN_DIR --strategy NAME [--estimator NAME] [--seed N] [--steps N] [--config FILE.json] [--plugin FILE.js ...] [--level 0-4 | --dataset FILE.parquet [--eval-dataset FILE.parquet]]',
  description:
    "RL with one strategy. --estimator swaps its advantage estimator; the config file's keys\n" +
    'merge into the app\'s RL defaults (@hicra/trainer\'s schema), and a "credit" pipeline in it\n' +
    "replaces the strategy's. Rerun the same command to resume; a rerun with other settings\n" +
    '(strategy, estimator, seed, base, level, config; --steps may change) is refused.\n' +
    '--engine tinker trains through a Tinker-protocol server (`hicra serve`, verl_tinker) at\n' +
    '--base-url: the loop, rewards, credit and metrics run here, forward/backward, the optimizer\n' +
    "and sampling there; --tokenizer is the model's tokenizer, local (tokenizer.json, its folder\n" +
    'or a checkpoint folder). The config file may hold these as "engine": {"kind": "tinker",\n' +
    '"baseUrl", "model", "tokenizer"} (the path relative to the file); flags win.\n' +
    "--dataset trains on a math dataset in verl's Parquet layout instead of Countdown: prompts\n" +
    "are the model's chat template over each row's messages (the last user message without\n" +
    'one), rewards the math verifier against reward_model.ground_truth (\\boxed{}, Answer:,\n' +
    '#### lines); --eval-dataset, or the last rows held out, for the evaluations.\n' +
    'The config file\'s "classifier" and "reward" ({"name": ..., ...settings}) replace the\n' +
    "strategy's planning classifier and the task's reward (evaluations use that reward too).\n" +
    '--plugin FILE.js (repeatable) adds the plug-ins a module exports (estimators, assigners,\n' +
    'classifiers, rewards): name them in --estimator or the config\'s "credit", "classifier"\n' +
    'and "reward".',
  examples: [
    'hicra train --from runs/base --out runs/hicra-0 --strategy hicra --seed 0 --steps 40',
    'hicra train --from runs/base --out runs/grpo-0 --strategy grpo --seed 0 --config rl.json',
    'hicra train --engine tinker --base-url http://127.0.0.1:8000 --model base --tokenizer runs/base --out runs/remote-0 --strategy hicra --steps 10',
    'hicra train --from ./my-qwen --dataset gsm8k/train.parquet --eval-dataset gsm8k/test.parquet --out runs/gsm8k-0 --strategy hicra',
    'hicra train --from runs/base --out runs/damped-0 --strategy hicra --plugin ./my-strategy.js --config damped.json',
  ],
  usesBackend: true,
  async run({ values }, context: CommandContext) {
    const { output } = context;
    const seed = values.seed ?? 0;
    if (values.dataset !== undefined && values.level !== undefined)
      throw new UsageError('--level is the Countdown level; it does not go with --dataset');
    if (values['eval-dataset'] !== undefined && values.dataset === undefined)
      throw new UsageError('--eval-dataset goes with --dataset');
    for (const flag of ['dataset', 'eval-dataset'] as const) {
      const path = values[flag];
      if (path !== undefined && (!existsSync(path) || statSync(path).isDirectory()))
        throw new InputError(`--${flag} ${path}: no such file (a Parquet file in verl's layout)`);
    }
    const { registry, classifiers, rewards, plugins } = await pluginRegistry(values.plugin);
    const {
      config,
      engine: fromFile,
      classifier,
      reward,
    } = checkTrainSettings({
      strategy: values.strategy!,
      estimator: values.estimator,
      seed,
      configPath: values.config,
      registry,
      classifiers,
      rewards,
    });
    // The engine's settings: flags, else the config file's `engine` section.
    const engineSettings = {
      'base-url': values['base-url'] ?? fromFile?.baseUrl,
      model: values.model ?? fromFile?.model,
      tokenizer: values.tokenizer ?? fromFile?.tokenizer,
    };
    const remote = (values.engine ?? fromFile?.kind) === 'tinker';
    if (remote) {
      for (const flag of ['base-url', 'model', 'tokenizer'] as const) {
        if (engineSettings[flag] === undefined)
          throw new UsageError(
            `--engine tinker needs --${flag} (or ${ENGINE_KEY_OF[flag]} in the config file's "engine")`,
          );
      }
      if (values.from !== undefined)
        throw new UsageError(
          '--from is the base checkpoint of a local run; with --engine tinker the server holds the model',
        );
    } else {
      for (const flag of ['base-url', 'model', 'tokenizer', 'api-key'] as const) {
        if (values[flag] !== undefined) throw new UsageError(`--${flag} goes with --engine tinker`);
      }
      for (const key of ['baseUrl', 'model', 'tokenizer'] as const) {
        if (fromFile?.[key] !== undefined)
          throw new UsageError(
            `--config ${values.config}: engine.${key} goes with engine.kind "tinker" (this run trains locally)`,
          );
      }
      if (values.from === undefined) throw new UsageError('missing --from (the base checkpoint)');
      requireCheckpointFolder(values.from, '--from');
    }
    const interrupt = interruptOnSignals(() =>
      progress(
        output,
        'interrupted: finishing the current step and saving a checkpoint (Ctrl-C again to quit at once)',
      ),
    );
    let forget: (() => void) | undefined;
    try {
      const label = `${values.strategy} seed ${seed}`;
      const result = await train({
        ...(remote
          ? {
              engine: {
                kind: 'tinker' as const,
                baseUrl: engineSettings['base-url']!,
                model: engineSettings.model!,
                tokenizer: resolve(engineSettings.tokenizer!),
                ...(values['api-key'] === undefined ? {} : { apiKey: values['api-key'] }),
              },
            }
          : { from: resolve(values.from!) }),
        out: resolve(values.out!),
        strategy: values.strategy!,
        registry,
        classifiers,
        rewards,
        ...(classifier === undefined ? {} : { classifier }),
        ...(reward === undefined ? {} : { reward }),
        ...(plugins.length === 0 ? {} : { plugins }),
        ...(values.estimator ? { estimator: values.estimator } : {}),
        seed,
        config: { ...config, ...(values.steps === undefined ? {} : { steps: values.steps }) },
        ...(values.level === undefined ? {} : { level: values.level as AppLevel }),
        ...(values.dataset === undefined ? {} : { dataset: resolve(values.dataset) }),
        ...(values['eval-dataset'] === undefined
          ? {}
          : { evalDataset: resolve(values['eval-dataset']) }),
        signal: interrupt.signal,
        onRunOpened: (run) => {
          forget = onForcedExit(() => run.close());
          if (run.resumed) progress(output, `resuming the run in ${run.runDir}`);
          if (run.lock.tookOverStaleLock) {
            const stale = run.lock.tookOverStaleLock;
            progress(output, `took over a stale lock of process ${stale.pid} (${stale.command})`);
          }
        },
        onProgress: (p) => progress(output, formatProgress(label, p)),
        onWarning: (warning) => progress(output, `warning (${warning.code}): ${warning.message}`),
      });
      if (result.status === 'interrupted') context.setExitCode(EXIT.interrupted);
      return { ...result, runDir: resolve(values.out!) };
    } finally {
      forget?.();
      interrupt.dispose();
    }
  },
});
