import { ASCII_KIND, leadingWords, SYMBOL, WHITESPACE, WORD_CHAR } from './split-words.js';

/*
 * Counts of (phrase slot, continuation) pairs for the conditional procedural entropy: an
 * open-addressing hash table whose keys are the canonical continuations (the first n words
 * after a phrase, lower-cased, joined by single spaces; see split-words.ts).
 *
 * Why not a Map<string, number>: a batch has ~100,000 phrase occurrences, each with its own
 * continuation. Building each continuation as a string and hashing it in a Map dominated the
 * whole step's metrics. Here the canonical form is hashed while the text is scanned, and
 * compared in place against the stored key, so a string is made only for a new key (or when
 * the text is not already in canonical spacing, or is not ASCII).
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a of a canonical key (its UTF-16 code units); the in-place scan computes the same. */
function hashKey(key: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), FNV_PRIME);
  return h;
}

/** Mixes the phrase slot into a key hash (murmur3 finaliser). */
function mix(h: number, gram: number): number {
  let x = h ^ Math.imul(gram + 1, 0x9e3779b1);
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) | 0;
}

export class ContinuationTable {
  /** Entry index + 1 per bucket; 0 is empty. */
  #buckets = new Int32Array(1024);
  #hashes = new Int32Array(256);
  #grams = new Int32Array(256);
  #counts = new Float64Array(256);
  readonly #keys: string[] = [];
  #size = 0;

  /** Distinct (phrase, continuation) pairs. */
  get size(): number {
    return this.#size;
  }

  /**
   * Counts the continuation of phrase slot `gram`: the first `n` words of `text[from, to)`.
   * Returns false (and counts nothing) when the range holds no word.
   */
  addFromText(gram: number, text: string, from: number, to: number, n: number): boolean {
    let h = FNV_OFFSET;
    let found = 0;
    let first = -1;
    let previousEnd = -1;
    let canonical = true;
    let k = from;
    while (found < n && k < to) {
      let code = text.charCodeAt(k);
      if (code >= 128) return this.#addSlow(gram, text, from, to, n);
      const kind = ASCII_KIND[code]!;
      if (kind === WHITESPACE) {
        k++;
        continue;
      }
      if (found === 0) first = k;
      else {
        if (k !== previousEnd + 1 || text.charCodeAt(previousEnd) !== 32) canonical = false;
        h = Math.imul(h ^ 32, FNV_PRIME);
      }
      if (kind === SYMBOL) {
        h = Math.imul(h ^ code, FNV_PRIME);
        k++;
      } else {
        for (;;) {
          h = Math.imul(h ^ (code >= 65 && code <= 90 ? code + 32 : code), FNV_PRIME);
          k++;
          if (k >= to) break;
          code = text.charCodeAt(k);
          if (code >= 128) return this.#addSlow(gram, text, from, to, n);
          if (ASCII_KIND[code] !== WORD_CHAR) break;
        }
      }
      previousEnd = k;
      found++;
    }
    if (found === 0) return false;
    const hash = mix(h, gram);
    const mask = this.#buckets.length - 1;
    const length = previousEnd - first;
    let joined: string | undefined;
    for (let b = hash & mask; ; b = (b + 1) & mask) {
      const slot = this.#buckets[b]!;
      if (slot === 0) break;
      const e = slot - 1;
      if (this.#hashes[e] !== hash || this.#grams[e] !== gram) continue;
      const key = this.#keys[e]!;
      let equal: boolean;
      if (canonical) {
        equal = key.length === length;
        for (let i = 0; equal && i < length; i++) {
          const c = text.charCodeAt(first + i);
          equal = (c >= 65 && c <= 90 ? c + 32 : c) === key.charCodeAt(i);
        }
      } else {
        joined ??= leadingWords(text, from, to, n);
        equal = key === joined;
      }
      if (equal) {
        this.#counts[e]! += 1;
        return true;
      }
    }
    const key = canonical
      ? text.slice(first, previousEnd).toLowerCase()
      : (joined ?? leadingWords(text, from, to, n));
    this.#insert(hash, gram, key, 1);
    return true;
  }

  /** Adds `count` to (gram, key); `key` must be a canonical continuation. */
  add(gram: number, key: string, count: number): void {
    const hash = mix(hashKey(key), gram);
    const mask = this.#buckets.length - 1;
    for (let b = hash & mask; ; b = (b + 1) & mask) {
      const slot = this.#buckets[b]!;
      if (slot === 0) break;
      const e = slot - 1;
      if (this.#hashes[e] === hash && this.#grams[e] === gram && this.#keys[e] === key) {
        this.#counts[e]! += count;
        return;
      }
    }
    this.#insert(hash, gram, key, count);
  }

  /** Makes room for `extra` more pairs without rehashing on the way. */
  reserve(extra: number): void {
    let capacity = this.#buckets.length;
    while ((this.#size + extra) * 2 > capacity) capacity *= 2;
    if (capacity !== this.#buckets.length) this.#rehash(capacity);
    if (this.#size + extra > this.#hashes.length) this.#growEntries(this.#size + extra);
  }

  /** Calls `fn` for every pair, in insertion order. */
  forEach(fn: (gram: number, key: string, count: number) => void): void {
    for (let e = 0; e < this.#size; e++) fn(this.#grams[e]!, this.#keys[e]!, this.#counts[e]!);
  }

  #addSlow(gram: number, text: string, from: number, to: number, n: number): boolean {
    const key = leadingWords(text, from, to, n);
    if (key === '') return false;
    this.add(gram, key, 1);
    return true;
  }

  #insert(hash: number, gram: number, key: string, count: number): void {
    const e = this.#size;
    if (e === this.#hashes.length) this.#growEntries(e * 2);
    this.#hashes[e] = hash;
    this.#grams[e] = gram;
    this.#counts[e] = count;
    this.#keys.push(key);
    this.#size = e + 1;
    if (this.#size * 2 > this.#buckets.length) this.#rehash(this.#buckets.length * 2);
    else this.#place(e, this.#buckets);
  }

  #growEntries(capacity: number): void {
    const grow = <T extends Int32Array | Float64Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(capacity);
      b.set(a.subarray(0, this.#size));
      return b;
    };
    this.#hashes = grow(this.#hashes);
    this.#grams = grow(this.#grams);
    this.#counts = grow(this.#counts);
  }

  #place(e: number, buckets: Int32Array): void {
    const mask = buckets.length - 1;
    let b = this.#hashes[e]! & mask;
    while (buckets[b] !== 0) b = (b + 1) & mask;
    buckets[b] = e + 1;
  }

  #rehash(capacity: number): void {
    const buckets = new Int32Array(capacity);
    for (let e = 0; e < this.#size; e++) this.#place(e, buckets);
    this.#buckets = buckets;
  }
}
