/**
 * Benchmark: the GRPO + HICRA credit pipeline of @hicra/advantage at B = 512, T = 8192 (4.2M
 * tokens) next to PyTorch on the CPU (one thread) in the same run: verl's own loop-based
 * GRPO followed by HICRA's rule, and a vectorised torch version. Prints the ratio table; exits
 * non-zero when a peer's advantages differ from ours by more than 1e-5 (absolute).
 *
 *   node --import tsx --conditions=@hicra/source src/advantage-pipeline.ts [--runs 5] [--json FILE]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCreditPipeline } from '@hicra/advantage';
import type { RolloutBatchV1 } from '@hicra/spec';
import { SeededGenerator } from '@hicra/tensor';
import { count, forEachFlag, runScript } from './lib/args.js';
import { median } from './lib/measure.js';
import { formatLoad } from './lib/run-info.js';
import { ensureTorchPeer, PYTHON, peerEnvironment } from './lib/torch-peer.js';

const B = 512;
const T = 8192;
const GROUP_SIZE = 8;
const ALPHA = 0.2;
const EPSILON = 1e-6;
/** The largest |ours - peer| over all advantages for the two to agree (float32 on both sides). */
const TOLERANCE = 1e-5;
const WARMUP = 1;
const here = dirname(fileURLToPath(import.meta.url));

interface Options {
  runs: number;
  json: string | undefined;
  help: boolean;
}

const USAGE = `Usage: pnpm --filter @hicra/bench bench:advantage -- [--runs N] [--json FILE]

The GRPO + HICRA credit pipeline at B = ${B}, T = ${T} next to verl's loop and a vectorised torch
version (one thread), in the same run.

  --runs N      timed runs after ${WARMUP} warm-up, on each side [5]
  --json FILE   also write the results as JSON (what bench:summary reads)
  --help        this text`;

function parse(argv: readonly string[]): Options {
  const options: Options = { runs: 5, json: undefined, help: false };
  forEachFlag(argv, USAGE, (flag, value) => {
    if (flag === '--runs') options.runs = count(flag, value(), 1);
    else if (flag === '--json') options.json = value();
    else if (flag === '--help' || flag === '-h') options.help = true;
    else return false;
    return true;
  });
  return options;
}

function makeBatch(): RolloutBatchV1 {
  const g = new SeededGenerator(20_251_126);
  const groups = B / GROUP_SIZE;
  const groupIds = Int32Array.from({ length: B }, (_, i) => Math.floor(i / GROUP_SIZE) * 3 + 1);
  const responseMask = new Uint8Array(B * T);
  const planningMask = new Uint8Array(B * T);
  for (let i = 0; i < B; i++) {
    const length = 1 + g.nextInt(T);
    responseMask.fill(1, i * T, i * T + length);
    for (let t = 0; t < length; t++) if (g.nextFloat() < 0.15) planningMask[i * T + t] = 1;
  }
  return {
    batchSize: B,
    seqLen: T,
    groupIds,
    prompts: {
      groupIds: Int32Array.from({ length: groups }, (_, p) => p * 3 + 1),
      texts: Array.from({ length: groups }, () => ''),
    },
    tokenIds: new Int32Array(B * T),
    responseMask,
    rewards: Float32Array.from({ length: B }, () => g.nextInt(2)),
    planningMask,
  };
}

async function main(options: Options): Promise<number> {
  const RUNS = options.runs;
  ensureTorchPeer();
  const loadStart = loadavg();
  const batch = makeBatch();
  const pipeline = createCreditPipeline({
    estimator: { name: 'grpo', epsilon: EPSILON },
    assigners: [{ name: 'hicra', alpha: ALPHA }],
  });
  // A fresh batch object per run: the pipeline validates each new batch once, and that cost
  // belongs in the measurement.
  for (let i = 0; i < WARMUP; i++) pipeline.run({ ...batch });
  const times: number[] = [];
  let ours: Float32Array = new Float32Array(0);
  for (let i = 0; i < RUNS; i++) {
    const fresh = { ...batch };
    const start = performance.now();
    ours = pipeline.run(fresh).advantages;
    times.push(performance.now() - start);
  }
  const oursMs = median(times);

  const dir = mkdtempSync(join(tmpdir(), 'hicra-bench-advantage-'));
  try {
    writeFileSync(join(dir, 'meta.json'), JSON.stringify({ B, T, alpha: ALPHA, epsilon: EPSILON }));
    writeFileSync(join(dir, 'group_ids.bin'), Buffer.from(batch.groupIds.buffer));
    writeFileSync(join(dir, 'rewards.bin'), Buffer.from(batch.rewards.buffer));
    writeFileSync(join(dir, 'response_mask.bin'), Buffer.from(batch.responseMask.buffer));
    writeFileSync(join(dir, 'planning_mask.bin'), Buffer.from(batch.planningMask!.buffer));
    const peer = spawnSync(
      PYTHON,
      [
        resolve(here, '../peers/advantage_pipeline.py'),
        '--data',
        dir,
        '--runs',
        String(RUNS),
        '--warmup',
        String(WARMUP),
      ],
      {
        env: peerEnvironment(),
        encoding: 'utf8',
        maxBuffer: 1 << 24,
      },
    );
    if (peer.status !== 0) throw new Error(`the PyTorch peer failed:\n${peer.stderr}`);
    const report = JSON.parse(peer.stdout) as {
      torch: string;
      threads: number;
      ops: Record<string, { median_ms: number; times_ms: number[]; file: string }>;
    };
    const peers: { name: string; peerMs: number; peerTimesMs: number[]; maxAbsDiff: number }[] = [];
    const rows: string[] = [];
    rows.push(
      `GRPO + HICRA credit pipeline, B = ${B}, T = ${T} (${(B * T).toLocaleString('en')} tokens), groups of ${GROUP_SIZE}`,
    );
    rows.push(
      `node ${process.version}; PyTorch ${report.torch}, ${report.threads} thread; median of ${RUNS} runs after ${WARMUP} warm-up`,
    );
    rows.push('');
    rows.push('| peer | ours (ms) | peer (ms) | ours / peer | max abs diff |');
    rows.push('|---|---|---|---|---|');
    for (const [name, op] of Object.entries(report.ops)) {
      const theirs = new Float32Array(readFileSync(op.file).buffer.slice(0));
      let diff = 0;
      if (theirs.length !== ours.length) diff = Number.POSITIVE_INFINITY;
      for (let k = 0; k < ours.length; k++) {
        const d = Math.abs(ours[k]! - theirs[k]!);
        // NaN on either side counts as a disagreement.
        if (!(d <= diff)) diff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
      }
      const agree = diff <= TOLERANCE;
      rows.push(
        `| ${name} | ${oursMs.toFixed(1)} | ${op.median_ms.toFixed(1)} | ${(oursMs / op.median_ms).toFixed(2)} | ${diff.toExponential(1)}${agree ? '' : ' (DISAGREE)'} |`,
      );
      peers.push({ name, peerMs: op.median_ms, peerTimesMs: op.times_ms, maxAbsDiff: diff });
    }
    const loadEnd = loadavg();
    rows.push('');
    rows.push(
      `load average ${formatLoad(loadStart)} at the start, ${formatLoad(loadEnd)} at the end; agreement: max |diff| <= ${TOLERANCE}`,
    );
    console.log(rows.join('\n'));
    if (options.json !== undefined) {
      writeFileSync(
        options.json,
        `${JSON.stringify(
          {
            torch: { version: report.torch, threads: report.threads },
            tokens: B * T,
            runs: RUNS,
            warmup: WARMUP,
            oursMs,
            oursTimesMs: times,
            peers,
            tolerance: TOLERANCE,
            load: { start: loadStart, end: loadEnd },
          },
          null,
          2,
        )}\n`,
      );
    }
    const disagreeing = peers.filter((p) => !(p.maxAbsDiff <= TOLERANCE));
    for (const p of disagreeing) {
      console.error(
        `bench:advantage: ${p.name} disagrees with ours: max |diff| ${p.maxAbsDiff} > ${TOLERANCE}`,
      );
    }
    return disagreeing.length === 0 ? 0 : 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await runScript(parse, USAGE, main);
