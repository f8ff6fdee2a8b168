/** Elements per chunk when the caller gives no row count: 4M float32 = 16 MB a copy. */
export const DEFAULT_CHUNK_ELEMENTS = 1 << 22;

/** Rows per chunk for a vocabulary of `vocabSize`, at most `DEFAULT_CHUNK_ELEMENTS` a chunk. */
export function defaultChunkRows(vocabSize: number): number {
  return Math.max(1, Math.floor(DEFAULT_CHUNK_ELEMENTS / Math.max(1, vocabSize)));
}
