import { describeValue, InvalidArgumentError } from '@hicra/spec';
import { SOURCE } from './check.js';

/*
 * Words of a response text, for the conditional procedural entropy (docs/decisions/0032):
 * - a word is a maximal run of letters, digits and combining marks (Unicode \p{L}, \p{N},
 *   \p{M}), lower-cased;
 * - every other character that is not whitespace is a word on its own (`=`, `+`, `*`, `/`,
 *   `(`, `,`, `.`, `_`, ...), so `3*8=24.` is `3 * 8 = 24 .`;
 * - whitespace (JavaScript's \s) separates words and is dropped.
 */

export const WHITESPACE = 0;
export const WORD_CHAR = 1;
export const SYMBOL = 2;

/** Kind of each ASCII character: {@link WHITESPACE}, {@link WORD_CHAR} or {@link SYMBOL}. */
export const ASCII_KIND = new Uint8Array(128).fill(SYMBOL);
for (let c = 48; c <= 57; c++) ASCII_KIND[c] = WORD_CHAR;
for (let c = 65; c <= 90; c++) ASCII_KIND[c] = WORD_CHAR;
for (let c = 97; c <= 122; c++) ASCII_KIND[c] = WORD_CHAR;
for (const c of [9, 10, 11, 12, 13, 32]) ASCII_KIND[c] = WHITESPACE;

const WORD_PATTERN = /[\p{L}\p{N}\p{M}]/u;
const SPACE_PATTERN = /\s/u;

/** Kind of the code point at `k`; sets {@link width} to its length in UTF-16 units. */
let width = 1;
function kindAt(text: string, k: number, to: number): number {
  const code = text.charCodeAt(k);
  width = 1;
  if (code < 128) return ASCII_KIND[code]!;
  let point = code;
  if (code >= 0xd800 && code <= 0xdbff && k + 1 < to) {
    point = text.codePointAt(k)!;
    if (point > 0xffff) width = 2;
  }
  const char = String.fromCodePoint(point);
  if (WORD_PATTERN.test(char)) return WORD_CHAR;
  return SPACE_PATTERN.test(char) ? WHITESPACE : SYMBOL;
}

/** Start of the word found by the last {@link scanWord}. */
let wordStart = 0;

/** Finds the next word in `text[k, to)`: returns its end and sets `wordStart`, or -1 if none. */
function scanWord(text: string, k: number, to: number): number {
  while (k < to) {
    const code = text.charCodeAt(k);
    const kind = code < 128 ? ASCII_KIND[code]! : kindAt(text, k, to);
    const step = code < 128 ? 1 : width;
    if (kind === WHITESPACE) {
      k += step;
      continue;
    }
    wordStart = k;
    k += step;
    if (kind === WORD_CHAR) {
      while (k < to) {
        const next = text.charCodeAt(k);
        if (next < 128) {
          if (ASCII_KIND[next] !== WORD_CHAR) break;
          k++;
        } else {
          if (kindAt(text, k, to) !== WORD_CHAR) break;
          k += width;
        }
      }
    }
    return k;
  }
  return -1;
}

/**
 * The first `limit` words of `text[from, to)` joined by single spaces, lower-cased (`''` when
 * the range holds no word). A word still open at `to` ends there. When the words are already
 * separated by single spaces in the text, the result is one slice of it (no joining).
 */
export function leadingWords(text: string, from: number, to: number, limit: number): string {
  let found = 0;
  let first = -1;
  let previousEnd = -1;
  let joined: string | undefined;
  let k = from;
  while (found < limit) {
    const end = scanWord(text, k, to);
    if (end < 0) break;
    const start = wordStart;
    if (found === 0) first = start;
    else if (joined !== undefined) joined += ` ${text.slice(start, end)}`;
    else if (start !== previousEnd + 1 || text.charCodeAt(previousEnd) !== 32)
      joined = `${text.slice(first, previousEnd)} ${text.slice(start, end)}`;
    previousEnd = end;
    found++;
    k = end;
  }
  if (found === 0) return '';
  return (joined ?? text.slice(first, previousEnd)).toLowerCase();
}

/**
 * The words of `text` as the conditional procedural entropy sees them: lower-cased runs of
 * letters, digits and combining marks, and every other non-space character on its own.
 *
 * ```ts
 * splitWords('Wait, 3*8 = 24.'); // ['wait', ',', '3', '*', '8', '=', '24', '.']
 * ```
 */
export function splitWords(text: string): string[] {
  if (typeof text !== 'string') {
    throw new InvalidArgumentError(
      `splitWords: text must be a string, got ${describeValue(text)}`,
      {
        source: SOURCE,
        details: { argument: 'text' },
      },
    );
  }
  const words: string[] = [];
  let k = 0;
  for (;;) {
    const end = scanWord(text, k, text.length);
    if (end < 0) return words;
    words.push(text.slice(wordStart, end).toLowerCase());
    k = end;
  }
}
