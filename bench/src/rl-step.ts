/**
 * Benchmark: ONE FULL RL STEP on the local engine (`LocalTrainingClient` of @hicra/policy, the
 * policy benchmark's transformer: width 128, 2 layers, 4 heads) next to the same step in PyTorch
 * (CPU, one thread) in the same run, phase by phase, so that what the loop costs beyond the model
 * shows:
 *
 * 1. sample: `sampler.sample` (KV cache) of 4 prompts × 8 samples × 64 new tokens, temperature 1,
 *    from the client `engine.saveWeightsForSampler` made;
 * 2. score: old log-probs and entropies with `engine.forward(datums)` (no gradient);
 * 3. credit: a seeded reward per response (parity of the count of its prompt's reward token), a
 *    seeded random planning mask (20% of response tokens) and GRPO + HICRA through the real
 *    `@hicra/advantage` pipeline;
 * 4. update: datums with token-mean folded into per-token weights, `engine.forwardBackward`
 *    (`verl-ppo`, clip-higher 0.2 / 0.28) and `engine.optimStep` (AdamW), one mini-batch of 32;
 * 5. refresh: `saveWeightsForSampler` again, the old sampling client disposed.
 *
 * Before anything is timed, both sides run the scoring, credit and update phases on one FIXED
 * batch from the same initial weights (the engine's own `saveState` checkpoint, read by the peer):
 * old log-probs must agree within 1e-4. Exits non-zero on a disagreement, a tensor leak or a
 * non-finite loss. Writes results/rl-step.json. See bench/README.md.
 *
 *   node --import tsx --conditions=@hicra/source src/rl-step.ts [--runs 5] [--backends cpu,wasm] [--help]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultRegistry, type PipelineCreditV1 } from '@hicra/advantage';
import { type LocalSamplingClient, LocalTrainingClient, TransformerPolicy } from '@hicra/policy';
import type {
  AdamParamsV1,
  DatumV1,
  ForwardResultV1,
  LossSpecV1,
  PlanningClassifierV1,
  RaggedTokensV1,
  RewardFunctionV1,
  RolloutBatchV1,
  TokenizerV1,
} from '@hicra/spec';
import { engineLoss, initBackend, SeededGenerator, tf } from '@hicra/tensor';
import { RlTrainer } from '@hicra/trainer';
import { commonFlag, count, forEachFlag, list, runScript } from './lib/args.js';
import { readArray } from './lib/data.js';
import { median } from './lib/measure.js';
import { POLICY_MODEL } from './lib/policy-model.js';
import { formatMs } from './lib/report.js';
import { formatLoad, machine, sourceState } from './lib/run-info.js';
import { ensureTorchPeer, runTorchPeer, type TorchReport } from './lib/torch-peer.js';

const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PEER_SCRIPT = join(BENCH_DIR, 'peers', 'rl_step.py');
/** The packages whose uncommitted changes the results record. */
const MEASURED = ['packages/policy', 'packages/tensor', 'packages/spec', 'packages/advantage'];

/** The policy benchmark's transformer; the vocabulary is a flag. */
const MODEL = POLICY_MODEL;
const WORKLOAD = {
  prompts: 4,
  samplesPerPrompt: 8,
  promptLength: 16,
  newTokens: 64,
  temperature: 1,
} as const;
const B = WORKLOAD.prompts * WORKLOAD.samplesPerPrompt;
const S = WORKLOAD.promptLength;
const T = WORKLOAD.newTokens;
/** Datum length: prompt + response, less the last token (never an input). */
const N = S + T - 1;
const CREDIT = { epsilon: 1e-6, alpha: 0.2, planningFraction: 0.2 } as const;
const CREDIT_CONFIG = {
  estimator: { name: 'grpo', epsilon: CREDIT.epsilon },
  assigners: [{ name: 'hicra', alpha: CREDIT.alpha }],
};
const LOSS: LossSpecV1 = {
  name: 'verl-ppo',
  settings: { clipRatioLow: 0.2, clipRatioHigh: 0.28 },
};
const ADAM: AdamParamsV1 = { learningRate: 1e-4, beta2: 0.999, eps: 1e-8, gradClipNorm: 1 };
/** Tinker's default β1, which the engine fills in; the peer needs it spelled out. */
const BETA1 = 0.9;
const SEEDS = { weights: 0, prompts: 1, fixed: 2, sampling: 1_000, planning: 2_000 } as const;
/** Agreement on the fixed batch. */
const TOLERANCE = {
  /** Old log-probs and entropies (the brief: 1e-4). */
  scores: 1e-4,
  /** Advantages (the same rewards and mask on both sides). */
  advantages: 1e-5,
  /** Loss and gradient norm, relative. */
  relative: 1e-4,
  /** Log-probs after the update (AdamW's first step is about lr·sign(g), so a looser test might be needed elsewhere). */
  updated: 1e-4,
} as const;
const PHASES = ['sample', 'score', 'credit', 'update', 'refresh'] as const;
type Phase = (typeof PHASES)[number];

const RL_BACKENDS = ['cpu', 'wasm'] as const;
type RlBackend = (typeof RL_BACKENDS)[number];

interface RlOptions {
  readonly runs: number;
  readonly warmup: number;
  readonly backends: readonly RlBackend[];
  readonly vocab: number;
  readonly out: string;
  readonly keepData: boolean;
  readonly help: boolean;
}

const DEFAULTS: RlOptions = {
  runs: 10,
  warmup: 2,
  backends: ['wasm'],
  vocab: 64,
  out: 'results/rl-step.json',
  keepData: false,
  help: false,
};

const USAGE = `Usage: pnpm --filter @hicra/bench bench:rl-step -- [flags]

Times one full RL step on the local engine of @hicra/policy (sample ${WORKLOAD.prompts} x ${WORKLOAD.samplesPerPrompt} x ${T} tokens with a KV
cache, score old log-probs, GRPO + HICRA credit, a verl-ppo update with AdamW, refresh the
sampler) next to the same step in PyTorch (CPU, one thread), measured in the same run, phase by
phase. Checks a fixed batch against PyTorch first.

Flags (defaults in brackets):
  --runs N          timed RL steps on each side [${DEFAULTS.runs}]
  --warmup N        untimed RL steps before those [${DEFAULTS.warmup}]
  --backends LIST   comma-separated subset of ${RL_BACKENDS.join(',')} [${DEFAULTS.backends.join(',')}]
  --vocab N         vocabulary size V [${DEFAULTS.vocab}]
  --out FILE        JSON results, relative to bench/ [${DEFAULTS.out}]
  --keep-data       keep the exchanged files (their folder is printed)
  --help            this text`;

function parseRlArgs(argv: readonly string[]): RlOptions {
  const options: { -readonly [K in keyof RlOptions]: RlOptions[K] } = { ...DEFAULTS };
  forEachFlag(argv, USAGE, (flag, value) => {
    if (commonFlag(options, flag, value)) return true;
    switch (flag) {
      case '--backends':
        options.backends = list(flag, value(), RL_BACKENDS);
        break;
      case '--vocab':
        options.vocab = count(flag, value(), 2);
        break;
      default:
        return false;
    }
    return true;
  });
  return options;
}

const log = (message: string) => console.error(`[bench] ${message}`);

// --- the step's pieces, shared by the check and the timed loop ------------------------------------

/** The seeded inputs both sides read. */
interface Inputs {
  /** `[P·S]` prompt ids, every prompt S tokens (no left padding anywhere). */
  readonly prompts: RaggedTokensV1;
  /** `[P]` the token whose count's parity is each prompt's reward. */
  readonly targets: Int32Array;
  /** `[B·(S + T)]` the fixed batch: each row its prompt, then T uniform ids. */
  readonly fixedTokens: Int32Array;
  /** `[B·T]` the fixed batch's planning mask. */
  readonly fixedPlanning: Uint8Array;
}

function makeInputs(vocab: number): Inputs {
  const g = new SeededGenerator(SEEDS.prompts);
  const tokenIds = Int32Array.from({ length: WORKLOAD.prompts * S }, () => g.nextInt(vocab));
  const offsets = Int32Array.from({ length: WORKLOAD.prompts + 1 }, (_, p) => p * S);
  const targets = Int32Array.from({ length: WORKLOAD.prompts }, () => g.nextInt(vocab));
  const fixed = new SeededGenerator(SEEDS.fixed);
  const responses = Int32Array.from({ length: B * T }, () => fixed.nextInt(vocab));
  const fixedTokens = sequencesOf(tokenIds, responses);
  const fixedPlanning = planningMask(new Uint8Array(B * T).fill(1), fixed);
  return { prompts: { tokenIds, offsets }, targets, fixedTokens, fixedPlanning };
}

/** Row r = prompt r / G, then its response: `[B·(S + T)]`. */
function sequencesOf(prompts: Int32Array, responses: Int32Array): Int32Array {
  const out = new Int32Array(B * (S + T));
  for (let r = 0; r < B; r++) {
    const p = Math.floor(r / WORKLOAD.samplesPerPrompt);
    out.set(prompts.subarray(p * S, (p + 1) * S), r * (S + T));
    out.set(responses.subarray(r * T, (r + 1) * T), r * (S + T) + S);
  }
  return out;
}

/** Datums of whole sequences (DatumV1: inputs x[0..L-2], targets x[1..L-1]), no loss fields. */
function scoreDatums(sequences: Int32Array): DatumV1[] {
  return Array.from({ length: B }, (_, r) => {
    const row = sequences.subarray(r * (S + T), (r + 1) * (S + T));
    return { inputTokens: row.slice(0, N), targetTokens: row.slice(1) };
  });
}

/** The response columns `[B·T]` of a per-datum output (position S - 1 + t predicts token t). */
function responseColumns(result: ForwardResultV1, field: 'logProbs' | 'entropies'): Float32Array {
  const out = new Float32Array(B * T);
  result.outputs.forEach((output, r) => {
    out.set(output[field]!.subarray(S - 1, S - 1 + T), r * T);
  });
  return out;
}

/** 1 on about `planningFraction` of the response tokens, seeded (a stand-in for a classifier). */
function planningMask(responseMask: Uint8Array, g: SeededGenerator): Uint8Array {
  return Uint8Array.from(responseMask, (m) =>
    m === 1 && g.nextFloat() < CREDIT.planningFraction ? 1 : 0,
  );
}

/** Reward of each response: the parity of how often its prompt's reward token occurs in it. */
function rewardsOf(tokens: Int32Array, mask: Uint8Array, targets: Int32Array): Float32Array {
  const rewards = new Float32Array(B);
  for (let r = 0; r < B; r++) {
    const target = targets[Math.floor(r / WORKLOAD.samplesPerPrompt)]!;
    let n = 0;
    for (let t = 0; t < T; t++) if (mask[r * T + t] === 1 && tokens[r * T + t] === target) n++;
    rewards[r] = n % 2;
  }
  return rewards;
}

const pipeline = defaultRegistry.pipeline(CREDIT_CONFIG);
const groupIds = Int32Array.from({ length: B }, (_, r) =>
  Math.floor(r / WORKLOAD.samplesPerPrompt),
);
const promptGroups = {
  groupIds: Int32Array.from({ length: WORKLOAD.prompts }, (_, p) => p),
  texts: Array.from({ length: WORKLOAD.prompts }, () => ''),
};

/** Rewards, then GRPO + HICRA on a fresh rollout batch (the pipeline validates each new batch). */
function credit(
  tokens: Int32Array,
  responseMask: Uint8Array,
  planning: Uint8Array,
  oldLogProbs: Float32Array,
  entropies: Float32Array,
  targets: Int32Array,
): { rewards: Float32Array; credit: PipelineCreditV1 } {
  const rewards = rewardsOf(tokens, responseMask, targets);
  const batch: RolloutBatchV1 = {
    batchSize: B,
    seqLen: T,
    groupIds,
    prompts: promptGroups,
    tokenIds: tokens,
    responseMask,
    rewards,
    oldLogProbs,
    entropies,
    planningMask: planning,
  };
  return { rewards, credit: pipeline.run(batch) };
}

/**
 * Datums of the update: token-mean folded into the weights (1 / response tokens of the
 * mini-batch on tokens in the loss, 0 on prompt positions), old log-probs and advantages on the
 * response positions, 0 on the prompt's.
 */
function updateDatums(
  sequences: Int32Array,
  responseMask: Uint8Array,
  oldLogProbs: Float32Array,
  assigned: PipelineCreditV1,
): DatumV1[] {
  let responseTokens = 0;
  for (const m of responseMask) responseTokens += m;
  const weight = 1 / responseTokens;
  return scoreDatums(sequences).map((datum, r) => {
    const weights = new Float32Array(N);
    const logProbs = new Float32Array(N);
    const advantages = new Float32Array(N);
    for (let t = 0; t < T; t++) {
      const k = r * T + t;
      weights[S - 1 + t] = assigned.lossMask[k] === 1 ? weight : 0;
      logProbs[S - 1 + t] = oldLogProbs[k]!;
      advantages[S - 1 + t] = assigned.advantages[k]!;
    }
    return { ...datum, weights, logProbs, advantages };
  });
}

function createPolicy(vocab: number): TransformerPolicy {
  // One pass over the whole mini-batch of 32 (the default micro-batch is 16), as the peer does.
  return TransformerPolicy.create(
    { ...MODEL, vocabSize: vocab },
    { seed: SEEDS.weights, microBatchSize: B },
  );
}

// --- the check on the fixed batch -----------------------------------------------------------------

interface Check {
  readonly diffs: Record<string, number>;
  readonly limits: Record<string, number>;
  readonly ours: { loss: number; gradNorm: number };
  readonly torch: { loss: number; gradNorm: number };
  readonly agree: boolean;
  readonly failures: string[];
}

interface RlTorchReport extends TorchReport {
  readonly fixed: {
    readonly loss: number;
    readonly gradNorm: number;
    readonly outputs: Record<string, { file: string; dtype: string; length: number }>;
  };
  readonly steps: TorchStep[];
  readonly peakRssMb: number;
}

interface TorchStep {
  readonly warmup: boolean;
  readonly phasesMs: Record<Phase, number>;
  readonly totalMs: number;
  readonly updateSplitMs: { forwardBackward: number; optimStep: number };
  readonly loss: number;
  readonly gradNorm: number;
  readonly rewardMean: number;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let max = 0;
  for (let k = 0; k < a.length; k++) {
    const d = Math.abs(a[k]! - b[k]!);
    if (!(d <= max)) max = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
  }
  return max;
}

const flat = (result: ForwardResultV1, field: 'logProbs' | 'entropies') => {
  const out = new Float32Array(B * N);
  result.outputs.forEach((o, r) => {
    out.set(o[field]!, r * N);
  });
  return out;
};

/** The scoring, credit and update phases on the fixed batch, compared with the peer's. */
async function checkFixedBatch(
  vocab: number,
  inputs: Inputs,
  torch: RlTorchReport,
  dataDir: string,
  directory: string,
): Promise<Check> {
  const policy = createPolicy(vocab);
  const engine = new LocalTrainingClient(policy, { directory });
  try {
    const theirs = (name: string) => {
      const o = torch.fixed.outputs[name]!;
      return readArray(join(dataDir, o.file), o.dtype);
    };
    const responseMask = new Uint8Array(B * T).fill(1);
    const scored = await engine.forward(scoreDatums(inputs.fixedTokens));
    const oldLogProbs = responseColumns(scored, 'logProbs');
    const responses = Int32Array.from({ length: B * T }, (_, k) => {
      const r = Math.floor(k / T);
      return inputs.fixedTokens[r * (S + T) + S + (k % T)]!;
    });
    const { rewards, credit: assigned } = credit(
      responses,
      responseMask,
      inputs.fixedPlanning,
      oldLogProbs,
      responseColumns(scored, 'entropies'),
      inputs.targets,
    );
    const datums = updateDatums(inputs.fixedTokens, responseMask, oldLogProbs, assigned);
    const fb = await engine.forwardBackward(datums, LOSS);
    const step = await engine.optimStep(ADAM);
    const rescored = await engine.forward(scoreDatums(inputs.fixedTokens));
    const ours = { loss: fb.metrics['loss:sum']!, gradNorm: step.metrics['grad_norm']! };
    const relative = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
    const diffs: Record<string, number> = {
      oldLogProbs: maxAbsDiff(flat(scored, 'logProbs'), theirs('oldLogProbs')),
      entropies: maxAbsDiff(flat(scored, 'entropies'), theirs('entropies')),
      rewards: maxAbsDiff(rewards, theirs('rewards')),
      advantages: maxAbsDiff(assigned.advantages, theirs('advantages')),
      'loss (relative)': relative(ours.loss, torch.fixed.loss),
      'grad norm (relative)': relative(ours.gradNorm, torch.fixed.gradNorm),
      'log-probs after the update': maxAbsDiff(flat(rescored, 'logProbs'), theirs('newLogProbs')),
    };
    const limits: Record<string, number> = {
      oldLogProbs: TOLERANCE.scores,
      entropies: TOLERANCE.scores,
      rewards: 0,
      advantages: TOLERANCE.advantages,
      'loss (relative)': TOLERANCE.relative,
      'grad norm (relative)': TOLERANCE.relative,
      'log-probs after the update': TOLERANCE.updated,
    };
    const failures = Object.keys(diffs).filter((k) => !(diffs[k]! <= limits[k]!));
    if (!Number.isFinite(ours.loss)) failures.push('our loss is not finite');
    if (!Number.isFinite(torch.fixed.loss)) failures.push("torch's loss is not finite");
    return {
      diffs,
      limits,
      ours,
      torch: { loss: torch.fixed.loss, gradNorm: torch.fixed.gradNorm },
      agree: failures.length === 0,
      failures,
    };
  } finally {
    await engine.dispose();
    policy.dispose();
  }
}

// --- the timed loop -------------------------------------------------------------------------------

interface OurStep {
  readonly warmup: boolean;
  readonly phasesMs: Record<Phase, number>;
  readonly totalMs: number;
  /** Engine calls inside the phases; the rest of a phase is the loop's own JS. */
  readonly engineMs: {
    readonly forward: number;
    readonly forwardBackward: number;
    readonly optimStep: number;
  };
  readonly loss: number;
  readonly gradNorm: number;
  readonly rewardMean: number;
  readonly tensorsAfter: number;
}

interface BackendResult {
  readonly backend: RlBackend;
  readonly simd?: boolean;
  readonly check: Check;
  readonly steps: OurStep[];
  /** The model without the engine, on the last step's datums: `runs` timed runs each. */
  readonly bareMs: { readonly forward: number[]; readonly forwardBackward: number[] };
  /** `RlTrainer.trainStep` on the same model and workload, per step (warm-up first). */
  readonly trainerMs: number[];
  readonly tensors: { readonly expected: number; readonly leaked: number; readonly left: number };
  readonly errors: string[];
}

/**
 * The model without the engine, on the update's datums (all rows of one length, so no packing):
 * `forward` is `policy.sequenceStatistics` in a tidy with both outputs read back (what
 * `engine.forward` runs); `forwardBackward` is `tf.variableGrads` of `engineLoss` over it with the
 * loss read back and the gradients disposed (what `engine.forwardBackward` runs, without
 * validation, the loss's preflight, packing, accumulation and metrics). Each returns its ms.
 */
function bareModel(policy: TransformerPolicy, datums: readonly DatumV1[]) {
  const ints = (field: 'inputTokens' | 'targetTokens') => {
    const out = new Int32Array(B * N);
    datums.forEach((d, r) => {
      out.set(d[field], r * N);
    });
    return out;
  };
  const floatsOf = (field: 'weights' | 'logProbs' | 'advantages') => {
    const out = new Float32Array(B * N);
    datums.forEach((d, r) => {
      out.set(d[field]!, r * N);
    });
    return out;
  };
  const request = {
    batchSize: B,
    seqLen: N,
    inputTokens: ints('inputTokens'),
    targetTokens: ints('targetTokens'),
    mask: new Uint8Array(B * N).fill(1),
  };
  const floats = {
    weights: floatsOf('weights'),
    logProbs: floatsOf('logProbs'),
    advantages: floatsOf('advantages'),
  };
  const variables = policy.trainableVariables();
  return {
    async forward(): Promise<number> {
      const start = performance.now();
      const stats = tf.tidy(() => ({ ...policy.sequenceStatistics(request) }));
      await stats.logProbs.data();
      await stats.entropies.data();
      tf.dispose([stats.logProbs, stats.entropies]);
      return performance.now() - start;
    },
    async forwardBackward(): Promise<number> {
      const start = performance.now();
      const { value, grads } = tf.variableGrads(() => {
        const stats = policy.sequenceStatistics(request);
        const shape: [number, number] = [B, N];
        return engineLoss(
          'verl-ppo',
          {
            logProbs: stats.logProbs,
            entropies: stats.entropies,
            mask: tf.tensor2d(request.mask, shape, 'float32'),
            weights: tf.tensor2d(floats.weights, shape),
            oldLogProbs: tf.tensor2d(floats.logProbs, shape),
            advantages: tf.tensor2d(floats.advantages, shape),
          },
          LOSS.settings,
        ).loss;
      }, variables);
      await value.data();
      // Every gradient is computed; read one back so that lazy kernels cannot hide.
      await Object.values(grads)[0]!.data();
      tf.dispose([value, ...Object.values(grads)]);
      return performance.now() - start;
    },
  };
}

/**
 * The whole loop: `RlTrainer.trainStep` of @hicra/trainer on the same model, workload, reward
 * rule and planning share, through its own phases (decoding with spans, verifying each response,
 * classification, the Strategic-Gram metrics classifier and every step metric, the rollout
 * records it builds). Words `t0`..`t{V-1}` make the tokenizer; there is no stop token, as above.
 * Returns the ms of each step (warm-up first) and any error.
 */
async function trainerSteps(
  backend: RlBackend,
  options: RlOptions,
  inputs: Inputs,
  dataDir: string,
): Promise<{ ms: number[]; errors: string[] }> {
  const vocab = options.vocab;
  const tokenizer: TokenizerV1 = {
    vocabSize: vocab,
    specialTokens: {},
    encode(text) {
      const ids: number[] = [];
      const spans: number[] = [];
      for (const match of text.matchAll(/t(\d+)/g)) {
        ids.push(Number(match[1]));
        spans.push(match.index, match.index + match[0].length);
      }
      return { ids: Int32Array.from(ids), spans: Int32Array.from(spans) };
    },
    decode: (ids) => Array.from(ids, (id) => `t${id}`).join(' '),
  };
  const problems = Array.from({ length: WORKLOAD.prompts }, (_, p) => ({
    id: `prompt-${p}`,
    prompt: tokenizer.decode(inputs.prompts.tokenIds.subarray(p * S, (p + 1) * S)),
    reference: `t${inputs.targets[p]}`,
  }));
  const reward: RewardFunctionV1 = {
    name: 'parity',
    score: ({ response, reference }) => {
      const n = response.split(' ').filter((word) => word === reference).length;
      return { kind: 'scored', reward: n % 2, correct: n % 2 === 1 };
    },
  };
  const classifier: PlanningClassifierV1 = {
    name: 'random-planning',
    classify: ({ responseMask, batchSize, seqLen, step }) => ({
      mask: planningMask(
        responseMask ?? new Uint8Array(batchSize * seqLen).fill(1),
        new SeededGenerator(SEEDS.planning + (step ?? 0)),
      ),
      matches: Array.from({ length: batchSize }, () => []),
    }),
  };
  const policy = createPolicy(vocab);
  const engine = new LocalTrainingClient(policy, {
    directory: join(dataDir, `trainer-${backend}`),
  });
  const ms: number[] = [];
  const errors: string[] = [];
  let trainer: RlTrainer | undefined;
  try {
    trainer = await RlTrainer.create({
      engine,
      tokenizer,
      reward,
      classifier,
      trainProblems: problems,
      addSpecialTokens: false,
      config: {
        seed: 0,
        steps: options.warmup + options.runs,
        promptsPerStep: WORKLOAD.prompts,
        samplesPerPrompt: WORKLOAD.samplesPerPrompt,
        sampling: { maxNewTokens: T, temperature: WORKLOAD.temperature },
        credit: CREDIT_CONFIG,
        update: {
          miniBatchSize: B,
          clipRatioLow: LOSS.settings!.clipRatioLow!,
          clipRatioHigh: LOSS.settings!.clipRatioHigh!,
          maxGradNorm: ADAM.gradClipNorm!,
        },
        optimizer: { name: 'adam', learningRate: ADAM.learningRate, beta2: ADAM.beta2! },
        evaluation: { every: 0 },
        rolloutsLoggedPerStep: 0,
      },
      hooks: { onWarning: (warning) => errors.push(`trainer warned: ${warning.message}`) },
    });
    for (let i = 0; i < options.warmup + options.runs; i++) {
      const started = performance.now();
      const record = await trainer.trainStep();
      ms.push(performance.now() - started);
      const loss = record['actor/policy_loss'];
      if (typeof loss !== 'number' || !Number.isFinite(loss))
        errors.push(`trainer step ${i + 1}: the policy loss is ${String(loss)}`);
    }
  } finally {
    await trainer?.dispose();
    await engine.dispose();
    policy.dispose();
  }
  return { ms, errors };
}

async function runBackend(
  backend: RlBackend,
  options: RlOptions,
  inputs: Inputs,
  torch: RlTorchReport,
  dataDir: string,
): Promise<BackendResult> {
  const info = await initBackend(backend);
  const before = tf.memory().numTensors;
  const errors: string[] = [];
  log(`${backend}: checking the fixed batch against PyTorch`);
  const check = await checkFixedBatch(
    options.vocab,
    inputs,
    torch,
    dataDir,
    join(dataDir, `check-${backend}`),
  );
  if (!check.agree)
    errors.push(`the fixed batch disagrees with PyTorch: ${check.failures.join(', ')}`);

  const policy = createPolicy(options.vocab);
  const engine = new LocalTrainingClient(policy, { directory: join(dataDir, `engine-${backend}`) });
  let sampler: LocalSamplingClient = await engine.saveWeightsForSampler('initial');
  // After the first optimizer step the engine also holds Adam's two moments per parameter.
  const expected = tf.memory().numTensors + 2 * policy.model.parameters().size;
  const steps: OurStep[] = [];
  const bareMs = { forward: [] as number[], forwardBackward: [] as number[] };
  let lastUpdate: DatumV1[] = [];
  let leaked = 0;
  log(`${backend}: ${options.warmup} warm-up + ${options.runs} timed RL steps`);
  try {
    for (let i = 0; i < options.warmup + options.runs; i++) {
      const marks = [performance.now()];
      const sampled = await sampler.sample({
        prompts: inputs.prompts,
        samplesPerPrompt: WORKLOAD.samplesPerPrompt,
        maxNewTokens: T,
        temperature: WORKLOAD.temperature,
        seed: SEEDS.sampling + i,
      });
      marks.push(performance.now());

      const sequences = sequencesOf(inputs.prompts.tokenIds, sampled.tokenIds);
      const datums = scoreDatums(sequences);
      const forwardStart = performance.now();
      const scored = await engine.forward(datums);
      const forwardMs = performance.now() - forwardStart;
      const oldLogProbs = responseColumns(scored, 'logProbs');
      const entropies = responseColumns(scored, 'entropies');
      marks.push(performance.now());

      const planning = planningMask(sampled.responseMask, new SeededGenerator(SEEDS.planning + i));
      const { rewards, credit: assigned } = credit(
        sampled.tokenIds,
        sampled.responseMask,
        planning,
        oldLogProbs,
        entropies,
        inputs.targets,
      );
      marks.push(performance.now());

      const update = updateDatums(sequences, sampled.responseMask, oldLogProbs, assigned);
      lastUpdate = update;
      const fbStart = performance.now();
      const fb = await engine.forwardBackward(update, LOSS);
      const optimStart = performance.now();
      const step = await engine.optimStep(ADAM);
      const optimEnd = performance.now();
      marks.push(optimEnd);

      const next = await engine.saveWeightsForSampler(`step-${i}`);
      await sampler.dispose();
      sampler = next;
      marks.push(performance.now());

      const loss = fb.metrics['loss:sum']!;
      const tensorsAfter = tf.memory().numTensors;
      if (!Number.isFinite(loss)) errors.push(`step ${i}: the loss is ${loss}`);
      if (tensorsAfter !== expected) {
        leaked = Math.max(leaked, tensorsAfter - expected);
        errors.push(`step ${i}: ${tensorsAfter} tensors alive, ${expected} expected`);
      }
      const phasesMs = Object.fromEntries(
        PHASES.map((phase, p) => [phase, marks[p + 1]! - marks[p]!]),
      ) as Record<Phase, number>;
      steps.push({
        warmup: i < options.warmup,
        phasesMs,
        totalMs: marks[marks.length - 1]! - marks[0]!,
        engineMs: {
          forward: forwardMs,
          forwardBackward: optimStart - fbStart,
          optimStep: optimEnd - optimStart,
        },
        loss,
        gradNorm: step.metrics['grad_norm']!,
        rewardMean: rewards.reduce((a, b) => a + b, 0) / B,
        tensorsAfter,
      });
    }
    log(`${backend}: ${options.runs} runs of the bare model passes`);
    const bare = bareModel(policy, lastUpdate);
    for (let i = 0; i < options.runs; i++) {
      bareMs.forward.push(await bare.forward());
      bareMs.forwardBackward.push(await bare.forwardBackward());
    }
    const afterBare = tf.memory().numTensors;
    if (afterBare !== expected)
      errors.push(`the bare model passes left ${afterBare - expected} tensors`);
  } finally {
    await sampler.dispose();
    await engine.dispose();
    policy.dispose();
  }
  log(`${backend}: ${options.warmup} warm-up + ${options.runs} steps of RlTrainer.trainStep`);
  const beforeTrainer = tf.memory().numTensors;
  const trainer = await trainerSteps(backend, options, inputs, dataDir);
  errors.push(...trainer.errors);
  if (tf.memory().numTensors !== beforeTrainer)
    errors.push(`the trainer left ${tf.memory().numTensors - beforeTrainer} tensors alive`);
  const left = tf.memory().numTensors - before;
  if (left !== 0) errors.push(`${left} tensors left alive after the backend's runs`);
  log(`${backend}: done`);
  return {
    backend,
    ...(info.simd === undefined ? {} : { simd: info.simd }),
    check,
    steps,
    bareMs,
    trainerMs: trainer.ms,
    tensors: { expected, leaked, left },
    errors,
  };
}

// --- the report -----------------------------------------------------------------------------------

function ratioCell(ours: number, torch: number): [string, string] {
  const ratio = ours / torch;
  const times = (x: number) => (x >= 10 ? x.toFixed(0) : x.toFixed(1));
  return [
    ratio < 0.1 ? ratio.toFixed(3) : ratio.toFixed(2),
    ratio > 1 ? `torch ${times(ratio)}x` : `ours ${times(1 / ratio)}x`,
  ];
}

/** A markdown table, padded so that it also reads well in a terminal. */
function table(header: string[], right: boolean[], body: string[][]): string {
  const cells = [header, ...body];
  const widths = header.map((_, c) => Math.max(...cells.map((line) => line[c]!.length)));
  const pad = (cell: string, c: number) =>
    right[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!);
  const line = (l: string[]) => `| ${l.map(pad).join(' | ')} |`;
  const rule = `| ${widths.map((w, c) => (right[c] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), rule, ...body.map(line)].join('\n');
}

interface Summary {
  readonly backend: RlBackend;
  readonly phasesMs: Record<Phase | 'total', { ours: number; torch: number }>;
  /** `RlTrainer.trainStep`'s median against torch's whole step. */
  readonly trainerMs: { ours: number; torch: number };
  readonly splitMs: Record<string, { ours?: number; torch?: number }>;
}

function summarise(result: BackendResult, torch: RlTorchReport): Summary {
  const ours = result.steps.filter((s) => !s.warmup);
  const theirs = torch.steps.filter((s) => !s.warmup);
  const phasesMs = Object.fromEntries(
    PHASES.map((phase) => [
      phase,
      {
        ours: median(ours.map((s) => s.phasesMs[phase])),
        torch: median(theirs.map((s) => s.phasesMs[phase])),
      },
    ]),
  ) as Summary['phasesMs'];
  phasesMs.total = {
    ours: median(ours.map((s) => s.totalMs)),
    torch: median(theirs.map((s) => s.totalMs)),
  };
  const m = (values: number[]) => median(values);
  const splitMs: Summary['splitMs'] = {
    'score: engine.forward': { ours: m(ours.map((s) => s.engineMs.forward)) },
    'score: the bare model pass (sequenceStatistics + read-back)': {
      ours: m(result.bareMs.forward),
    },
    'score: datums in, log-probs out (JS)': {
      ours: m(ours.map((s) => s.phasesMs.score - s.engineMs.forward)),
    },
    'update: engine.forwardBackward (torch: forward, loss, backward)': {
      ours: m(ours.map((s) => s.engineMs.forwardBackward)),
      torch: m(theirs.map((s) => s.updateSplitMs.forwardBackward)),
    },
    'update: the bare gradient (variableGrads of engineLoss)': {
      ours: m(result.bareMs.forwardBackward),
    },
    'update: engine.optimStep (torch: clip_grad_norm_ + AdamW.step)': {
      ours: m(ours.map((s) => s.engineMs.optimStep)),
      torch: m(theirs.map((s) => s.updateSplitMs.optimStep)),
    },
    'update: building the datums (JS)': {
      ours: m(
        ours.map((s) => s.phasesMs.update - s.engineMs.forwardBackward - s.engineMs.optimStep),
      ),
    },
  };
  const trainerMs = {
    ours: median(result.trainerMs.slice(result.trainerMs.length - ours.length)),
    torch: phasesMs.total.torch,
  };
  return { backend: result.backend, phasesMs, trainerMs, splitMs };
}

function printReport(
  options: RlOptions,
  results: readonly BackendResult[],
  summaries: readonly Summary[],
  torch: RlTorchReport,
  loadAtStart: number[],
): void {
  const m = machine();
  const source = sourceState(MEASURED);
  const body: string[][] = [];
  for (const s of summaries) {
    for (const phase of [...PHASES, 'total'] as const) {
      const { ours, torch: t } = s.phasesMs[phase];
      body.push([phase, s.backend, formatMs(ours), formatMs(t), ...ratioCell(ours, t)]);
    }
    const { ours, torch: t } = s.trainerMs;
    body.push([
      'RlTrainer.trainStep (the whole loop)',
      s.backend,
      formatMs(ours),
      formatMs(t),
      ...ratioCell(ours, t),
    ]);
  }
  const split: string[][] = [];
  for (const s of summaries) {
    for (const [part, { ours, torch: t }] of Object.entries(s.splitMs)) {
      const ratio = ours !== undefined && t !== undefined ? ratioCell(ours, t) : ['—', '—'];
      split.push([part, s.backend, formatMs(ours), formatMs(t), ...ratio]);
    }
  }
  const agreement = results.map((r) => {
    const parts = Object.entries(r.check.diffs).map(
      ([name, d]) =>
        `${name} ${d === 0 ? '0' : d.toExponential(1)} (limit ${r.check.limits[name]})`,
    );
    return `- ${r.backend}: ${parts.join(', ')}; loss ${r.check.ours.loss.toExponential(4)} vs ${r.check.torch.loss.toExponential(4)}, grad norm ${r.check.ours.gradNorm.toFixed(5)} vs ${r.check.torch.gradNorm.toFixed(5)}: ${r.check.agree ? 'agree' : `DISAGREE (${r.check.failures.join(', ')})`}`;
  });
  const stepLine = (
    who: string,
    steps: readonly { loss: number; gradNorm: number; rewardMean: number }[],
  ) =>
    `- ${who}: loss ${steps.map((s) => s.loss.toExponential(2)).join(', ')}; grad norm ${steps.map((s) => s.gradNorm.toFixed(3)).join(', ')}; mean reward ${steps.map((s) => s.rewardMean.toFixed(2)).join(', ')}`;
  const wasm = results.find((r) => r.backend === 'wasm');
  const lines = [
    '',
    '## One RL step on the local engine vs PyTorch (median ms per phase, same run)',
    '',
    `- model: the policy benchmark's transformer, V = ${options.vocab}, width ${MODEL.width}, ${MODEL.layers} layers, ${MODEL.heads} heads (tanh-GELU MLP, LayerNorm, untied head), seeded weights exchanged through the engine's saveState checkpoint`,
    `- step: sample ${WORKLOAD.prompts} prompts × ${WORKLOAD.samplesPerPrompt} samples × ${T} new tokens (prompts of ${S} tokens, temperature ${WORKLOAD.temperature}, no stop token, KV cache); score old log-probs + entropies (no gradient); ` +
      `credit: parity reward, random planning mask (${CREDIT.planningFraction * 100}% of response tokens, seeded), GRPO (ε ${CREDIT.epsilon}) + HICRA (α ${CREDIT.alpha}); ` +
      `update: verl-ppo clip ${LOSS.settings!.clipRatioLow} / ${LOSS.settings!.clipRatioHigh}, token-mean in the weights, AdamW lr ${ADAM.learningRate}, β2 ${ADAM.beta2}, eps ${ADAM.eps}, clip norm ${ADAM.gradClipNorm}, one mini-batch of ${B}; refresh the sampler`,
    `- machine: ${m.cpu}, ${m.cores} cores; Node ${m.node}; tfjs-core ${tf.version_core}` +
      (wasm ? `; wasm SIMD ${wasm.simd ? 'on' : 'off'}, 1 thread` : '') +
      `; niceness ${m.niceness}; load average (1/5/15 min) ${formatLoad(loadAtStart)} at start, ${formatLoad(loadavg())} at end`,
    `- torch ${torch.torch} (Debian python3-torch ${torch.debianPackages['python3-torch'] ?? '?'}), Python ${torch.python}, ${torch.threads} thread; ${torch.config.blas_info ?? 'BLAS_INFO unknown'}; ` +
      `BLAS loaded: ${torch.blasLibraries.join(', ') || 'none found'}; peak RSS ${torch.peakRssMb.toFixed(0)} MB`,
    `- source: commit ${source.commit ?? 'unknown'}` +
      (source.uncommitted.length > 0
        ? ` plus ${source.uncommitted.length} uncommitted change(s) in ${MEASURED.join(', ')}`
        : ''),
    `- runs: ${options.warmup} warm-up + ${options.runs} timed RL steps on each side (each step trains the model the next one samples from); total is the median of the per-step totals; ours/torch > 1 means torch is faster`,
    '',
    table(
      ['phase', 'backend', 'ours ms', 'torch ms', 'ours/torch', 'faster'],
      [false, false, true, true, true, false],
      body,
    ),
    '',
    'Inside the phases (median ms):',
    '',
    table(
      ['part', 'backend', 'ours ms', 'torch ms', 'ours/torch', 'faster'],
      [false, false, true, true, true, false],
      split,
    ),
    '',
    'Agreement on the fixed batch (max |diff| unless relative):',
    ...agreement,
    '',
    'Timed steps:',
    ...results.map((r) =>
      stepLine(
        `ours (${r.backend})`,
        r.steps.filter((s) => !s.warmup),
      ),
    ),
    stepLine(
      'torch',
      torch.steps.filter((s) => !s.warmup),
    ),
  ];
  console.log(lines.join('\n'));
}

async function main(options: RlOptions): Promise<number> {
  const started = new Date();
  const loadAtStart = loadavg();
  ensureTorchPeer();
  const dataDir = mkdtempSync(join(tmpdir(), 'hicra-bench-rl-step-'));
  try {
    const inputs = makeInputs(options.vocab);
    const write = (name: string, array: ArrayBufferView) =>
      writeFileSync(
        join(dataDir, name),
        new Uint8Array(array.buffer, array.byteOffset, array.byteLength),
      );
    write('prompts.bin', inputs.prompts.tokenIds);
    write('targets.bin', inputs.targets);
    write('fixed_tokens.bin', inputs.fixedTokens);
    write('fixed_planning.bin', inputs.fixedPlanning);
    // The initial weights, through the engine's own checkpoint (the peer reads model.safetensors).
    await initBackend(options.backends[0]!);
    {
      const policy = createPolicy(options.vocab);
      const engine = new LocalTrainingClient(policy, { directory: dataDir });
      await engine.saveState('initial');
      await engine.dispose();
      policy.dispose();
    }
    const meta = {
      model: { ...MODEL, vocabSize: options.vocab },
      workload: WORKLOAD,
      credit: CREDIT,
      loss: LOSS.settings,
      adam: { beta1: BETA1, ...ADAM },
      seeds: SEEDS,
      weights: 'initial/model.safetensors',
      byteOrder: 'little-endian',
    };
    writeFileSync(join(dataDir, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);

    log(`running the PyTorch peer (${options.warmup} warm-up + ${options.runs} timed RL steps)`);
    const torch = runTorchPeer(PEER_SCRIPT, dataDir, {
      runs: options.runs,
      warmup: options.warmup,
      groups: ['rl-step'],
    }) as RlTorchReport;

    const results: BackendResult[] = [];
    for (const backend of options.backends) {
      results.push(await runBackend(backend, options, inputs, torch, dataDir));
    }
    const summaries = results.map((r) => summarise(r, torch));
    printReport(options, results, summaries, torch, loadAtStart);

    const torchErrors = torch.steps.flatMap((s, i) =>
      Number.isFinite(s.loss) ? [] : [`torch step ${i}: the loss is ${s.loss}`],
    );
    const out = resolve(BENCH_DIR, options.out);
    mkdirSync(dirname(out), { recursive: true });
    const { ops: _ops, fixed: _fixed, ...torchMeta } = torch;
    const report = {
      benchmark: 'rl-step',
      started: started.toISOString(),
      finished: new Date().toISOString(),
      machine: machine(),
      loadAverage: { start: loadAtStart, end: loadavg() },
      source: sourceState(MEASURED),
      tfjs: tf.version_core,
      model: meta.model,
      workload: WORKLOAD,
      credit: CREDIT_CONFIG,
      planningFraction: CREDIT.planningFraction,
      loss: LOSS,
      adam: ADAM,
      seeds: SEEDS,
      options,
      tolerance: TOLERANCE,
      torch: { ...torchMeta, fixed: { loss: torch.fixed.loss, gradNorm: torch.fixed.gradNorm } },
      summaries,
      backends: results,
    };
    writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nResults written to ${out}`);
    const errors = [
      ...results.flatMap((r) => r.errors.map((e) => `${r.backend}: ${e}`)),
      ...torchErrors,
    ];
    if (errors.length > 0) {
      console.error(`bench: ${errors.length} error(s):\n${errors.map((e) => `  ${e}`).join('\n')}`);
      return 1;
    }
    return 0;
  } finally {
    if (options.keepData) log(`kept the exchanged files in ${dataDir}`);
    else rmSync(dataDir, { recursive: true, force: true });
  }
}

await runScript(parseRlArgs, USAGE, main);
