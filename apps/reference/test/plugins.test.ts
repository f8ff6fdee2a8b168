/**
 * `--plugin FILE.js`: a third-party credit assigner, as a plain ES module
 * (`fixtures/damp-execution.js`), used from `train`, `compare` and `annotate` (issue 20), and
 * the errors for files that are not plug-ins.
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
    const lines = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
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
        'classifier.js',
        "export default { kind: 'classifier', name: 'my-classifier', create: () => ({}) };\n",
        'is a plug-in of kind "classifier"',
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
});
