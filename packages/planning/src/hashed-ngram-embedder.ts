import { describeValue, type EmbedderV1, InvalidArgumentError } from '@hicra/spec';

import { normalizePhrase } from './lexicon.js';
import { checkSettings, numberSetting } from './settings.js';
import { SOURCE } from './source.js';

/** Settings of {@link createHashedNgramEmbedder}. */
export interface HashedNgramEmbedderSettings {
  /** Vector length (hash buckets). Default 512. */
  readonly dimension?: number;
  /** Shortest character n-gram. Default 3. */
  readonly minN?: number;
  /** Longest character n-gram. Default 5. */
  readonly maxN?: number;
}

export interface HashedNgramEmbedder extends EmbedderV1 {
  readonly minN: number;
  readonly maxN: number;
  embed(texts: readonly string[]): Float32Array;
}

/**
 * A deterministic embedder with no model: character n-grams (default 3 to 5) of the
 * normalised text padded with one space on each side, hashed (FNV-1a, 32 bit) into
 * `dimension` buckets, weighted by TF-IDF and L2-normalised. The inverse document frequency is
 * fitted on the texts of each `embed` call (smoothed: ln((1 + N) / (1 + df)) + 1), so the miner
 * embeds all candidate n-grams in one call. Phrases that share words and stems end up close in
 * cosine; synonyms do not (plug a sentence encoder through `EmbedderV1` for that).
 */
export function createHashedNgramEmbedder(
  settings: HashedNgramEmbedderSettings = {},
): HashedNgramEmbedder {
  const s = checkSettings('hashed-ngram-embedder', settings, {
    dimension: 'integer in [1, 2^20], default 512',
    minN: 'integer >= 1, default 3',
    maxN: 'integer >= minN, default 5',
  });
  const dimension = numberSetting('hashed-ngram-embedder', 'dimension', s.dimension, 512, {
    integer: true,
    min: 1,
    max: 2 ** 20,
  });
  const minN = numberSetting('hashed-ngram-embedder', 'minN', s.minN, 3, { integer: true, min: 1 });
  const maxN = numberSetting('hashed-ngram-embedder', 'maxN', s.maxN, 5, {
    integer: true,
    min: minN,
  });
  return {
    dimension,
    minN,
    maxN,
    embed(texts: readonly string[]): Float32Array {
      if (!Array.isArray(texts)) {
        throw new InvalidArgumentError(
          `hashed-ngram-embedder: texts must be an array of strings, got ${describeValue(texts)}`,
          {
            source: SOURCE,
            details: { argument: 'texts' },
          },
        );
      }
      const n = texts.length;
      const out = new Float32Array(n * dimension);
      const df = new Float64Array(dimension);
      texts.forEach((text, i) => {
        if (typeof text !== 'string') {
          throw new InvalidArgumentError(
            `hashed-ngram-embedder: texts[${i}] must be a string, got ${describeValue(text)}`,
            {
              source: SOURCE,
              details: { argument: 'texts', index: i },
            },
          );
        }
        const padded = ` ${normalizePhrase(text)} `;
        const row = i * dimension;
        for (let len = minN; len <= maxN; len++) {
          for (let at = 0; at + len <= padded.length; at++) {
            let h = 0x811c9dc5;
            for (let c = at; c < at + len; c++) {
              h ^= padded.charCodeAt(c);
              h = Math.imul(h, 0x01000193);
            }
            out[row + ((h >>> 0) % dimension)]! += 1;
          }
        }
        for (let b = 0; b < dimension; b++) if (out[row + b]! > 0) df[b]! += 1;
      });
      const idf = new Float64Array(dimension);
      for (let b = 0; b < dimension; b++) idf[b] = Math.log((1 + n) / (1 + df[b]!)) + 1;
      for (let i = 0; i < n; i++) {
        const row = i * dimension;
        let norm = 0;
        for (let b = 0; b < dimension; b++) {
          const v = out[row + b]! * idf[b]!;
          out[row + b] = v;
          norm += v * v;
        }
        if (norm > 0) {
          const scale = 1 / Math.sqrt(norm);
          for (let b = 0; b < dimension; b++) out[row + b]! *= scale;
        }
      }
      return out;
    },
  };
}

/** The default hashed character-n-gram TF-IDF embedder (512 buckets, n-grams 3 to 5). */
export const hashedNgramEmbedder: HashedNgramEmbedder = createHashedNgramEmbedder();
