import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  encodeSafetensors,
  LocalTrainingClient,
  readSafetensorsFile,
  TransformerPolicy,
} from '@hicra/policy';
import {
  CorruptFileError,
  InvalidArgumentError,
  RunLockedError,
  RunMismatchError,
} from '@hicra/spec';
import { expectHicraRejection } from '@hicra/spec/testing';
import { afterAll, describe, expect, it } from 'vitest';
import {
  openRunDirectory,
  RUN_FILES,
  type RunOptions,
  readJsonl,
  readRunState,
  runRl,
} from '../src/index.js';
import {
  localEngine,
  toyClassifier,
  toyModelConfig,
  toyProblems,
  toyReward,
  toyTokenizer,
} from './toy-task.js';

const root = mkdtempSync(join(tmpdir(), 'hicra-run-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const modelConfig = toyModelConfig;
const config = {
  seed: 2,
  steps: 4,
  promptsPerStep: 4,
  samplesPerPrompt: 4,
  sampling: { maxNewTokens: 2 },
  optimizer: { learningRate: 0.02 },
  update: { miniBatchSize: 8 },
  evaluation: { every: 2, problems: 4, k: 2 },
  checkpointEvery: 0,
  credit: { estimator: { name: 'grpo' }, assigners: [{ name: 'hicra' }] },
};
const common = {
  config,
  tokenizer: toyTokenizer,
  reward: toyReward,
  classifier: toyClassifier,
  trainProblems: toyProblems(30),
  evalProblems: toyProblems(4, 50),
};
const stable = (r: Record<string, unknown>) =>
  Object.fromEntries(
    Object.entries(r).filter(
      ([k]) => k !== 'time' && !k.startsWith('time/') && !k.startsWith('throughput/'),
    ),
  );
const metricsOf = (dir: string) =>
  readJsonl<Record<string, unknown>>(join(dir, RUN_FILES.metrics)).map(stable);
const rolloutsOf = (dir: string) =>
  readJsonl<Record<string, unknown>>(join(dir, RUN_FILES.rollouts));

/** An uninterrupted run (seed-11 weights) to compare with, run once. */
let straightRun: Promise<string> | undefined;
function straightDir(): Promise<string> {
  straightRun ??= (async () => {
    const dir = join(root, 'reference');
    const policy = TransformerPolicy.create(modelConfig, { seed: 11 });
    try {
      await runRl({ ...common, runDir: dir, policy });
    } finally {
      policy.dispose();
    }
    return dir;
  })();
  return straightRun;
}

/** runRl with a fresh seed-11 policy, disposed afterwards. */
async function runFresh(
  options: Omit<RunOptions, 'policy' | keyof typeof common> & Partial<Pick<RunOptions, 'config'>>,
) {
  const policy = TransformerPolicy.create(modelConfig, { seed: 11 });
  try {
    return await runRl({ ...common, ...options, policy });
  } finally {
    policy.dispose();
  }
}

describe('runRl', () => {
  it('a run interrupted and resumed from its checkpoint writes the same metrics as an uninterrupted run', async () => {
    const straightDir = join(root, 'straight');
    const straight = TransformerPolicy.create(modelConfig, { seed: 11 });
    const progress: number[] = [];
    expect(
      await runRl({
        ...common,
        runDir: straightDir,
        policy: straight,
        onProgress: (p) => progress.push(p.step),
      }),
    ).toEqual({
      status: 'completed',
      step: 4,
      resumedFrom: undefined,
    });
    expect(progress).toEqual([1, 2, 3, 4]);

    const resumedDir = join(root, 'resumed');
    const first = TransformerPolicy.create(modelConfig, { seed: 11 });
    const controller = new AbortController();
    const interrupted = await runRl({
      ...common,
      runDir: resumedDir,
      policy: first,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.step === 2) controller.abort();
      },
    });
    expect(interrupted).toEqual({ status: 'interrupted', step: 2, resumedFrom: undefined });
    expect((await readRunState(resumedDir)).step).toBe(2);
    // A later record (as if the process died after the checkpoint) is set aside on resume.
    writeFileSync(
      join(resumedDir, RUN_FILES.metrics),
      `${JSON.stringify({ kind: 'train', step: 3, stale: true })}\n`,
      { flag: 'a' },
    );

    const second = TransformerPolicy.create(modelConfig, { seed: 999 }); // different weights: the checkpoint must win
    const resumed = await runRl({ ...common, runDir: resumedDir, policy: second });
    expect(resumed).toEqual({ status: 'completed', step: 4, resumedFrom: 2 });
    const a = readJsonl<Record<string, unknown>>(join(straightDir, RUN_FILES.metrics)).map(stable);
    const b = readJsonl<Record<string, unknown>>(join(resumedDir, RUN_FILES.metrics)).map(stable);
    expect(b).toEqual(a);
    expect(a.filter((r) => r.kind === 'eval').map((r) => r.step)).toEqual([0, 2, 4]);
    expect(existsSync(join(resumedDir, `${RUN_FILES.metrics}.discarded`))).toBe(true);
    expect(readdirSync(join(resumedDir, RUN_FILES.checkpoint)).sort()).toEqual([
      'config.json',
      'engine-state.json',
      'model.safetensors',
      'optimizer.safetensors',
      'trainer-state.json',
    ]);
    for (const p of [straight, first, second]) p.dispose();
  });

  it('refuses a corrupt trainer state with an error naming the file', async () => {
    const dir = join(root, 'corrupt');
    const policy = TransformerPolicy.create(modelConfig, { seed: 1 });
    await runRl({
      ...common,
      config: { ...config, steps: 1, evaluation: { every: 0 } },
      runDir: dir,
      policy,
    });
    writeFileSync(join(dir, RUN_FILES.checkpoint, RUN_FILES.trainerState), '{"schema":"nope"}');
    await expect(runRl({ ...common, runDir: dir, policy })).rejects.toSatisfy(
      (error: unknown) =>
        CorruptFileError.isInstance(error) &&
        (error as Error).message.includes('trainer-state.json'),
    );
    policy.dispose();
  });

  it('refuses a trainer state of another version, naming the schema', async () => {
    const dir = join(root, 'future');
    const policy = TransformerPolicy.create(modelConfig, { seed: 1 });
    await runRl({
      ...common,
      config: { ...config, steps: 1, evaluation: { every: 0 } },
      runDir: dir,
      policy,
    });
    const path = join(dir, RUN_FILES.checkpoint, RUN_FILES.trainerState);
    const state = JSON.parse(readFileSync(path, 'utf8'));
    writeFileSync(path, JSON.stringify({ ...state, schema: 'hicra.trainer-state.v3' }));
    await expect(runRl({ ...common, runDir: dir, policy })).rejects.toThrow(
      /schema "hicra.trainer-state.v3" is not one this version reads .*written by another version of @hicra\/trainer/,
    );
    policy.dispose();
  });

  it('resumes a checkpoint written before the engine contracts (v1), converted exactly', async () => {
    const dir = join(root, 'v1');
    const controller = new AbortController();
    await runFresh({
      runDir: dir,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.step === 2) controller.abort();
      },
    });
    // Rewrite the checkpoint as the trainer before engines wrote it: moments by variable
    // position (flat), the optimizer step in trainer-state.json, no engine-state.json.
    const checkpoint = join(dir, RUN_FILES.checkpoint);
    const engineState = JSON.parse(readFileSync(join(checkpoint, 'engine-state.json'), 'utf8'));
    const moments = await readSafetensorsFile(join(checkpoint, RUN_FILES.optimizer));
    const probe = TransformerPolicy.create(modelConfig, { seed: 0 });
    const names = new Map([...probe.model.parameters()].map(([name, v]) => [v, name]));
    const v1 = new Map<string, { shape: number[]; data: Float32Array }>();
    probe.trainableVariables().forEach((variable, i) => {
      for (const kind of ['m', 'v']) {
        const data = moments.tensors.get(`${kind}.${names.get(variable)}`)!.data as Float32Array;
        v1.set(`${kind}.${i}`, { shape: [data.length], data });
      }
    });
    probe.dispose();
    writeFileSync(join(checkpoint, RUN_FILES.optimizer), encodeSafetensors(v1));
    rmSync(join(checkpoint, 'engine-state.json'));
    const statePath = join(checkpoint, RUN_FILES.trainerState);
    const state = JSON.parse(readFileSync(statePath, 'utf8'));
    writeFileSync(
      statePath,
      JSON.stringify({
        ...state,
        schema: 'hicra.trainer-state.v1',
        optimizerStep: engineState.step,
      }),
    );

    const second = TransformerPolicy.create(modelConfig, { seed: 999 });
    expect(await runRl({ ...common, runDir: dir, policy: second })).toEqual({
      status: 'completed',
      step: 4,
      resumedFrom: 2,
    });
    second.dispose();
    expect(metricsOf(dir)).toEqual(metricsOf(await straightDir()));
    // The scratch folder of the conversion is gone; the new checkpoint is v2.
    expect(readdirSync(dir).filter((name) => name.startsWith('.'))).toEqual([]);
    expect(JSON.parse(readFileSync(statePath, 'utf8')).schema).toBe('hicra.trainer-state.v2');

    // A v1 checkpoint whose moments do not fit the policy cannot convert exactly: refused.
    writeFileSync(
      statePath,
      JSON.stringify({ ...state, schema: 'hicra.trainer-state.v1', optimizerStep: 2 }),
    );
    writeFileSync(
      join(checkpoint, RUN_FILES.optimizer),
      encodeSafetensors(new Map([['m.0', { shape: [3], data: new Float32Array(3) }]])),
    );
    const third = TransformerPolicy.create(modelConfig, { seed: 1 });
    await expect(
      runRl({ ...common, config: { ...config, steps: 6 }, runDir: dir, policy: third }),
    ).rejects.toThrow(/hicra.trainer-state.v1 checkpoint whose moment m.0 has 3 values/);
    third.dispose();
  });

  it('trains through any engine: its state saved by the engine, the location in the checkpoint, resumed exactly', async () => {
    // The local engine given as `engine`: runRl treats it as any other (a remote one).
    const klConfig = {
      ...config,
      update: { miniBatchSize: 8, klCoefficient: 0.2, klEstimator: 'k3' as const },
    };
    const straightPolicy = TransformerPolicy.create(modelConfig, { seed: 11 });
    const straightEngine = localEngine(straightPolicy);
    const straight = join(root, 'engine-straight');
    await runRl({ ...common, config: klConfig, runDir: straight, engine: straightEngine });
    await straightEngine.dispose();
    straightPolicy.dispose();

    const dir = join(root, 'engine-resumed');
    const firstPolicy = TransformerPolicy.create(modelConfig, { seed: 11 });
    const first = localEngine(firstPolicy);
    const controller = new AbortController();
    await runRl({
      ...common,
      config: klConfig,
      runDir: dir,
      engine: first,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.step === 2) controller.abort();
      },
    });
    const state = JSON.parse(
      readFileSync(join(dir, RUN_FILES.checkpoint, RUN_FILES.trainerState), 'utf8'),
    );
    expect(state.engineState).toBe(join(first.directory, 'run-engine-resumed-step-2'));
    expect(state.initialEngineState).toBe(join(first.directory, 'run-engine-resumed-initial'));
    // Only the loop's state is in the run directory: the weights are the engine's.
    expect(readdirSync(join(dir, RUN_FILES.checkpoint))).toEqual([RUN_FILES.trainerState]);
    await first.dispose();
    firstPolicy.dispose();

    // A new engine over other weights, saving where the first one saved.
    const secondPolicy = TransformerPolicy.create(modelConfig, { seed: 999 });
    const second = new LocalTrainingClient(secondPolicy, { directory: first.directory });
    expect(await runRl({ ...common, config: klConfig, runDir: dir, engine: second })).toEqual({
      status: 'completed',
      step: 4,
      resumedFrom: 2,
    });
    expect(metricsOf(dir)).toEqual(metricsOf(straight));
    // The local path refuses it, naming the engine's state.
    const third = TransformerPolicy.create(modelConfig, { seed: 1 });
    await expect(
      runRl({ ...common, config: { ...klConfig, steps: 6 }, runDir: dir, policy: third }),
    ).rejects.toThrow(/was written by a run on another engine/);
    await second.dispose();
    secondPolicy.dispose();
    third.dispose();
  });

  it('a crash before the first checkpoint restarts cleanly: no duplicate records, the old ones set aside', async () => {
    const dir = join(root, 'crashed-early');
    const crash = new Error('killed at step 2');
    await expect(
      runFresh({
        runDir: dir,
        onProgress: (p) => {
          if (p.step === 2) throw crash;
        },
      }),
    ).rejects.toBe(crash);
    expect(existsSync(join(dir, RUN_FILES.checkpoint))).toBe(false);
    expect(existsSync(join(dir, RUN_FILES.lock))).toBe(false);
    const before = metricsOf(dir);
    expect(before.map((r) => `${r.kind}@${r.step}`)).toEqual([
      'eval@0',
      'train@1',
      'train@2',
      'eval@2',
    ]);
    const beforeRollouts = rolloutsOf(dir);
    expect(beforeRollouts.length).toBeGreaterThan(0);
    // And the process died in the middle of the next line.
    writeFileSync(join(dir, RUN_FILES.metrics), '{"kind":"train","step":3,"reward/m', {
      flag: 'a',
    });

    expect(await runFresh({ runDir: dir })).toEqual({
      status: 'completed',
      step: 4,
      resumedFrom: undefined,
    });
    const reference = await straightDir();
    expect(metricsOf(dir)).toEqual(metricsOf(reference));
    expect(rolloutsOf(dir)).toEqual(rolloutsOf(reference));
    const discarded = readJsonl<Record<string, unknown>>(
      join(dir, `${RUN_FILES.metrics}.discarded`),
    );
    expect(discarded.slice(0, 4).map(stable)).toEqual(before);
    expect(discarded[4]).toEqual({ tornLine: '{"kind":"train","step":3,"reward/m' });
    expect(readJsonl(join(dir, `${RUN_FILES.rollouts}.discarded`))).toEqual(beforeRollouts);
  });

  it('a crash between the renames of a checkpoint swap resumes from the previous checkpoint', async () => {
    const dir = join(root, 'crashed-in-swap');
    const controller = new AbortController();
    expect(
      await runFresh({
        runDir: dir,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.step === 2) controller.abort();
        },
      }),
    ).toEqual({ status: 'interrupted', step: 2, resumedFrom: undefined });
    // Step 3 ran, then the process died inside its checkpoint save: checkpoint/ already
    // retired, the new one half written in staging.
    writeFileSync(
      join(dir, RUN_FILES.metrics),
      `${JSON.stringify({ kind: 'train', step: 3, time: 't' })}\n`,
      { flag: 'a' },
    );
    renameSync(join(dir, RUN_FILES.checkpoint), join(dir, '.checkpoint.old-123-abc'));
    mkdirSync(join(dir, '.checkpoint.saving-123-def'));
    writeFileSync(join(dir, '.checkpoint.saving-123-def', 'model.safetensors'), 'partial');

    const second = TransformerPolicy.create(modelConfig, { seed: 999 }); // the checkpoint must win
    expect(await runRl({ ...common, runDir: dir, policy: second })).toEqual({
      status: 'completed',
      step: 4,
      resumedFrom: 2,
    });
    second.dispose();
    expect(metricsOf(dir)).toEqual(metricsOf(await straightDir()));
    expect(readdirSync(dir).filter((name) => name.startsWith('.'))).toEqual([]);
    expect((await readRunState(dir)).step).toBe(4);
  });

  it('two runs into one directory at once: one is refused, the other writes each record once', async () => {
    const dir = join(root, 'concurrent');
    const results = await Promise.allSettled([
      runFresh({ runDir: dir }),
      runFresh({ runDir: dir }),
    ]);
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused).toHaveLength(1);
    const reason = (refused[0] as PromiseRejectedResult).reason;
    expect(RunLockedError.isInstance(reason)).toBe(true);
    expect(reason.message).toContain(`this process (pid ${process.pid}`);
    expect(results.find((r) => r.status === 'fulfilled')).toEqual({
      status: 'fulfilled',
      value: { status: 'completed', step: 4, resumedFrom: undefined },
    });
    expect(metricsOf(dir)).toEqual(metricsOf(await straightDir()));
    expect(existsSync(join(dir, RUN_FILES.lock))).toBe(false);
  });

  it('checks settings against run.json, and uses an open run without closing it', async () => {
    const dir = join(root, 'settings');
    const settings = { strategy: 'hicra', seed: 2, config };
    const run = await openRunDirectory(dir, { settings });
    await expect(runFresh({ runDir: join(root, 'elsewhere'), run })).rejects.toSatisfy(
      (error: unknown) =>
        InvalidArgumentError.isInstance(error) && (error as Error).message.includes('elsewhere'),
    );
    expect(await runFresh({ runDir: dir, run })).toMatchObject({ status: 'completed', step: 4 });
    expect(existsSync(run.lock.path)).toBe(true); // still held: the caller closes it
    const once = readFileSync(join(dir, RUN_FILES.metrics), 'utf8');
    // The same open run again: it sees the checkpoint the first call wrote.
    expect(await runFresh({ runDir: dir, run })).toEqual({
      status: 'completed',
      step: 4,
      resumedFrom: 4,
    });
    expect(readFileSync(join(dir, RUN_FILES.metrics), 'utf8')).toBe(once);
    run.close();
    expect(existsSync(run.lock.path)).toBe(false);
    const runJson = readFileSync(join(dir, RUN_FILES.run));
    const metrics = readFileSync(join(dir, RUN_FILES.metrics));

    const error = await expectHicraRejection(
      runFresh({
        runDir: dir,
        settings: { ...settings, strategy: 'grpo', config: { ...config, steps: 6 } },
        ignoreSettings: ['config.steps'],
      }),
    );
    expect(RunMismatchError.isInstance(error)).toBe(true);
    expect((error as RunMismatchError).details.differences).toEqual([
      { key: 'strategy', saved: 'hicra', requested: 'grpo' },
    ]);
    expect(readFileSync(join(dir, RUN_FILES.run))).toEqual(runJson);
    expect(readFileSync(join(dir, RUN_FILES.metrics))).toEqual(metrics);
    // Same settings, more steps (ignored): the run is extended from its checkpoint.
    expect(
      await runFresh({
        runDir: dir,
        config: { ...config, steps: 5 },
        settings: { ...settings, config: { ...config, steps: 5 } },
        ignoreSettings: ['config.steps'],
      }),
    ).toEqual({ status: 'completed', step: 5, resumedFrom: 4 });
    expect(readFileSync(join(dir, RUN_FILES.run))).toEqual(runJson);
  });
});
