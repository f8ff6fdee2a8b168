import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TransformerPolicy } from '@hicra/policy';
import { CorruptFileError } from '@hicra/spec';
import { afterAll, describe, expect, it } from 'vitest';
import { RUN_FILES, readJsonl, readRunState, runRl } from '../src/index.js';
import { toyClassifier, toyProblems, toyReward, toyTokenizer } from './toy-task.js';

const root = mkdtempSync(join(tmpdir(), 'hicra-run-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const modelConfig = {
  vocabSize: toyTokenizer.vocabSize,
  contextLength: 16,
  width: 16,
  layers: 1,
  heads: 2,
};
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
});
