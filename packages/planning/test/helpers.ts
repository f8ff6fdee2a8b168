import type { PlanningInputV1, PlanningResultV1 } from '@hicra/spec';

/** A tokenizer for tests: the `[start, end)` spans of its tokens over a text. */
export type SpanTokenizer = (text: string) => [number, number][];

/** One token per UTF-16 code unit. */
export const charTokenizer: SpanTokenizer = (text) =>
  Array.from({ length: text.length }, (_, i) => [i, i + 1]);

/**
 * A word-level tokenizer in the style of byte-level BPE pre-tokenisation: each token is
 * optional leading spaces plus a run of letters/digits/apostrophes, or one other character.
 * Newlines are tokens of their own.
 */
export const wordTokenizer: SpanTokenizer = (text) =>
  [...text.matchAll(/ *[\p{L}\p{N}\p{M}'’]+| *[^\s\p{L}\p{N}\p{M}'’]|\s/gu)].map((m) => [
    m.index,
    m.index + m[0].length,
  ]);

/** Whitespace-separated words (punctuation attached), no spaces in spans. */
export const whitespaceTokenizer: SpanTokenizer = (text) =>
  [...text.matchAll(/\S+/g)].map((m) => [m.index, m.index + m[0].length]);

/** A batch of texts tokenised by `tokenizer`, right-padded to the longest with `(-1, -1)`. */
export function batchOf(
  texts: readonly string[],
  tokenizer: SpanTokenizer = wordTokenizer,
  extra: Partial<PlanningInputV1> = {},
): PlanningInputV1 & { readonly responseMask: Uint8Array } {
  const tokenised = texts.map(tokenizer);
  const seqLen = Math.max(0, ...tokenised.map((t) => t.length));
  const spans = new Int32Array(texts.length * seqLen * 2).fill(-1);
  const mask = new Uint8Array(texts.length * seqLen);
  tokenised.forEach((tokens, i) => {
    tokens.forEach(([s, e], t) => {
      const k = i * seqLen + t;
      spans[2 * k] = s;
      spans[2 * k + 1] = e;
      mask[k] = 1;
    });
  });
  return {
    batchSize: texts.length,
    seqLen,
    texts,
    tokenSpans: spans,
    responseMask: mask,
    ...extra,
  };
}

/** Input for one text with explicit spans. */
export function single(text: string, spans: [number, number][]): PlanningInputV1 {
  return {
    batchSize: 1,
    seqLen: spans.length,
    texts: [text],
    tokenSpans: Int32Array.from(spans.flat()),
  };
}

/** The row's mask as a string of 0/1. */
export function maskOf(result: PlanningResultV1, row = 0, seqLen = result.mask.length): string {
  return Array.from(result.mask.subarray(row * seqLen, (row + 1) * seqLen)).join('');
}

/** The tokens' texts where the mask is 1. */
export function planningTokens(
  input: PlanningInputV1,
  result: PlanningResultV1,
  row = 0,
): string[] {
  const out: string[] = [];
  for (let t = 0; t < input.seqLen; t++) {
    const k = row * input.seqLen + t;
    if (result.mask[k] === 1)
      out.push(input.texts[row]!.slice(input.tokenSpans[2 * k], input.tokenSpans[2 * k + 1]));
  }
  return out;
}
