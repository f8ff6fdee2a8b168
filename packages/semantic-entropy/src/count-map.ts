import { describeValue, InvalidArgumentError } from '@hicra/spec';
import { checkCount, SOURCE } from './check.js';
import {
  type EntropyOptions,
  entropyFromTotals,
  logBaseDivisor,
  sumCountLogCount,
} from './entropy-from-counts.js';

/** Keys a {@link CountMap} can hold: phrases (strings) or class ids (numbers). */
export type CountKey = string | number;

/**
 * A mergeable multiset: non-negative integer counts by key. Merging is associative and
 * commutative (it adds counts), so counts gathered over micro-batches or workers and merged in
 * any grouping equal the counts of one pass over all the data, and {@link CountMap.entropy}
 * (which depends only on the multiset of counts) gives exactly the one-shot value.
 *
 * Keys with a zero count are never stored. `toJSON()` gives `[key, count]` pairs (number keys
 * stay numbers) that {@link CountMap.from} reads back, validated, on another worker.
 */
export class CountMap<K extends CountKey = string> {
  readonly #counts = new Map<K, number>();
  #total = 0;

  /** Adds `count` (a non-negative integer, default 1) to `key`. */
  add(key: K, count = 1): this {
    checkCount('CountMap.add', 'count', count);
    if (typeof key !== 'string' && typeof key !== 'number') {
      throw new InvalidArgumentError(
        `CountMap.add: key must be a string or a number, got ${describeValue(key)}`,
        { source: SOURCE, details: { argument: 'key' } },
      );
    }
    if (count > 0) this.increment(key, count);
    return this;
  }

  /** Unchecked {@link CountMap.add} for callers that validated `count > 0` already. */
  increment(key: K, count = 1): void {
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + count);
    this.#total += count;
  }

  /** The count of `key` (0 when absent). */
  get(key: K): number {
    return this.#counts.get(key) ?? 0;
  }

  /** True when `key` has a positive count. */
  has(key: K): boolean {
    return this.#counts.has(key);
  }

  /** Sum of all counts. */
  get total(): number {
    return this.#total;
  }

  /** Number of distinct keys (each with a positive count). */
  get size(): number {
    return this.#counts.size;
  }

  /** Adds every count of `other` into this map; returns this. */
  merge(other: CountMap<K>): this {
    if (!(other instanceof CountMap)) {
      throw new InvalidArgumentError(
        `CountMap.merge: other must be a CountMap, got ${describeValue(other)}`,
        { source: SOURCE, details: { argument: 'other' } },
      );
    }
    for (const [key, count] of other.#counts) this.increment(key, count);
    return this;
  }

  /** An independent copy. */
  clone(): CountMap<K> {
    return new CountMap<K>().merge(this);
  }

  /** `[key, count]` pairs in insertion order. */
  entries(): IterableIterator<[K, number]> {
    return this.#counts.entries();
  }

  /** The counts, in insertion order. */
  values(): IterableIterator<number> {
    return this.#counts.values();
  }

  /**
   * Shannon entropy of the counts (nats by default), exactly as `entropyFromCounts`: 0 for an
   * empty map or a single key, `ln n` for n keys counted once each.
   */
  entropy(options: EntropyOptions = {}): number {
    const divisor = logBaseDivisor(options.base, 'CountMap.entropy');
    if (this.#counts.size <= 1) return 0;
    return entropyFromTotals(this.#total, sumCountLogCount(this.#counts.values()), divisor);
  }

  /** `[key, count]` pairs, for JSON across workers; read back with {@link CountMap.from}. */
  toJSON(): [K, number][] {
    return Array.from(this.#counts.entries());
  }

  /**
   * A map from `[key, count]` pairs (as written by `toJSON`) or a plain record of counts.
   * Counts must be non-negative integers; the error names the offending key.
   */
  static from<K extends CountKey = string>(
    entries: Iterable<readonly [K, number]> | Readonly<Record<string, number>>,
    name = 'counts',
  ): CountMap<K> {
    const map = new CountMap<K>();
    const where = 'CountMap.from';
    if (typeof entries !== 'object' || entries === null) {
      throw new InvalidArgumentError(
        `${where}: ${name} must be [key, count] pairs or a record of counts, got ${describeValue(entries)}`,
        { source: SOURCE, details: { argument: name } },
      );
    }
    const pairs: Iterable<readonly [K, number]> =
      typeof (entries as Iterable<unknown>)[Symbol.iterator] === 'function'
        ? (entries as Iterable<readonly [K, number]>)
        : (Object.entries(entries) as unknown as [K, number][]);
    let index = 0;
    for (const pair of pairs) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new InvalidArgumentError(
          `${where}: ${name}[${index}] must be a [key, count] pair, got ${describeValue(pair)}`,
          { source: SOURCE, details: { argument: name, index } },
        );
      }
      const [key, count] = pair as [K, number];
      checkCount(where, `${name}[${JSON.stringify(key)}]`, count);
      map.add(key, count);
      index++;
    }
    return map;
  }
}
