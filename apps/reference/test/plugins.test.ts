/**
 * `--plugin FILE.js`: a third-party credit assigner, as a plain ES module
 * (`fixtures/damp-execution.js`), used from `train`, `compare` and `annotate` (issue 20); a
 * classifier and a reward (`fixtures/more-plugins.js`) named by a config's `classifier` and
 * `reward` and annotate's `--classifier`; and the errors for files that are not plug-ins.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RUN_FILES } from '@hicra/trainer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyModel } from '../src/model-presets.js';
import { pretrain } from '../src/pretrain.js';
import { hicraInProcess as hicra, hicra as hicraChild } from './run-hicra.js';

const root = mkdtempSync(join(tmpdir(), 'hicra-plugins-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const base = join(root, 'base');
const sample = fileURLToPath(
  new URL('../../../examples/quickstart/data/rollouts.jsonl', import.meta.url),
);
const plugin = fileURLToPath(new URL('./fixtures/damp-execution.js', import.meta.url));
const morePlugins = fileURLToPath(new URL('./fixtures/more-plugins.js', import.meta.url));
// biome-ignore lint/suspicious/noExplicitAny: records of several schemas, read field by field
const readJsonLines = (path: string): any[] =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
const write = (name: string, text: string) => {
  const path = join(root, name);
  writeFileSync(path, text);
  return path;
};

const tiny = {
  promptsPerStep: 2,
  samplesPerPrompt: 2,
  sampling: { maxNewTokens: 6 },
  evaluation: { every: 0 },
  update: { miniBatchSize: 4 },
  checkpointEvery: 0,
};
const damped = {
  estimator: { name: 'grpo' },
  assigners: [
    { name: 'hicra', alpha: 0.2 },
    { name: 'damp-execution', beta: 0 },
  ],
};
const config = write('damped.json', JSON.stringify({ ...tiny, credit: damped }));

beforeAll(async () => {
  await pretrain({ out: base, seed: 0, steps: 1, examples: 8, model: tinyModel, evalProblems: 1 });
});

describe('--plugin', () => {
  it('train: the config names the plug-in assigner; run.json records the file', async () => {
    const out = join(root, 'run');
    const args = ['train', '--from', base, '--out', out, '--strategy', 'hicra', '--steps', '1'];
    const run = await hicra(...args, '--plugin', plugin, '--config', config);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(out, RUN_FILES.run), 'utf8')).plugins).toEqual([plugin]);
    // Without the plug-in, the config names an assigner nobody registered.
    const without = await hicra(...args, '--config', config);
    expect(without.code).toBe(2);
    expect(without.stderr).toContain('damp-execution');
  });

  it("annotate: execution tokens lose their advantage, planning tokens keep HICRA's", async () => {
    const credit = write('credit.json', JSON.stringify(damped));
    const out = join(root, 'annotated.jsonl');
    const run = await hicra(
      'annotate',
      sample,
      '--credit',
      credit,
      '--plugin',
      plugin,
      '--out',
      out,
    );
    expect(run.code, run.stderr).toBe(0);
    const lines = readJsonLines(out);
    let planning = 0;
    for (const line of lines.filter((l) => l.advantages !== undefined)) {
      line.advantages.forEach((a: number, k: number) => {
        if (line.planningMask[k] === 0) expect(a).toBe(0);
        else if (a !== 0) planning++;
      });
    }
    expect(planning).toBeGreaterThan(0);
  });

  it('compare: every run gets the plug-in', () => {
    const out = join(root, 'compare');
    // In a child process: compare starts its runs as children of the command line.
    const run = hicraChild(
      'compare',
      '--from',
      base,
      '--out',
      out,
      '--strategies',
      'hicra',
      '--seeds',
      '0',
      '--steps',
      '1',
      '--jobs',
      '1',
      '--config',
      config,
      '--plugin',
      plugin,
    );
    expect(run.status, run.stderr).toBe(0);
    const settings = JSON.parse(readFileSync(join(out, 'hicra-seed0', RUN_FILES.run), 'utf8'));
    expect(settings.plugins).toEqual([plugin]);
  });

  it('names the file and what is wrong with it', async () => {
    const args = ['annotate', sample, '--out', join(root, 'never.jsonl'), '--plugin'];
    const missing = await hicra(...args, join(root, 'nope.js'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nope.js: no such file');
    const source = readFileSync(plugin, 'utf8');
    for (const [name, text, what] of [
      ['empty.js', 'export const x = 1;\n', 'exports no plug-in registration'],
      ['broken.js', 'export default {\n', 'cannot load it'],
      [
        'metric.js',
        "export default { kind: 'metric', name: 'my-metric', create: () => ({}) };\n",
        'is a plug-in of kind "metric"; the kinds are estimator, assigner, classifier, reward',
      ],
      [
        'no-settings.js',
        "export default { kind: 'classifier', name: 'my-classifier', description: 'x', create: () => ({}) };\n",
        'my-classifier: settings must be a Standard Schema or a record of setting specs',
      ],
      [
        'taken.js',
        source.replaceAll("'damp-execution'", "'hicra'"),
        'an assigner named "hicra" is already registered',
      ],
    ] as const) {
      const result = await hicra(...args, write(name, text));
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain(name);
      expect(result.stderr).toContain(what);
    }
  });

  it('train: the config names a plug-in classifier and reward; run.json records them', async () => {
    const out = join(root, 'run-classifier-reward');
    const withPlugins = write(
      'classifier-reward.json',
      JSON.stringify({
        ...tiny,
        classifier: { name: 'first-token' },
        reward: { name: 'constant-reward', value: 0.5 },
      }),
    );
    const args = ['train', '--from', base, '--out', out, '--strategy', 'hicra', '--steps', '1'];
    const run = await hicra(...args, '--plugin', morePlugins, '--config', withPlugins);
    expect(run.code, run.stderr).toBe(0);
    const settings = JSON.parse(readFileSync(join(out, RUN_FILES.run), 'utf8'));
    expect(settings.classifier).toEqual({ name: 'first-token' });
    expect(settings.reward).toEqual({ name: 'constant-reward', value: 0.5 });
    expect(settings.config.classifier).toBeUndefined();
    const step = readJsonLines(join(out, RUN_FILES.metrics)).find((r) => r.kind === 'train');
    expect(step['reward/mean']).toBe(0.5);
    expect(step['reward/std']).toBe(0);
    // Without the plug-in file, or with a bad setting, the file and the key are named.
    const without = await hicra(...args, '--config', withPlugins);
    expect(without.code).toBe(2);
    expect(without.stderr).toContain('classifier');
    expect(without.stderr).toContain('first-token');
    const bad = write(
      'bad-reward.json',
      JSON.stringify({ ...tiny, reward: { name: 'constant-reward', value: 3 } }),
    );
    const badRun = await hicra(...args, '--plugin', morePlugins, '--config', bad);
    expect(badRun.code).toBe(2);
    expect(badRun.stderr).toContain('reward.value');
    expect(badRun.stderr).toContain('a number <= 1, got 3');
  });

  it('annotate: --classifier picks a plug-in classifier', async () => {
    const out = join(root, 'annotated-first-token.jsonl');
    const run = await hicra(
      'annotate',
      sample,
      '--classifier',
      'first-token',
      '--plugin',
      morePlugins,
      '--out',
      out,
    );
    expect(run.code, run.stderr).toBe(0);
    const lines = readJsonLines(out).filter((l) => l.planningMask !== undefined);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines)
      expect(line.planningMask.map((m: number, k: number) => (k === 0 ? 1 - m : m))).not.toContain(
        1,
      );
    const unknown = await hicra('annotate', sample, '--classifier', 'first-token');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown planning classifier "first-token"');
  });
});
