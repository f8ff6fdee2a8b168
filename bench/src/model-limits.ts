/**
 * How large a model each backend can hold, run and train, measured: real Hugging Face shapes
 * (SmolLM2-135M, Qwen2.5-0.5B, Qwen3-0.6B, Llama-3.2-1B, and some of them with fewer layers to
 * bracket the limits) created with random weights on the WASM and CPU backends of
 * `@hicra/tensor`. Not part of `pnpm bench`: it takes about 20 minutes.
 *
 * Each probe runs in its own child process, so a crash, an out-of-memory kill or a timeout is
 * recorded as that probe's outcome instead of ending the benchmark. A probe:
 *
 * 1. asks `checkModelFits` (purposes `hold`, `run` and `train`) about the model and records the verdicts
 *    or the `ResourceLimitError`, then goes on anyway: nothing after it is guarded, so the table
 *    shows what really happens where the check would have refused, and where it would not;
 * 2. holds: `TransformerPolicy.create` (seeded random float32 weights);
 * 3. runs one forward pass: `score` of 1 sequence × 32 tokens;
 * 4. trains one step on the local engine (`LocalTrainingClient`: forward, cross-entropy,
 *    backward by `tf.variableGrads`, global-norm clipping, Adam) on 2 sequences × 32 tokens.
 *
 * For each phase it records the time, the bytes of tensor data the engine tracks (each buffer
 * once) and their peak during the phase, the WASM heap's size and the process's peak resident
 * memory (VmHWM). On WASM it also counts `malloc` calls that returned NULL (tfjs-backend-wasm
 * uses the pointer unchecked) and XNNPACK operators that could not be created (tfjs-backend-wasm
 * warns and leaves the matmul's output unwritten).
 *
 * The machine may be shared, so every child is polled every 100 ms and killed when its resident
 * memory comes within 0.5 GiB of the cap: `--max-rss-gib` (default 12), lowered to what is
 * available less 1.5 GiB. An address-space limit (`ulimit -v`) cannot be used: Node reserves
 * tens of GiB of address space for WebAssembly memories (tsx's included) at start. Each child
 * also runs with `--max-old-space-size=4096` and is killed after `--timeout-s` (default 480) or
 * its probe's own timeout. Probes run one at a time.
 *
 *   node --import tsx --conditions=@hicra/source src/model-limits.ts
 *     [--backends wasm,cpu] [--only ID,ID] [--max-rss-gib 12] [--timeout-s 480]
 *     [--out results/model-limits.json]
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const GIB = 2 ** 30;
/**
 * A child is killed when its resident memory comes this close to the cap: it is polled every
 * 100 ms, and filling memory at a few GB/s must not carry it past the cap before the next poll.
 */
const KILL_MARGIN = 0.5 * GIB;

type Backend = 'wasm' | 'cpu';

/** Real shapes from the models' `config.json`; `layers` is overridden per probe. */
const FAMILIES = {
  'Qwen2.5-0.5B': {
    vocabSize: 151_936,
    contextLength: 32_768,
    width: 896,
    layers: 24,
    heads: 14,
    kvHeads: 2,
    headDim: 64,
    mlpWidth: 4864,
    attentionBias: 'qkv',
    qkNorm: false,
    ropeBase: 1_000_000,
    normEpsilon: 1e-6,
  },
  'Qwen3-0.6B': {
    vocabSize: 151_936,
    contextLength: 40_960,
    width: 1024,
    layers: 28,
    heads: 16,
    kvHeads: 8,
    headDim: 128,
    mlpWidth: 3072,
    attentionBias: 'none',
    qkNorm: true,
    ropeBase: 1_000_000,
    normEpsilon: 1e-6,
  },
  'SmolLM2-135M': {
    vocabSize: 49_152,
    contextLength: 8192,
    width: 576,
    layers: 30,
    heads: 9,
    kvHeads: 3,
    headDim: 64,
    mlpWidth: 1536,
    attentionBias: 'none',
    qkNorm: false,
    ropeBase: 100_000,
    normEpsilon: 1e-5,
  },
  'Llama-3.2-1B': {
    vocabSize: 128_256,
    contextLength: 131_072,
    width: 2048,
    layers: 16,
    heads: 32,
    kvHeads: 8,
    headDim: 64,
    mlpWidth: 8192,
    attentionBias: 'none',
    qkNorm: false,
    ropeBase: 500_000,
    ropeScaling: {
      type: 'llama3',
      factor: 32,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalContextLength: 8192,
    },
    normEpsilon: 1e-5,
  },
} as const;
type Family = keyof typeof FAMILIES;

interface ProbeSpec {
  readonly backend: Backend;
  readonly family: Family;
  readonly layers: number;
  /** Attempt the training step. */
  readonly train: boolean;
  /**
   * CPU only: unregister tfjs-backend-cpu's UnsortedSegmentSum kernel, so that the embedding's
   * gradient takes `@hicra/tensor`'s one-hot matmul path (the one WASM, which lacks the kernel,
   * always takes). Not what ships: it shows what the CPU backend could train without that kernel.
   */
  readonly oneHotEmbeddingGradient?: boolean;
  /** Seconds before the child is killed (default `--timeout-s`). */
  readonly timeoutS?: number;
}

const probeId = (p: Pick<ProbeSpec, 'backend' | 'family' | 'layers' | 'oneHotEmbeddingGradient'>) =>
  `${p.backend}${p.oneHotEmbeddingGradient ? '-one-hot' : ''}:${p.family}${p.layers === FAMILIES[p.family].layers ? '' : `/L${p.layers}`}`;

/**
 * The probes, smallest first within each backend, placed to bracket each limit (2026-12-07 on
 * this machine). WASM: training between SmolLM2-135M cut to 8 and to 12 layers (a 152k
 * vocabulary's embedding alone is 136-156M parameters, and its smallest model does not train);
 * a forward pass between Qwen2.5-0.5B cut to 18 layers and the full model; holding between
 * Llama-3.2-1B cut to 12 layers and the full model, which `checkModelFits` refuses. CPU: one
 * training step as shipped on the smallest model (it does not finish: hence its short
 * timeout), the same and the full SmolLM2-135M without `UnsortedSegmentSum`, then holding and
 * a forward pass of the two largest shapes (minutes each, so no training step).
 */
const PROBES: readonly ProbeSpec[] = [
  { backend: 'wasm', family: 'SmolLM2-135M', layers: 4, train: true },
  { backend: 'wasm', family: 'SmolLM2-135M', layers: 8, train: true },
  { backend: 'wasm', family: 'SmolLM2-135M', layers: 12, train: true },
  { backend: 'wasm', family: 'SmolLM2-135M', layers: 30, train: true },
  { backend: 'wasm', family: 'Qwen2.5-0.5B', layers: 1, train: true },
  { backend: 'wasm', family: 'Qwen2.5-0.5B', layers: 12, train: false },
  { backend: 'wasm', family: 'Qwen2.5-0.5B', layers: 18, train: false },
  { backend: 'wasm', family: 'Qwen2.5-0.5B', layers: 24, train: false },
  { backend: 'wasm', family: 'Qwen3-0.6B', layers: 28, train: false },
  { backend: 'wasm', family: 'Llama-3.2-1B', layers: 12, train: false },
  { backend: 'wasm', family: 'Llama-3.2-1B', layers: 16, train: false },
  { backend: 'cpu', family: 'SmolLM2-135M', layers: 1, train: true, timeoutS: 300 },
  { backend: 'cpu', family: 'SmolLM2-135M', layers: 1, train: true, oneHotEmbeddingGradient: true },
  {
    backend: 'cpu',
    family: 'SmolLM2-135M',
    layers: 30,
    train: true,
    oneHotEmbeddingGradient: true,
  },
  { backend: 'cpu', family: 'Qwen3-0.6B', layers: 28, train: false },
  { backend: 'cpu', family: 'Llama-3.2-1B', layers: 16, train: false },
];

/** Sequences × tokens of the forward pass and of the training step. */
const FORWARD = { batch: 1, tokens: 32 };
const TRAIN = { batch: 2, tokens: 32 };

// ---------------------------------------------------------------------------------------------
// The child: one probe, results as `@@phase {json}` lines on stdout as soon as each is known.
// ---------------------------------------------------------------------------------------------

interface Snapshot {
  /** Bytes of tensor data held at the end of the phase (each buffer once). */
  readonly tensorBytes: number;
  /** The most bytes of tensor data held at once during the phase. */
  readonly peakTensorBytes: number;
  /** `tf.memory().numBytes` at the end of the phase (counts a shared buffer once per tensor). */
  readonly numBytes: number;
  /** WASM only: the heap's size (it never shrinks, so this is its peak so far). */
  readonly wasmHeapBytes?: number;
  /** WASM only: `malloc` calls that returned NULL so far, and the first one's size. */
  readonly mallocFailures?: number;
  readonly firstFailedMallocBytes?: number;
  /** WASM only: XNNPACK operators that could not be created so far (their matmuls left unwritten). */
  readonly xnnFailures?: number;
  /** Peak resident memory of the process so far (VmHWM). */
  readonly peakRssBytes: number;
}

interface PhaseResult extends Partial<Snapshot> {
  readonly phase: 'check' | 'hold' | 'forward' | 'train';
  readonly ok: boolean;
  readonly seconds?: number;
  readonly error?: string;
  readonly [key: string]: unknown;
}

function statusBytes(field: 'VmHWM' | 'VmRSS', pid: number | 'self' = 'self'): number {
  const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(
    new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'),
  );
  return match ? Number(match[1]) * 1024 : 0;
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return `${error.constructor.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${error.message}`;
}

async function child(spec: ProbeSpec): Promise<void> {
  const {
    checkModelFits,
    LocalTrainingClient,
    modelMemory,
    resolveTransformerConfig,
    TransformerPolicy,
  } = await import('@hicra/policy');
  const { initBackend, SeededGenerator, tf } = await import('@hicra/tensor');
  const emit = (result: PhaseResult) => {
    process.stdout.write(`@@phase ${JSON.stringify(result)}\n`);
  };

  await initBackend(spec.backend);
  if (spec.oneHotEmbeddingGradient) tf.unregisterKernel('UnsortedSegmentSum', spec.backend);
  // The bytes of tensor data actually held, and their peak. `tf.memory().numBytes` counts a
  // buffer once per tensor that refers to it (a variable and its initial value, a reshape), so
  // it overstates; every data buffer is created by the engine's trackTensor and forgotten by
  // its removeDataId, which are followed here.
  const engine = tf.engine() as unknown as {
    trackTensor: (tensor: { dataId: object }, backend: unknown) => void;
    removeDataId: (dataId: object, backend: unknown) => void;
    state: { tensorInfo: Map<object, { bytes: number }> };
  };
  let dataBytes = 0;
  let peak = 0;
  const track = engine.trackTensor.bind(engine);
  engine.trackTensor = (tensor, backend) => {
    const known = engine.state.tensorInfo.has(tensor.dataId);
    track(tensor, backend);
    if (!known) {
      dataBytes += engine.state.tensorInfo.get(tensor.dataId)?.bytes ?? 0;
      if (dataBytes > peak) peak = dataBytes;
    }
  };
  const remove = engine.removeDataId.bind(engine);
  engine.removeDataId = (dataId, backend) => {
    const bytes = engine.state.tensorInfo.get(dataId)?.bytes ?? 0;
    remove(dataId, backend);
    if (!engine.state.tensorInfo.has(dataId)) dataBytes -= bytes;
  };
  // tfjs-backend-wasm uses malloc's result without checking it for NULL: count those.
  let mallocFailures = 0;
  let firstFailedMallocBytes: number | undefined;
  const wasm =
    spec.backend === 'wasm'
      ? (
          tf.backend() as unknown as {
            wasm: {
              HEAPU8: Uint8Array;
              _malloc: (n: number) => number;
              _free: (p: number) => void;
            };
          }
        ).wasm
      : undefined;
  if (wasm) {
    // The emscripten export replaces itself on first call; call it once, then wrap the real one.
    wasm._free(wasm._malloc(8));
    const malloc = wasm._malloc;
    wasm._malloc = (bytes: number) => {
      const pointer = malloc(bytes);
      if (pointer === 0 && bytes > 0) {
        mallocFailures++;
        firstFailedMallocBytes ??= bytes;
      }
      return pointer;
    };
  }
  // tfjs-backend-wasm reports an XNNPACK failure (out of memory while packing a matmul's
  // weights) with a warning on stderr and returns, leaving the output unwritten: count them.
  let xnnFailures = 0;
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (String(chunk).includes('XNN status')) xnnFailures++;
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  const snapshot = (): Snapshot => ({
    tensorBytes: dataBytes,
    peakTensorBytes: peak,
    numBytes: tf.memory().numBytes,
    ...(wasm
      ? {
          wasmHeapBytes: wasm.HEAPU8.length,
          mallocFailures,
          xnnFailures,
          ...(firstFailedMallocBytes === undefined ? {} : { firstFailedMallocBytes }),
        }
      : {}),
    peakRssBytes: statusBytes('VmHWM'),
  });
  const phase = async (
    name: PhaseResult['phase'],
    run: () => Promise<Record<string, unknown>> | Record<string, unknown>,
  ): Promise<boolean> => {
    peak = dataBytes;
    const start = performance.now();
    try {
      const extra = await run();
      emit({
        phase: name,
        ok: true,
        seconds: (performance.now() - start) / 1000,
        ...snapshot(),
        ...extra,
      });
      return true;
    } catch (error) {
      emit({
        phase: name,
        ok: false,
        seconds: (performance.now() - start) / 1000,
        error: describeError(error),
        ...snapshot(),
      });
      return false;
    }
  };

  const config = resolveTransformerConfig({
    ...FAMILIES[spec.family],
    layers: spec.layers,
    mlp: 'swiglu',
    norm: 'rmsnorm',
    tiedEmbeddings: true,
  });
  const memory = modelMemory(config);
  const verdict = (purpose: 'hold' | 'run' | 'train') => {
    try {
      checkModelFits(config, { purpose, what: probeId(spec) });
      return 'fits';
    } catch (error) {
      return describeError(error);
    }
  };
  emit({
    phase: 'check',
    ok: true,
    parameters: memory.parameters,
    weightBytes: memory.weightBytes,
    trainingBytes: memory.trainingBytes,
    load: verdict('hold'),
    run: verdict('run'),
    train: verdict('train'),
  });

  // Past this point nothing is guarded: the probe measures what happens without the check.
  let policy: InstanceType<typeof TransformerPolicy> | undefined;
  const held = await phase('hold', () => {
    policy = TransformerPolicy.create(config, { seed: 0 });
    return {};
  });
  if (!held || policy === undefined) return;
  const model = policy;

  const generator = new SeededGenerator(1);
  const request = (batch: number, tokens: number) => ({
    prompts: {
      tokenIds: Int32Array.from({ length: batch }, () => generator.nextInt(config.vocabSize)),
      offsets: Int32Array.from({ length: batch + 1 }, (_, i) => i),
    },
    batchSize: batch,
    seqLen: tokens,
    tokenIds: Int32Array.from({ length: batch * tokens }, () =>
      generator.nextInt(config.vocabSize),
    ),
    responseMask: new Uint8Array(batch * tokens).fill(1),
  });

  const forwarded = await phase('forward', async () => {
    const { logProbs } = await model.score(request(FORWARD.batch, FORWARD.tokens));
    let sum = 0;
    // Equal logits give every token log(1/V): the sign of an output matmul that never ran.
    const uniform = -Math.log(config.vocabSize);
    let uniformTokens = 0;
    for (const value of logProbs) {
      sum += value;
      if (Math.abs(value - uniform) < 1e-5) uniformTokens++;
    }
    const meanLogProb = sum / logProbs.length;
    if (!Number.isFinite(meanLogProb))
      throw new Error(`the forward pass returned non-finite log-probs (mean ${meanLogProb})`);
    return { meanLogProb, uniformTokens, tokens: logProbs.length };
  });
  if (!forwarded || !spec.train) return;

  await phase('train', async () => {
    const setupStart = performance.now();
    const engine = new LocalTrainingClient(model, { directory: tmpdir() });
    const setupSeconds = (performance.now() - setupStart) / 1000;
    // One token of prompt, TRAIN.tokens of response: the mean cross-entropy as a token sum.
    const { prompts, tokenIds } = request(TRAIN.batch, TRAIN.tokens);
    const weight = 1 / (TRAIN.batch * TRAIN.tokens);
    const datums = Array.from({ length: TRAIN.batch }, (_, row) => {
      const sequence = new Int32Array(TRAIN.tokens + 1);
      sequence[0] = prompts.tokenIds[row]!;
      sequence.set(tokenIds.subarray(row * TRAIN.tokens, (row + 1) * TRAIN.tokens), 1);
      return {
        inputTokens: sequence.subarray(0, TRAIN.tokens),
        targetTokens: sequence.subarray(1),
        weights: new Float32Array(TRAIN.tokens).fill(weight),
      };
    });
    const stepStart = performance.now();
    const result = await engine.forwardBackward(datums, { name: 'cross-entropy' });
    const loss = result.metrics['loss:sum']!;
    const { metrics } = await engine.optimStep({ learningRate: 1e-5, gradClipNorm: 1 });
    const gradNorm = metrics.grad_norm;
    await engine.dispose();
    const stepSeconds = (performance.now() - stepStart) / 1000;
    if (!Number.isFinite(loss)) throw new Error(`the training step's loss is ${loss}`);
    return { loss, gradNorm, setupSeconds, stepSeconds };
  });
}

// ---------------------------------------------------------------------------------------------
// The parent: runs each probe in a capped child and collects what it reported.
// ---------------------------------------------------------------------------------------------

interface ProbeOutcome {
  readonly id: string;
  readonly spec: ProbeSpec;
  readonly phases: Partial<Record<PhaseResult['phase'], PhaseResult>>;
  /** Why the child ended, when it did not exit normally. */
  readonly ended: string | null;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly wallSeconds: number;
  /** Peak resident memory of the child seen by the parent's poll (every 200 ms). */
  readonly polledPeakRssBytes: number;
  readonly capBytes: number;
  readonly stderrTail: string;
  readonly skipped?: string;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

function memAvailableBytes(): number {
  const match = readFileSync('/proc/meminfo', 'utf8').match(/^MemAvailable:\s+(\d+) kB/m);
  return match ? Number(match[1]) * 1024 : 0;
}

function runProbe(spec: ProbeSpec, capBytes: number, timeoutS: number): Promise<ProbeOutcome> {
  const node = [
    process.execPath,
    '--max-old-space-size=4096',
    '--import',
    'tsx',
    '--conditions=@hicra/source',
    fileURLToPath(import.meta.url),
    '--probe',
    JSON.stringify(spec),
  ];
  const [command, ...args] = node;
  const started = performance.now();
  return new Promise((resolvePromise) => {
    const proc = spawn(command!, args, {
      cwd: resolve(here, '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const phases: ProbeOutcome['phases'] = {};
    let stdout = '';
    let stderr = '';
    let ended: string | null = null;
    let polledPeak = 0;
    proc.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      let newline = stdout.indexOf('\n');
      while (newline >= 0) {
        const line = stdout.slice(0, newline);
        stdout = stdout.slice(newline + 1);
        if (line.startsWith('@@phase ')) {
          const result = JSON.parse(line.slice(8)) as PhaseResult;
          phases[result.phase] = result;
          process.stderr.write(`  ${result.phase}: ${summarisePhase(result)}\n`);
        }
        newline = stdout.indexOf('\n');
      }
    });
    proc.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-20_000);
    });
    const poll = setInterval(() => {
      try {
        const rss = statusBytes('VmRSS', proc.pid!);
        if (rss > polledPeak) polledPeak = rss;
        if (rss > capBytes - KILL_MARGIN && ended === null) {
          ended = `killed by this benchmark at ${(rss / GIB).toFixed(1)} GiB resident (cap ${(capBytes / GIB).toFixed(0)} GiB)`;
          proc.kill('SIGKILL');
        }
      } catch {
        // The process has just ended.
      }
    }, 100);
    const timer = setTimeout(() => {
      if (ended === null) {
        let rss = 0;
        try {
          rss = statusBytes('VmRSS', proc.pid!);
        } catch {
          // The process has just ended.
        }
        ended = `timed out after ${timeoutS} s, at ${(rss / GIB).toFixed(1)} GiB resident`;
        proc.kill('SIGKILL');
      }
    }, timeoutS * 1000);
    proc.on('close', (exitCode, signal) => {
      clearInterval(poll);
      clearTimeout(timer);
      if (ended === null && (exitCode !== 0 || signal !== null))
        ended = signal !== null ? `died of ${signal}` : `exited with status ${exitCode}`;
      resolvePromise({
        id: probeId(spec),
        spec,
        phases,
        ended,
        exitCode,
        signal,
        wallSeconds: (performance.now() - started) / 1000,
        polledPeakRssBytes: polledPeak,
        capBytes,
        stderrTail: stderr.trim().split('\n').slice(-15).join('\n'),
      });
    });
  });
}

const gib = (bytes: number | undefined) =>
  bytes === undefined ? '—' : `${(bytes / GIB).toFixed(bytes < 10 * GIB ? 2 : 1)}`;
const seconds = (s: number | undefined) =>
  s === undefined ? '—' : s < 10 ? s.toFixed(2) : s.toFixed(0);
const millions = (n: number) => `${(n / 1e6).toFixed(0)}M`;

function summarisePhase(result: PhaseResult): string {
  if (result.phase === 'check')
    return `${millions(result['parameters'] as number)} parameters; hold: ${result['load'] === 'fits' ? 'fits' : 'refused'}, run: ${result['run'] === 'fits' ? 'fits' : 'refused'}, train: ${result['train'] === 'fits' ? 'fits' : 'refused'}`;
  const memory = `tensors ${gib(result.tensorBytes)} GiB (peak ${gib(result.peakTensorBytes)})${result.wasmHeapBytes === undefined ? '' : `, heap ${gib(result.wasmHeapBytes)}`}, peak RSS ${gib(result.peakRssBytes)} GiB${result.mallocFailures ? `, ${result.mallocFailures} NULL mallocs` : ''}${result.xnnFailures ? `, ${result.xnnFailures} XNNPACK failures` : ''}`;
  return `${result.ok ? 'ok' : 'FAILED'} in ${seconds(result.seconds)} s; ${memory}${result.error ? `; ${result.error}` : ''}`;
}

/** What stopped a phase: its error, or how the child ended while in it. */
function failure(outcome: ProbeOutcome, phase: 'hold' | 'forward' | 'train'): string | undefined {
  const result = outcome.phases[phase];
  const signs = [
    ...(result?.mallocFailures ? [`malloc returned NULL ${result.mallocFailures}×`] : []),
    ...(result?.xnnFailures ? [`XNNPACK out of memory ${result.xnnFailures}×`] : []),
  ];
  if (result && !result.ok)
    return `${(result.error ?? '').replace(/\. Build with -sASSERTIONS for more info\./, '')}${signs.length > 0 ? ` after ${signs.join(', ')}` : ''}`;
  if (result?.ok) {
    const uniform = result['uniformTokens'] as number | undefined;
    if (uniform !== undefined && uniform > 0 && uniform === result['tokens'])
      signs.push('every log-prob exactly log(1/V), so the logits were never written');
    return signs.length > 0 ? `"succeeded" after ${signs.join('; ')}: wrong results` : undefined;
  }
  if (outcome.ended === null) return undefined;
  const stderr = outcome.stderrTail
    .split('\n')
    .filter((line) => /error|fatal|abort|out of memory|allocation/i.test(line))
    .slice(-2)
    .join(' / ');
  return `${outcome.ended}${stderr ? ` (${stderr.slice(0, 300)})` : ''}`;
}

function cell(outcome: ProbeOutcome, phase: 'hold' | 'forward' | 'train'): string {
  const result = outcome.phases[phase];
  const failed = failure(outcome, phase);
  if (result?.ok && failed === undefined) {
    if (phase === 'train')
      return `yes, ${seconds(result['stepSeconds'] as number)} s (tensors peak at ${gib(result.peakTensorBytes)} GiB)`;
    return `yes, ${seconds(result.seconds)} s`;
  }
  if (failed !== undefined) return `**no**: ${failed}`;
  if (phase === 'train' && !outcome.spec.train) return 'not tried';
  return outcome.skipped ? `skipped: ${outcome.skipped}` : '—';
}

function markdown(outcomes: readonly ProbeOutcome[]): string {
  const rows = [
    '| backend | model | parameters | float32 weights | checkModelFits hold / run / train | hold (create) | forward 1×32 | train step 2×32 (Adam) | peak memory | ',
    '|---|---|---:|---:|---|---|---|---|---|',
  ];
  for (const o of outcomes) {
    const check = o.phases.check;
    const verdict = (v: unknown) => (v === 'fits' ? 'fits' : v === undefined ? '—' : 'refused');
    const last = o.phases.train ?? o.phases.forward ?? o.phases.hold;
    const peakMemory =
      o.spec.backend === 'wasm'
        ? `heap ${gib(last?.wasmHeapBytes)} GiB, RSS ${gib(Math.max(last?.peakRssBytes ?? 0, o.polledPeakRssBytes))} GiB`
        : `RSS ${gib(Math.max(last?.peakRssBytes ?? 0, o.polledPeakRssBytes))} GiB`;
    rows.push(
      `| ${o.spec.backend}${o.spec.oneHotEmbeddingGradient ? ' (one-hot embedding gradient)' : ''} | ${o.spec.family}${o.spec.layers === FAMILIES[o.spec.family].layers ? '' : `, ${o.spec.layers} layers`} | ${check ? millions(check['parameters'] as number) : '—'} | ${check ? `${gib(check['weightBytes'] as number)} GiB` : '—'} | ${check ? `${verdict(check['load'])} / ${verdict(check['run'])} / ${verdict(check['train'])}` : '—'} | ${cell(o, 'hold')} | ${cell(o, 'forward')} | ${cell(o, 'train')} | ${peakMemory} |`,
    );
  }
  return rows.join('\n').replaceAll(' | \n', ' |\n');
}

/** The largest model each backend held, ran forward and trained (without a failure sign). */
function largest(outcomes: readonly ProbeOutcome[]): string {
  const lines: string[] = [];
  const labels = [...new Set(outcomes.map((o) => o.id.split(':')[0]!))];
  for (const label of labels) {
    const mine = outcomes.filter((o) => o.id.startsWith(`${label}:`));
    const best = (phase: 'hold' | 'forward' | 'train') => {
      const ok = mine.filter((o) => o.phases[phase]?.ok && failure(o, phase) === undefined);
      const top = ok.sort(
        (a, b) =>
          (b.phases.check?.['parameters'] as number) - (a.phases.check?.['parameters'] as number),
      )[0];
      return top
        ? `${top.id.split(':')[1]} (${millions(top.phases.check?.['parameters'] as number)})`
        : 'none';
    };
    lines.push(
      `${label}: held ${best('hold')}; forward ${best('forward')}; trained ${best('train')}`,
    );
  }
  return lines.join('\n');
}

async function parent(): Promise<void> {
  const backends = arg('backends', 'wasm,cpu').split(',') as Backend[];
  const only = arg('only', '').split(',').filter(Boolean);
  const maxRss = Number(arg('max-rss-gib', '12')) * GIB;
  const timeoutS = Number(arg('timeout-s', '480'));
  const out = arg('out', 'results/model-limits.json');
  const outPath = isAbsolute(out) ? out : resolve(here, '..', out);
  const probes = PROBES.filter(
    (p) => backends.includes(p.backend) && (only.length === 0 || only.includes(probeId(p))),
  );
  const startedAt = new Date();
  const outcomes: ProbeOutcome[] = [];
  for (const spec of probes) {
    const available = memAvailableBytes();
    const capBytes = Math.min(maxRss, available - 1.5 * GIB);
    process.stderr.write(
      `${probeId(spec)} (cap ${(capBytes / GIB).toFixed(1)} GiB of ${(available / GIB).toFixed(1)} GiB available)\n`,
    );
    if (capBytes < 2 * GIB) {
      outcomes.push({
        id: probeId(spec),
        spec,
        phases: {},
        ended: null,
        exitCode: null,
        signal: null,
        wallSeconds: 0,
        polledPeakRssBytes: 0,
        capBytes,
        stderrTail: '',
        skipped: `only ${(available / GIB).toFixed(1)} GiB of memory available`,
      });
      continue;
    }
    const outcome = await runProbe(spec, capBytes, spec.timeoutS ?? timeoutS);
    if (outcome.ended) process.stderr.write(`  ended: ${outcome.ended}\n`);
    outcomes.push(outcome);
    // Written after every probe, so an interrupted run keeps what it measured.
    await mkdir(dirname(outPath), { recursive: true });
    writeFileSync(
      outPath,
      `${JSON.stringify(report(outcomes, startedAt, maxRss, timeoutS), null, 2)}\n`,
    );
  }
  console.log(
    `Model limits, ${startedAt.toISOString().slice(0, 10)}: Node ${process.version}, ${cpus().length} cores, ${gib(totalmem())} GiB memory, children capped at ${gib(maxRss)} GiB resident and ${timeoutS} s`,
  );
  console.log(markdown(outcomes));
  console.log(`\n${largest(outcomes)}`);
  console.log(`\nJSON: ${outPath}`);
}

function report(
  outcomes: readonly ProbeOutcome[],
  startedAt: Date,
  maxRss: number,
  timeoutS: number,
) {
  const head = spawnSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' });
  return {
    benchmark: 'model-limits',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    commit: head.status === 0 ? head.stdout.trim() : null,
    machine: {
      node: process.version,
      cores: cpus().length,
      cpu: cpus()[0]?.model,
      totalMemoryBytes: totalmem(),
      loadAverageAtEnd: loadavg(),
    },
    settings: { maxRssBytes: maxRss, timeoutS, forward: FORWARD, train: TRAIN },
    families: FAMILIES,
    probes: outcomes,
  };
}

const probeArg = process.argv.indexOf('--probe');
if (probeArg >= 0) await child(JSON.parse(process.argv[probeArg + 1]!) as ProbeSpec);
else await parent();
