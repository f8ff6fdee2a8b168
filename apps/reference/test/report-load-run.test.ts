import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, TRAIN_METRIC_KEYS } from '@hicra/spec';
import { expectHicraRejection } from '@hicra/spec/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { loadRun, strategyFromFolderName } from '../src/index.js';
import { temporaryDirectory, writeSyntheticRun } from './report-fixtures.js';

const root = temporaryDirectory();
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A copy of a fresh synthetic run whose metrics (or rollouts) file gets `edit` applied. */
function brokenRun(
  name: string,
  file: 'metrics.jsonl' | 'rollouts.jsonl',
  edit: (lines: string[]) => void,
) {
  const dir = writeSyntheticRun(root, name, { strategy: 'grpo', seed: 0, steps: 6 });
  const path = join(dir, file);
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  edit(lines);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return { dir, path };
}

describe('loadRun', () => {
  it('reads metrics, run.json and the latest rollouts', async () => {
    const dir = writeSyntheticRun(root, 'hicra-seed2', { strategy: 'hicra', seed: 2, steps: 12 });
    const run = await loadRun(dir);
    expect(run).toMatchObject({ dir, strategy: 'hicra', seed: 2, strategySource: 'run.json' });
    expect(run.config).toEqual({ steps: 12 });
    expect(run.train.map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    // Evaluations at step 0, every 5 steps and at the last step.
    expect(run.eval.map((r) => r.step)).toEqual([0, 5, 10, 12]);
    expect(run.train[0]![TRAIN_METRIC_KEYS.accuracy]).toBeTypeOf('number');
    expect(run.train[2]![TRAIN_METRIC_KEYS.strategySemanticEntropy]).toBeUndefined();
    // 2 rollouts per step logged; the viewer keeps the 3 latest steps.
    expect(run.rolloutRecords).toBe(24);
    expect(run.rollouts.map((r) => r.record.step)).toEqual([10, 10, 11, 11, 12, 12]);
    expect(run.rollouts[0]!.line).toBe(19);
    expect(run.notes).toEqual([]);
  });

  it('keeps as many steps and rollouts per step as asked', async () => {
    const dir = writeSyntheticRun(root, 'grpo-s4', {
      strategy: 'grpo',
      seed: 4,
      steps: 8,
      rolloutsPerStep: 5,
    });
    const run = await loadRun(dir, { rolloutSteps: 2, rolloutsPerStep: 3 });
    expect(run.rollouts.map((r) => r.record.step)).toEqual([7, 7, 7, 8, 8, 8]);
    expect((await loadRun(dir, { rolloutSteps: 0 })).rollouts).toEqual([]);
  });

  it('takes the strategy from the folder name without run.json, and says so', async () => {
    const dir = writeSyntheticRun(root, 'dr-grpo_seed3', {
      strategy: 'ignored',
      seed: 3,
      steps: 3,
      runJson: false,
    });
    const run = await loadRun(dir);
    expect(run).toMatchObject({ strategy: 'dr-grpo', seed: 3, strategySource: 'folder name' });
    expect(run.notes.join()).toContain('strategy "dr-grpo" taken from the folder name');
  });

  it('accepts a run without rollouts.jsonl and an empty metrics file', async () => {
    const dir = join(root, 'bare');
    mkdirSync(dir);
    writeFileSync(join(dir, 'metrics.jsonl'), '\n');
    const run = await loadRun(dir);
    expect(run).toMatchObject({ strategy: 'bare', seed: undefined, train: [], eval: [] });
    expect(run.notes.join(' ')).toContain('no rollouts.jsonl');
    expect(run.notes.join(' ')).toContain('has no records yet');
  });

  it('accepts a byte-order mark, CRLF line ends and blank lines', async () => {
    const dir = join(root, 'windows');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'metrics.jsonl'),
      '\uFEFF{"kind":"train","step":1,"time":"t","reward/accuracy":0.5}\r\n\r\n{"kind":"train","step":2,"time":"t"}\r\n',
    );
    const run = await loadRun(dir);
    expect(run.train.map((r) => r.step)).toEqual([1, 2]);
  });
});

describe('strategyFromFolderName', () => {
  it.each([
    ['runs/hicra-seed2', 'hicra', 2],
    ['runs/grpo_s0', 'grpo', 0],
    ['runs/grpo-7', 'grpo', 7],
    ['runs/reinforce-plus-plus.seed11', 'reinforce-plus-plus', 11],
    ['runs/hicra/seed-2', 'hicra', 2],
    ['runs/placebo/3', 'placebo', 3],
    ['runs/grpo', 'grpo', undefined],
    ['runs/results3', 'results3', undefined],
  ])('%s -> %s, seed %s', (dir, strategy, seed) => {
    expect(strategyFromFolderName(dir)).toEqual({ strategy, seed });
  });
});

describe('loadRun on bad input', () => {
  it('rejects a missing directory, a file and a directory without metrics.jsonl', async () => {
    await expectHicraRejection(loadRun(join(root, 'nowhere')), {
      code: ErrorCode.CorruptFile,
      message: ['run directory', 'nowhere', 'does not exist'],
    });
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    await expectHicraRejection(loadRun(file), {
      code: ErrorCode.CorruptFile,
      message: ['a-file is not a directory'],
    });
    const empty = join(root, 'empty');
    mkdirSync(empty);
    await expectHicraRejection(loadRun(empty), {
      code: ErrorCode.CorruptFile,
      message: ['has no metrics.jsonl'],
    });
    await expectHicraRejection(loadRun(''), {
      code: ErrorCode.InvalidArgument,
      message: ['dir must be'],
    });
  });

  it('names the file and line of a metrics line that is not JSON', async () => {
    const { dir, path } = brokenRun('bad-json', 'metrics.jsonl', (lines) => {
      lines[3] = '{"kind":"train","step":3,';
    });
    await expectHicraRejection(loadRun(dir), {
      code: ErrorCode.CorruptFile,
      message: [`${path} line 4`, 'not valid JSON'],
    });
  });

  it('names the key of a metrics record that breaks the schema', async () => {
    const cases: [string, (line: Record<string, unknown>) => void, string, string][] = [
      ['kind', (l) => (l.kind = 'test'), 'config key kind', 'expected "train" or "eval"'],
      ['step', (l) => (l.step = -1), 'config key step', 'non-negative integer, got -1'],
      ['time', (l) => delete l.time, 'config key time', 'got nothing'],
      ['value', (l) => (l['reward/accuracy'] = null), 'config key reward/accuracy', 'got null'],
    ];
    for (const [name, edit, key, message] of cases) {
      const { dir, path } = brokenRun(`bad-${name}`, 'metrics.jsonl', (lines) => {
        const line = JSON.parse(lines[2]!);
        edit(line);
        lines[2] = JSON.stringify(line);
      });
      await expectHicraRejection(loadRun(dir), {
        code: ErrorCode.InvalidConfig,
        message: [key, `${path} line 3`, message],
      });
    }
    const { dir } = brokenRun('bad-array', 'metrics.jsonl', (lines) => {
      lines[1] = '[1, 2]';
    });
    await expectHicraRejection(loadRun(dir), {
      code: ErrorCode.InvalidConfig,
      message: ['line 2', 'expected a JSON object'],
    });
  });

  it('rejects two records of one kind for one step, naming both lines', async () => {
    const { dir, path } = brokenRun('duplicate', 'metrics.jsonl', (lines) => {
      lines.push(lines[1]!);
    });
    const count = readFileSync(path, 'utf8').trimEnd().split('\n').length;
    await expectHicraRejection(loadRun(dir), {
      code: ErrorCode.CorruptFile,
      message: [`line ${count}: a second train record for step 1 (the first is on line 2)`],
    });
  });

  it('names the file and line of a malformed rollout', async () => {
    const notJson = brokenRun('rollout-json', 'rollouts.jsonl', (lines) => {
      lines[4] = 'not json';
    });
    await expectHicraRejection(loadRun(notJson.dir), {
      code: ErrorCode.CorruptFile,
      message: [`${notJson.path} line 5`, 'not valid JSON'],
    });
    const badReward = brokenRun('rollout-reward', 'rollouts.jsonl', (lines) => {
      lines[6] = JSON.stringify({ ...JSON.parse(lines[6]!), reward: 'yes' });
    });
    await expectHicraRejection(loadRun(badReward.dir), {
      code: ErrorCode.InvalidConfig,
      message: ['config key reward', `${badReward.path} line 7`],
    });
    const badMatch = brokenRun('rollout-match', 'rollouts.jsonl', (lines) => {
      const record = JSON.parse(lines[0]!);
      record.planningMatches = [{ start: 5, end: 9999, gram: 'wait', gramId: 1 }];
      lines[0] = JSON.stringify(record);
    });
    await expectHicraRejection(loadRun(badMatch.dir), {
      code: ErrorCode.InvalidConfig,
      message: ['config key planningMatches[0]', `${badMatch.path} line 1`, '0 <= start <= end <='],
    });
    const badAdvantages = brokenRun('rollout-advantages', 'rollouts.jsonl', (lines) => {
      const record = JSON.parse(lines[1]!);
      delete record.tokenIds;
      record.advantages = record.advantages.slice(1);
      lines[1] = JSON.stringify(record);
    });
    await expectHicraRejection(loadRun(badAdvantages.dir), {
      code: ErrorCode.InvalidConfig,
      message: [
        'config key advantages',
        `${badAdvantages.path} line 2`,
        'token spans; expected one per token',
      ],
    });
  });

  it('rejects a run.json that is not JSON or lacks a strategy', async () => {
    const dir = writeSyntheticRun(root, 'bad-run-json', { strategy: 'grpo', seed: 0, steps: 2 });
    writeFileSync(join(dir, 'run.json'), '{ strategy: grpo }');
    await expectHicraRejection(loadRun(dir), {
      code: ErrorCode.CorruptFile,
      message: ['run.json: not valid JSON'],
    });
    writeFileSync(join(dir, 'run.json'), '{ "seed": 1 }');
    await expectHicraRejection(loadRun(dir), {
      code: ErrorCode.InvalidConfig,
      message: ['config key strategy', 'expected a non-empty string, got nothing'],
    });
    writeFileSync(join(dir, 'run.json'), '{ "strategy": "grpo", "seed": 1.5 }');
    await expectHicraRejection(loadRun(dir), {
      code: ErrorCode.InvalidConfig,
      message: ['config key seed', 'got 1.5'],
    });
  });

  it('rejects bad options', async () => {
    const dir = writeSyntheticRun(root, 'options', { strategy: 'grpo', seed: 0, steps: 2 });
    await expectHicraRejection(loadRun(dir, { rolloutSteps: -1 }), {
      code: ErrorCode.InvalidArgument,
      message: ['rolloutSteps must be a non-negative integer, got -1'],
    });
  });
});
