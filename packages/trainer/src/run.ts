import { existsSync, renameSync } from 'node:fs';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  type CheckpointTokenizer,
  checkModelFits,
  ENGINE_STATE_SCHEMA,
  encodeSafetensors,
  LocalSamplingClient,
  LocalTrainingClient,
  readSafetensorsFile,
  type StateFiles,
  type TransformerPolicy,
} from '@hicra/policy';
import {
  CorruptFileError,
  InvalidArgumentError,
  type MetricRecordV1,
  TRAIN_METRIC_KEYS,
} from '@hicra/spec';
import { parseRlConfig, type RlConfig } from './config.js';
import { JsonlSink, repairJsonl } from './jsonl-sink.js';
import { RlTrainer, type RlTrainerOptions, type TrainerState } from './rl-trainer.js';
import {
  type OpenRun,
  openRunDirectory,
  RUN_FILES,
  readTrainerStateJson,
  repairRunDirectory,
  TRAINER_STATE_SCHEMA,
  TRAINER_STATE_SCHEMA_V1,
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

export interface RunOptions
  extends Omit<RlTrainerOptions, 'sink' | 'rolloutSink' | 'engine' | 'reference'> {
  /** Where metrics, rollouts and the checkpoint go. */
  readonly runDir: string;
  /**
   * The policy to train, in process: `runRl` trains it with the local engine
   * (`LocalTrainingClient` of `@hicra/policy`), whose saved state is the run's checkpoint.
   */
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

/** The `trainer-state.json` of a checkpoint (v2). */
function trainerStateJson(state: TrainerState, config: RlConfig): string {
  return `${JSON.stringify({
    schema: TRAINER_STATE_SCHEMA,
    step: state.step,
    dataOrder: state.dataOrder,
    dataPosition: state.dataPosition,
    generator: state.generator,
    config,
  })}\n`;
}

/** Every parameter's weights of a policy, by name, for a safetensors file. */
function weightsOf(policy: TransformerPolicy) {
  return new Map(
    [...policy.model.parameters()].map(([name, variable]) => [
      name,
      { shape: [...variable.shape], data: variable.dataSync() as Float32Array },
    ]),
  );
}

/**
 * A whole RL run in a directory, on the local engine. The directory is opened first
 * (`openRunDirectory`: locked against other writers, `settings` checked against `run.json`,
 * repaired after a crash), unless `run` is an open one. Then it resumes from its checkpoint
 * when there is one (records written after that checkpoint, or every record without one, are
 * in `*.discarded` by then), trains to `config.steps`, evaluates and checkpoints on schedule,
 * reports progress, and on `signal` stops after the current step with a checkpoint.
 *
 * The checkpoint (`runDir/checkpoint/`) is the engine's saved state (`engine.saveState`: the
 * policy checkpoint, the Adam moments and `engine-state.json`) with the loop's state
 * (`trainer-state.json`), the tokenizer and, with a KL term, the reference weights, all in one
 * atomic folder swap; it loads as a model with `loadCheckpoint`. A checkpoint written before
 * the engine contracts (`hicra.trainer-state.v1`) is converted exactly on resume.
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
  const config = parseRlConfig(options.config);
  // A model whose weights, gradients and Adam moments cannot fit the backend fails here, with
  // a message that says so, before the first step allocates them.
  checkModelFits(options.policy.config, { purpose: 'train', what: 'the policy' });
  const { runDir, policy } = options;
  const metricsPath = join(runDir, RUN_FILES.metrics);
  const rolloutsPath = join(runDir, RUN_FILES.rollouts);
  const checkpointDir = join(runDir, RUN_FILES.checkpoint);
  // With a KL term, the reference is a frozen copy of the policy as given (the initial
  // weights), made before a checkpoint overwrites them; a resumed run restores the copy saved
  // with the checkpoint.
  const referencePolicy = config.update.klCoefficient > 0 ? policy.clone() : undefined;
  let stateFiles: StateFiles = {};
  const engine = new LocalTrainingClient(policy, {
    directory: runDir,
    stateFiles: () => stateFiles,
  });
  let trainer: RlTrainer | undefined;
  const sink = new JsonlSink(metricsPath);
  const rollouts = new JsonlSink(rolloutsPath);
  try {
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
      state = await restoreCheckpoint(runDir, engine, referencePolicy);
      resumedFrom = state.step;
    }
    trainer = await RlTrainer.create({
      ...options,
      engine,
      ...(referencePolicy
        ? { reference: new LocalSamplingClient(referencePolicy, { name: 'kl-reference' }) }
        : {}),
      sink,
      rolloutSink: rollouts,
    });
    if (state) await trainer.setState(state);
    const active = trainer;
    const saveCheckpoint = async () => {
      const current = active.getState();
      stateFiles = {
        ...(options.checkpointTokenizer ? { tokenizer: options.checkpointTokenizer } : {}),
        metadata: { ...(options.metadata ?? {}), step: String(current.step) },
        extraFiles: {
          [RUN_FILES.trainerState]: trainerStateJson(current, active.config),
          ...(referencePolicy
            ? { [RUN_FILES.reference]: encodeSafetensors(weightsOf(referencePolicy)) }
            : {}),
        },
      };
      await engine.saveState(RUN_FILES.checkpoint);
      await options.hooks?.onCheckpoint?.(current.step, checkpointDir);
    };
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
        await saveCheckpoint();
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
        await saveCheckpoint();
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
        if (!saved) await saveCheckpoint();
        return { status: 'interrupted', step, resumedFrom };
      }
    }
    return { status: 'completed', step: trainer.step, resumedFrom };
  } finally {
    sink.close();
    rollouts.close();
    await trainer?.dispose();
    await engine.dispose();
    referencePolicy?.dispose();
  }
}

/** The loop's state saved in `runDir/checkpoint` (either schema); errors name the file. */
export async function readRunState(runDir: string): Promise<TrainerState> {
  const json = readTrainerStateJson(join(runDir, RUN_FILES.checkpoint, RUN_FILES.trainerState));
  return {
    step: json.step,
    dataOrder: json.dataOrder,
    dataPosition: json.dataPosition,
    generator: json.generator as TrainerState['generator'],
  };
}

/**
 * Restores `runDir/checkpoint` into the engine (weights, Adam moments, step count) and the
 * reference policy (with a KL term), and returns the loop's state. A v1 checkpoint (written
 * before the engine contracts: moments by variable position, the step in the trainer state) is
 * converted exactly into the engine's format in a scratch folder first; any other schema is
 * refused with the version that wrote it.
 */
export async function restoreCheckpoint(
  runDir: string,
  engine: LocalTrainingClient,
  referencePolicy: TransformerPolicy | undefined,
): Promise<TrainerState> {
  const checkpointDir = join(runDir, RUN_FILES.checkpoint);
  const json = readTrainerStateJson(join(checkpointDir, RUN_FILES.trainerState));
  if (json.schema === TRAINER_STATE_SCHEMA_V1) {
    const scratch = join(runDir, '.checkpoint-v1-conversion');
    try {
      await convertV1State(checkpointDir, scratch, engine, json.optimizerStep!);
      await engine.loadState(scratch);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  } else {
    await engine.loadState(checkpointDir);
  }
  if (referencePolicy) {
    const path = join(checkpointDir, RUN_FILES.reference);
    if (!existsSync(path)) {
      throw new CorruptFileError(
        `${checkpointDir}: ${RUN_FILES.reference} is missing, but update.klCoefficient > 0 needs the frozen reference policy saved with the checkpoint to resume exactly`,
        { source: SOURCE, details: { path } },
      );
    }
    const saved = await readSafetensorsFile(path);
    const parameters = referencePolicy.model.parameters();
    for (const [name, variable] of parameters) {
      const tensor = saved.tensors.get(name);
      if (
        tensor === undefined ||
        tensor.shape.length !== variable.shape.length ||
        tensor.shape.some((d, i) => d !== variable.shape[i])
      ) {
        throw new CorruptFileError(
          `${path}: parameter ${name} does not match the policy being trained`,
          { source: SOURCE, details: { path, parameter: name } },
        );
      }
    }
    referencePolicy.assignWeights(
      new Map(
        [...parameters.keys()].map((name) => [name, saved.tensors.get(name)!.data as Float32Array]),
      ),
    );
  }
  return readRunState(runDir);
}

/**
 * Writes a v1 checkpoint's state in the local engine's format into `scratch`: the weights and
 * config as they are, the moments renamed from variable positions (`m.3`) to parameter names
 * (`m.layers.0.attn.qkv.weight`) in the policy's variable order, and `engine-state.json` with
 * the optimizer step. Values are copied bit for bit.
 */
async function convertV1State(
  checkpointDir: string,
  scratch: string,
  engine: LocalTrainingClient,
  optimizerStep: number,
): Promise<void> {
  const optimizerPath = join(checkpointDir, RUN_FILES.optimizer);
  const moments = await readSafetensorsFile(optimizerPath);
  const nameOf = new Map(
    [...engine.policy.model.parameters()].map(([name, variable]) => [variable, name]),
  );
  const variables = engine.policy.trainableVariables();
  const converted = new Map<string, { shape: number[]; data: Float32Array }>();
  variables.forEach((variable, i) => {
    const name = nameOf.get(variable)!;
    for (const kind of ['m', 'v'] as const) {
      const tensor = moments.tensors.get(`${kind}.${i}`);
      if (tensor === undefined || tensor.data.length !== variable.size) {
        throw new CorruptFileError(
          `${optimizerPath}: a ${TRAINER_STATE_SCHEMA_V1} checkpoint whose moment ${kind}.${i} ${tensor === undefined ? 'is missing' : `has ${tensor.data.length} values`}; parameter ${name} has ${variable.size}, so this checkpoint cannot be converted exactly`,
          { source: SOURCE, details: { path: optimizerPath, tensor: `${kind}.${i}` } },
        );
      }
      converted.set(`${kind}.${name}`, {
        shape: [...variable.shape],
        data: tensor.data as Float32Array,
      });
    }
  });
  if (moments.tensors.size !== variables.length * 2) {
    throw new CorruptFileError(
      `${optimizerPath}: a ${TRAINER_STATE_SCHEMA_V1} checkpoint with ${moments.tensors.size / 2} moment pairs; the policy has ${variables.length} parameters`,
      { source: SOURCE, details: { path: optimizerPath } },
    );
  }
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  for (const file of ['config.json', 'model.safetensors']) {
    await copyFile(join(checkpointDir, file), join(scratch, file));
  }
  await writeFile(join(scratch, RUN_FILES.optimizer), encodeSafetensors(converted));
  await writeFile(
    join(scratch, RUN_FILES.engineState),
    `${JSON.stringify({ schema: ENGINE_STATE_SCHEMA, step: optimizerStep, modelName: engine.modelName })}\n`,
  );
}
