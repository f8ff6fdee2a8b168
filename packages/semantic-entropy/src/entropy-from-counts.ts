import { describeValue, formatValue, InvalidArgumentError } from '@hicra/spec';
import { checkCount, SOURCE } from './check.js';

/** Logarithm base of an entropy: `'e'` gives nats (the default everywhere), `2` gives bits. */
export type LogBase = 'e' | 2;

export interface EntropyOptions {
  /** `'e'` (nats, default) or `2` (bits). */
  readonly base?: LogBase;
}

/** Throws unless `base` is `'e'`, `2` or undefined; returns the divisor that converts nats. */
export function logBaseDivisor(base: unknown, where: string): number {
  if (base === undefined || base === 'e') return 1;
  if (base === 2) return Math.LN2;
  throw new InvalidArgumentError(
    `${where}: base must be 'e' (nats) or 2 (bits), got ${typeof base === 'number' || typeof base === 'string' ? formatValue(base) : describeValue(base)}`,
    { source: SOURCE, details: { where, argument: 'base' } },
  );
}

/** Counts below this are summed through a histogram; larger ones are sorted. */
const HISTOGRAM_LIMIT = 4096;

/**
 * Σ c·ln c over positive integer counts, summed in an order that depends only on the multiset
 * of counts (ascending count), so that the result is bit-identical whatever order the counts
 * were gathered in: merged accumulators give exactly the one-shot value.
 */
export class CountLogCountSum {
  #histogram: Float64Array | undefined;
  readonly #large: number[] = [];

  add(c: number): void {
    if (c <= 1) return; // 0 and 1 contribute 0
    if (c < HISTOGRAM_LIMIT) {
      this.#histogram ??= new Float64Array(HISTOGRAM_LIMIT);
      this.#histogram[c]! += 1;
    } else this.#large.push(c);
  }

  addAll(counts: Iterable<number>): this {
    for (const c of counts) this.add(c);
    return this;
  }

  get value(): number {
    let sum = 0;
    const histogram = this.#histogram;
    if (histogram) {
      for (let c = 2; c < HISTOGRAM_LIMIT; c++) {
        const times = histogram[c]!;
        if (times > 0) sum += times * (c * Math.log(c));
      }
    }
    if (this.#large.length > 0) {
      this.#large.sort((x, y) => x - y);
      for (const c of this.#large) sum += c * Math.log(c);
    }
    return sum;
  }
}

/** Σ c·ln c of `counts` (see {@link CountLogCountSum}). */
export function sumCountLogCount(counts: Iterable<number>): number {
  return new CountLogCountSum().addAll(counts).value;
}

/**
 * Shannon entropy of the empirical distribution `p_i = c_i / N` given by counts, computed as
 * `ln N - (Σ c·ln c) / N` (nats), divided by `ln 2` for bits.
 *
 * - Exactly 0 for a single class and exactly `ln n` for n singletons (in nats).
 * - The result depends only on the multiset of counts: any order gives the same bits.
 * - An empty distribution (no counts, or all zero) has entropy **0** by convention
 *   (docs/decisions/0031); metric records omit such values instead of writing 0.
 *
 * Counts must be non-negative integers; anything else is an `InvalidValueError` naming the index.
 */
export function entropyFromCounts(
  counts: Iterable<number> | ArrayLike<number> | ReadonlyMap<unknown, number>,
  options: EntropyOptions = {},
): number {
  const where = 'entropyFromCounts';
  const divisor = logBaseDivisor(options.base, where);
  const list = toList(counts, where);
  for (let i = 0; i < list.length; i++) checkCount(where, `counts[${i}]`, list[i]);
  return entropyOfValidCounts(list, divisor);
}

function toList(counts: unknown, where: string): ArrayLike<number> {
  if (Array.isArray(counts) || ArrayBuffer.isView(counts)) return counts as ArrayLike<number>;
  if (counts instanceof Map) return Array.from(counts.values());
  if (typeof counts === 'object' && counts !== null) {
    if (typeof (counts as Iterable<number>)[Symbol.iterator] === 'function')
      return Array.from(counts as Iterable<number>);
    if (typeof (counts as ArrayLike<number>).length === 'number')
      return counts as ArrayLike<number>;
  }
  throw new InvalidArgumentError(
    `${where}: counts must be an array, iterable or Map of numbers, got ${describeValue(counts)}`,
    { source: SOURCE, details: { where, argument: 'counts' } },
  );
}

/** {@link entropyFromCounts} without validation (counts already known to be valid). */
export function entropyOfValidCounts(counts: ArrayLike<number>, divisor = 1): number {
  let total = 0;
  let classes = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (c > 0) {
      total += c;
      classes++;
    }
  }
  if (classes <= 1) return 0;
  return entropyFromTotals(total, sumCountLogCount(iterate(counts)), divisor);
}

/** `ln N - S / N`, clamped at 0 against rounding, in the unit given by `divisor`. */
export function entropyFromTotals(total: number, sumCLogC: number, divisor = 1): number {
  if (total <= 0) return 0;
  const h = Math.log(total) - sumCLogC / total;
  return h > 0 ? h / divisor : 0;
}

function* iterate(values: ArrayLike<number>): Generator<number> {
  for (let i = 0; i < values.length; i++) yield values[i]!;
}
