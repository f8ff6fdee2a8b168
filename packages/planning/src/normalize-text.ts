/**
 * The text normalisation every phrase match goes through (decision 0010), with a map from each
 * normalised code unit back to the original text.
 *
 * The text is cut into chunks: one code point plus the combining marks (`\p{M}`) that follow
 * it. Each chunk is normalised on its own: NFKC, then lower case, then folding of curly
 * quotes and apostrophes (and the Unicode hyphens U+2010/U+2011) to their ASCII forms. A run
 * of whitespace (after NFKC, so no-break and ideographic spaces count) becomes one space.
 * Because chunks are normalised independently, a phrase normalises to the same units whether
 * it stands alone or inside a text, which is what makes matching over the normalised stream
 * exact. ASCII characters not followed by a combining mark take a table-driven fast path.
 */

/** The normalised units of a text and, for each unit, the original `[start, end)` it came from. */
export interface NormalizedText {
  /** Normalised UTF-16 code units. */
  readonly units: Uint16Array;
  /** Number of valid entries in `units`, `starts` and `ends`. */
  readonly length: number;
  /** Original start offset (inclusive) of the chunk each unit came from. */
  readonly starts: Int32Array;
  /** Original end offset (exclusive) of the chunk each unit came from. */
  readonly ends: Int32Array;
}

const SPACE = 0x20;
const FIRST_COMBINING = 0x300;

/** ASCII fast path: lower-cased code, or -1 for whitespace. */
const ASCII_MAP = new Int16Array(128);
for (let c = 0; c < 128; c++) ASCII_MAP[c] = c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
for (const c of [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20]) ASCII_MAP[c] = -1;

const FOLDS: Readonly<Record<string, string>> = {
  '\u2018': "'",
  '\u2019': "'",
  '\u201a': "'",
  '\u201b': "'",
  '\u02bc': "'",
  '\u201c': '"',
  '\u201d': '"',
  '\u201e': '"',
  '\u201f': '"',
  '\u2010': '-',
  '\u2011': '-',
};
const FOLD_PATTERN = /[\u2018\u2019\u201a\u201b\u02bc\u201c\u201d\u201e\u201f\u2010\u2011]/g;
const MARK = /^\p{M}$/u;
const WHITESPACE = /^\s$/u;
const WORD = /^[\p{L}\p{N}\p{M}]$/u;

/** 0 unknown, 1 yes, 2 no; per BMP code unit. */
const markCache = new Uint8Array(65536);
const spaceCache = new Uint8Array(65536);
const wordCache = new Uint8Array(65536);
const chunkCache = new Map<string, string>();
const CHUNK_CACHE_LIMIT = 65536;

function cached(cache: Uint8Array, pattern: RegExp, unit: number): boolean {
  let v = cache[unit]!;
  if (v === 0) {
    v = pattern.test(String.fromCharCode(unit)) ? 1 : 2;
    cache[unit] = v;
  }
  return v === 1;
}

function isMarkAt(text: string, i: number): number {
  // Returns the length in code units of the mark at i, or 0 when there is none.
  const c = text.charCodeAt(i);
  if (c < FIRST_COMBINING) return 0;
  if (c >= 0xd800 && c <= 0xdbff) {
    const cp = text.codePointAt(i)!;
    return cp > 0xffff && MARK.test(String.fromCodePoint(cp)) ? 2 : 0;
  }
  return cached(markCache, MARK, c) ? 1 : 0;
}

function normalizeChunk(chunk: string): string {
  let out = chunkCache.get(chunk);
  if (out === undefined) {
    out = chunk
      .normalize('NFKC')
      .toLowerCase()
      .replace(FOLD_PATTERN, (ch) => FOLDS[ch]!);
    if (chunkCache.size >= CHUNK_CACHE_LIMIT) chunkCache.clear();
    chunkCache.set(chunk, out);
  }
  return out;
}

/** True when a normalised code unit is whitespace. */
function isSpaceUnit(unit: number): boolean {
  if (unit < 128) return ASCII_MAP[unit] === -1;
  return cached(spaceCache, WHITESPACE, unit);
}

/**
 * True when the code point that starts at `units[i]` is a word character (a letter, number
 * or combining mark). Lone surrogates are not word characters.
 */
export function isWordUnitAt(units: Uint16Array, length: number, i: number): boolean {
  const u = units[i]!;
  if (u < 128)
    return (u >= 0x30 && u <= 0x39) || (u >= 0x61 && u <= 0x7a) || (u >= 0x41 && u <= 0x5a);
  if (u >= 0xd800 && u <= 0xdbff && i + 1 < length) {
    const low = units[i + 1]!;
    if (low < 0xdc00 || low > 0xdfff) return false;
    return WORD.test(String.fromCharCode(u, low));
  }
  if (u >= 0xdc00 && u <= 0xdfff) {
    const high = i > 0 ? units[i - 1]! : 0;
    if (high < 0xd800 || high > 0xdbff) return false;
    return WORD.test(String.fromCharCode(high, u));
  }
  return cached(wordCache, WORD, u);
}

/** Growable buffers reused across texts (one set per classifier call). */
export class NormalizationBuffers {
  units = new Uint16Array(0);
  starts = new Int32Array(0);
  ends = new Int32Array(0);

  ensure(capacity: number): void {
    if (this.units.length >= capacity) return;
    const size = Math.max(capacity, this.units.length * 2, 1024);
    this.units = new Uint16Array(size);
    this.starts = new Int32Array(size);
    this.ends = new Int32Array(size);
  }
}

/**
 * Normalises `text` into `buffers` and returns the number of units written. A text of n code
 * units normalises to at most 18·n units (NFKC's longest expansion), so the buffers are grown
 * to the exact need when a chunk expands.
 */
export function normalizeInto(text: string, buffers: NormalizationBuffers): number {
  const length = text.length;
  buffers.ensure(length + 1);
  let units = buffers.units;
  let starts = buffers.starts;
  let ends = buffers.ends;
  let n = 0;
  let lastWasSpace = false;
  let i = 0;
  let next = length > 0 ? text.charCodeAt(0) : 0;
  while (i < length) {
    const c = next;
    next = i + 1 < length ? text.charCodeAt(i + 1) : 0;
    if (c < 128 && next < FIRST_COMBINING) {
      const mapped = ASCII_MAP[c]!;
      if (mapped === -1) {
        if (lastWasSpace) ends[n - 1] = i + 1;
        else {
          units[n] = SPACE;
          starts[n] = i;
          ends[n] = i + 1;
          n++;
          lastWasSpace = true;
        }
      } else {
        units[n] = mapped;
        starts[n] = i;
        ends[n] = i + 1;
        n++;
        lastWasSpace = false;
      }
      i++;
      continue;
    }
    // Slow path: one code point and its following combining marks.
    let end =
      i +
      (c >= 0xd800 && c <= 0xdbff && i + 1 < length && next >= 0xdc00 && next <= 0xdfff ? 2 : 1);
    for (let m = isMarkAt(text, end); m > 0 && end < length; m = isMarkAt(text, end)) end += m;
    const normalized = normalizeChunk(text.slice(i, end));
    if (n + normalized.length + (length - end) + 1 > units.length) {
      buffers.ensure(n + normalized.length + (length - end) + 1);
      buffers.units.set(units.subarray(0, n));
      buffers.starts.set(starts.subarray(0, n));
      buffers.ends.set(ends.subarray(0, n));
      units = buffers.units;
      starts = buffers.starts;
      ends = buffers.ends;
    }
    for (let k = 0; k < normalized.length; k++) {
      const u = normalized.charCodeAt(k);
      if (isSpaceUnit(u)) {
        if (lastWasSpace) ends[n - 1] = end;
        else {
          units[n] = SPACE;
          starts[n] = i;
          ends[n] = end;
          n++;
          lastWasSpace = true;
        }
      } else {
        units[n] = u;
        starts[n] = i;
        ends[n] = end;
        n++;
        lastWasSpace = false;
      }
    }
    i = end;
    next = i < length ? text.charCodeAt(i) : 0;
  }
  return n;
}

/**
 * The normalised form of `text` as a string, with the original span of every unit. This is
 * the function the classifier applies to texts and to lexicon phrases.
 */
export function normalizeText(text: string): NormalizedText & { readonly text: string } {
  const buffers = new NormalizationBuffers();
  const length = normalizeInto(text, buffers);
  const units = buffers.units.slice(0, length);
  let out = '';
  for (let k = 0; k < length; k += 4096)
    out += String.fromCharCode(...units.subarray(k, Math.min(length, k + 4096)));
  return {
    text: out,
    units,
    length,
    starts: buffers.starts.slice(0, length),
    ends: buffers.ends.slice(0, length),
  };
}
