import {
  InvalidArgumentError,
  InvalidValueError,
  MissingInputError,
  TRAIN_METRIC_KEYS,
} from '@hicra/spec';
import { type TopQScope, topQMask } from '@hicra/tensor/kernels';
import { checkCount, checkLayout, checkMask, checkTypedArray, describe, SOURCE } from './check.js';

/** Default share of tokens in the top-entropy ("fork") set, as in the paper: 30%. */
export const DEFAULT_TOP_Q = 0.3;

export interface TokenClassSettings {
  /** Share of response tokens selected as top-entropy tokens, in (0, 1]; default 0.3. */
  readonly topQ?: number;
  /** Where the top-q threshold is drawn: `batch` (default) or `sequence` (per response). */
  readonly topQScope?: TopQScope;
}

/**
 * Per-token inputs of one batch: flat row-major `[B·T]` arrays, as in `RolloutBatchV1`.
 * Token classes: *all* = response tokens; *planning* = `planningMask`; *execution* = response
 * tokens that are not planning tokens (the exact complement).
 */
export interface TokenClassInput {
  /** B. */
  readonly batchSize: number;
  /** T. */
  readonly seqLen: number;
  /** `[B·T]` 0/1: response tokens. */
  readonly responseMask: Uint8Array;
  /** `[B·T]` 0/1: planning tokens, a subset of the response mask. Without it, only *all* is measured. */
  readonly planningMask?: Uint8Array;
  /** `[B·T]`: natural-log probability of each sampled token (finite and <= 0 at response tokens). */
  readonly logProbs?: Float32Array | Float64Array;
  /** `[B·T]`: next-token entropy in nats (finite and >= 0 at response tokens). */
  readonly entropies?: Float32Array | Float64Array;
}

/** Statistics of one token class. */
export interface TokenClassSummary {
  /** Tokens of the class. */
  readonly tokens: number;
  /** Mean next-token entropy (nats); undefined without entropies or without tokens. */
  readonly meanEntropy?: number;
  /** Mean negative log-likelihood (nats); undefined without log-probs or without tokens. */
  readonly meanNll?: number;
  /** `exp(meanNll)`; undefined when `meanNll` is. */
  readonly perplexity?: number;
}

/** Fork-token overlap: planning tokens against the top-q entropy tokens. */
export interface ForkOverlapSummary {
  /** Planning tokens. */
  readonly planningTokens: number;
  /** Top-q entropy tokens. */
  readonly topTokens: number;
  /** Tokens that are both. */
  readonly planningTopTokens: number;
  /** Share of planning tokens in the top q by entropy; undefined without planning tokens. */
  readonly planningInTopEntropy?: number;
  /** Share of top-q tokens that are planning tokens; undefined without top tokens. */
  readonly topEntropyIsPlanning?: number;
}

/** Serialised {@link TokenClassAccumulator} (`toJSON`). */
export interface TokenClassAccumulatorJson {
  readonly version: 1;
  readonly topQ: number;
  readonly topQScope: TopQScope;
  /** Response tokens added; then those added with a planning mask, entropies, log-probs. */
  readonly tokens: number;
  readonly tokensWithPlanningMask: number;
  readonly tokensWithEntropies: number;
  readonly tokensWithLogProbs: number;
  /** Tokens by class: `[all, planning, execution]`; planning and execution count only tokens added with a planning mask. */
  readonly classTokens: [number, number, number];
  /** Sums of entropies and of negative log-probs by class, `[all, planning, execution]`. */
  readonly entropySums: [number, number, number];
  readonly nllSums: [number, number, number];
  /** Top-q entropy tokens, and those that are planning tokens (batches with entropies and a planning mask). */
  readonly topTokens: number;
  readonly planningTopTokens: number;
}

/** Adds an input that `validate` accepted (for StepMetricsAccumulator; not exported from the package). */
export let countValidatedTokens: (acc: TokenClassAccumulator, input: TokenClassInput) => void;

const ALL = 0;
const PLANNING = 1;
const EXECUTION = 2;

/**
 * Mergeable sums behind the token-class statistics (mean entropy and perplexity over all,
 * planning and execution tokens) and the fork-token overlap. Token counts merge exactly;
 * entropy and NLL sums are float64 sums, so a merged mean equals the one-shot mean up to
 * float64 rounding (about 1e-15 relative), not bit for bit.
 *
 * The top-q selection is drawn within each `add` (one micro-batch), with `topQMask` from
 * `@hicra/tensor/kernels`; merged fork-overlap counts therefore use each micro-batch's own
 * threshold. Add the whole step's batch at once to get the paper's per-batch selection.
 */
export class TokenClassAccumulator {
  readonly topQ: number;
  readonly topQScope: TopQScope;
  #tokens = 0;
  #tokensWithPlanningMask = 0;
  #tokensWithEntropies = 0;
  #tokensWithLogProbs = 0;
  readonly #classTokens = new Float64Array(3);
  readonly #entropySums = new Float64Array(3);
  readonly #nllSums = new Float64Array(3);
  #topTokens = 0;
  #planningTopTokens = 0;

  constructor(settings: TokenClassSettings = {}) {
    const where = 'TokenClassAccumulator';
    if (typeof settings !== 'object' || settings === null) {
      throw new InvalidArgumentError(
        `${where}: settings must be an object, got ${describe(settings)}`,
        {
          source: SOURCE,
          details: { where, argument: 'settings' },
        },
      );
    }
    const { topQ = DEFAULT_TOP_Q, topQScope = 'batch' } = settings;
    if (typeof topQ !== 'number' || !(topQ > 0 && topQ <= 1)) {
      throw new InvalidValueError(`${where}: topQ must be in (0, 1], got ${String(topQ)}`, {
        source: SOURCE,
        details: { where, argument: 'topQ' },
      });
    }
    if (topQScope !== 'batch' && topQScope !== 'sequence') {
      throw new InvalidArgumentError(
        `${where}: topQScope must be "batch" or "sequence", got ${JSON.stringify(topQScope)}`,
        { source: SOURCE, details: { where, argument: 'topQScope' } },
      );
    }
    this.topQ = topQ;
    this.topQScope = topQScope;
  }

  /** Response tokens added. */
  get tokens(): number {
    return this.#tokens;
  }

  /** Adds one batch. Validates every array first, so a failed add changes nothing. */
  add(input: TokenClassInput): this {
    this.validate(input);
    this.#count(input);
    return this;
  }

  /** Checks one batch as {@link TokenClassAccumulator.add} would, without adding it. */
  validate(input: TokenClassInput): void {
    const where = 'TokenClassAccumulator.add';
    if (typeof input !== 'object' || input === null) {
      throw new InvalidArgumentError(`${where}: input must be an object, got ${describe(input)}`, {
        source: SOURCE,
        details: { where, argument: 'input' },
      });
    }
    const { batchSize, seqLen, responseMask, planningMask, logProbs, entropies } = input;
    checkLayout(where, batchSize, seqLen);
    const size = batchSize * seqLen;
    checkMask(where, 'responseMask', responseMask, size);
    if (planningMask !== undefined) {
      checkMask(where, 'planningMask', planningMask, size);
      for (let k = 0; k < size; k++) {
        if (planningMask[k] === 1 && responseMask[k] === 0) {
          throw new InvalidValueError(
            `${where}: planningMask[${k}] = 1 where responseMask[${k}] = 0 (response ${Math.floor(k / seqLen)}, token ${k % seqLen}); planning tokens must be response tokens`,
            { source: SOURCE, details: { where, argument: 'planningMask', index: k } },
          );
        }
      }
    }
    if (logProbs !== undefined) {
      checkTypedArray(where, 'logProbs', logProbs, size, [Float32Array, Float64Array]);
      for (let k = 0; k < size; k++) {
        const lp = logProbs[k]!;
        if (responseMask[k] === 1 && !(lp <= 0 && lp > Number.NEGATIVE_INFINITY)) {
          throw new InvalidValueError(
            `${where}: logProbs[${k}] = ${lp} at a response token (response ${Math.floor(k / seqLen)}, token ${k % seqLen}); log-probs must be finite and <= 0`,
            { source: SOURCE, details: { where, argument: 'logProbs', index: k } },
          );
        }
      }
    }
    if (entropies !== undefined) {
      checkTypedArray(where, 'entropies', entropies, size, [Float32Array, Float64Array]);
      for (let k = 0; k < size; k++) {
        if (responseMask[k] === 1 && !(entropies[k]! >= 0 && entropies[k]! < Infinity)) {
          throw new InvalidValueError(
            `${where}: entropies[${k}] = ${entropies[k]} at a response token (response ${Math.floor(k / seqLen)}, token ${k % seqLen}); entropies must be finite and >= 0`,
            { source: SOURCE, details: { where, argument: 'entropies', index: k } },
          );
        }
      }
    }
  }

  static {
    countValidatedTokens = (acc, input) => acc.#count(input);
  }

  #count(input: TokenClassInput): void {
    const { batchSize, seqLen, responseMask, planningMask, logProbs, entropies } = input;
    const size = batchSize * seqLen;
    // Float64 sums in row-major order; planning and execution only with a planning mask.
    let tokens = 0;
    let planningTokens = 0;
    let entropyAll = 0;
    let entropyPlanning = 0;
    let nllAll = 0;
    let nllPlanning = 0;
    const hasEntropies = entropies !== undefined;
    const hasLogProbs = logProbs !== undefined;
    for (let k = 0; k < size; k++) {
      if (responseMask[k] !== 1) continue;
      tokens++;
      const planning = planningMask !== undefined && planningMask[k] === 1;
      if (planning) planningTokens++;
      if (hasEntropies) {
        const h = entropies[k]!;
        entropyAll += h;
        if (planning) entropyPlanning += h;
      }
      if (hasLogProbs) {
        const nll = -logProbs[k]!;
        nllAll += nll;
        if (planning) nllPlanning += nll;
      }
    }
    let entropyExecution = 0;
    let nllExecution = 0;
    if (planningMask !== undefined) {
      // Execution sums accumulated on their own (not all - planning) to keep full precision.
      for (let k = 0; k < size; k++) {
        if (responseMask[k] !== 1 || planningMask[k] === 1) continue;
        if (hasEntropies) entropyExecution += entropies[k]!;
        if (hasLogProbs) nllExecution -= logProbs[k]!;
      }
    }
    const classTokens = [
      tokens,
      planningMask === undefined ? 0 : planningTokens,
      planningMask === undefined ? 0 : tokens - planningTokens,
    ];
    const entropySums = [entropyAll, entropyPlanning, entropyExecution];
    const nllSums = [nllAll, nllPlanning, nllExecution];

    if (entropies !== undefined && planningMask !== undefined && tokens > 0) {
      const top = topQMask({
        values: entropies,
        mask: responseMask,
        batchSize,
        seqLen,
        q: this.topQ,
        scope: this.topQScope,
      });
      let topTokens = 0;
      let planningTopTokens = 0;
      for (let k = 0; k < size; k++) {
        if (top[k] === 1) {
          topTokens++;
          planningTopTokens += planningMask[k]!;
        }
      }
      this.#topTokens += topTokens;
      this.#planningTopTokens += planningTopTokens;
    }

    this.#tokens += tokens;
    if (planningMask !== undefined) this.#tokensWithPlanningMask += tokens;
    if (entropies !== undefined) this.#tokensWithEntropies += tokens;
    if (logProbs !== undefined) this.#tokensWithLogProbs += tokens;
    for (let c = 0; c < 3; c++) {
      this.#classTokens[c]! += classTokens[c]!;
      this.#entropySums[c]! += entropySums[c]!;
      this.#nllSums[c]! += nllSums[c]!;
    }
  }

  /** Adds the sums of `other` (same top-q settings); returns this. */
  merge(other: TokenClassAccumulator): this {
    if (!(other instanceof TokenClassAccumulator)) {
      throw new InvalidArgumentError(
        `TokenClassAccumulator.merge: other must be a TokenClassAccumulator, got ${describe(other)}`,
        { source: SOURCE, details: { argument: 'other' } },
      );
    }
    if (other.topQ !== this.topQ || other.topQScope !== this.topQScope) {
      throw new InvalidArgumentError(
        `TokenClassAccumulator.merge: top-q settings differ (${this.topQ}/${this.topQScope} vs ${other.topQ}/${other.topQScope}); only sums gathered with the same settings merge`,
        { source: SOURCE, details: { argument: 'other' } },
      );
    }
    this.#tokens += other.#tokens;
    this.#tokensWithPlanningMask += other.#tokensWithPlanningMask;
    this.#tokensWithEntropies += other.#tokensWithEntropies;
    this.#tokensWithLogProbs += other.#tokensWithLogProbs;
    for (let c = 0; c < 3; c++) {
      this.#classTokens[c]! += other.#classTokens[c]!;
      this.#entropySums[c]! += other.#entropySums[c]!;
      this.#nllSums[c]! += other.#nllSums[c]!;
    }
    this.#topTokens += other.#topTokens;
    this.#planningTopTokens += other.#planningTopTokens;
    return this;
  }

  /** An independent copy. */
  clone(): TokenClassAccumulator {
    return new TokenClassAccumulator({ topQ: this.topQ, topQScope: this.topQScope }).merge(this);
  }

  /**
   * Mean entropy and perplexity of all, planning and execution tokens. Planning and execution
   * are left undefined (tokens 0) when no planning mask was given. Throws
   * `MissingInputError` when an input was given for some batches and not for others.
   */
  summary(): { all: TokenClassSummary; planning: TokenClassSummary; execution: TokenClassSummary } {
    this.#requireConsistent('summary');
    const summarise = (c: number): TokenClassSummary => {
      const tokens = this.#classTokens[c]!;
      if (tokens === 0) return { tokens };
      const out: { tokens: number; meanEntropy?: number; meanNll?: number; perplexity?: number } = {
        tokens,
      };
      if (this.#tokensWithEntropies > 0) out.meanEntropy = this.#entropySums[c]! / tokens;
      if (this.#tokensWithLogProbs > 0) {
        out.meanNll = this.#nllSums[c]! / tokens;
        out.perplexity = Math.exp(out.meanNll);
      }
      return out;
    };
    return { all: summarise(ALL), planning: summarise(PLANNING), execution: summarise(EXECUTION) };
  }

  /**
   * Fork-token overlap; undefined when response tokens were added without entropies or
   * without a planning mask (all counts 0 before any response token).
   * Throws `MissingInputError` on inputs given for some batches only.
   */
  forkOverlap(): ForkOverlapSummary | undefined {
    this.#requireConsistent('forkOverlap');
    if (this.#tokens > 0 && (this.#tokensWithEntropies === 0 || this.#tokensWithPlanningMask === 0))
      return undefined;
    const planningTokens = this.#classTokens[PLANNING]!;
    const topTokens = this.#topTokens;
    const planningTopTokens = this.#planningTopTokens;
    return {
      planningTokens,
      topTokens,
      planningTopTokens,
      ...(planningTokens > 0 ? { planningInTopEntropy: planningTopTokens / planningTokens } : {}),
      ...(topTokens > 0 ? { topEntropyIsPlanning: planningTopTokens / topTokens } : {}),
    };
  }

  /** The token-class and fork-overlap metrics under their `TRAIN_METRIC_KEYS`, undefined ones omitted. */
  metrics(): Record<string, number> {
    const out: Record<string, number> = {};
    const { all, planning, execution } = this.summary();
    const K = TRAIN_METRIC_KEYS;
    const put = (key: string, value: number | undefined) => {
      if (value !== undefined) out[key] = value;
    };
    put(K.entropyAll, all.meanEntropy);
    put(K.entropyPlanning, planning.meanEntropy);
    put(K.entropyExecution, execution.meanEntropy);
    put(K.perplexityAll, all.perplexity);
    put(K.perplexityPlanning, planning.perplexity);
    put(K.perplexityExecution, execution.perplexity);
    const fork = this.forkOverlap();
    put(K.planningInTopEntropy, fork?.planningInTopEntropy);
    put(K.topEntropyIsPlanning, fork?.topEntropyIsPlanning);
    return out;
  }

  /** The sums as plain JSON, for another worker's {@link TokenClassAccumulator.fromJSON}. */
  toJSON(): TokenClassAccumulatorJson {
    const triple = (a: Float64Array): [number, number, number] => [a[0]!, a[1]!, a[2]!];
    return {
      version: 1,
      topQ: this.topQ,
      topQScope: this.topQScope,
      tokens: this.#tokens,
      tokensWithPlanningMask: this.#tokensWithPlanningMask,
      tokensWithEntropies: this.#tokensWithEntropies,
      tokensWithLogProbs: this.#tokensWithLogProbs,
      classTokens: triple(this.#classTokens),
      entropySums: triple(this.#entropySums),
      nllSums: triple(this.#nllSums),
      topTokens: this.#topTokens,
      planningTopTokens: this.#planningTopTokens,
    };
  }

  /** Reads sums written by `toJSON`, validated (counts are non-negative integers, sums finite and >= 0). */
  static fromJSON(json: TokenClassAccumulatorJson): TokenClassAccumulator {
    const where = 'TokenClassAccumulator.fromJSON';
    if (typeof json !== 'object' || json === null || json.version !== 1) {
      throw new InvalidArgumentError(
        `${where}: expected an object with version 1 (from toJSON), got ${describe(json)}`,
        { source: SOURCE, details: { where } },
      );
    }
    const acc = new TokenClassAccumulator({ topQ: json.topQ, topQScope: json.topQScope });
    for (const field of [
      'tokens',
      'tokensWithPlanningMask',
      'tokensWithEntropies',
      'tokensWithLogProbs',
      'topTokens',
      'planningTopTokens',
    ] as const)
      checkCount(where, field, json[field]);
    for (const field of ['classTokens', 'entropySums', 'nllSums'] as const) {
      const triple = json[field];
      if (!Array.isArray(triple) || triple.length !== 3) {
        throw new InvalidArgumentError(
          `${where}: ${field} must be an array of 3 numbers, got ${describe(triple)}`,
          {
            source: SOURCE,
            details: { where, argument: field },
          },
        );
      }
      for (let c = 0; c < 3; c++) {
        if (field === 'classTokens') checkCount(where, `${field}[${c}]`, triple[c]);
        else if (
          !(typeof triple[c] === 'number' && triple[c]! >= 0 && Number.isFinite(triple[c]))
        ) {
          throw new InvalidValueError(
            `${where}: ${field}[${c}] must be a finite number >= 0, got ${String(triple[c])}`,
            {
              source: SOURCE,
              details: { where, argument: field, index: c },
            },
          );
        }
      }
    }
    const [all, planning, execution] = json.classTokens;
    if (
      all !== json.tokens ||
      planning + execution !== json.tokensWithPlanningMask ||
      json.tokensWithPlanningMask > json.tokens ||
      json.tokensWithEntropies > json.tokens ||
      json.tokensWithLogProbs > json.tokens ||
      json.planningTopTokens > json.topTokens ||
      json.topTokens > json.tokens
    ) {
      throw new InvalidValueError(`${where}: the token counts are inconsistent`, {
        source: SOURCE,
        details: { where },
      });
    }
    acc.#tokens = json.tokens;
    acc.#tokensWithPlanningMask = json.tokensWithPlanningMask;
    acc.#tokensWithEntropies = json.tokensWithEntropies;
    acc.#tokensWithLogProbs = json.tokensWithLogProbs;
    acc.#classTokens.set(json.classTokens);
    acc.#entropySums.set(json.entropySums);
    acc.#nllSums.set(json.nllSums);
    acc.#topTokens = json.topTokens;
    acc.#planningTopTokens = json.planningTopTokens;
    return acc;
  }

  #requireConsistent(what: string): void {
    for (const [name, count] of [
      ['planningMask', this.#tokensWithPlanningMask],
      ['entropies', this.#tokensWithEntropies],
      ['logProbs', this.#tokensWithLogProbs],
    ] as const) {
      if (count > 0 && count < this.#tokens) {
        throw new MissingInputError(
          `${what}: ${name} was given for ${count} of ${this.#tokens} response tokens added; give it with every batch or with none`,
          { source: SOURCE, details: { what, input: name, given: count, tokens: this.#tokens } },
        );
      }
    }
  }
}
