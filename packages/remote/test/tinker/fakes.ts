/**
 * In-memory engines for the tests, pure JS over `@hicra/spec`:
 *
 * - `BigramEngine`: a bigram model (a V×V logit table) with exact gradients of Tinker's five
 *   losses and Adam, so the engine conformance suite of `@hicra/spec` can run against it, in
 *   process and over HTTP.
 * - `RecordingEngine`: a large vocabulary (the example files' Qwen ids), deterministic outputs,
 *   every call recorded; no learning.
 */
import {
  type AdamParamsV1,
  type DatumV1,
  type EngineCapabilitiesV1,
  type EngineInfoV1,
  type ForwardOptionsV1,
  type ForwardResultV1,
  InvalidArgumentError,
  InvalidValueError,
  type LossSpecV1,
  MissingInputError,
  type OptimStepResultV1,
  type SampleRequestV1,
  type SampleResultV1,
  type SamplingClientV1,
  type ScoreRequestV1,
  TINKER_LOSS_NAMES,
  type TrainingClientV1,
  UnknownNameError,
  validateDatums,
} from '@hicra/spec';

const SOURCE = 'test-fake';

/** mulberry32. */
export function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function requirements(loss: LossSpecV1 | undefined): ('logProbs' | 'advantages')[] {
  if (loss === undefined || loss.name === 'cross-entropy') return [];
  return ['logProbs', 'advantages'];
}

const TINKER_SETTINGS = ['clipLowThreshold', 'clipHighThreshold', 'beta'];
const ALL_SETTINGS = [
  ...TINKER_SETTINGS,
  'clipRatioLow',
  'clipRatioHigh',
  'clipRatioC',
  'logRatioClamp',
  'entropyCoefficient',
  'klCoefficient',
  'klEstimator',
];

function checkLoss(loss: LossSpecV1, losses: readonly string[], extended = false): void {
  if (!losses.includes(loss.name)) throw new UnknownNameError('loss', loss.name, losses);
  for (const [key, value] of Object.entries(loss.settings ?? {})) {
    if (key === 'klEstimator' && extended) continue;
    if (!(extended ? ALL_SETTINGS : TINKER_SETTINGS).includes(key))
      throw new InvalidArgumentError(`unknown setting ${key}`, {
        source: SOURCE,
        details: { argument: key },
      });
    if (!Number.isFinite(value))
      throw new InvalidValueError(`setting ${key} must be finite`, { source: SOURCE });
  }
  if (loss.name === 'dro' && !((loss.settings?.beta ?? 0) > 0))
    throw new InvalidValueError('dro needs beta > 0', {
      source: SOURCE,
      details: { argument: 'loss.settings.beta' },
    });
}

/** Log-softmax of `row / temperature`. */
function logSoftmax(row: Float64Array, temperature: number): Float64Array {
  const out = new Float64Array(row.length);
  let max = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < row.length; j++) max = Math.max(max, row[j]! / temperature);
  let sum = 0;
  for (let j = 0; j < row.length; j++) sum += Math.exp(row[j]! / temperature - max);
  const log = max + Math.log(sum);
  for (let j = 0; j < row.length; j++) out[j] = row[j]! / temperature - log;
  return out;
}

/** The frozen weights of a bigram model: sampling and scoring. */
export class BigramSampler implements SamplingClientV1 {
  readonly weights: Float64Array;
  readonly vocabSize: number;
  disposed = false;
  readonly requests: SampleRequestV1[] = [];

  constructor(weights: Float64Array, vocabSize: number) {
    this.weights = weights;
    this.vocabSize = vocabSize;
  }

  #row(prev: number, temperature: number): Float64Array {
    return logSoftmax(
      this.weights.subarray(prev * this.vocabSize, (prev + 1) * this.vocabSize),
      temperature,
    );
  }

  async sample(request: SampleRequestV1): Promise<SampleResultV1> {
    if (this.disposed) throw new InvalidArgumentError('sampler disposed', { source: SOURCE });
    this.requests.push(request);
    const P = request.prompts.offsets.length - 1;
    const G = request.samplesPerPrompt;
    const T = request.maxNewTokens;
    const B = P * G;
    const temperature = request.temperature ?? 1;
    const stops = new Set(request.stopTokenIds ?? []);
    const out: SampleResultV1 = {
      batchSize: B,
      seqLen: T,
      promptIndex: new Int32Array(B),
      tokenIds: new Int32Array(B * T),
      responseMask: new Uint8Array(B * T),
      logProbs: new Float32Array(B * T),
      finished: new Uint8Array(B),
    };
    for (let p = 0; p < P; p++) {
      const last = request.prompts.tokenIds[request.prompts.offsets[p + 1]! - 1]!;
      for (let g = 0; g < G; g++) {
        const row = p * G + g;
        (out.promptIndex as Int32Array)[row] = p;
        const rng = generator(request.seed + row);
        let prev = last;
        for (let t = 0; t < T; t++) {
          const lp = this.#row(prev, temperature > 0 ? temperature : 1);
          let token = 0;
          if (temperature === 0) {
            for (let j = 1; j < this.vocabSize; j++) if (lp[j]! > lp[token]!) token = j;
          } else {
            let u = rng();
            for (token = 0; token < this.vocabSize - 1; token++) {
              u -= Math.exp(lp[token]!);
              if (u <= 0) break;
            }
          }
          out.tokenIds[row * T + t] = token;
          out.responseMask[row * T + t] = 1;
          out.logProbs[row * T + t] = lp[token]!;
          prev = token;
          if (stops.has(token)) {
            out.finished[row] = 1;
            break;
          }
        }
      }
    }
    return out;
  }

  async computeLogProbs(request: ScoreRequestV1): Promise<Float32Array> {
    if (this.disposed) throw new InvalidArgumentError('sampler disposed', { source: SOURCE });
    const { batchSize: B, seqLen: T } = request;
    const temperature = request.temperature ?? 1;
    const out = new Float32Array(B * T);
    for (let b = 0; b < B; b++) {
      let prev = request.prompts.tokenIds[request.prompts.offsets[b + 1]! - 1]!;
      for (let t = 0; t < T; t++) {
        const token = request.tokenIds[b * T + t]!;
        if (request.responseMask[b * T + t] !== 0)
          out[b * T + t] = this.#row(prev, temperature)[token]!;
        prev = token;
      }
    }
    return out;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
  }
}

export interface BigramEngineOptions {
  readonly vocabSize?: number;
  readonly contextLength?: number;
  readonly seed?: number;
  readonly modelName?: string;
  readonly capabilities?: Partial<EngineCapabilitiesV1>;
}

/** A trainable bigram model; see the module comment. */
export class BigramEngine implements TrainingClientV1 {
  readonly vocabSize: number;
  readonly contextLength: number;
  readonly modelName: string;
  readonly capabilities: EngineCapabilitiesV1;
  weights: Float64Array;
  #m: Float64Array;
  #v: Float64Array;
  #step = 0;
  #grad: Float64Array | undefined;
  readonly #states = new Map<
    string,
    { weights: Float64Array; m: Float64Array; v: Float64Array; step: number }
  >();
  readonly samplers: BigramSampler[] = [];
  readonly calls: string[] = [];

  constructor(options: BigramEngineOptions = {}) {
    this.vocabSize = options.vocabSize ?? 12;
    this.contextLength = options.contextLength ?? 64;
    this.modelName = options.modelName ?? 'bigram-test';
    this.capabilities = {
      entropies: true,
      klTerm: false,
      entropyBonus: false,
      temperature: true,
      losses: TINKER_LOSS_NAMES,
      ...options.capabilities,
    };
    const rng = generator(options.seed ?? 7);
    const V = this.vocabSize;
    this.weights = Float64Array.from({ length: V * V }, () => 2 * rng() - 1);
    this.#m = new Float64Array(V * V);
    this.#v = new Float64Array(V * V);
  }

  async info(): Promise<EngineInfoV1> {
    return {
      modelName: this.modelName,
      vocabSize: this.vocabSize,
      contextLength: this.contextLength,
      capabilities: this.capabilities,
    };
  }

  async forward(
    data: readonly DatumV1[],
    loss?: LossSpecV1,
    options: ForwardOptionsV1 = {},
  ): Promise<ForwardResultV1> {
    this.calls.push('forward');
    return this.#run(data, loss, options, undefined);
  }

  async forwardBackward(
    data: readonly DatumV1[],
    loss: LossSpecV1,
    options: ForwardOptionsV1 = {},
  ): Promise<ForwardResultV1> {
    this.calls.push('forwardBackward');
    const grad = new Float64Array(this.vocabSize * this.vocabSize);
    const result = this.#run(data, loss, options, grad);
    if (this.#grad === undefined) this.#grad = grad;
    else for (let i = 0; i < grad.length; i++) this.#grad[i]! += grad[i]!;
    return result;
  }

  #run(
    data: readonly DatumV1[],
    loss: LossSpecV1 | undefined,
    options: ForwardOptionsV1,
    grad: Float64Array | undefined,
  ): ForwardResultV1 {
    if (loss !== undefined) checkLoss(loss, this.capabilities.losses);
    validateDatums(data, {
      vocabSize: this.vocabSize,
      contextLength: this.contextLength,
      requires: requirements(loss),
      source: SOURCE,
    });
    const temperature = options.temperature ?? 1;
    const V = this.vocabSize;
    let total = 0;
    const outputs = data.map((datum) => {
      const n = datum.inputTokens.length;
      const logProbs = new Float32Array(n);
      const entropies = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const prev = datum.inputTokens[i]!;
        const target = datum.targetTokens[i]!;
        const row = logSoftmax(this.weights.subarray(prev * V, (prev + 1) * V), temperature);
        const lp = row[target]!;
        logProbs[i] = lp;
        let h = 0;
        for (let j = 0; j < V; j++) h -= Math.exp(row[j]!) * row[j]!;
        entropies[i] = h;
        if (loss === undefined) continue;
        const { value, coefficient } = tokenLoss(loss, datum, i, lp);
        total += value;
        if (grad === undefined || coefficient === 0) continue;
        for (let j = 0; j < V; j++) {
          const dlp = ((j === target ? 1 : 0) - Math.exp(row[j]!)) / temperature;
          grad[prev * V + j]! += coefficient * dlp;
        }
      }
      return { logProbs, entropies };
    });
    return { outputs, metrics: loss === undefined ? {} : { 'loss:sum': total } };
  }

  async optimStep(adam: AdamParamsV1): Promise<OptimStepResultV1> {
    this.calls.push('optimStep');
    const lr = adam.learningRate;
    if (!(Number.isFinite(lr) && lr > 0))
      throw new InvalidValueError(`learningRate must be > 0, got ${lr}`, { source: SOURCE });
    const grad = this.#grad;
    if (grad === undefined)
      throw new MissingInputError('optimStep: no gradient is accumulated', { source: SOURCE });
    this.#grad = undefined;
    const b1 = adam.beta1 ?? 0.9;
    const b2 = adam.beta2 ?? 0.95;
    const eps = adam.eps ?? 1e-12;
    const wd = adam.weightDecay ?? 0;
    let norm = 0;
    for (const g of grad) norm += g * g;
    norm = Math.sqrt(norm);
    const clip = adam.gradClipNorm ?? 0;
    const scale = clip > 0 && norm > clip ? clip / norm : 1;
    this.#step++;
    const c1 = 1 - b1 ** this.#step;
    const c2 = 1 - b2 ** this.#step;
    for (let i = 0; i < grad.length; i++) {
      const g = grad[i]! * scale;
      this.#m[i] = b1 * this.#m[i]! + (1 - b1) * g;
      this.#v[i] = b2 * this.#v[i]! + (1 - b2) * g * g;
      const update = this.#m[i]! / c1 / (Math.sqrt(this.#v[i]! / c2) + eps);
      this.weights[i] = this.weights[i]! - lr * (update + wd * this.weights[i]!);
    }
    return { metrics: { learning_rate: lr, grad_norm: norm } };
  }

  async saveState(name: string): Promise<string> {
    this.calls.push('saveState');
    this.#states.set(name, {
      weights: this.weights.slice(),
      m: this.#m.slice(),
      v: this.#v.slice(),
      step: this.#step,
    });
    return `mem://${name}`;
  }

  async loadState(location: string): Promise<void> {
    this.calls.push('loadState');
    const state = this.#states.get(location.replace(/^mem:\/\//, ''));
    if (state === undefined)
      throw new InvalidArgumentError(`no state at ${location}`, {
        source: SOURCE,
        details: { argument: 'location' },
      });
    this.weights = state.weights.slice();
    this.#m = state.m.slice();
    this.#v = state.v.slice();
    this.#step = state.step;
    this.#grad = undefined;
  }

  async saveWeightsForSampler(_name: string): Promise<BigramSampler> {
    this.calls.push('saveWeightsForSampler');
    const sampler = new BigramSampler(this.weights.slice(), this.vocabSize);
    this.samplers.push(sampler);
    return sampler;
  }
}

/** A token's loss value and d(loss)/d(log-prob), Tinker's formulas. */
function tokenLoss(
  loss: LossSpecV1,
  datum: DatumV1,
  i: number,
  lp: number,
): { value: number; coefficient: number } {
  const s = loss.settings ?? {};
  if (loss.name === 'cross-entropy') {
    const w = datum.weights?.[i] ?? 1;
    return { value: -w * lp, coefficient: -w };
  }
  const q = datum.logProbs![i]!;
  const a = datum.advantages![i]!;
  const ratio = Math.exp(lp - q);
  switch (loss.name) {
    case 'importance-sampling':
      return { value: -ratio * a, coefficient: -ratio * a };
    case 'ppo': {
      const clipped = Math.min(
        Math.max(ratio, s.clipLowThreshold ?? 0.8),
        s.clipHighThreshold ?? 1.2,
      );
      const unclipped = ratio * a;
      const other = clipped * a;
      return unclipped <= other
        ? { value: -unclipped, coefficient: -ratio * a }
        : { value: -other, coefficient: 0 };
    }
    case 'cispo': {
      const clipped = Math.min(Math.max(ratio, s.clipLowThreshold ?? 0), s.clipHighThreshold ?? 4);
      return { value: -clipped * lp * a, coefficient: -clipped * a };
    }
    case 'dro': {
      const beta = s.beta!;
      return {
        value: -(lp * a - 0.5 * beta * (lp - q) ** 2),
        coefficient: -(a - beta * (lp - q)),
      };
    }
    default:
      throw new UnknownNameError('loss', loss.name, TINKER_LOSS_NAMES);
  }
}

/** One recorded call of a `RecordingEngine`. */
export interface RecordedCall {
  readonly method: string;
  readonly args: readonly unknown[];
}

/** A sampler that answers deterministically and records its requests. */
export class RecordingSampler implements SamplingClientV1 {
  readonly calls: RecordedCall[];
  disposed = false;

  constructor(calls: RecordedCall[]) {
    this.calls = calls;
  }

  async sample(request: SampleRequestV1): Promise<SampleResultV1> {
    this.calls.push({ method: 'sample', args: [request] });
    const P = request.prompts.offsets.length - 1;
    const G = request.samplesPerPrompt;
    const T = request.maxNewTokens;
    const B = P * G;
    const out = {
      batchSize: B,
      seqLen: T,
      promptIndex: new Int32Array(B),
      tokenIds: new Int32Array(B * T),
      responseMask: new Uint8Array(B * T),
      logProbs: new Float32Array(B * T),
      finished: new Uint8Array(B),
    };
    const stop = request.stopTokenIds?.[0];
    for (let row = 0; row < B; row++) {
      out.promptIndex[row] = Math.floor(row / G);
      // Row r: r + 1 tokens (capped at T); even rows end with the first stop id.
      const length = Math.min(T, row + 1);
      for (let t = 0; t < length; t++) {
        out.tokenIds[row * T + t] = 100 + ((request.seed + row + t) % 50);
        out.responseMask[row * T + t] = 1;
        out.logProbs[row * T + t] = -0.25 * (t + 1);
      }
      if (stop !== undefined && row % 2 === 0 && length < T) {
        out.tokenIds[row * T + length - 1] = stop;
        out.finished[row] = 1;
      }
    }
    return out;
  }

  async computeLogProbs(request: ScoreRequestV1): Promise<Float32Array> {
    this.calls.push({ method: 'computeLogProbs', args: [request] });
    const out = new Float32Array(request.batchSize * request.seqLen);
    for (let i = 0; i < out.length; i++) if (request.responseMask[i]) out[i] = -0.5 - (i % 3) / 10;
    return out;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.calls.push({ method: 'dispose', args: [] });
  }
}

/** Deterministic outputs over a large vocabulary; records every call. No learning. */
export class RecordingEngine implements TrainingClientV1 {
  readonly calls: RecordedCall[] = [];
  readonly vocabSize: number;
  readonly capabilities: EngineCapabilitiesV1;
  readonly samplers: RecordingSampler[] = [];
  #hasGradient = false;
  /** Makes the next call of this method reject with this error. */
  failNext: { method: string; error: unknown } | undefined;

  constructor(options: { vocabSize?: number; capabilities?: Partial<EngineCapabilitiesV1> } = {}) {
    this.vocabSize = options.vocabSize ?? 152_000;
    this.capabilities = {
      entropies: false,
      klTerm: false,
      entropyBonus: false,
      temperature: false,
      losses: TINKER_LOSS_NAMES,
      ...options.capabilities,
    };
  }

  #record(method: string, args: unknown[]): void {
    this.calls.push({ method, args });
    if (this.failNext?.method === method) {
      const { error } = this.failNext;
      this.failNext = undefined;
      throw error;
    }
  }

  async info(): Promise<EngineInfoV1> {
    return {
      modelName: 'Qwen/Qwen3-8B',
      vocabSize: this.vocabSize,
      contextLength: 4096,
      capabilities: this.capabilities,
    };
  }

  async forward(
    data: readonly DatumV1[],
    loss?: LossSpecV1,
    options?: ForwardOptionsV1,
  ): Promise<ForwardResultV1> {
    this.#record('forward', [data, loss, options]);
    return this.#outputs(data, loss);
  }

  async forwardBackward(
    data: readonly DatumV1[],
    loss: LossSpecV1,
    options?: ForwardOptionsV1,
  ): Promise<ForwardResultV1> {
    this.#record('forwardBackward', [data, loss, options]);
    const result = this.#outputs(data, loss);
    this.#hasGradient = true;
    return result;
  }

  #outputs(data: readonly DatumV1[], loss: LossSpecV1 | undefined): ForwardResultV1 {
    if (loss !== undefined)
      checkLoss(
        loss,
        this.capabilities.losses,
        this.capabilities.klTerm || this.capabilities.entropyBonus,
      );
    validateDatums(data, { vocabSize: this.vocabSize, requires: requirements(loss) });
    let total = 0;
    const outputs = data.map((d) => {
      const logProbs = Float32Array.from(d.targetTokens, (t) => -((t % 7) + 1) / 8);
      for (const v of logProbs) total -= v;
      return this.capabilities.entropies
        ? { logProbs, entropies: new Float32Array(logProbs.length).fill(0.5) }
        : { logProbs };
    });
    return { outputs, metrics: loss === undefined ? {} : { 'loss:sum': total } };
  }

  async optimStep(adam: AdamParamsV1): Promise<OptimStepResultV1> {
    this.#record('optimStep', [adam]);
    if (!this.#hasGradient)
      throw new MissingInputError(
        'optimStep: no gradient is accumulated; call forwardBackward before each optimStep',
        { source: SOURCE, details: { step: 0 } },
      );
    this.#hasGradient = false;
    return { metrics: { learning_rate: adam.learningRate, grad_norm: 0.8123 } };
  }

  async saveState(name: string): Promise<string> {
    this.#record('saveState', [name]);
    return `/tmp/fake-engine/${name}`;
  }

  async loadState(location: string): Promise<void> {
    this.#record('loadState', [location]);
  }

  async saveWeightsForSampler(name: string): Promise<RecordingSampler> {
    this.#record('saveWeightsForSampler', [name]);
    const sampler = new RecordingSampler(this.calls);
    this.samplers.push(sampler);
    return sampler;
  }
}
