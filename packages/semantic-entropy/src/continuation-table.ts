import { ASCII_KIND, leadingWords, SYMBOL, WHITESPACE, WORD_CHAR } from './split-words.js';

/*
 * Counts of (phrase slot, continuation) pairs for the conditional procedural entropy: an
 * open-addressing hash table whose keys are the canonical continuations (the first n words
 * after a phrase, lower-cased, joined by single spaces; see split-words.ts).
 *
 * Why not a Map<string, number>: a batch has ~100,000 phrase occurrences, each with its own
 * continuation. Building each continuation as a string and hashing it in a Map dominated the
 * whole step's metrics. Here the canonical form is hashed while the text is scanned, and
 * compared in place against the stored key, so a string is made only when the text is not
 * already in canonical spacing, or is not ASCII. A new canonical ASCII key is not made a string
 * either: its lower-cased characters are appended to one byte arena (a batch adds ~100,000
 * mostly new keys; as strings they were most of the garbage the collector had to copy), and
 * made a string only when a caller asks for the key.
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
  /**
   * Per bucket, two entries: the entry index + 1 (0: empty) and the entry's hash, so that a probe
   * compares hashes without a second random memory access (with ~100,000 keys the table is far
   * larger than the cache, and each such access was a miss).
   */
  #buckets = new Int32Array(2 * 1024);
  #hashes = new Int32Array(256);
  #grams = new Int32Array(256);
  #counts = new Float64Array(256);
  /** Where an arena key starts in `#chars` (-1: the key is in `#keys`). */
  #offsets = new Int32Array(256);
  #lengths = new Int32Array(256);
  #chars = new Uint8Array(4096);
  #used = 0;
  /** Keys kept as strings (from `add`, or not canonical ASCII); `undefined` for arena keys. */
  readonly #keys: (string | undefined)[] = [];
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
    const buckets = this.#buckets;
    const mask = (buckets.length >> 1) - 1;
    const length = previousEnd - first;
    let joined: string | undefined;
    for (let b = hash & mask; ; b = (b + 1) & mask) {
      const slot = buckets[2 * b]!;
      if (slot === 0) break;
      if (buckets[2 * b + 1] !== hash) continue;
      const e = slot - 1;
      if (this.#grams[e] !== gram) continue;
      let equal: boolean;
      if (canonical) {
        equal = this.#equalsText(e, text, first, length);
      } else {
        joined ??= leadingWords(text, from, to, n);
        equal = this.#equalsString(e, joined);
      }
      if (equal) {
        this.#counts[e]! += 1;
        return true;
      }
    }
    if (canonical) this.#insertText(hash, gram, text, first, length);
    else this.#insert(hash, gram, joined ?? leadingWords(text, from, to, n), 1);
    return true;
  }

  /** Adds `count` to (gram, key); `key` must be a canonical continuation. */
  add(gram: number, key: string, count: number): void {
    const hash = mix(hashKey(key), gram);
    const buckets = this.#buckets;
    const mask = (buckets.length >> 1) - 1;
    for (let b = hash & mask; ; b = (b + 1) & mask) {
      const slot = buckets[2 * b]!;
      if (slot === 0) break;
      const e = slot - 1;
      if (buckets[2 * b + 1] === hash && this.#grams[e] === gram && this.#equalsString(e, key)) {
        this.#counts[e]! += count;
        return;
      }
    }
    this.#insert(hash, gram, key, count);
  }

  /** Makes room for `extra` more pairs without rehashing on the way. */
  reserve(extra: number): void {
    let capacity = this.#buckets.length >> 1;
    while ((this.#size + extra) * 2 > capacity) capacity *= 2;
    if (capacity !== this.#buckets.length >> 1) this.#rehash(capacity);
    if (this.#size + extra > this.#hashes.length) this.#growEntries(this.#size + extra);
  }

  /** Calls `fn` for every pair, in insertion order. */
  forEach(fn: (gram: number, key: string, count: number) => void): void {
    for (let e = 0; e < this.#size; e++) fn(this.#grams[e]!, this.#keyAt(e), this.#counts[e]!);
  }

  /** As {@link forEach} without the keys (no key is made a string). */
  forEachCount(fn: (gram: number, count: number) => void): void {
    for (let e = 0; e < this.#size; e++) fn(this.#grams[e]!, this.#counts[e]!);
  }

  /** The key of entry `e`, made a string (and kept) when it lives in the arena. */
  #keyAt(e: number): string {
    const kept = this.#keys[e];
    if (kept !== undefined) return kept;
    const start = this.#offsets[e]!;
    let key = '';
    const chars = this.#chars;
    for (let i = start; i < start + this.#lengths[e]!; i += 4096)
      key += String.fromCharCode.apply(
        null,
        chars.subarray(i, Math.min(i + 4096, start + this.#lengths[e]!)) as unknown as number[],
      );
    this.#keys[e] = key;
    return key;
  }

  /** Whether entry `e`'s key is `text[first, first + length)` lower-cased (ASCII). */
  #equalsText(e: number, text: string, first: number, length: number): boolean {
    const kept = this.#keys[e];
    if (kept !== undefined) {
      if (kept.length !== length) return false;
      for (let i = 0; i < length; i++) {
        const c = text.charCodeAt(first + i);
        if ((c >= 65 && c <= 90 ? c + 32 : c) !== kept.charCodeAt(i)) return false;
      }
      return true;
    }
    if (this.#lengths[e] !== length) return false;
    const chars = this.#chars;
    const start = this.#offsets[e]!;
    for (let i = 0; i < length; i++) {
      const c = text.charCodeAt(first + i);
      if ((c >= 65 && c <= 90 ? c + 32 : c) !== chars[start + i]) return false;
    }
    return true;
  }

  /** Whether entry `e`'s key equals `key`. */
  #equalsString(e: number, key: string): boolean {
    const kept = this.#keys[e];
    if (kept !== undefined) return kept === key;
    const length = this.#lengths[e]!;
    if (key.length !== length) return false;
    const chars = this.#chars;
    const start = this.#offsets[e]!;
    for (let i = 0; i < length; i++) if (key.charCodeAt(i) !== chars[start + i]) return false;
    return true;
  }

  #addSlow(gram: number, text: string, from: number, to: number, n: number): boolean {
    const key = leadingWords(text, from, to, n);
    if (key === '') return false;
    this.add(gram, key, 1);
    return true;
  }

  #insert(hash: number, gram: number, key: string, count: number): void {
    const e = this.#newEntry(hash, gram, count);
    this.#keys[e] = key;
    this.#offsets[e] = -1;
    this.#lengths[e] = key.length;
    this.#place(e);
  }

  /** Inserts the canonical ASCII key `text[first, first + length)` lower-cased, into the arena. */
  #insertText(hash: number, gram: number, text: string, first: number, length: number): void {
    const e = this.#newEntry(hash, gram, 1);
    if (this.#used + length > this.#chars.length) {
      const chars = new Uint8Array(Math.max(2 * this.#chars.length, this.#used + length));
      chars.set(this.#chars.subarray(0, this.#used));
      this.#chars = chars;
    }
    const chars = this.#chars;
    const start = this.#used;
    for (let i = 0; i < length; i++) {
      const c = text.charCodeAt(first + i);
      chars[start + i] = c >= 65 && c <= 90 ? c + 32 : c;
    }
    this.#used = start + length;
    this.#keys[e] = undefined;
    this.#offsets[e] = start;
    this.#lengths[e] = length;
    this.#place(e);
  }

  #newEntry(hash: number, gram: number, count: number): number {
    const e = this.#size;
    if (e === this.#hashes.length) this.#growEntries(e * 2);
    this.#hashes[e] = hash;
    this.#grams[e] = gram;
    this.#counts[e] = count;
    this.#size = e + 1;
    return e;
  }

  #place(e: number): void {
    const capacity = this.#buckets.length >> 1;
    if (this.#size * 2 > capacity) this.#rehash(capacity * 2);
    else this.#placeIn(e, this.#buckets);
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
    this.#offsets = grow(this.#offsets);
    this.#lengths = grow(this.#lengths);
  }

  #placeIn(e: number, buckets: Int32Array): void {
    const mask = (buckets.length >> 1) - 1;
    const hash = this.#hashes[e]!;
    let b = hash & mask;
    while (buckets[2 * b] !== 0) b = (b + 1) & mask;
    buckets[2 * b] = e + 1;
    buckets[2 * b + 1] = hash;
  }

  /** Rebuilds the buckets with `capacity` buckets (a power of two). */
  #rehash(capacity: number): void {
    const buckets = new Int32Array(2 * capacity);
    for (let e = 0; e < this.#size; e++) this.#placeIn(e, buckets);
    this.#buckets = buckets;
  }
}
