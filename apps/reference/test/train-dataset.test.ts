/**
 * `hicra train --dataset`: RL on a math dataset in verl's Parquet layout (issue 18), with a
 * Hugging Face model folder, the model's chat template and the math verifier.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUN_FILES } from '@hicra/trainer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDatasetTask } from '../src/dataset-task.js';
import { train } from '../src/train.js';
import { hicraInProcess } from './run-hicra.js';
import { writeTinyHuggingFaceModel } from './tiny-hugging-face-model.js';
import { writeVerlDataset } from './verl-dataset.js';

const root = mkdtempSync(join(tmpdir(), 'hicra-train-dataset-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const model = join(root, 'my-qwen');
const trainFile = join(root, 'train.parquet');
const testFile = join(root, 'test.parquet');
const TEMPLATE =
  '{% for m in messages %}<bos> {{ m.role }} : {{ m.content }} <eos> {% endfor %}' +
  '{% if add_generation_prompt %}<bos> assistant : {% endif %}';

beforeAll(async () => {
  await writeTinyHuggingFaceModel(model);
  writeFileSync(join(model, 'chat_template.jinja'), TEMPLATE);
  writeVerlDataset(trainFile, 20, 'train');
  writeVerlDataset(testFile, 3, 'test');
});

const TINY = {
  promptsPerStep: 2,
  samplesPerPrompt: 2,
  sampling: { maxNewTokens: 6 },
  evaluation: { every: 1, problems: 8, k: 1 },
  update: { miniBatchSize: 4 },
  checkpointEvery: 0,
  rolloutsLoggedPerStep: 4,
};

const readLines = (path: string) =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

const hicra = hicraInProcess;

describe('hicra train --dataset', () => {
  it('trains on the rows through the chat template and evaluates on the evaluation file', async () => {
    const out = join(root, 'run');
    const result = await train({
      from: model,
      dataset: trainFile,
      evalDataset: testFile,
      out,
      strategy: 'hicra',
      seed: 0,
      config: { ...TINY, steps: 2 },
    });
    expect(result.status).toBe('completed');
    const rollouts = readLines(join(out, RUN_FILES.rollouts));
    expect(rollouts.length).toBeGreaterThan(0);
    for (const r of rollouts) {
      // The model's chat template over the row's messages, ending in the assistant header.
      expect(r.prompt).toMatch(
        /^<bos> user : Tom has \d+ apples .*"####"\. <eos> <bos> assistant : $/,
      );
    }
    const evals = readLines(join(out, RUN_FILES.metrics)).filter((m) => m.kind === 'eval');
    expect(evals.length).toBeGreaterThan(0);
    // Three evaluation rows, one sample each.
    expect(evals[0]['eval/problems']).toBe(3);
    const run = JSON.parse(readFileSync(join(out, RUN_FILES.run), 'utf8'));
    expect(run).toMatchObject({ dataset: trainFile, evalDataset: testFile });
    expect(run.level).toBeUndefined();
  });

  it('holds the last rows out for evaluation without --eval-dataset, and says so', async () => {
    const notes: string[] = [];
    const task = await loadDatasetTask({ dataset: trainFile, modelDir: model });
    notes.push(...task.notes);
    expect(task.trainProblems).toHaveLength(18);
    expect(task.evalProblems).toHaveLength(2);
    expect(task.evalProblems.map((p) => p.id)).toEqual(['18', '19']);
    expect(notes.join('\n')).toContain('evaluating on the last 2 rows');
    expect(task.addSpecialTokens).toBe(false);
    // The reward is the math verifier, reading GSM8K's "####" line.
    const reference = task.trainProblems[0]!.reference;
    const score = async (response: string) =>
      await task.reward.score({ response, reference, prompt: task.trainProblems[0]!.prompt });
    expect(await score(`so ${reference} apples\n#### ${reference}`)).toMatchObject({
      kind: 'scored',
      correct: true,
    });
    expect(await score('#### 999')).toMatchObject({ kind: 'scored', correct: false });
    // Without a chat template, the prompt is the user message and BOS is added as for text.
    const plain = await loadDatasetTask({ dataset: trainFile, evalDataset: testFile });
    expect(plain.trainProblems[0]!.prompt).toMatch(/^Tom has \d+ apples/);
    expect(plain.addSpecialTokens).toBe(true);
    expect(plain.notes.join('\n')).toContain('no chat template');
  });

  it('refuses what does not go together, and names a file that is not a verl dataset', async () => {
    const out = join(root, 'never');
    const base = ['train', '--from', model, '--out', out, '--strategy', 'grpo'];
    const withLevel = await hicra(...base, '--dataset', trainFile, '--level', '1');
    expect(withLevel.code).toBe(2);
    expect(withLevel.stderr).toContain(
      '--level is the Countdown level; it does not go with --dataset',
    );
    const evalOnly = await hicra(...base, '--eval-dataset', testFile);
    expect(evalOnly.code).toBe(2);
    expect(evalOnly.stderr).toContain('--eval-dataset goes with --dataset');
    const missing = await hicra(...base, '--dataset', join(root, 'nope.parquet'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nope.parquet: no such file');
    const noReward = join(root, 'no-reward.parquet');
    writeVerlDataset(noReward, 12, 'train', { columns: ['data_source', 'prompt'] });
    const bad = await hicra(...base, '--dataset', noReward);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('no-reward.parquet');
    expect(bad.stderr).toContain('reward_model');
  });
});
