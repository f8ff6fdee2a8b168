import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyModel } from '../src/model-presets.js';
import { pretrain } from '../src/pretrain.js';
import { hicraInProcess } from './run-hicra.js';

const root = mkdtempSync(join(tmpdir(), 'hicra-cli-errors-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const base = join(root, 'base');
const cli = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const sample = fileURLToPath(
  new URL('../../../examples/quickstart/data/rollouts.jsonl', import.meta.url),
);

/** Runs `hicra` in this process; returns its exit code and what it wrote. */
const hicra = hicraInProcess;

/** A user error: the given exit code, and one line (no stack trace) naming what is wrong. */
function expectOneLine(
  result: { code: number; stderr: string },
  code: number,
  ...parts: string[]
): void {
  // usage errors add the pointer to --help on a second line
  expectError(result, code, code === 2 ? 2 : 1, ...parts);
}

/** A user error: the exit code, at most `maxLines` lines, no stack trace, naming each part. */
function expectError(
  result: { code: number; stderr: string },
  code: number,
  maxLines: number,
  ...parts: string[]
): void {
  expect(result.code, result.stderr).toBe(code);
  expect(result.stderr.trim().split('\n').length, result.stderr).toBeLessThanOrEqual(maxLines);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  for (const part of parts) expect(result.stderr).toContain(part);
}

function writeJson(name: string, value: unknown): string {
  const path = join(root, name);
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
}

/** `hicra train` of GRPO from the tiny base into `out`. */
function trainArgs(out: string): string[] {
  return ['train', '--from', base, '--out', out, '--strategy', 'grpo'];
}

const tinyRl = {
  promptsPerStep: 2,
  samplesPerPrompt: 2,
  sampling: { maxNewTokens: 6 },
  evaluation: { every: 0 },
  update: { miniBatchSize: 4 },
  checkpointEvery: 0,
};

beforeAll(async () => {
  await pretrain({
    out: base,
    seed: 0,
    steps: 1,
    examples: 8,
    model: tinyModel,
    evalProblems: 1,
  });
});

describe('usage errors: the same flag gets the same check, message and exit code everywhere', () => {
  it('an unknown strategy exits 2 in train and in compare, with the nearest name', async () => {
    const train = await hicra(
      'train',
      '--from',
      base,
      '--out',
      join(root, 'x'),
      '--strategy',
      'hicrra',
    );
    const compare = await hicra(
      'compare',
      '--from',
      base,
      '--out',
      join(root, 'y'),
      '--strategies',
      'grpo,hicrra',
    );
    for (const result of [train, compare])
      expectOneLine(result, 2, 'unknown strategy "hicrra"', 'did you mean "hicra"?');
    expect(train.stderr).toContain('--strategy');
    expect(compare.stderr).toContain('--strategies');
    expect(existsSync(join(root, 'x'))).toBe(false);
  });

  it('--level 9 is the same error in train, pretrain and eval', async () => {
    const messages = await Promise.all([
      hicra(...trainArgs(join(root, 'x')), '--level', '9'),
      hicra('pretrain', '--out', join(root, 'p'), '--level', '9'),
      hicra('eval', '--from', base, '--level', '9'),
    ]);
    for (const result of messages) expectOneLine(result, 2, '--level must be 0 to 4, got "9"');
  });

  it('zero budgets are refused: pretrain --steps 0, eval --problems 0, --k 0, train --steps 0', async () => {
    expectOneLine(
      await hicra('pretrain', '--out', join(root, 'p'), '--steps', '0'),
      2,
      '--steps must be 1 to',
    );
    expectOneLine(
      await hicra('eval', '--from', base, '--problems', '0'),
      2,
      '--problems must be 1 to',
    );
    expectOneLine(await hicra('eval', '--from', base, '--k', '0'), 2, '--k must be 1 to');
    expectOneLine(
      await hicra(...trainArgs(join(root, 'x')), '--steps', '0'),
      2,
      '--steps must be 1 to',
    );
    expect(existsSync(join(root, 'p'))).toBe(false);
  });

  it('a misspelled flag or command suggests the nearest valid one', async () => {
    expectOneLine(
      await hicra('train', '--from', base, '--out', join(root, 'x'), '--stratgy', 'grpo'),
      2,
      'unknown option --stratgy for `hicra train`; did you mean --strategy?',
    );
    expectOneLine(await hicra('trian'), 2, 'unknown command "trian"; did you mean "train"?');
    expectOneLine(await hicra('eval', '--from'), 2, '--from needs a value');
    expectOneLine(
      await hicra('eval', '--from', base, '--temperature', 'hot'),
      2,
      '--temperature must be a number',
    );
  });

  it('an unknown --estimator exits 2 and names the nearest estimator', async () => {
    expectOneLine(
      await hicra(...trainArgs(join(root, 'x')), '--estimator', 'rlo'),
      2,
      'unknown estimator "rlo" for --estimator; did you mean "rloo"?',
    );
  });

  it('config files that are not objects, or fail the schema, name the file and the key (exit 2)', async () => {
    for (const [name, content, what] of [
      ['forty-two.json', '42', 'got number'],
      ['null.json', 'null', 'got null'],
      ['list.json', '[]', 'got an array'],
      ['broken.json', '{"steps": ', 'not valid JSON'],
    ] as const) {
      const path = writeJson(name, content);
      for (const command of ['train', 'compare']) {
        const args =
          command === 'train'
            ? [...trainArgs(join(root, 'x'))]
            : ['compare', '--from', base, '--out', join(root, 'y')];
        expectOneLine(await hicra(...args, '--config', path), 2, `--config ${path}`, what);
      }
    }
    const badKey = writeJson('bad-key.json', { optimizer: { learningRate: -1 } });
    expectOneLine(
      await hicra(...trainArgs(join(root, 'x')), '--config', badKey),
      2,
      `--config ${badKey}`,
      'optimizer.learningRate',
    );
    // values that used to be accepted and failed much later (issue 13)
    for (const [name, value, key] of [
      ['huge-lr.json', { optimizer: { learningRate: 1e30 } }, 'optimizer.learningRate'],
      ['huge-batch.json', { promptsPerStep: 1e8 }, 'promptsPerStep'],
      [
        'zero-epsilon.json',
        { credit: { estimator: { name: 'grpo', epsilon: 0 }, assigners: [] } },
        'epsilon',
      ],
    ] as const) {
      const path = writeJson(name, value);
      expectOneLine(
        await hicra(...trainArgs(join(root, 'x')), '--config', path),
        2,
        `--config ${path}`,
        key,
      );
    }
    const unknownKey = writeJson('unknown-key.json', { optimiser: {} });
    expectOneLine(
      await hicra(...trainArgs(join(root, 'x')), '--config', unknownKey),
      2,
      `--config ${unknownKey}`,
      'optimiser',
    );
    expect(existsSync(join(root, 'x'))).toBe(false);
    expect(existsSync(join(root, 'y'))).toBe(false);
  });

  it('a config file whose nested keys are partial keeps the other defaults (deep merge)', async () => {
    const { resolveTrainConfig } = await import('../src/train.js');
    const config = resolveTrainConfig({
      strategy: 'grpo',
      seed: 0,
      config: { optimizer: { learningRate: 1e-3 } },
    }) as { optimizer: { learningRate: number; warmupSteps: number } };
    expect(config.optimizer).toEqual({ learningRate: 1e-3, warmupSteps: 2 });
  });

  it("a config file's engine section is checked key by key; flags and sections must agree (exit 2)", async () => {
    const out = join(root, 'engine-x');
    const remoteArgs = ['train', '--out', out, '--strategy', 'hicra'];
    for (const [name, engine, args, what] of [
      ['engine-list.json', [], remoteArgs, 'engine must be an object'],
      ['engine-kind.json', { kind: 'ray' }, remoteArgs, 'engine.kind must be "local" or "tinker"'],
      ['engine-key.json', { kind: 'tinker', url: 'x' }, remoteArgs, 'unknown key "url"'],
      [
        'engine-api-key.json',
        { kind: 'tinker', apiKey: 'tml-secret' },
        remoteArgs,
        'keep API keys out of config files',
      ],
      [
        'engine-url.json',
        { kind: 'tinker', baseUrl: 'ftp://x', model: 'm', tokenizer: 't' },
        remoteArgs,
        'engine.baseUrl must be an http(s) URL',
      ],
      [
        'engine-no-model.json',
        { kind: 'tinker', baseUrl: 'http://127.0.0.1:1', tokenizer: base },
        remoteArgs,
        '--engine tinker needs --model (or model in the config file\'s "engine")',
      ],
      [
        'engine-local-url.json',
        { kind: 'local', baseUrl: 'http://127.0.0.1:1' },
        trainArgs(out),
        'engine.baseUrl goes with engine.kind "tinker"',
      ],
    ] as const) {
      const path = writeJson(name, { engine, ...tinyRl });
      expectOneLine(await hicra(...args, '--config', path), 2, what);
    }
    // compare trains in process: a remote engine in its config is refused, up front.
    const remote = writeJson('engine-compare.json', {
      engine: { kind: 'tinker', baseUrl: 'http://127.0.0.1:1', model: 'm', tokenizer: base },
    });
    expectOneLine(
      await hicra('compare', '--from', base, '--out', join(root, 'engine-y'), '--config', remote),
      2,
      `--config ${remote}`,
      'compare trains every run in process',
    );
    expect(existsSync(out)).toBe(false);
    expect(existsSync(join(root, 'engine-y'))).toBe(false);
  });

  it('--credit errors say --credit and the file', async () => {
    const credit = writeJson('credit.json', { estimator: { name: 'grpoo' }, assigners: [] });
    expectOneLine(
      await hicra('annotate', sample, '--out', join(root, 'a.jsonl'), '--credit', credit),
      2,
      `--credit ${credit}`,
      'grpoo',
    );
  });
});

describe('errors of the work: one line, exit 1, nothing overwritten', () => {
  it('eval of a checkpoint without tokenizer.json', async () => {
    const copy = join(root, 'no-tokenizer');
    mkdirSync(copy);
    for (const file of ['config.json', 'model.safetensors'])
      writeFileSync(join(copy, file), readFileSync(join(base, file)));
    expectOneLine(
      await hicra('eval', '--from', copy),
      1,
      'HICRA_CORRUPT_FILE',
      `${join(copy, 'tokenizer.json')}: not found`,
    );
  });

  it('compare --from a missing path, train --from a file', async () => {
    expectOneLine(
      await hicra('compare', '--from', join(root, 'nowhere'), '--out', join(root, 'y')),
      1,
      'nowhere: no such checkpoint folder',
    );
    expectOneLine(
      await hicra(
        'train',
        '--from',
        join(base, 'config.json'),
        '--out',
        join(root, 'x'),
        '--strategy',
        'grpo',
      ),
      1,
      'is a file; give the checkpoint folder',
    );
  });

  it('annotate --out into a missing directory creates it; --out onto the input is refused', async () => {
    const out = join(root, 'new', 'dir', 'annotated.jsonl');
    const result = await hicra('annotate', sample, '--out', out);
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain('planningMatches');
    expectOneLine(
      await hicra('annotate', sample, '--out', sample),
      2,
      'never overwrites its input',
    );
  });

  it('annotate --out onto a file that is not annotated rollouts is refused without --force', async () => {
    const other = writeJson('precious.jsonl', '{"step":0}\n');
    expectOneLine(
      await hicra('annotate', sample, '--out', other),
      1,
      'not annotated rollouts',
      '--force',
    );
    expect(readFileSync(other, 'utf8')).toBe('{"step":0}\n');
    expect((await hicra('annotate', sample, '--out', other, '--force')).code).toBe(0);
  });

  it('pretrain --out onto an existing checkpoint is refused without --force', async () => {
    const before = readFileSync(join(base, 'model.safetensors'));
    expectOneLine(
      await hicra('pretrain', '--out', base, '--steps', '1', '--model', 'tiny'),
      1,
      'already holds a checkpoint',
      '--force',
    );
    expect(readFileSync(join(base, 'model.safetensors')).equals(before)).toBe(true);
  });

  it('report --out onto a file that is not a report is refused without --force', async () => {
    const runDir = join(root, 'report-run');
    const config = writeJson('rl-tiny.json', {
      ...tinyRl,
      evaluation: { every: 1, problems: 2, k: 2 },
    });
    const trained = await hicra(...trainArgs(runDir), '--steps', '1', '--config', config);
    expect(trained.code, trained.stderr).toBe(0);
    const metrics = join(runDir, 'metrics.jsonl');
    const before = readFileSync(metrics, 'utf8');
    expectOneLine(
      await hicra('report', runDir, '--out', metrics),
      1,
      'is not a hicra report',
      '--force',
    );
    expect(readFileSync(metrics, 'utf8')).toBe(before);
    // a report is replaced without --force
    const page = join(root, 'page.html');
    expect((await hicra('report', runDir, '--out', page)).code).toBe(0);
    expect((await hicra('report', runDir, '--out', page)).code).toBe(0);
    // a folder of runs reports every run in it; a report file among the arguments is explained
    expect((await hicra('report', root, '--out', join(root, 'all.html'))).code).toBe(0);
    expectOneLine(
      await hicra('report', page, '--out', join(root, 'b.html')),
      1,
      'is a file, not a run directory (a report)',
    );
  });
});

describe('the run directory', () => {
  it('a resume with other settings is refused and run.json stays as it was', async () => {
    const runDir = join(root, 'resume');
    const config = writeJson('rl-resume.json', tinyRl);
    const args = [...trainArgs(runDir), '--seed', '0', '--steps', '1', '--config', config];
    expect((await hicra(...args)).code).toBe(0);
    const saved = readFileSync(join(runDir, 'run.json'), 'utf8');
    const changed = await hicra(
      ...args.map((a) => (a === 'grpo' ? 'hicra' : a)),
      '--estimator',
      'rloo',
    );
    // the refusal lists each differing key on a line of its own
    expectError(
      changed,
      1,
      8,
      'HICRA_RUN_MISMATCH',
      'strategy: saved "grpo", requested "hicra"',
      'estimator: saved "grpo", requested "rloo"',
    );
    expect(readFileSync(join(runDir, 'run.json'), 'utf8')).toBe(saved);
    const seed = await hicra(...args.map((a, i) => (args[i - 1] === '--seed' ? '1' : a)));
    expectError(seed, 1, 4, 'HICRA_RUN_MISMATCH', 'seed: saved 0, requested 1');
    // more steps is a resume, not a mismatch
    const longer = await hicra(
      ...args.map((a, i) => (args[i - 1] === '--steps' ? '2' : a)),
      '--json',
    );
    expect(longer.code, longer.stderr).toBe(0);
    expect(JSON.parse(longer.stdout)).toMatchObject({
      status: 'completed',
      resumedFrom: 1,
      step: 2,
    });
  });

  it('a run directory locked by a live process is refused, naming the holder', async () => {
    const runDir = join(root, 'locked');
    mkdirSync(runDir);
    const lock = join(runDir, 'run.lock');
    writeFileSync(
      lock,
      JSON.stringify({
        pid: process.pid,
        host: hostname(),
        command: 'hicra train',
        startedAt: new Date().toISOString(),
      }),
    );
    const config = writeJson('rl-locked.json', tinyRl);
    const result = await hicra(...trainArgs(runDir), '--steps', '1', '--config', config);
    expectOneLine(result, 1, 'HICRA_RUN_LOCKED', String(process.pid));
    expect(existsSync(join(runDir, 'metrics.jsonl'))).toBe(false);
    unlinkSync(lock);
  });

  it('a crash before the first checkpoint: the rerun leaves no duplicate record and the report accepts the run', async () => {
    const runDir = join(root, 'crashed');
    const config = writeJson('rl-crash.json', {
      ...tinyRl,
      evaluation: { every: 1, problems: 2, k: 2 },
    });
    const args = [...trainArgs(runDir), '--steps', '2', '--config', config];
    expect((await hicra(...args)).code).toBe(0);
    // what a kill -9 before the first checkpoint leaves: records, no checkpoint, a torn line
    rmSync(join(runDir, 'checkpoint'), { recursive: true });
    writeFileSync(
      join(runDir, 'metrics.jsonl'),
      `${readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')}{"kind":"tra`,
    );
    const rerun = await hicra(...args);
    expect(rerun.code, rerun.stderr).toBe(0);
    const records = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { kind: string; step: number });
    const keys = records.map((r) => `${r.kind}@${r.step}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.filter((k) => k.startsWith('train@'))).toEqual(['train@1', 'train@2']);
    const report = await hicra('report', runDir, '--out', join(root, 'crashed.html'));
    expect(report.code, report.stderr).toBe(0);
  });
});

describe('end to end, as a user runs it', () => {
  it('a user error prints one line and no stack trace from the real process', () => {
    const result = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--conditions=@hicra/source',
        cli,
        'compare',
        '--from',
        join(root, 'nowhere'),
        '--out',
        join(root, 'y'),
      ],
      { encoding: 'utf8', cwd: fileURLToPath(new URL('..', import.meta.url)) },
    );
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('no such checkpoint folder');
  });
});
