/**
 * Word-wide scans over 0/1 masks: an `Int32Array` view over the mask's aligned interior reads
 * four entries at a time, so runs of zeros or ones (padding, a response's valid prefix) are
 * crossed in a quarter of the steps of a byte loop. Unaligned heads and tails, and the word
 * where a run ends, are read byte by byte. The results never depend on the platform's byte
 * order: a word is only compared whole against all-zeros or all-ones.
 */

/** A mask with a word view over its 4-byte-aligned interior (from {@link maskWords}). */
export interface MaskWords {
  readonly bytes: Uint8Array;
  /** `words[w]` holds bytes `head + 4w .. head + 4w + 3`. */
  readonly words: Int32Array;
  /** The first byte index the words cover (0..3). */
  readonly head: number;
  /** One past the last byte index the words cover. */
  readonly end: number;
}

const ONES = 0x01010101;
const HIGH_BITS = 0xfefefefe | 0;

/** The word view of a mask; one small view object, no copy. */
export function maskWords(mask: Uint8Array): MaskWords {
  const pad = (4 - (mask.byteOffset & 3)) & 3;
  const count = mask.length > pad ? (mask.length - pad) >>> 2 : 0;
  const words =
    count === 0 ? new Int32Array(0) : new Int32Array(mask.buffer, mask.byteOffset + pad, count);
  const head = Math.min(pad, mask.length);
  return { bytes: mask, words, head, end: head + 4 * count };
}

/** The first word-aligned index at or after `from` (in the words' frame). */
function alignUp(mask: MaskWords, from: number): number {
  return from <= mask.head ? mask.head : mask.head + ((from - mask.head + 3) & ~3);
}

/** The last word-aligned index at or before `to`, within the words. */
function alignDown(mask: MaskWords, to: number): number {
  return to >= mask.end ? mask.end : mask.head + ((to - mask.head) & ~3);
}

/**
 * The first index in `[from, to)` whose entry is not `value` (0 or 1), or `to` when the whole
 * range holds `value`.
 */
export function skipRun(mask: MaskWords, from: number, to: number, value: 0 | 1): number {
  const { bytes, words, head } = mask;
  const a = alignUp(mask, from);
  const b = alignDown(mask, to);
  if (a >= b) return skipBytes(bytes, from, to, value);
  const k = skipBytes(bytes, from, a, value);
  if (k < a) return k;
  const pattern = value === 1 ? ONES : 0;
  let w = (a - head) >> 2;
  const stop = (b - head) >> 2;
  while (w < stop && words[w] === pattern) w++;
  // The word that differs (or the tail) is read byte by byte.
  return skipBytes(bytes, head + 4 * w, to, value);
}

/** The number of ones in `[from, to)` of a 0/1 mask (entries above 1 are not counted right). */
export function countOnes(mask: MaskWords, from = 0, to = mask.bytes.length): number {
  const { bytes, words, head } = mask;
  const a = alignUp(mask, from);
  const b = alignDown(mask, to);
  if (a >= b) return sumBytes(bytes, from, to);
  let count = sumBytes(bytes, from, a) + sumBytes(bytes, b, to);
  const stop = (b - head) >> 2;
  // The bytes of a 0/1 word sum into its top byte: w · 0x01010101 >>> 24 (at most 4).
  for (let w = (a - head) >> 2; w < stop; w++) count += Math.imul(words[w]!, ONES) >>> 24;
  return count;
}

function sumBytes(bytes: Uint8Array, from: number, to: number): number {
  let count = 0;
  for (let k = from; k < to; k++) count += bytes[k]!;
  return count;
}

/** The first index in `[from, to)` whose entry is not `value`, or `to`. */
function skipBytes(bytes: Uint8Array, from: number, to: number, value: number): number {
  for (let k = from; k < to; k++) if (bytes[k] !== value) return k;
  return to;
}

/** The first index whose entry is neither 0 nor 1, or -1. */
export function firstNonBinary(mask: MaskWords): number {
  const { bytes, words, head, end } = mask;
  for (let k = 0; k < head; k++) if (bytes[k]! > 1) return k;
  for (let w = 0; w < words.length; w++) {
    if ((words[w]! & HIGH_BITS) !== 0) {
      const k = head + 4 * w;
      for (let j = k; j < k + 4; j++) if (bytes[j]! > 1) return j;
    }
  }
  for (let k = end; k < bytes.length; k++) if (bytes[k]! > 1) return k;
  return -1;
}

/**
 * The first index where `sub` is not 0/1 or is 1 where `sup` is 0 (`sub` must be a 0/1 subset
 * of the 0/1 mask `sup`), or -1. Word-wide when both masks share their alignment.
 */
export function firstOutsideSubset(sub: MaskWords, sup: MaskWords): number {
  const a = sub.bytes;
  const b = sup.bytes;
  const n = a.length;
  if (sub.head !== sup.head || b.length !== n) {
    for (let k = 0; k < n; k++) if (a[k]! > 1 || a[k]! > b[k]!) return k;
    return -1;
  }
  const { head, end } = sub;
  const wa = sub.words;
  const wb = sup.words;
  for (let k = 0; k < head; k++) if (a[k]! > 1 || a[k]! > b[k]!) return k;
  for (let w = 0; w < wa.length; w++) {
    const x = wa[w]!;
    // A byte above 1, or a 1 where `sup` holds 0 (`sup` is 0/1, so its complement's low bit).
    if (((x & HIGH_BITS) | (x & ~wb[w]!)) !== 0) {
      const k = head + 4 * w;
      for (let j = k; j < k + 4; j++) if (a[j]! > 1 || a[j]! > b[j]!) return j;
    }
  }
  for (let k = end; k < n; k++) if (a[k]! > 1 || a[k]! > b[k]!) return k;
  return -1;
}
