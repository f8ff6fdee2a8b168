import type { RaggedTokensV1 } from '@hicra/spec';

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

/** Kept here for the trainer's users; it lives in `@hicra/spec` beside `TokenizerV1`. */
export { decodeWithSpans } from '@hicra/spec';

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
