/** Maps texts to fixed-size vectors (n-gram mining, cosine equivalence of answers). */
export interface EmbedderV1 {
  /** Length of each vector. */
  readonly dimension: number;
  /** Returns `[n·dimension]` float32, row-major, one row per text, in input order. */
  embed(texts: readonly string[]): Float32Array | Promise<Float32Array>;
}
