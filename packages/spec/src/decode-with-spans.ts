import type { TokenizerV1 } from './tokenizer.js';

/**
 * Decodes generated ids to text with each token's `[start, end)` character span, for any
 * `TokenizerV1`. When re-encoding the decoded text gives back the same ids (word-level
 * tokenizers, most BPE outputs), the encoder's spans are used; otherwise each span is what the
 * decoded prefix grew by at that token, so `text.slice(start, end)` is exactly what token k
 * added (empty for a token that decodes to nothing). The fallback decodes every prefix, so it
 * costs O(n²) characters for n ids.
 */
export function decodeWithSpans(
  tokenizer: TokenizerV1,
  ids: ArrayLike<number>,
): { text: string; spans: Int32Array } {
  const text = tokenizer.decode(ids);
  const encoded = tokenizer.encode(text);
  if (encoded.ids.length === ids.length && encoded.ids.every((id, k) => id === ids[k])) {
    return { text, spans: encoded.spans };
  }
  const list = Array.from(ids);
  const spans = new Int32Array(list.length * 2);
  let previous = 0;
  for (let k = 0; k < list.length; k++) {
    const prefix = tokenizer.decode(list.slice(0, k + 1));
    const end = Math.max(previous, Math.min(prefix.length, text.length));
    spans[2 * k] = previous;
    spans[2 * k + 1] = end;
    previous = end;
  }
  return { text, spans };
}
