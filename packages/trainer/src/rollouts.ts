import type { RaggedTokensV1, TokenizerV1 } from '@hicra/spec';

/** Ragged token ids from a list of id arrays. */
export function toRagged(sequences: readonly ArrayLike<number>[]): RaggedTokensV1 {
  const offsets = new Int32Array(sequences.length + 1);
  for (let i = 0; i < sequences.length; i++) offsets[i + 1] = offsets[i]! + sequences[i]!.length;
  const tokenIds = new Int32Array(offsets[sequences.length]!);
  sequences.forEach((s, i) => {
    tokenIds.set(Array.from(s), offsets[i]!);
  });
  return { tokenIds, offsets };
}

/**
 * Decodes generated ids to text with each token's character span. When re-encoding the decoded
 * text gives back the same ids (word-level tokenizers, most BPE outputs), the encoder's spans
 * are used; otherwise spans come from decoding growing prefixes, so `text.slice(start, end)` is
 * exactly what token k added to the decoded text (empty for tokens that decode to nothing).
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
  const spans = new Int32Array(ids.length * 2);
  let previous = 0;
  const list = Array.from(ids);
  for (let k = 0; k < list.length; k++) {
    const prefix = tokenizer.decode(list.slice(0, k + 1));
    const end = Math.max(previous, Math.min(prefix.length, text.length));
    spans[2 * k] = previous;
    spans[2 * k + 1] = end;
    previous = end;
  }
  return { text, spans };
}

/**
 * The unbiased pass@k estimator (Chen et al. 2021) for one problem with `n` samples of which
 * `c` are correct: 1 - C(n - c, k) / C(n, k).
 */
export function passAtK(n: number, c: number, k: number): number {
  if (n - c < k) return 1;
  let product = 1;
  for (let i = n - c + 1; i <= n; i++) product *= 1 - k / i;
  return 1 - product;
}
