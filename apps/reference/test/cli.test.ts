import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { hicra } from './run-hicra.js';

const root = mkdtempSync(join(tmpdir(), 'hicra-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const cli = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

describe('hicra command line', () => {
  const base = join(root, 'base');
  const run = join(root, 'run');

  it('prints help with examples and exits 0; no command exits 2', () => {
    const help = hicra('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('hicra pretrain --out runs/base');
    expect(help.stdout).toContain('Exit codes');
    expect(hicra('train', '--help').stdout).toContain('--strategy NAME');
    expect(hicra().status).toBe(2);
  });

  it('rejects unknown commands, unknown flags and missing arguments with exit code 2', () => {
    const unknown = hicra('fly');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('unknown command "fly"');
    const flag = hicra('pretrain', '--out', base, '--stpes', '3');
    expect(flag.status).toBe(2);
    expect(flag.stderr).toContain(
      'unknown option --stpes for `hicra pretrain`; did you mean --steps?',
    );
    expect(hicra('train', '--from', base).stderr).toContain(
      'hicra train needs --out PATH, --strategy NAME',
    );
    expect(hicra('pretrain', '--out', base, '--level', '9').stderr).toContain(
      '--level must be 0 to 4',
    );
  });

  it('pretrain -> train -> eval end to end on tiny settings, with JSON output', () => {
    const pretrained = hicra(
      'pretrain',
      '--out',
      base,
      '--seed',
      '1',
      '--steps',
      '4',
      '--examples',
      '64',
      '--model',
      'tiny',
      '--eval-problems',
      '8',
      '--json',
      '--quiet',
    );
    expect(pretrained.stderr).toBe('');
    expect(pretrained.status).toBe(0);
    expect(JSON.parse(pretrained.stdout)).toMatchObject({ out: base });
    expect(existsSync(join(base, 'model.safetensors'))).toBe(true);

    const config = join(root, 'rl.json');
    writeFileSync(
      config,
      JSON.stringify({
        promptsPerStep: 2,
        samplesPerPrompt: 2,
        sampling: { maxNewTokens: 8 },
        evaluation: { every: 2, problems: 2, k: 2 },
        update: { miniBatchSize: 4 },
      }),
    );
    const trained = hicra(
      'train',
      '--from',
      base,
      '--out',
      run,
      '--strategy',
      'hicra',
      '--seed',
      '0',
      '--steps',
      '2',
      '--config',
      config,
      '--json',
    );
    expect(trained.status).toBe(0);
    expect(JSON.parse(trained.stdout)).toMatchObject({ status: 'completed', step: 2 });
    expect(trained.stderr).toContain('hicra seed 0 step 2/2');
    const metrics = readFileSync(join(run, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(metrics.filter((m) => m.kind === 'train')).toHaveLength(2);
    expect(JSON.parse(readFileSync(join(run, 'run.json'), 'utf8'))).toMatchObject({
      strategy: 'hicra',
      seed: 0,
    });

    const evaluated = hicra(
      'eval',
      '--from',
      join(run, 'checkpoint'),
      '--problems',
      '4',
      '--k',
      '2',
      '--json',
      '--quiet',
    );
    expect(evaluated.status).toBe(0);
    expect(JSON.parse(evaluated.stdout)).toMatchObject({ k: 2, problems: 4 });
  });

  it('compare trains every strategy × seed in child processes and writes the report', () => {
    const config = join(root, 'rl-compare.json');
    writeFileSync(
      config,
      JSON.stringify({
        promptsPerStep: 2,
        samplesPerPrompt: 2,
        sampling: { maxNewTokens: 6 },
        evaluation: { every: 1, problems: 2, k: 2 },
        update: { miniBatchSize: 4 },
      }),
    );
    const out = join(root, 'compare');
    const compared = hicra(
      'compare',
      '--from',
      base,
      '--out',
      out,
      '--strategies',
      'grpo,hicra',
      '--seeds',
      '0',
      '--steps',
      '1',
      '--config',
      config,
      '--json',
      '--quiet',
    );
    expect(compared.status).toBe(0);
    const result = JSON.parse(compared.stdout);
    expect(
      result.runs
        .map((r: { strategy: string; exitCode: number }) => [r.strategy, r.exitCode])
        .sort(),
    ).toEqual([
      ['grpo', 0],
      ['hicra', 0],
    ]);
    expect(readFileSync(result.report, 'utf8')).toContain('<html');
    const again = hicra(
      'report',
      join(out, 'grpo-seed0'),
      join(out, 'hicra-seed0'),
      '--out',
      join(root, 'r.html'),
      '--json',
      '--quiet',
    );
    expect(again.status).toBe(0);
    expect(existsSync(join(root, 'r.html'))).toBe(true);
    const missing = hicra('report', join(root, 'no-such-run'), '--out', join(root, 'x.html'));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('no-such-run: no such run directory');
    expect(hicra('report').status).toBe(2);
  });

  it('Ctrl-C finishes the step, saves a checkpoint, exits 130; the same command resumes', async () => {
    const config = join(root, 'rl-sigint.json');
    writeFileSync(
      config,
      JSON.stringify({
        promptsPerStep: 2,
        samplesPerPrompt: 2,
        sampling: { maxNewTokens: 6 },
        evaluation: { every: 0 },
        update: { miniBatchSize: 4 },
        checkpointEvery: 0,
      }),
    );
    const runDir = join(root, 'sigint');
    const args = [
      '--import',
      'tsx',
      '--conditions=@hicra/source',
      cli,
      'train',
      '--from',
      base,
      '--out',
      runDir,
      '--strategy',
      'grpo',
      '--steps',
      '200',
      '--config',
      config,
    ];
    const child = spawn(process.execPath, args, {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: { ...process.env, HICRA_BACKEND: 'wasm' },
    });
    let stderr = '';
    const exit = new Promise<number | null>((resolveExit) =>
      child.on('exit', (code) => resolveExit(code)),
    );
    await new Promise<void>((resolveStep) =>
      child.stderr.on('data', (chunk) => {
        stderr += String(chunk);
        if (stderr.includes('step 2/200')) resolveStep();
      }),
    );
    child.kill('SIGINT');
    expect(await exit).toBe(130);
    expect(stderr).toContain('interrupted: finishing the current step and saving a checkpoint');
    const state = JSON.parse(
      readFileSync(join(runDir, 'checkpoint', 'trainer-state.json'), 'utf8'),
    );
    expect(state.step).toBeGreaterThanOrEqual(2);
    const resumed = hicra(
      'train',
      '--from',
      base,
      '--out',
      runDir,
      '--strategy',
      'grpo',
      '--steps',
      String(state.step + 1),
      '--config',
      config,
      '--json',
      '--quiet',
    );
    expect(resumed.status).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({
      status: 'completed',
      resumedFrom: state.step,
      step: state.step + 1,
    });
  });

  it('demo: pretrains, compares GRPO and HICRA and writes the report (tiny budget)', () => {
    const out = join(root, 'demo');
    const demo = hicra(
      'demo',
      '--out',
      out,
      '--pretrain-steps',
      '2',
      '--steps',
      '1',
      '--seeds',
      '0',
      '--json',
      '--quiet',
    );
    expect(demo.stderr).toBe('');
    expect(demo.status).toBe(0);
    const result = JSON.parse(demo.stdout);
    expect(result.runs.map((r: { strategy: string }) => r.strategy).sort()).toEqual([
      'grpo',
      'hicra',
      'placebo',
    ]);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('GRPO vs HICRA');
    // a second run reuses the base checkpoint
    expect(existsSync(join(out, 'base', 'model.safetensors'))).toBe(true);
  });

  it('reports a missing checkpoint and an unknown strategy clearly', () => {
    const missing = hicra(
      'train',
      '--from',
      join(root, 'nowhere'),
      '--out',
      run,
      '--strategy',
      'grpo',
    );
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('nowhere: no such checkpoint folder');
    const strategy = hicra('train', '--from', base, '--out', run, '--strategy', 'hicrra');
    expect(strategy.status).toBe(2);
    expect(strategy.stderr).toContain(
      'unknown strategy "hicrra" for --strategy; did you mean "hicra"?',
    );
    const corrupt = join(root, 'corrupt');
    rmSync(corrupt, { recursive: true, force: true });
    hicra(
      'pretrain',
      '--out',
      corrupt,
      '--steps',
      '1',
      '--examples',
      '8',
      '--model',
      'tiny',
      '--eval-problems',
      '1',
      '--quiet',
    );
    writeFileSync(join(corrupt, 'model.safetensors'), 'garbage');
    const bad = hicra('eval', '--from', corrupt);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('HICRA_CORRUPT_FILE');
  });
});
