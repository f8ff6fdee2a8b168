import { InvalidArgumentError } from '@hicra/spec';
import { describe, SOURCE } from './check.js';

/*
 * Words of a response text, for the conditional procedural entropy (docs/decisions/0032):
 * - a word is a maximal run of letters, digits and combining marks (Unicode \p{L}, \p{N},
 *   \p{M}), lower-cased;
 * - every other character that is not whitespace is a word on its own (`=`, `+`, `*`, `/`,
 *   `(`, `,`, `.`, `_`, ...), so `3*8=24.` is `3 * 8 = 24 .`;
 * - whitespace (JavaScript's \s) separates words and is dropped.
 */

const WORD_CHAR = /[\p{L}\p{N}\p{M}]/u;
const SPACE = /\s/u;

/** 0: whitespace, 1: word character, 2: a symbol that is a word on its own. */
function classify(code: number, char: string): 0 | 1 | 2 {
  if (code < 128) {
    if (code <= 32) return code === 32 || (code >= 9 && code <= 13) ? 0 : 2;
    if ((code >= 48 && code <= 57) || (code >= 97 && code <= 122) || (code >= 65 && code <= 90))
      return 1;
    return 2;
  }
  if (WORD_CHAR.test(char)) return 1;
  return SPACE.test(char) ? 0 : 2;
}

/**
 * Scans `text[from, to)` and returns its first `limit` words joined by single spaces
 * (`''` when the range holds no word). Words are lower-cased.
 */
export function leadingWords(text: string, from: number, to: number, limit: number): string {
  let out = '';
  let found = 0;
  let k = from;
  let wordStart = -1;
  while (k < to && found < limit) {
    const code = text.codePointAt(k)!;
    const width = code > 0xffff ? 2 : 1;
    const kind = classify(code, width === 1 ? text[k]! : text.slice(k, k + 2));
    if (kind === 1) {
      if (wordStart < 0) wordStart = k;
      k += width;
      continue;
    }
    if (wordStart >= 0) {
      out += (found > 0 ? ' ' : '') + text.slice(wordStart, k).toLowerCase();
      found++;
      wordStart = -1;
      if (found === limit) break;
    }
    if (kind === 2) {
      out += (found > 0 ? ' ' : '') + text.slice(k, k + width).toLowerCase();
      found++;
    }
    k += width;
  }
  if (wordStart >= 0 && found < limit) {
    // A word still open at `to` ends there (the segment ends at the next planning match).
    out += (found > 0 ? ' ' : '') + text.slice(wordStart, Math.min(k, to)).toLowerCase();
  }
  return out;
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
    throw new InvalidArgumentError(`splitWords: text must be a string, got ${describe(text)}`, {
      source: SOURCE,
      details: { argument: 'text' },
    });
  }
  const joined = leadingWords(text, 0, text.length, Number.POSITIVE_INFINITY);
  return joined === '' ? [] : joined.split(' ');
}
