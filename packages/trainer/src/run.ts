import { existsSync, renameSync } from 'node:fs';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
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
  ConfigError,
  CorruptFileError,
  InvalidArgumentError,
  type MetricRecordV1,
  type SamplingClientV1,
  TRAIN_METRIC_KEYS,
  type TrainingClientV1,
} from '@hicra/spec';
import { parseRlConfig, type RlConfig } from './config.js';
import { JsonlSink, repairJsonl, writeFileAtomicSync } from './jsonl-sink.js';
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
   * Give this or `engine`.
   */
  readonly policy?: TransformerPolicy;
  /**
   * Any other engine (a remote one): `runRl` trains through it, saves its state with
   * `engine.saveState` under a name per step, and keeps the location it returns in the run's
   * `checkpoint/trainer-state.json`. The engine stays the caller's (not disposed). Give this or
   * `policy`.
   */
  readonly engine?: TrainingClientV1;
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
 * The `trainer-state.json` of a checkpoint (v2); with a remote engine it also records where the
 * engine saved its state (`engineState`) and, with KL, the initial weights (`initialEngineState`).
 */
function trainerStateJson(
  state: TrainerState,
  config: RlConfig,
  engine: { readonly engineState?: string; readonly initialEngineState?: string } = {},
): string {
  return `${JSON.stringify({
    schema: TRAINER_STATE_SCHEMA,
    step: state.step,
    dataOrder: state.dataOrder,
    dataPosition: state.dataPosition,
    generator: state.generator,
    ...engine,
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

/**
 * How a run directory keeps an engine's state: the local engine saves it into `checkpoint/`
 * itself (one atomic swap with the loop's state); any other engine saves it where it saves
 * states, and `checkpoint/trainer-state.json` records the location.
 */
interface RunEngine {
  readonly engine: TrainingClientV1;
  /** The KL reference, once `start` or `restore` made it (with a KL term). */
  readonly reference: () => SamplingClientV1 | undefined;
  /** A fresh run: anything to do before the first step (freeze the reference). */
  start(): Promise<void>;
  /** A resumed run: the engine's state (and the reference) restored; the loop's state. */
  restore(): Promise<TrainerState>;
  save(state: TrainerState, config: RlConfig): Promise<void>;
  close(): Promise<void>;
}

async function runInOpenDirectory(options: RunOptions, run: OpenRun): Promise<RunResult> {
  const config = parseRlConfig(options.config);
  const { runDir } = options;
  if ((options.policy === undefined) === (options.engine === undefined)) {
    throw new InvalidArgumentError(
      'runRl: give either policy (trained in process by the local engine) or engine, not both and not neither',
      { source: SOURCE, details: { argument: options.policy ? 'engine' : 'policy' } },
    );
  }
  const setup = options.policy
    ? localRunEngine(options, options.policy, config)
    : remoteRunEngine(options, options.engine!, config);
  const metricsPath = join(runDir, RUN_FILES.metrics);
  const rolloutsPath = join(runDir, RUN_FILES.rollouts);
  const checkpointDir = join(runDir, RUN_FILES.checkpoint);
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
    }
    if (checkpointStep !== undefined && (options.resume ?? true)) {
      state = await setup.restore();
      resumedFrom = state.step;
    } else {
      await setup.start();
    }
    const reference = setup.reference();
    trainer = await RlTrainer.create({
      ...options,
      engine: setup.engine,
      ...(reference ? { reference } : {}),
      sink,
      rolloutSink: rollouts,
    });
    if (state) await trainer.setState(state);
    const active = trainer;
    const saveCheckpoint = async () => {
      const current = active.getState();
      await setup.save(current, active.config);
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
    await setup.close();
  }
}

/**
 * The local engine over `policy`: the checkpoint is the engine's saved state in `checkpoint/`
 * with the loop's state, the tokenizer and the KL reference's weights in the same swap.
 */
function localRunEngine(
  options: RunOptions,
  policy: TransformerPolicy,
  config: RlConfig,
): RunEngine {
  // A model whose weights, gradients and Adam moments cannot fit the backend fails here, with
  // a message that says so, before the first step allocates them.
  checkModelFits(policy.config, { purpose: 'train', what: 'the policy' });
  // With a KL term, the reference is a frozen copy of the policy as given (the initial
  // weights), made before a checkpoint overwrites them; a resumed run restores the copy saved
  // with the checkpoint.
  const referencePolicy = config.update.klCoefficient > 0 ? policy.clone() : undefined;
  const reference = referencePolicy
    ? new LocalSamplingClient(referencePolicy, { name: 'kl-reference' })
    : undefined;
  let stateFiles: StateFiles = {};
  const engine = new LocalTrainingClient(policy, {
    directory: options.runDir,
    stateFiles: () => stateFiles,
  });
  return {
    engine,
    reference: () => reference,
    start: async () => undefined,
    restore: () => restoreCheckpoint(options.runDir, engine, referencePolicy),
    async save(state, runConfig) {
      stateFiles = {
        ...(options.checkpointTokenizer ? { tokenizer: options.checkpointTokenizer } : {}),
        metadata: { ...(options.metadata ?? {}), step: String(state.step) },
        extraFiles: {
          [RUN_FILES.trainerState]: trainerStateJson(state, runConfig),
          ...(referencePolicy
            ? { [RUN_FILES.reference]: encodeSafetensors(weightsOf(referencePolicy)) }
            : {}),
        },
      };
      await engine.saveState(RUN_FILES.checkpoint);
    },
    async close() {
      await engine.dispose();
      referencePolicy?.dispose();
    },
  };
}

/**
 * Any other engine: its state is saved with `engine.saveState('<run>-step-<n>')` (a name per
 * step, so the state a checkpoint names is never overwritten), and `checkpoint/trainer-state.json`
 * (written atomically after it) records the location. With a KL term the initial weights are
 * saved once (`<run>-initial`) and the reference is a sampler on them, remade on resume by
 * loading them, freezing a sampler and loading the checkpoint's state again.
 */
function remoteRunEngine(
  options: RunOptions,
  engine: TrainingClientV1,
  config: RlConfig,
): RunEngine {
  const prefix = `run-${basename(resolve(options.runDir)).replace(/[^A-Za-z0-9._-]/g, '-')}`;
  const withKl = config.update.klCoefficient > 0;
  let reference: SamplingClientV1 | undefined;
  let initialState: string | undefined;
  return {
    engine,
    reference: () => reference,
    async start() {
      if (!withKl) return;
      initialState = await engine.saveState(`${prefix}-initial`);
      reference = await engine.saveWeightsForSampler(`${prefix}-kl-reference`);
    },
    async restore() {
      const path = join(options.runDir, RUN_FILES.checkpoint, RUN_FILES.trainerState);
      const json = readTrainerStateJson(path);
      if (json.engineState === undefined) {
        throw new ConfigError(
          'engine',
          `${path} was written by a run on the local engine (its weights are in the checkpoint folder); resume it in process, with policy`,
          { source: SOURCE, details: { path } },
        );
      }
      if (withKl) {
        if (json.initialEngineState === undefined) {
          throw new CorruptFileError(
            `${path} has no initialEngineState, but update.klCoefficient > 0 needs the initial weights to resume the KL reference exactly`,
            { source: SOURCE, details: { path } },
          );
        }
        initialState = json.initialEngineState;
        await engine.loadState(initialState);
        reference = await engine.saveWeightsForSampler(`${prefix}-kl-reference`);
      }
      await engine.loadState(json.engineState);
      return trainerStateOf(json);
    },
    async save(state, runConfig) {
      const location = await engine.saveState(`${prefix}-step-${state.step}`);
      const checkpointDir = join(options.runDir, RUN_FILES.checkpoint);
      await mkdir(checkpointDir, { recursive: true });
      writeFileAtomicSync(
        join(checkpointDir, RUN_FILES.trainerState),
        trainerStateJson(state, runConfig, {
          engineState: location,
          ...(initialState ? { initialEngineState: initialState } : {}),
        }),
      );
    },
    async close() {
      await reference?.dispose?.();
    },
  };
}

/** The loop's state saved in `runDir/checkpoint` (either schema); errors name the file. */
export async function readRunState(runDir: string): Promise<TrainerState> {
  return trainerStateOf(
    readTrainerStateJson(join(runDir, RUN_FILES.checkpoint, RUN_FILES.trainerState)),
  );
}

function trainerStateOf(json: ReturnType<typeof readTrainerStateJson>): TrainerState {
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
  const path = join(checkpointDir, RUN_FILES.trainerState);
  const json = readTrainerStateJson(path);
  if (json.engineState !== undefined) {
    throw new ConfigError(
      'policy',
      `${path} was written by a run on another engine (its state is at ${json.engineState}); resume it with that engine`,
      { source: SOURCE, details: { path } },
    );
  }
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
