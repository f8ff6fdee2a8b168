import {
  describeValue,
  InvalidArgumentError,
  InvalidValueError,
  MissingInputError,
  TRAIN_METRIC_KEYS,
} from '@hicra/spec';
import { type TopQScope, topQMask } from '@hicra/tensor/kernels';
import { checkCount, checkLayout, checkTypedArray, SOURCE } from './check.js';
import {
  type BucketLayout,
  bucketLayout,
  countTopEntropy,
  LITTLE_ENDIAN,
  topHistogram,
  topPlanningHistogram,
} from './top-entropy-counts.js';

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

/** The sums of one validated batch, not yet added. */
interface PendingTokens {
  readonly tokens: number;
  readonly classified: boolean;
  readonly hasEntropies: boolean;
  readonly hasLogProbs: boolean;
  readonly classTokens: readonly [number, number, number];
  readonly entropySums: readonly [number, number, number];
  readonly nllSums: readonly [number, number, number];
  readonly topTokens: number;
  readonly planningTopTokens: number;
}

/**
 * Validates a batch and returns the function that adds it (for StepMetricsAccumulator, which
 * checks every input before adding any; not exported from the package).
 */
export let prepareTokens: (acc: TokenClassAccumulator, input: TokenClassInput) => () => void;

/*
 * Scratch buffers for the compacted top-q candidates, reused across calls: the batch has
 * millions of padded positions, and fresh buffers each step only fed the garbage collector.
 * Calls are synchronous, so one set of buffers per module is safe.
 */
const scratch: {
  float32?: Float32Array;
  float64?: Float64Array;
  planning?: Uint8Array;
} = {};

function scratchValues(
  like: Float32Array | Float64Array,
  size: number,
): Float32Array | Float64Array {
  if (like instanceof Float64Array) {
    if (!scratch.float64 || scratch.float64.length < size) scratch.float64 = new Float64Array(size);
    return scratch.float64;
  }
  if (!scratch.float32 || scratch.float32.length < size) scratch.float32 = new Float32Array(size);
  return scratch.float32;
}

function scratchBytes(name: 'planning', size: number): Uint8Array {
  const buffer = scratch[name];
  if (buffer && buffer.length >= size) return buffer;
  scratch[name] = new Uint8Array(size);
  return scratch[name];
}

const NO_WORDS = new Int32Array(0);

// Slots of the sums array filled by sumTokens.
const TOKENS = 0;
const PLANNING_TOKENS = 1;
const ENTROPY_ALL = 2;
const ENTROPY_PLANNING = 3;
const ENTROPY_EXECUTION = 4;
const NLL_ALL = 5;
const NLL_PLANNING = 6;
const NLL_EXECUTION = 7;
const PROBLEM = 8;
const SUMS = 9;

/** Why sumTokens stopped: the array and the message tail (`$k` is the index). */
const PROBLEMS: readonly (readonly [string, string])[] = [
  ['responseMask', '; masks hold only 0 and 1'],
  ['planningMask', '; masks hold only 0 and 1'],
  ['planningMask', ' where responseMask[$k] = 0; planning tokens must be response tokens'],
  ['entropies', ' at a response token; entropies must be finite and >= 0'],
  ['logProbs', ' at a response token; log-probs must be finite and <= 0'],
];

/**
 * One pass over a batch: validates the masks and values and sums them in row-major order
 * (float64) into `out`; compacts the response tokens' entropies and planning flags when asked,
 * and then also fills the top-entropy histograms (top-entropy-counts.ts) through `layout`.
 * Returns -1, or the first bad index with the problem (an index into PROBLEMS) in
 * `out[PROBLEM]`. A plain function with plain arguments, so that V8 compiles one tight loop.
 */
function sumTokens(
  size: number,
  responseMask: Uint8Array,
  planningMask: Uint8Array | null,
  entropies: Float32Array | Float64Array | null,
  logProbs: Float32Array | Float64Array | null,
  compactValues: Float32Array | Float64Array | null,
  compactPlanning: Uint8Array | null,
  layout: BucketLayout | undefined,
  out: Float64Array,
): number {
  let tokens = 0;
  let planningTokens = 0;
  let entropyAll = 0;
  let entropyPlanning = 0;
  let entropyExecution = 0;
  let nllAll = 0;
  let nllPlanning = 0;
  let nllExecution = 0;
  // Padding (both masks zero) is crossed four positions at a time when the masks are aligned;
  // everything else is read position by position.
  const aligned =
    (responseMask.byteOffset & 3) === 0 &&
    (planningMask === null || (planningMask.byteOffset & 3) === 0);
  const responseWords = aligned
    ? new Int32Array(responseMask.buffer, responseMask.byteOffset, size >>> 2)
    : NO_WORDS;
  const planningWords =
    planningMask === null || !aligned
      ? responseWords
      : new Int32Array(planningMask.buffer, planningMask.byteOffset, size >>> 2);
  const words = responseWords.length;
  const bits = layout === undefined ? NO_WORDS : layout.bits;
  const stride = layout === undefined ? 0 : layout.stride;
  const offset = layout === undefined ? 0 : layout.offset;
  const shift = layout === undefined ? 0 : layout.shift;
  const histogram = topHistogram;
  const planningHistogram = topPlanningHistogram;
  for (let k = 0; k < size; ) {
    while (k >>> 2 < words && (responseWords[k >>> 2]! | planningWords[k >>> 2]!) === 0) k += 4;
    const stop = k >>> 2 < words ? k + 4 : size;
    for (; k < stop; k++) {
      const response = responseMask[k]!;
      const planning = planningMask === null ? 0 : planningMask[k]!;
      if (response !== 1) {
        if ((response | planning) !== 0) {
          out[PROBLEM] = response !== 0 ? 0 : planning > 1 ? 1 : 2;
          return k;
        }
        continue;
      }
      if (planning > 1) {
        out[PROBLEM] = 1;
        return k;
      }
      if (entropies !== null) {
        const h = entropies[k]!;
        if (!(h >= 0 && h < Number.POSITIVE_INFINITY)) {
          out[PROBLEM] = 3;
          return k;
        }
        entropyAll += h;
        // No branch on the class (mispredicted token to token): the other sum gains an exact 0.
        entropyPlanning += planning * h;
        entropyExecution += (1 - planning) * h;
        if (compactValues !== null) {
          compactValues[tokens] = h;
          compactPlanning![tokens] = planning;
          // The bucket from the value's bits, read back through the scratch's int32 view.
          const bucket = (bits[stride * tokens + offset]! & 0x7fffffff) >>> shift;
          histogram[bucket]! += 1;
          planningHistogram[bucket]! += planning;
        }
      }
      if (logProbs !== null) {
        const lp = logProbs[k]!;
        if (!(lp <= 0 && lp > Number.NEGATIVE_INFINITY)) {
          out[PROBLEM] = 4;
          return k;
        }
        nllAll -= lp;
        nllPlanning -= planning * lp;
        nllExecution -= (1 - planning) * lp;
      }
      tokens++;
      planningTokens += planning;
    }
  }
  out[TOKENS] = tokens;
  out[PLANNING_TOKENS] = planningTokens;
  out[ENTROPY_ALL] = entropyAll;
  out[ENTROPY_PLANNING] = entropyPlanning;
  out[ENTROPY_EXECUTION] = entropyExecution;
  out[NLL_ALL] = nllAll;
  out[NLL_PLANNING] = nllPlanning;
  out[NLL_EXECUTION] = nllExecution;
  return -1;
}

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
        `${where}: settings must be an object, got ${describeValue(settings)}`,
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
    this.#commit(this.#prepare(input));
    return this;
  }

  /** Checks one batch as {@link TokenClassAccumulator.add} would, without adding it. */
  validate(input: TokenClassInput): void {
    this.#prepare(input);
  }

  static {
    prepareTokens = (acc, input) => {
      const pending = acc.#prepare(input);
      return () => acc.#commit(pending);
    };
  }

  /** Validates one batch and computes its sums, in one pass, without changing anything. */
  #prepare(input: TokenClassInput): PendingTokens {
    const where = 'TokenClassAccumulator.add';
    if (typeof input !== 'object' || input === null) {
      throw new InvalidArgumentError(
        `${where}: input must be an object, got ${describeValue(input)}`,
        {
          source: SOURCE,
          details: { where, argument: 'input' },
        },
      );
    }
    const { batchSize, seqLen, responseMask, planningMask, logProbs, entropies } = input;
    checkLayout(where, batchSize, seqLen);
    const size = batchSize * seqLen;
    checkTypedArray(where, 'responseMask', responseMask, size, [Uint8Array]);
    if (planningMask !== undefined)
      checkTypedArray(where, 'planningMask', planningMask, size, [Uint8Array]);
    if (logProbs !== undefined)
      checkTypedArray(where, 'logProbs', logProbs, size, [Float32Array, Float64Array]);
    if (entropies !== undefined)
      checkTypedArray(where, 'entropies', entropies, size, [Float32Array, Float64Array]);
    // The top-q candidates (response-token entropies) compacted, with their planning flags, so
    // that a batch-scope selection runs over the response tokens only.
    // (Where the fused counts' bit layout does not hold, topQMask below counts instead.)
    const compact =
      entropies !== undefined &&
      planningMask !== undefined &&
      this.topQScope === 'batch' &&
      LITTLE_ENDIAN;
    const compactValues = compact ? scratchValues(entropies, size) : null;
    const compactPlanning = compact ? scratchBytes('planning', size) : null;
    const layout = compactValues === null ? undefined : bucketLayout(compactValues);
    if (layout !== undefined) {
      topHistogram.fill(0);
      topPlanningHistogram.fill(0);
    }
    const sums = new Float64Array(SUMS);
    const bad = sumTokens(
      size,
      responseMask,
      planningMask ?? null,
      entropies ?? null,
      logProbs ?? null,
      compactValues,
      compactPlanning,
      layout,
      sums,
    );
    if (bad >= 0) {
      const [name, problem] = PROBLEMS[sums[PROBLEM]!]!;
      const array = input[name as keyof TokenClassInput] as ArrayLike<number>;
      throw new InvalidValueError(
        `${where}: ${name}[${bad}] = ${array[bad]}${problem.replace('$k', String(bad))} (response ${Math.floor(bad / seqLen)}, token ${bad % seqLen})`,
        { source: SOURCE, details: { where, argument: name, index: bad } },
      );
    }
    const tokens = sums[TOKENS]!;
    const planningTokens = sums[PLANNING_TOKENS]!;
    const classified = planningMask !== undefined;

    let topTokens = 0;
    let planningTopTokens = 0;
    if (entropies !== undefined && planningMask !== undefined && tokens > 0) {
      // The tensor core's top-q selection (one definition for the project); in batch scope it
      // sees only the response tokens, which selects exactly what the padded layout would.
      // countTopEntropy finds the same threshold (tested against topQThreshold).
      if (compactValues !== null) {
        // Batch scope: only the counts are needed, from the histograms the token pass filled
        // (the same selection as topQMask's over the response tokens; see top-entropy-counts.ts).
        const counts = countTopEntropy(tokens, this.topQ, compactValues, compactPlanning!, layout!);
        topTokens = counts[0]!;
        planningTopTokens = counts[1]!;
      } else {
        const top = topQMask({
          values: entropies,
          mask: responseMask,
          batchSize,
          seqLen,
          q: this.topQ,
          scope: this.topQScope,
        });
        for (let j = 0; j < top.length; j++) {
          if (top[j] === 1) {
            topTokens++;
            planningTopTokens += planningMask[j]!;
          }
        }
      }
    }
    return {
      tokens,
      classified,
      hasEntropies: entropies !== undefined,
      hasLogProbs: logProbs !== undefined,
      classTokens: [
        tokens,
        classified ? planningTokens : 0,
        classified ? tokens - planningTokens : 0,
      ],
      entropySums: [sums[ENTROPY_ALL]!, sums[ENTROPY_PLANNING]!, sums[ENTROPY_EXECUTION]!],
      nllSums: [sums[NLL_ALL]!, sums[NLL_PLANNING]!, sums[NLL_EXECUTION]!],
      topTokens,
      planningTopTokens,
    };
  }

  #commit(pending: PendingTokens): void {
    this.#tokens += pending.tokens;
    if (pending.classified) this.#tokensWithPlanningMask += pending.tokens;
    if (pending.hasEntropies) this.#tokensWithEntropies += pending.tokens;
    if (pending.hasLogProbs) this.#tokensWithLogProbs += pending.tokens;
    for (let c = 0; c < 3; c++) {
      this.#classTokens[c]! += pending.classTokens[c]!;
      this.#entropySums[c]! += pending.entropySums[c]!;
      this.#nllSums[c]! += pending.nllSums[c]!;
    }
    this.#topTokens += pending.topTokens;
    this.#planningTopTokens += pending.planningTopTokens;
  }

  /** Adds the sums of `other` (same top-q settings); returns this. */
  merge(other: TokenClassAccumulator): this {
    if (!(other instanceof TokenClassAccumulator)) {
      throw new InvalidArgumentError(
        `TokenClassAccumulator.merge: other must be a TokenClassAccumulator, got ${describeValue(other)}`,
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
        `${where}: expected an object with version 1 (from toJSON), got ${describeValue(json)}`,
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
          `${where}: ${field} must be an array of 3 numbers, got ${describeValue(triple)}`,
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
