/**
 * Benchmark: @hicra/tensor ops on the CPU and WASM backends next to PyTorch (CPU, one thread),
 * measured in the same run on the same seeded inputs. Prints a ratio table and writes
 * results/tensor-ops.json. See bench/README.md for the method.
 *
 *   node --import tsx --conditions=@hicra/source src/tensor-ops.ts [--runs 5] [--help]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  aggregateLoss,
  type BackendInfo,
  initBackend,
  klPenalty,
  maskedWhiten,
  policyLoss,
  segmentMeanStd,
  type Tensor,
  tf,
  tokenLogProbsAndEntropy,
  topQMask,
} from '@hicra/tensor';
import { type BenchBackend, type Options, parseArgs, runScript, USAGE } from './lib/args.js';
import {
  AGGREGATION_MODES,
  B,
  GROUP_SIZE,
  logitsInputs,
  type MaskedInputs,
  maskedInputs,
  N,
  POLICY_LOSS,
  readArray,
  T,
  TOP_Q,
  V,
  writeLogitsInputs,
  writeMaskedInputs,
  writeMeta,
} from './lib/data.js';
import { compare, measure, type Outputs, type Timing } from './lib/measure.js';
import { markdownTable, type Row, ratioOf } from './lib/report.js';
import { formatLoad, machine, sourceState } from './lib/run-info.js';
import { ensureTorchPeer, runTorchPeer, type TorchOp, type TorchReport } from './lib/torch-peer.js';

const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PEER_SCRIPT = join(BENCH_DIR, 'peers', 'tensor_ops.py');
/** Agreement: max |ours - torch| <= ABS + REL · max |torch| over an op's outputs. */
const AGREE_ABS = 1e-5;
const AGREE_REL = 1e-4;
const MASKED_SIZE = `${B}×${T}`;
const LOGITS_SIZE = `${N}×${V}`;
/** The packages whose uncommitted changes the results record. */
const MEASURED = ['packages/tensor', 'packages/spec'];

interface Case {
  readonly op: string;
  readonly size: string;
  readonly heavy?: boolean;
  readonly run: () => Outputs | Promise<Outputs>;
}

interface ResultRow extends Row {
  readonly oursTimesMs?: number[];
  readonly torchTimesMs?: number[];
  readonly ratio?: number;
  readonly faster?: string;
  readonly compared?: number;
  readonly differing?: number;
  readonly warmup?: number;
  readonly runs?: number;
}

const log = (message: string) => console.error(`[bench] ${message}`);

/** Reads every output of a tensor and disposes it. */
async function read(tensor: Tensor): Promise<Float32Array> {
  const data = (await tensor.data()) as Float32Array;
  tensor.dispose();
  return data;
}

async function scalar(tensor: Tensor): Promise<number> {
  return (await read(tensor))[0]!;
}

function torchOutputs(op: TorchOp, dataDir: string): Outputs {
  const outputs: Outputs = {};
  for (const [name, output] of Object.entries(op.outputs)) {
    outputs[name] =
      'value' in output ? output.value : readArray(join(dataDir, output.file), output.dtype);
  }
  return outputs;
}

function maxAbs(outputs: Outputs): number {
  let max = 0;
  for (const value of Object.values(outputs)) {
    const values = typeof value === 'number' ? [value] : value;
    for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i]!));
  }
  return max;
}

/** Times one case, checks for leaked tensors, compares with the peer; never throws. */
async function runCase(
  testCase: Case,
  backend: string,
  counts: { warmup: number; runs: number },
  torch: TorchReport,
  dataDir: string,
  tensorsMatter: boolean,
): Promise<ResultRow> {
  const base = { op: testCase.op, backend, size: testCase.size, ...counts };
  const peer = torch.ops[testCase.op];
  const torchPart = peer ? { torchMs: peer.median_ms, torchTimesMs: peer.times_ms } : {};
  log(`${backend} ${testCase.op}: ${counts.warmup} warm-up + ${counts.runs} timed runs`);
  let timing: Timing;
  const before = tensorsMatter ? tf.memory().numTensors : 0;
  try {
    timing = await measure(testCase.run, counts.warmup, counts.runs);
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    log(`${backend} ${testCase.op} failed: ${message}`);
    return { ...base, ...torchPart, error: message };
  }
  const leaked = tensorsMatter ? tf.memory().numTensors - before : 0;
  const oursPart = { oursMs: timing.medianMs, oursTimesMs: timing.timesMs };
  if (leaked !== 0) {
    return { ...base, ...oursPart, ...torchPart, error: `${leaked} tensors leaked per case` };
  }
  if (!peer) return { ...base, ...oursPart, error: 'no PyTorch result for this op' };
  const theirs = torchOutputs(peer, dataDir);
  const agreement = compare(timing.outputs, theirs);
  const agree = agreement.maxAbsDiff <= AGREE_ABS + AGREE_REL * maxAbs(theirs);
  const row: ResultRow = {
    ...base,
    ...oursPart,
    ...torchPart,
    maxAbsDiff: agreement.maxAbsDiff,
    compared: agreement.compared,
    differing: agreement.differing,
    agree,
  };
  const { ratio, faster } = ratioOf(row);
  return { ...row, ...(ratio === undefined ? {} : { ratio }), faster };
}

/** The typed-array kernels: plain JS on typed arrays, the same on every backend. */
function kernelCases(inputs: MaskedInputs): Case[] {
  return [
    {
      op: 'maskedWhiten',
      size: MASKED_SIZE,
      run: () => ({ whitened: maskedWhiten(inputs.values, inputs.responseMaskBytes) }),
    },
    {
      op: 'segmentMeanStd',
      size: `${B} (groups of ${GROUP_SIZE})`,
      run: () => {
        const { mean, std } = segmentMeanStd(inputs.rewards, inputs.groupIds);
        return { mean, std };
      },
    },
    {
      op: 'topQMask',
      size: MASKED_SIZE,
      run: () => ({
        mask: topQMask({
          values: inputs.entropies,
          mask: inputs.responseMaskBytes,
          batchSize: B,
          seqLen: T,
          q: TOP_Q,
          scope: 'batch',
        }),
      }),
    },
  ];
}

/** The tfjs ops on the current backend; returns them and a disposer of their inputs. */
function tensorCases(
  masked: MaskedInputs | undefined,
  logits: ReturnType<typeof logitsInputs> | undefined,
): { cases: Case[]; dispose: () => void } {
  const cases: Case[] = [];
  const owned: Tensor[] = [];
  const tensor2d = (values: Float32Array, shape: [number, number]) => {
    const t = tf.tensor2d(values, shape);
    owned.push(t);
    return t;
  };
  if (masked) {
    const logProbs = tensor2d(masked.logProbs, [B, T]);
    const oldLogProbs = tensor2d(masked.oldLogProbs, [B, T]);
    const refLogProbs = tensor2d(masked.refLogProbs, [B, T]);
    const advantages = tensor2d(masked.advantages, [B, T]);
    const perTokenLoss = tensor2d(masked.perTokenLoss, [B, T]);
    const lossMask = tensor2d(masked.responseMask, [B, T]);
    cases.push({
      op: 'policyLoss',
      size: MASKED_SIZE,
      run: async () => {
        const r = policyLoss(
          { logProbs, oldLogProbs, advantages, lossMask },
          { mode: 'token-mean', ...POLICY_LOSS },
        );
        return {
          loss: await scalar(r.loss),
          clipFraction: await scalar(r.clipFraction),
          clipFractionLower: await scalar(r.clipFractionLower),
          approxKl: await scalar(r.approxKl),
        };
      },
    });
    for (const mode of AGGREGATION_MODES) {
      cases.push({
        op: `aggregateLoss:${mode}`,
        size: MASKED_SIZE,
        run: async () => ({ loss: await scalar(aggregateLoss(perTokenLoss, lossMask, mode)) }),
      });
    }
    cases.push({
      op: 'klPenalty:k3',
      size: MASKED_SIZE,
      run: async () => ({ kl: await read(klPenalty(logProbs, refLogProbs, 'k3')) }),
    });
  }
  if (logits) {
    const x = tensor2d(logits.logits, [N, V]);
    const labels = tf.tensor1d(logits.labels, 'int32');
    owned.push(labels);
    cases.push({
      op: 'tokenLogProbsAndEntropy:forward',
      size: LOGITS_SIZE,
      heavy: true,
      run: async () => {
        const { logProbs, entropies } = tokenLogProbsAndEntropy(x, labels);
        return { logProbs: await read(logProbs), entropies: await read(entropies) };
      },
    });
    // d/dlogits of Σ logProbs + Σ entropies, through tfjs autodiff and the op's custom gradient.
    const gradient = tf.grad((input: Tensor) => {
      const { logProbs, entropies } = tokenLogProbsAndEntropy(input, labels);
      return tf.add(tf.sum(logProbs), tf.sum(entropies));
    });
    cases.push({
      op: 'tokenLogProbsAndEntropy:forward+backward',
      size: LOGITS_SIZE,
      heavy: true,
      run: async () => ({ gradient: await read(gradient(x)) }),
    });
  }
  return { cases, dispose: () => tf.dispose(owned) };
}

const loadAtStart = loadavg();

async function main(options: Options): Promise<number> {
  const started = new Date();
  ensureTorchPeer();
  const withMasked = options.groups.includes('masked');
  const withLogits = options.groups.includes('logits');
  const dataDir = mkdtempSync(join(tmpdir(), 'hicra-bench-'));
  try {
    log(`generating seeded inputs in ${dataDir}`);
    writeMeta(dataDir);
    const masked = withMasked ? maskedInputs() : undefined;
    if (masked) writeMaskedInputs(dataDir, masked);
    const logits = withLogits ? logitsInputs() : undefined;
    if (logits) writeLogitsInputs(dataDir, logits);

    log(`running the PyTorch peer (${options.warmup} warm-up + ${options.runs} timed runs per op)`);
    const torch = runTorchPeer(PEER_SCRIPT, dataDir, options);

    const rows: ResultRow[] = [];
    const backends: Record<string, Omit<BackendInfo, 'skipped'>> = {};
    if (masked) {
      const counts = { warmup: options.warmup, runs: options.runs };
      for (const testCase of kernelCases(masked)) {
        rows.push(await runCase(testCase, 'js', counts, torch, dataDir, false));
      }
    }
    for (const backend of options.backends) {
      const info = await initBackend(backend);
      backends[backend] = { name: info.name, tfjsBackend: info.tfjsBackend, simd: info.simd };
      const baseline = tf.memory().numTensors;
      const { cases, dispose } = tensorCases(masked, logits);
      for (const testCase of cases) {
        rows.push(
          await runCase(
            testCase,
            backend,
            countsFor(options, backend, testCase),
            torch,
            dataDir,
            true,
          ),
        );
      }
      dispose();
      const left = tf.memory().numTensors - baseline;
      if (left !== 0) throw new Error(`${left} tensors were left alive on ${backend}`);
    }
    printReport(rows, torch, backends, options);
    const out = resolve(BENCH_DIR, options.out);
    mkdirSync(dirname(out), { recursive: true });
    const { ops: _ops, ...torchMeta } = torch;
    const report = {
      benchmark: 'tensor-ops',
      started: started.toISOString(),
      finished: new Date().toISOString(),
      machine: machine(),
      loadAverage: { start: loadAtStart, end: loadavg() },
      source: sourceState(MEASURED),
      tfjs: tf.version_core,
      backends,
      torch: torchMeta,
      options,
      agreement: { abs: AGREE_ABS, rel: AGREE_REL },
      rows,
    };
    writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nResults written to ${out}`);
    const failed = rows.filter((r) => r.error !== undefined || r.agree === false);
    if (failed.length > 0) {
      console.error(
        `bench: ${failed.length} row(s) failed or disagree with PyTorch: ${failed.map((r) => `${r.op} (${r.backend})`).join(', ')}`,
      );
      return 1;
    }
    return 0;
  } finally {
    if (options.keepData) log(`kept the exchanged files in ${dataDir}`);
    else rmSync(dataDir, { recursive: true, force: true });
  }
}

function countsFor(
  options: Options,
  backend: BenchBackend,
  testCase: Case,
): { warmup: number; runs: number } {
  if (backend === 'wasm') return { warmup: options.warmup, runs: options.runs };
  return {
    warmup: options.cpuWarmup,
    runs: testCase.heavy ? options.cpuLogitsRuns : options.cpuRuns,
  };
}

function printReport(
  rows: readonly ResultRow[],
  torch: TorchReport,
  backends: Record<string, Omit<BackendInfo, 'skipped'>>,
  options: Options,
): void {
  const m = machine();
  const source = sourceState(MEASURED);
  const wasm = backends.wasm;
  const lines = [
    '',
    '## @hicra/tensor ops vs PyTorch (median ms, same run, same inputs)',
    '',
    `- machine: ${m.cpu}, ${m.cores} cores; Node ${m.node}; tfjs-core ${tf.version_core}` +
      (wasm ? `; wasm SIMD ${wasm.simd ? 'on' : 'off'}, 1 thread` : '') +
      `; niceness ${m.niceness}; load average (1/5/15 min) ${formatLoad(loadAtStart)} at start, ${formatLoad(loadavg())} at end`,
    `- torch ${torch.torch} (Debian python3-torch ${torch.debianPackages['python3-torch'] ?? '?'}), ` +
      `Python ${torch.python} (${torch.executable}), ${torch.threads} thread; ${torch.config.blas_info ?? 'BLAS_INFO unknown'}; ` +
      `BLAS loaded: ${torch.blasLibraries.join(', ') || 'none found'} (no op here multiplies matrices)`,
    `- source: commit ${source.commit ?? 'unknown'}` +
      (source.uncommitted.length > 0
        ? ` plus ${source.uncommitted.length} uncommitted change(s) in packages/tensor or packages/spec`
        : ''),
    `- runs: wasm, js and torch ${options.warmup} warm-up + ${options.runs} timed; cpu ${options.cpuWarmup} warm-up + ` +
      `${options.cpuRuns} timed (${options.cpuLogitsRuns} for the ${LOGITS_SIZE} ops)`,
    '- js = typed-array kernel (plain JS, no tfjs backend involved); ours/torch > 1 means torch is faster',
    `- max |diff| = largest |ours - torch| over all outputs of the op; agreement needs <= ${AGREE_ABS} + ${AGREE_REL}·max|torch|`,
    '',
    markdownTable(rows),
  ];
  console.log(lines.join('\n'));
}

await runScript(parseArgs, USAGE, main);
