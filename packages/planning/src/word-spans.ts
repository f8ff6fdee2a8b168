/** Words: runs of letters, numbers and marks, with inner apostrophes or hyphens (`let's`, `re-check`). */
const WORD = /[\p{L}\p{N}\p{M}]+(?:['\u2019-][\p{L}\p{N}\p{M}]+)*/gu;

/** Character spans `[start, end)` of the words of `text`, flat. */
export function wordSpans(text: string): Int32Array {
  const spans: number[] = [];
  for (const m of text.matchAll(WORD)) spans.push(m.index, m.index + m[0].length);
  return Int32Array.from(spans);
}
