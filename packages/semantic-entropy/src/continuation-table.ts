import type { CountLogCountSum } from './entropy-from-counts.js';
import { ASCII_KIND, leadingWords, SYMBOL, WHITESPACE } from './split-words.js';

/*
 * Counts of (phrase slot, continuation) pairs for the conditional procedural entropy: an
 * open-addressing hash table whose keys are the canonical continuations (the first n words
 * after a phrase, lower-cased, joined by single spaces; see split-words.ts).
 *
 * Why not a Map<string, number>: a batch has ~100,000 phrase occurrences, each with its own
 * continuation, mostly distinct. Building each one as a string and hashing it in a Map
 * dominated the whole step's metrics. Here a batch goes in two steps:
 *
 * 1. `stage`, per occurrence in text order: the continuation is scanned once, its canonical
 *    form hashed and, for ASCII text, written as bytes to a scratch arena (no string; other
 *    text goes through a string, rarely). Only sequential memory is touched.
 * 2. `commitBatch`: the staged occurrences are radix-sorted by the high bits of their hashes,
 *    which are also the bucket index, and probed in that order. With ~100,000 keys the buckets
 *    and entries are larger than the L2 cache; probed in text order every occurrence cost a
 *    few cache misses (most of the step's time), probed in bucket order the buckets and the
 *    entries just made are walked nearly sequentially. Into an empty table (stepMetrics' only
 *    batch) the sorted order alone finds the repeats, and no bucket is made at all.
 *
 * Entries made by a batch are therefore in hash order; each keeps the sequence number of the
 * occurrence that made it, and `forEach` visits them in that order, so callers still see keys
 * in the order they first occurred.
 */

/**
 * Per ASCII character, what `stage` does with it, in one load: 0 whitespace (skipped), 1 a
 * symbol (a word on its own), otherwise `0x80 | lower-case form` for a word character.
 */
const FOLD = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const kind = ASCII_KIND[c];
  FOLD[c] =
    kind === WHITESPACE ? 0 : kind === SYMBOL ? 1 : 0x80 | (c >= 65 && c <= 90 ? c + 32 : c);
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a of a canonical key (its UTF-16 code units); `stage` computes the same while scanning. */
function hashKey(key: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), FNV_PRIME);
  return h;
}

/** Mixes the phrase slot into a key hash (murmur3 finaliser): the high bits pick the bucket. */
function mix(h: number, gram: number): number {
  let x = h ^ Math.imul(gram + 1, 0x9e3779b1);
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) | 0;
}

/** Whether `key` equals the bytes `chars[start, start + length)`. */
function stringEqualsBytes(key: string, chars: Uint8Array, start: number, length: number): boolean {
  if (key.length !== length) return false;
  for (let i = 0; i < length; i++) if (key.charCodeAt(i) !== chars[start + i]) return false;
  return true;
}

/** The bytes `chars[start, start + length)` as a string. */
function bytesToString(chars: Uint8Array, start: number, length: number): string {
  let key = '';
  // In chunks: apply() with a very long continuation would overflow the argument stack.
  for (let i = start; i < start + length; i += 4096)
    key += String.fromCharCode.apply(
      null,
      chars.subarray(i, Math.min(i + 4096, start + length)) as unknown as number[],
    );
  return key;
}

/** Sort digits: two passes of 11 bits order the occurrences by the top 22 bits of their hash. */
const DIGIT_BITS = 11;
const DIGITS = 1 << DIGIT_BITS;

/** Fields of a staged occurrence, a record of 4 int32s (sorted as one, read sequentially). */
const HASH = 0;
const GRAM = 1;
/** Where its key starts in the staged bytes (every occurrence takes at least one byte there). */
const START = 2;
/** > 0: the key's length in bytes; < 0: `-(i + 1)` for a key kept as the string `strings[i]`. */
const LENGTH = 3;
const FIELDS = 4;

/**
 * The occurrences staged for one batch. One instance per module, reused by every table: calls
 * are synchronous, and the arrays, once grown to a batch's size, are not allocated again.
 */
class Staging {
  owner: ContinuationTable | undefined;
  count = 0;
  records = new Int32Array(FIELDS * 1024);
  spare = new Int32Array(FIELDS * 1024);
  /** The canonical keys' bytes, in staging order. */
  chars: Uint8Array = new Uint8Array(16384);
  used = 0;
  /** Keys that are not ASCII, as strings (rare). */
  readonly strings: string[] = [];
  /** How many staged hashes have each value of bits 10..20, and of bits 21..31 (for the sort). */
  readonly lowDigits = new Int32Array(DIGITS);
  readonly highDigits = new Int32Array(DIGITS);

  reset(owner: ContinuationTable | undefined, expected: number): void {
    this.owner = owner;
    this.count = 0;
    this.used = 0;
    this.strings.length = 0;
    this.lowDigits.fill(0);
    this.highDigits.fill(0);
    if (FIELDS * expected > this.records.length) this.growRecords(expected);
  }

  growRecords(capacity: number): void {
    const records = new Int32Array(FIELDS * capacity);
    records.set(this.records.subarray(0, FIELDS * this.count));
    this.records = records;
    this.spare = new Int32Array(FIELDS * capacity);
  }

  /** A byte arena of at least `size` bytes (default: twice the size) holding the first `used`. */
  growChars(used: number, size = 0): Uint8Array {
    const chars = new Uint8Array(Math.max(2 * this.chars.length, size));
    chars.set(this.chars.subarray(0, used));
    this.chars = chars;
    return chars;
  }

  /**
   * Sorts the staged records by the top 22 bits of their hash (LSD radix sort, stable: records
   * with equal hashes stay in text order), in place. The digit counts were kept by `stage`.
   */
  sortByHash(): void {
    const n = this.count;
    this.#pass(this.records, this.spare, n, 10, this.lowDigits);
    this.#pass(this.spare, this.records, n, 21, this.highDigits);
  }

  /** One scatter pass on the 11 hash bits from `shift`, moving whole records `from` -> `to`. */
  #pass(from: Int32Array, to: Int32Array, n: number, shift: number, digits: Int32Array): void {
    let sum = 0;
    for (let d = 0; d < DIGITS; d++) {
      const c = digits[d]!;
      digits[d] = FIELDS * sum;
      sum += c;
    }
    for (let i = 0; i < FIELDS * n; i += FIELDS) {
      const digit = (from[i]! >>> shift) & (DIGITS - 1);
      const at = digits[digit]!;
      digits[digit] = at + FIELDS;
      to[at] = from[i]!;
      to[at + 1] = from[i + 1]!;
      to[at + 2] = from[i + 2]!;
      to[at + 3] = from[i + 3]!;
    }
  }

  /** Records a staged record's hash in the digit counts of the sort. */
  countDigits(hash: number): void {
    this.lowDigits[(hash >>> 10) & (DIGITS - 1)]!++;
    this.highDigits[hash >>> 21]!++;
  }
}

const staging = new Staging();

const NO_BUCKETS = new Int32Array(2);

export class ContinuationTable {
  /**
   * Per bucket, two entries: the entry index + 1 (0: empty) and the entry's hash, so that a probe
   * compares hashes without a second memory access. A key's first bucket is the top bits of its
   * hash (see `commitBatch` for why the top). Undefined until a lookup needs them.
   */
  #buckets: Int32Array | undefined;
  /** 32 - log2(bucket count): `hash >>> #shift` is a hash's first bucket. */
  #shift = 0;
  #hashes = new Int32Array(256);
  #grams = new Int32Array(256);
  #counts = new Float64Array(256);
  /** Sequence number of the occurrence that made each entry: `forEach` visits them in this order. */
  #sequence = new Float64Array(256);
  /** >= 0: where an entry's key starts in `#chars`; < 0: `-(i + 1)` for the key `#strings[i]`. */
  #offsets = new Int32Array(256);
  #lengths = new Int32Array(256);
  #chars = new Uint8Array(4096);
  #used = 0;
  /** Bytes of the arena that belong to an entry (the rest are repeats' copies). */
  #live = 0;
  /** Keys kept as strings: from `add`, or not ASCII. */
  readonly #strings: string[] = [];
  #size = 0;
  /** Sum of all counts. */
  #total = 0;
  /** Sequence number of the next occurrence. */
  #next = 0;
  /** Whether the entries are in sequence order already (no batch has reordered them). */
  #inOrder = true;

  /** Distinct (phrase, continuation) pairs. */
  get size(): number {
    return this.#size;
  }

  /** Starts a batch of about `expected` occurrences: `stage` each, then `commitBatch`. */
  beginBatch(expected: number): void {
    staging.reset(this, expected);
  }

  /**
   * Stages the continuation of phrase slot `gram`: the first `n` words of `text[from, to)`.
   * Returns false (and stages nothing) when the range holds no word. Nothing is counted until
   * `commitBatch`, so a batch abandoned half-way (bad input) leaves the table as it was.
   */
  stage(gram: number, text: string, from: number, to: number, n: number): boolean {
    const s = staging;
    const item = s.count;
    if (FIELDS * (item + 1) > s.records.length) s.growRecords(2 * item);
    const start = s.used;
    // Room for the longest canonical form of the range (a byte and a space per character), so
    // that the loop below writes without a check per byte.
    if (start + 2 * (to - from) > s.chars.length) s.growChars(start, start + 2 * (to - from));
    const chars = s.chars;
    let h = FNV_OFFSET;
    let found = 0;
    let w = start;
    let k = from;
    // ASCII text: the canonical form (lower-cased words, single spaces) is written as it is
    // hashed. Anything else goes the slow way, through a string.
    while (found < n && k < to) {
      let code = text.charCodeAt(k);
      if (code >= 128) return this.#stageString(item, gram, text, from, to, n);
      let fold = FOLD[code]!;
      if (fold === 0) {
        k++;
        continue;
      }
      if (found > 0) {
        h = Math.imul(h ^ 32, FNV_PRIME);
        chars[w++] = 32;
      }
      if (fold === 1) {
        h = Math.imul(h ^ code, FNV_PRIME);
        chars[w++] = code;
        k++;
      } else {
        for (;;) {
          const lower = fold & 0x7f;
          h = Math.imul(h ^ lower, FNV_PRIME);
          chars[w++] = lower;
          k++;
          if (k >= to) break;
          code = text.charCodeAt(k);
          if (code >= 128) return this.#stageString(item, gram, text, from, to, n);
          fold = FOLD[code]!;
          if (fold < 0x80) break;
        }
      }
      found++;
    }
    if (found === 0) return false;
    const r = FIELDS * item;
    const records = s.records;
    const hash = mix(h, gram);
    records[r + HASH] = hash;
    s.countDigits(hash);
    records[r + GRAM] = gram;
    records[r + START] = start;
    records[r + LENGTH] = w - start;
    s.used = w;
    s.count = item + 1;
    return true;
  }

  #stageString(item: number, gram: number, text: string, from: number, to: number, n: number) {
    const key = leadingWords(text, from, to, n);
    if (key === '') return false;
    const s = staging;
    // One placeholder byte, so that staged occurrences start at increasing positions (their
    // sequence numbers).
    if (s.used === s.chars.length) s.growChars(s.used);
    s.chars[s.used] = 0;
    const r = FIELDS * item;
    const records = s.records;
    const hash = mix(hashKey(key), gram);
    records[r + HASH] = hash;
    s.countDigits(hash);
    records[r + GRAM] = gram;
    records[r + START] = s.used++;
    records[r + LENGTH] = -(s.strings.length + 1);
    s.strings.push(key);
    s.count = item + 1;
    return true;
  }

  /** Counts every occurrence staged since `beginBatch`. */
  commitBatch(): void {
    const s = staging;
    if (s.owner !== this) throw new Error('ContinuationTable.commitBatch: no batch begun here');
    const count = s.count;
    s.owner = undefined;
    if (count === 0) return;
    // Into an empty table (every table's first batch, and all of stepMetrics) no bucket is
    // needed: the sorted batch brings equal keys together, so each occurrence is compared with
    // the entries just made for its run of equal hash prefixes. The buckets are built only when
    // a later lookup needs them. Otherwise occurrences are looked up in bucket order.
    const probing = this.#buckets !== undefined || this.#size > 0;
    if (probing) this.#ensureBuckets(count);
    if (this.#size + count > this.#hashes.length) this.#growEntries(this.#size + count);
    s.sortByHash();
    // The staged bytes join the arena as they are (one copy, no per-key gather); the bytes of
    // occurrences that turn out to be repeats are dead space, reclaimed by #compact.
    const base = this.#appendBytes(s.chars, s.used);
    const records = s.records;
    const buckets = this.#buckets ?? NO_BUCKETS;
    const shift = this.#shift;
    const mask = (buckets.length >> 1) - 1;
    const hashes = this.#hashes;
    const grams = this.#grams;
    const counts = this.#counts;
    const sequences = this.#sequence;
    const offsets = this.#offsets;
    const lengths = this.#lengths;
    const first = this.#next;
    let size = this.#size;
    let lastSequence = size === 0 ? -1 : sequences[size - 1]!;
    let inOrder = this.#inOrder;
    let live = this.#live;
    let run = -1;
    let runStart = size;
    next: for (let r = 0; r < FIELDS * count; r += FIELDS) {
      const hash = records[r + HASH]!;
      const gram = records[r + GRAM]!;
      const start = base + records[r + START]!;
      const length = records[r + LENGTH]!;
      let b = 0;
      if (probing) {
        for (b = hash >>> shift; ; b = (b + 1) & mask) {
          const slot = buckets[2 * b]!;
          if (slot === 0) break;
          const e = slot - 1;
          if (buckets[2 * b + 1] === hash && grams[e] === gram && this.#sameKey(e, start, length)) {
            counts[e]! += 1;
            continue next;
          }
        }
      } else {
        if (hash >>> 10 !== run) {
          run = hash >>> 10;
          runStart = size;
        }
        for (let e = runStart; e < size; e++) {
          if (hashes[e] === hash && grams[e] === gram && this.#sameKey(e, start, length)) {
            counts[e]! += 1;
            continue next;
          }
        }
      }
      const e = size++;
      hashes[e] = hash;
      grams[e] = gram;
      counts[e] = 1;
      if (length < 0) this.#setString(e, s.strings[-length - 1]!);
      else {
        offsets[e] = start;
        lengths[e] = length;
        live += length;
      }
      const sequence = first + records[r + START]!;
      sequences[e] = sequence;
      if (sequence < lastSequence) inOrder = false;
      lastSequence = sequence;
      if (probing) {
        buckets[2 * b] = e + 1;
        buckets[2 * b + 1] = hash;
      }
    }
    this.#size = size;
    this.#total += count;
    this.#inOrder = inOrder;
    this.#live = live;
    this.#next = first + s.used;
    s.reset(undefined, 0);
    if (this.#used > 2 * live + 65536) this.#compact();
  }

  /** Whether entry `e`'s key is the staged key at `start` in the arena (`length` >= 0) or a staged string. */
  #sameKey(e: number, start: number, length: number): boolean {
    if (length < 0) return this.#equalsString(e, staging.strings[-length - 1]!);
    const offset = this.#offsets[e]!;
    const chars = this.#chars;
    if (offset < 0) return stringEqualsBytes(this.#strings[-offset - 1]!, chars, start, length);
    if (this.#lengths[e] !== length) return false;
    for (let i = 0; i < length; i++) if (chars[offset + i] !== chars[start + i]) return false;
    return true;
  }

  /** Adds `count` to (gram, key); `key` must be a canonical continuation. */
  add(gram: number, key: string, count: number): void {
    const hash = mix(hashKey(key), gram);
    this.#ensureBuckets(0);
    const buckets = this.#buckets!;
    const mask = (buckets.length >> 1) - 1;
    for (let b = hash >>> this.#shift; ; b = (b + 1) & mask) {
      const slot = buckets[2 * b]!;
      if (slot === 0) break;
      const e = slot - 1;
      if (buckets[2 * b + 1] === hash && this.#grams[e] === gram && this.#equalsString(e, key)) {
        this.#counts[e]! += count;
        this.#total += count;
        return;
      }
    }
    this.#total += count;
    this.#ensureBuckets(1);
    const e = this.#newEntry(hash, gram, count);
    this.#setString(e, key);
    this.#sequence[e] = this.#next++;
    this.#placeIn(e, this.#buckets!);
  }

  /** Makes room for `extra` more pairs without growing on the way. */
  reserve(extra: number): void {
    if (this.#buckets !== undefined) this.#ensureBuckets(extra);
    if (this.#size + extra > this.#hashes.length) this.#growEntries(this.#size + extra);
  }

  /** Builds or grows the buckets so that `extra` more pairs keep the load at most 1/2. */
  #ensureBuckets(extra: number): void {
    const current = this.#buckets === undefined ? 0 : this.#buckets.length >> 1;
    let capacity = Math.max(current, 1024);
    while ((this.#size + extra) * 2 > capacity) capacity *= 2;
    if (capacity !== current) this.#rehash(capacity);
  }

  /** Calls `fn` for every pair, in the order their keys first occurred. */
  forEach(fn: (gram: number, key: string, count: number) => void): void {
    const visit = (e: number) => fn(this.#grams[e]!, this.#keyAt(e), this.#counts[e]!);
    if (this.#inOrder) {
      for (let e = 0; e < this.#size; e++) visit(e);
      return;
    }
    const sequence = this.#sequence;
    const entries = new Int32Array(this.#size);
    for (let e = 0; e < entries.length; e++) entries[e] = e;
    entries.sort((a, b) => sequence[a]! - sequence[b]!);
    for (const e of entries) visit(e);
  }

  /** Every pair's gram and count, in no particular order (no key is made a string). */
  forEachCount(fn: (gram: number, count: number) => void): void {
    for (let e = 0; e < this.#size; e++) fn(this.#grams[e]!, this.#counts[e]!);
  }

  /** Sum of all counts. */
  get total(): number {
    return this.#total;
  }

  /**
   * Adds every pair's count to `joint` and to its gram's entry of `perGram` (which must have
   * room for every gram): the sums of the conditional entropy, in a loop without a callback
   * (one call per pair was most of the time `metrics` took).
   */
  sumCounts(joint: CountLogCountSum, perGram: Float64Array): void {
    const grams = this.#grams;
    const counts = this.#counts;
    for (let e = 0; e < this.#size; e++) {
      const count = counts[e]!;
      joint.add(count);
      perGram[grams[e]!]! += count;
    }
  }

  /** The key of entry `e` as a string. */
  #keyAt(e: number): string {
    const offset = this.#offsets[e]!;
    return offset < 0
      ? this.#strings[-offset - 1]!
      : bytesToString(this.#chars, offset, this.#lengths[e]!);
  }

  /** Whether entry `e`'s key equals `key`. */
  #equalsString(e: number, key: string): boolean {
    const offset = this.#offsets[e]!;
    if (offset < 0) return this.#strings[-offset - 1] === key;
    return stringEqualsBytes(key, this.#chars, offset, this.#lengths[e]!);
  }

  /** Appends `from[0, length)` to the arena; returns where it starts. */
  #appendBytes(from: Uint8Array, length: number): number {
    const at = this.#used;
    if (at + length > this.#chars.length) {
      const chars = new Uint8Array(Math.max(2 * this.#chars.length, at + length));
      chars.set(this.#chars.subarray(0, at));
      this.#chars = chars;
    }
    this.#chars.set(from.subarray(0, length), at);
    this.#used = at + length;
    return at;
  }

  /** Rebuilds the arena with the live keys only (after batches full of repeats). */
  #compact(): void {
    const old = this.#chars;
    const chars = new Uint8Array(Math.max(4096, 2 * this.#live));
    let used = 0;
    for (let e = 0; e < this.#size; e++) {
      const offset = this.#offsets[e]!;
      if (offset < 0) continue;
      const length = this.#lengths[e]!;
      chars.set(old.subarray(offset, offset + length), used);
      this.#offsets[e] = used;
      used += length;
    }
    this.#chars = chars;
    this.#used = used;
  }

  #setString(e: number, key: string): void {
    this.#offsets[e] = -(this.#strings.length + 1);
    this.#lengths[e] = key.length;
    this.#strings.push(key);
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

  #growEntries(capacity: number): void {
    const grow = <T extends Int32Array | Float64Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(capacity);
      b.set(a.subarray(0, this.#size));
      return b;
    };
    this.#hashes = grow(this.#hashes);
    this.#grams = grow(this.#grams);
    this.#counts = grow(this.#counts);
    this.#sequence = grow(this.#sequence);
    this.#offsets = grow(this.#offsets);
    this.#lengths = grow(this.#lengths);
  }

  #placeIn(e: number, buckets: Int32Array): void {
    const mask = (buckets.length >> 1) - 1;
    const hash = this.#hashes[e]!;
    let b = hash >>> this.#shift;
    while (buckets[2 * b] !== 0) b = (b + 1) & mask;
    buckets[2 * b] = e + 1;
    buckets[2 * b + 1] = hash;
  }

  /** Rebuilds the buckets with `capacity` buckets (a power of two, at least 2). */
  #rehash(capacity: number): void {
    const buckets = new Int32Array(2 * capacity);
    this.#shift = 32 - Math.log2(capacity);
    for (let e = 0; e < this.#size; e++) this.#placeIn(e, buckets);
    this.#buckets = buckets;
  }
}
