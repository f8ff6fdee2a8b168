import { existsSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  type CheckpointTokenizer,
  checkModelFits,
  encodeSafetensors,
  loadCheckpoint,
  readSafetensorsFile,
  saveCheckpoint,
  TransformerPolicy,
} from '@hicra/policy';
import {
  CorruptFileError,
  InvalidArgumentError,
  type MetricRecordV1,
  TRAIN_METRIC_KEYS,
} from '@hicra/spec';
import { tf, type Variable } from '@hicra/tensor';
import { parseRlConfig } from './config.js';
import { JsonlSink, repairJsonl } from './jsonl-sink.js';
import { RlTrainer, type RlTrainerOptions, type TrainerState } from './rl-trainer.js';
import {
  type OpenRun,
  openRunDirectory,
  RUN_FILES,
  readTrainerStateJson,
  repairRunDirectory,
  TRAINER_STATE_SCHEMA,
} from './run-directory.js';

export { RUN_FILES, TRAINER_STATE_SCHEMA };

const SOURCE = '@hicra/trainer';

export interface RunProgress {
  readonly step: number;
  readonly steps: number;
  readonly tokensPerSecond: number;
  readonly etaSeconds: number;
  readonly accuracy: number | undefined;
  readonly evalAccuracy: number | undefined;
}

export interface RunOptions extends Omit<RlTrainerOptions, 'sink' | 'rolloutSink' | 'policy'> {
  /** Where metrics, rollouts and the checkpoint go. */
  readonly runDir: string;
  readonly policy: TransformerPolicy;
  /** The tokenizer saved with each checkpoint. */
  readonly checkpointTokenizer?: CheckpointTokenizer;
  /**
   * Resume from `runDir/checkpoint` when it exists. Default true. With `false` the run starts
   * over: an existing checkpoint moves to `checkpoint.discarded-<stamp>` and every record to
   * `*.discarded` (nothing is deleted).
   */
  readonly resume?: boolean;
  /** Stop cleanly after the current step (a checkpoint is saved): e.g. aborted on SIGINT. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: RunProgress) => void;
  /** Free-form strings stored in the checkpoint. */
  readonly metadata?: Readonly<Record<string, string>>;
  /**
   * The run directory, already opened (locked, checked, repaired) by `openRunDirectory`: runRl
   * uses it and leaves closing it to the caller. Without it, runRl opens `runDir` itself (with
   * `settings` and `ignoreSettings`) and closes it when it returns or throws.
   */
  readonly run?: OpenRun;
  /** The run's identifying settings, checked against `run.json` (see `openRunDirectory`). */
  readonly settings?: Readonly<Record<string, unknown>>;
  /** Keys of `settings` that may differ from `run.json` on resume, e.g. `config.steps`. */
  readonly ignoreSettings?: readonly string[];
}

export interface RunResult {
  readonly status: 'completed' | 'interrupted';
  readonly step: number;
  readonly resumedFrom: number | undefined;
}

/**
 * Saves the policy and the trainer's state to `runDir/checkpoint` in one atomic swap. With a KL
 * term whose reference is a `TransformerPolicy` (the frozen copy `runRl` makes), its weights go
 * to `reference.safetensors` so a resumed run measures KL against the same reference.
 */
export async function saveRunCheckpoint(
  runDir: string,
  policy: TransformerPolicy,
  trainer: RlTrainer,
  tokenizer: CheckpointTokenizer | undefined,
  metadata: Readonly<Record<string, string>> = {},
): Promise<void> {
  const state = await trainer.getState();
  const moments = new Map<string, { shape: number[]; data: Float32Array }>();
  state.optimizer.moments.forEach(({ m, v }, i) => {
    moments.set(`m.${i}`, { shape: [m.length], data: m });
    moments.set(`v.${i}`, { shape: [v.length], data: v });
  });
  const json = {
    schema: TRAINER_STATE_SCHEMA,
    step: state.step,
    dataOrder: state.dataOrder,
    dataPosition: state.dataPosition,
    generator: state.generator,
    optimizerStep: state.optimizer.step,
    config: trainer.config,
  };
  const reference = trainer.referencePolicy;
  const referenceWeights =
    trainer.config.update.klCoefficient > 0 && reference instanceof TransformerPolicy
      ? new Map(
          [...reference.model.parameters()].map(([name, variable]) => [
            name,
            { shape: variable.shape, data: variable.dataSync() as Float32Array },
          ]),
        )
      : undefined;
  await saveCheckpoint(join(runDir, RUN_FILES.checkpoint), policy, {
    ...(tokenizer ? { tokenizer } : {}),
    metadata: { ...metadata, step: String(state.step) },
    extraFiles: {
      [RUN_FILES.trainerState]: `${JSON.stringify(json)}\n`,
      [RUN_FILES.optimizer]: encodeSafetensors(moments),
      ...(referenceWeights ? { [RUN_FILES.reference]: encodeSafetensors(referenceWeights) } : {}),
    },
  });
}

/** Reads the trainer state saved by `saveRunCheckpoint`; errors name the file. */
export async function readRunState(runDir: string): Promise<TrainerState> {
  const folder = join(runDir, RUN_FILES.checkpoint);
  const json = readTrainerStateJson(join(folder, RUN_FILES.trainerState));
  const moments = await readSafetensorsFile(join(folder, RUN_FILES.optimizer));
  const pairs: { m: Float32Array; v: Float32Array }[] = [];
  for (let i = 0; moments.tensors.has(`m.${i}`); i++) {
    pairs.push({
      m: moments.tensors.get(`m.${i}`)!.data as Float32Array,
      v: moments.tensors.get(`v.${i}`)!.data as Float32Array,
    });
  }
  return {
    step: json.step,
    dataOrder: json.dataOrder,
    dataPosition: json.dataPosition,
    generator: json.generator as TrainerState['generator'],
    optimizer: { step: json.optimizerStep, moments: pairs },
  };
}

/**
 * A whole RL run in a directory. The directory is opened first (`openRunDirectory`: locked
 * against other writers, `settings` checked against `run.json`, repaired after a crash), unless
 * `run` is an open one. Then it resumes from its checkpoint when there is one (records written
 * after that checkpoint, or every record without one, are in `*.discarded` by then), trains to
 * `config.steps`, evaluates and checkpoints on schedule, reports progress, and on `signal`
 * stops after the current step with a checkpoint. Metrics and rollouts are JSON Lines in the
 * run directory.
 */
export async function runRl(options: RunOptions): Promise<RunResult> {
  const { runDir } = options;
  if (options.run && resolve(options.run.runDir) !== resolve(runDir)) {
    throw new InvalidArgumentError(
      `runRl: run is open on ${options.run.runDir} but runDir is ${runDir}`,
      { source: SOURCE, details: { argument: 'run' } },
    );
  }
  const run =
    options.run ??
    (await openRunDirectory(runDir, {
      ...(options.settings ? { settings: options.settings } : {}),
      ...(options.ignoreSettings ? { ignore: options.ignoreSettings } : {}),
    }));
  try {
    return await runInOpenDirectory(options, run);
  } finally {
    if (!options.run) run.close();
  }
}

async function runInOpenDirectory(options: RunOptions, run: OpenRun): Promise<RunResult> {
  // With a KL term and no reference given, the reference is a frozen copy of the policy as
  // given (the initial weights), made before a checkpoint overwrites them; a resumed run then
  // restores the copy saved with the checkpoint.
  const config = parseRlConfig(options.config);
  // A model whose weights, gradients and Adam moments cannot fit the backend fails here, with
  // a message that says so, before the first step allocates them.
  checkModelFits(options.policy.config, { purpose: 'train', what: 'the policy' });
  const reference =
    config.update.klCoefficient > 0 && options.referencePolicy === undefined
      ? options.policy.clone()
      : undefined;
  try {
    return await runWithReference(options, run, reference);
  } finally {
    reference?.dispose();
  }
}

/** Assigns saved tensors (by parameter name) to a policy's variables; errors name the file. */
function assignParameters(
  target: ReadonlyMap<string, Variable>,
  source: (name: string) => { shape: readonly number[]; data: Float32Array } | undefined,
  where: string,
): void {
  for (const [name, variable] of target) {
    const saved = source(name);
    if (saved === undefined || !tf.util.arraysEqual([...saved.shape], variable.shape)) {
      throw new CorruptFileError(
        `${where}: parameter ${name} does not match the policy being trained`,
        {
          source: SOURCE,
        },
      );
    }
    tf.tidy(() => variable.assign(tf.tensor(saved.data, variable.shape, 'float32')));
  }
}

async function runWithReference(
  options: RunOptions,
  run: OpenRun,
  reference: TransformerPolicy | undefined,
): Promise<RunResult> {
  const { runDir, policy } = options;
  const metricsPath = join(runDir, RUN_FILES.metrics);
  const rolloutsPath = join(runDir, RUN_FILES.rollouts);
  const checkpointDir = join(runDir, RUN_FILES.checkpoint);
  let resumedFrom: number | undefined;
  let state: TrainerState | undefined;
  // An open run may have been used by an earlier runRl since it was opened: repair again (a
  // no-op on a consistent directory) so the checkpoint step is current.
  const { checkpointStep } = options.run ? await repairRunDirectory(runDir) : run.repair;
  if (checkpointStep !== undefined && !(options.resume ?? true)) {
    // A fresh start in a directory with a checkpoint: set the old run aside, delete nothing.
    renameSync(checkpointDir, `${checkpointDir}.discarded-${Date.now().toString(36)}`);
    repairJsonl(metricsPath, { keepThroughStep: -1 });
    repairJsonl(rolloutsPath, { keepThroughStep: -1 });
  } else if (checkpointStep !== undefined) {
    state = await readRunState(runDir);
    const loaded = await loadCheckpoint(checkpointDir);
    try {
      const source = loaded.policy.model.parameters();
      for (const [name, variable] of policy.model.parameters()) {
        const saved = source.get(name);
        if (saved === undefined || !tf.util.arraysEqual(saved.shape, variable.shape)) {
          throw new CorruptFileError(
            `${checkpointDir}: parameter ${name} does not match the policy being trained`,
            { source: SOURCE },
          );
        }
        variable.assign(saved);
      }
    } finally {
      loaded.policy.dispose();
    }
    if (reference) {
      const path = join(checkpointDir, RUN_FILES.reference);
      if (!existsSync(path)) {
        throw new CorruptFileError(
          `${checkpointDir}: ${RUN_FILES.reference} is missing, but update.klCoefficient > 0 needs the frozen reference policy saved with the checkpoint to resume exactly`,
          { source: SOURCE, details: { path } },
        );
      }
      const saved = await readSafetensorsFile(path);
      assignParameters(
        reference.model.parameters(),
        (name) => {
          const tensor = saved.tensors.get(name);
          return tensor && { shape: tensor.shape, data: tensor.data as Float32Array };
        },
        path,
      );
    }
    resumedFrom = state.step;
  }
  const sink = new JsonlSink(metricsPath);
  const rollouts = new JsonlSink(rolloutsPath);
  const trainer = new RlTrainer({
    ...options,
    ...(reference ? { referencePolicy: reference } : {}),
    sink,
    rolloutSink: rollouts,
  });
  try {
    if (state) trainer.setState(state);
    const { config } = trainer;
    let evalAccuracy: number | undefined;
    const started = performance.now();
    const startStep = trainer.step;
    if (startStep === 0 && config.evaluation.every > 0)
      evalAccuracy = (await trainer.evaluate())['eval/mean_at_k'] as number | undefined;
    while (trainer.step < config.steps) {
      // Yield to the event loop between steps: a step can run on microtasks alone, and a
      // SIGINT handler (installed by the application) only runs when the loop gets a turn.
      await new Promise((resolveTurn) => setImmediate(resolveTurn));
      if (options.signal?.aborted && trainer.step > startStep) {
        await saveRunCheckpoint(
          runDir,
          policy,
          trainer,
          options.checkpointTokenizer,
          options.metadata,
        );
        await options.hooks?.onCheckpoint?.(trainer.step, checkpointDir);
        return { status: 'interrupted', step: trainer.step, resumedFrom };
      }
      const record: MetricRecordV1 = await trainer.trainStep();
      const step = trainer.step;
      if (
        config.evaluation.every > 0 &&
        (step % config.evaluation.every === 0 || step === config.steps)
      ) {
        evalAccuracy = (await trainer.evaluate())['eval/mean_at_k'] as number | undefined;
      }
      sink.flush();
      let saved = false;
      if (
        step === config.steps ||
        (config.checkpointEvery > 0 && step % config.checkpointEvery === 0)
      ) {
        await saveRunCheckpoint(
          runDir,
          policy,
          trainer,
          options.checkpointTokenizer,
          options.metadata,
        );
        saved = true;
      }
      const elapsed = (performance.now() - started) / 1000;
      const done = step - startStep;
      options.onProgress?.({
        step,
        steps: config.steps,
        tokensPerSecond: (record[TRAIN_METRIC_KEYS.tokensPerSecond] as number) ?? 0,
        etaSeconds: done > 0 ? (elapsed / done) * (config.steps - step) : Number.NaN,
        accuracy: record[TRAIN_METRIC_KEYS.accuracy] as number | undefined,
        evalAccuracy,
      });
      // Interrupted (e.g. Ctrl-C) during or right after this step: checkpoint it and stop.
      if (options.signal?.aborted && step < config.steps) {
        if (!saved)
          await saveRunCheckpoint(
            runDir,
            policy,
            trainer,
            options.checkpointTokenizer,
            options.metadata,
          );
        return { status: 'interrupted', step, resumedFrom };
      }
    }
    return { status: 'completed', step: trainer.step, resumedFrom };
  } finally {
    sink.close();
    rollouts.close();
    trainer.dispose();
  }
}
