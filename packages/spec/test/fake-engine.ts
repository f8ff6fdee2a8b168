/**
 * A pure-JavaScript engine for the conformance suite's own tests: a bigram model (logits of
 * position t are a row of a V × V table, picked by the input token) trained with Adam, in
 * float64. `flaws` switch on one bug each, so each check can be shown to catch its bug.
 */
import {
  type AdamParamsV1,
  type DatumV1,
  type EngineInfoV1,
  type ForwardResultV1,
  InvalidValueError,
  LOSS_NAMES,
  type LossSpecV1,
  MissingInputError,
  type SampleRequestV1,
  type SampleResultV1,
  type SamplingClientV1,
  type ScoreRequestV1,
  type TrainingClientV1,
  UnknownNameError,
  validateDatums,
} from '../src/index.js';

export interface FakeEngineFlaws {
  /** forwardBackward replaces the accumulated gradient instead of adding to it. */
  readonly overwriteGradient?: boolean;
  /** forwardBackward averages over datums instead of summing. */
  readonly meanGradient?: boolean;
  /** optimStep with nothing accumulated resolves (a zero step). */
  readonly stepWithoutGradient?: boolean;
  /** loadState restores the weights but resets the Adam moments. */
  readonly loadForgetsMoments?: boolean;
  /** The sampler ignores the seed (a fresh stream each call). */
  readonly samplerIgnoresSeed?: boolean;
  /** The sampler shares the training weights instead of a copy. */
  readonly samplerSharesWeights?: boolean;
  /** The sampler scores at temperature 2. */
  readonly samplerMisScores?: boolean;
  /** forwardBackward does not validate datums. */
  readonly noValidation?: boolean;
}

const V = 11;

function logSoftmax(row: ArrayLike<number>, temperature = 1): Float64Array {
  const out = Float64Array.from(row, (x) => x / temperature);
  const max = Math.max(...out);
  let sum = 0;
  for (const x of out) sum += Math.exp(x - max);
  const log = max + Math.log(sum);
  for (let j = 0; j < out.length; j++) out[j] = out[j]! - log;
  return out;
}

let counter = 0;

class FakeSampler implements SamplingClientV1 {
  constructor(
    readonly table: Float64Array,
    readonly flaws: FakeEngineFlaws,
  ) {}

  async sample(request: SampleRequestV1): Promise<SampleResultV1> {
    const P = request.prompts.offsets.length - 1;
    const G = request.samplesPerPrompt;
    const T = request.maxNewTokens;
    const B = P * G;
    let state = (this.flaws.samplerIgnoresSeed ? 977 * ++counter : request.seed) >>> 0;
    const next = () => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state / 4294967296;
    };
    const tokenIds = new Int32Array(B * T);
    const logProbs = new Float32Array(B * T);
    for (let b = 0; b < B; b++) {
      const p = Math.floor(b / G);
      let last = request.prompts.tokenIds[request.prompts.offsets[p + 1]! - 1]!;
      for (let t = 0; t < T; t++) {
        const lp = logSoftmax(
          this.table.subarray(last * V, last * V + V),
          request.temperature ?? 1,
        );
        let u = next();
        let token = V - 1;
        for (let j = 0; j < V; j++) {
          u -= Math.exp(lp[j]!);
          if (u < 0) {
            token = j;
            break;
          }
        }
        tokenIds[b * T + t] = token;
        logProbs[b * T + t] = lp[token]!;
        last = token;
      }
    }
    return {
      batchSize: B,
      seqLen: T,
      promptIndex: Int32Array.from({ length: B }, (_, b) => Math.floor(b / G)),
      tokenIds,
      responseMask: new Uint8Array(B * T).fill(1),
      logProbs,
      finished: new Uint8Array(B),
    };
  }

  async computeLogProbs(request: ScoreRequestV1): Promise<Float32Array> {
    const T = request.seqLen;
    const out = new Float32Array(request.batchSize * T);
    for (let b = 0; b < request.batchSize; b++) {
      let last = request.prompts.tokenIds[request.prompts.offsets[b + 1]! - 1]!;
      for (let t = 0; t < T; t++) {
        if (request.responseMask[b * T + t] !== 1) continue;
        const token = request.tokenIds[b * T + t]!;
        const row = this.table.subarray(last * V, last * V + V);
        out[b * T + t] = logSoftmax(row, this.flaws.samplerMisScores ? 2 : 1)[token]!;
        last = token;
      }
    }
    return out;
  }
}

export class FakeEngine implements TrainingClientV1 {
  table: Float64Array;
  gradient: Float64Array | undefined;
  m = new Float64Array(V * V);
  v = new Float64Array(V * V);
  step = 0;
  readonly saved = new Map<
    string,
    { table: Float64Array; m: Float64Array; v: Float64Array; step: number }
  >();

  constructor(readonly flaws: FakeEngineFlaws = {}) {
    // The same initial weights every time (the suite compares two engines).
    this.table = Float64Array.from({ length: V * V }, (_, k) => Math.sin(k * 1.3) * 0.5);
  }

  async info(): Promise<EngineInfoV1> {
    return {
      modelName: 'fake-bigram',
      vocabSize: V,
      contextLength: 32,
      capabilities: {
        entropies: true,
        klTerm: false,
        entropyBonus: false,
        temperature: false,
        losses: ['cross-entropy', 'importance-sampling'],
      },
    };
  }

  #check(data: readonly DatumV1[], loss?: LossSpecV1): void {
    if (
      loss !== undefined &&
      !(['cross-entropy', 'importance-sampling'] as string[]).includes(loss.name)
    )
      throw new UnknownNameError('loss', loss.name, LOSS_NAMES);
    if (this.flaws.noValidation) return;
    validateDatums(data, {
      vocabSize: V,
      contextLength: 32,
      requires: loss?.name === 'importance-sampling' ? ['logProbs', 'advantages'] : [],
    });
  }

  #pass(
    data: readonly DatumV1[],
    loss: LossSpecV1 | undefined,
    gradient?: Float64Array,
  ): ForwardResultV1 {
    let total = 0;
    const outputs = data.map((d) => {
      const n = d.inputTokens.length;
      const logProbs = new Float32Array(n);
      const entropies = new Float32Array(n);
      for (let t = 0; t < n; t++) {
        const input = d.inputTokens[t]!;
        const target = d.targetTokens[t]!;
        const lp = logSoftmax(this.table.subarray(input * V, input * V + V));
        logProbs[t] = lp[target]!;
        entropies[t] = -lp.reduce((s, x) => s + Math.exp(x) * x, 0);
        if (loss === undefined) continue;
        // dL/dlogp for this token; dlogp/dz = onehot - p.
        let dLoss: number;
        if (loss.name === 'cross-entropy') {
          const w = d.weights?.[t] ?? 1;
          total += -w * lp[target]!;
          dLoss = -w;
        } else {
          const ratio = Math.exp(lp[target]! - d.logProbs![t]!);
          total += -ratio * d.advantages![t]!;
          dLoss = -ratio * d.advantages![t]!;
        }
        if (gradient === undefined) continue;
        for (let j = 0; j < V; j++) {
          const scale = this.flaws.meanGradient ? 1 / data.length : 1;
          gradient[input * V + j]! += scale * dLoss * ((j === target ? 1 : 0) - Math.exp(lp[j]!));
        }
      }
      return { logProbs, entropies };
    });
    return { outputs, metrics: loss === undefined ? {} : { 'loss:sum': total } };
  }

  async forwardBackward(data: readonly DatumV1[], loss: LossSpecV1): Promise<ForwardResultV1> {
    this.#check(data, loss);
    const gradient = new Float64Array(V * V);
    const result = this.#pass(data, loss, gradient);
    if (this.gradient === undefined || this.flaws.overwriteGradient) this.gradient = gradient;
    else for (let k = 0; k < gradient.length; k++) this.gradient[k]! += gradient[k]!;
    return result;
  }

  async forward(data: readonly DatumV1[], loss?: LossSpecV1): Promise<ForwardResultV1> {
    this.#check(data, loss);
    return this.#pass(data, loss);
  }

  async optimStep(adam: AdamParamsV1): Promise<{ metrics: Record<string, number> }> {
    if (!(adam.learningRate > 0))
      throw new InvalidValueError(`learningRate must be > 0, got ${adam.learningRate}`);
    let g = this.gradient;
    if (g === undefined) {
      if (!this.flaws.stepWithoutGradient) throw new MissingInputError('nothing accumulated');
      g = new Float64Array(V * V);
    }
    this.gradient = undefined;
    const b1 = adam.beta1 ?? 0.9;
    const b2 = adam.beta2 ?? 0.95;
    const eps = adam.eps ?? 1e-12;
    this.step++;
    let norm = 0;
    for (let k = 0; k < g.length; k++) {
      norm += g[k]! ** 2;
      this.m[k] = b1 * this.m[k]! + (1 - b1) * g[k]!;
      this.v[k] = b2 * this.v[k]! + (1 - b2) * g[k]! ** 2;
      const update =
        this.m[k]! / (1 - b1 ** this.step) / (Math.sqrt(this.v[k]! / (1 - b2 ** this.step)) + eps);
      this.table[k] = this.table[k]! - adam.learningRate * update;
    }
    return { metrics: { learning_rate: adam.learningRate, grad_norm: Math.sqrt(norm) } };
  }

  async saveState(name: string): Promise<string> {
    this.saved.set(name, {
      table: this.table.slice(),
      m: this.m.slice(),
      v: this.v.slice(),
      step: this.step,
    });
    return `fake://${name}`;
  }

  async loadState(location: string): Promise<void> {
    const state = this.saved.get(location.replace('fake://', ''))!;
    this.table = state.table.slice();
    this.m = this.flaws.loadForgetsMoments ? new Float64Array(V * V) : state.m.slice();
    this.v = this.flaws.loadForgetsMoments ? new Float64Array(V * V) : state.v.slice();
    this.step = this.flaws.loadForgetsMoments ? 0 : state.step;
    this.gradient = undefined;
  }

  async saveWeightsForSampler(): Promise<SamplingClientV1> {
    return new FakeSampler(
      this.flaws.samplerSharesWeights ? this.table : this.table.slice(),
      this.flaws,
    );
  }
}
