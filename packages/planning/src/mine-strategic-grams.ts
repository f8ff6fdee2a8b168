import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  ConfigError,
  CorruptFileError,
  describeValue,
  type EmbedderV1,
  formatValue,
  InvalidArgumentError,
  InvalidValueError,
  ShapeError,
} from '@hicra/spec';

import { agglomerativeCosine, kMeansPlusPlus } from './cluster-embeddings.js';
import { hashedNgramEmbedder } from './hashed-ngram-embedder.js';
import { LEXICON_SCHEMA, type LexiconGramV1, type LexiconV1, serializeLexicon } from './lexicon.js';
import { normalizeText } from './normalize-text.js';
import { checkSettings, numberSetting, oneOfSetting } from './settings.js';
import { SOURCE } from './source.js';
import { ENGLISH_STOP_WORDS } from './stop-words.js';

/** Settings of {@link mineStrategicGrams} (decision 0014). */
export interface MineStrategicGramsSettings {
  /** Shortest n-gram, in words. Default 3. */
  readonly minN?: number;
  /** Longest n-gram, in words. Default 5. */
  readonly maxN?: number;
  /** An n-gram must occur in at least this many distinct documents. Default 2. */
  readonly minDocumentFrequency?: number;
  /** Keep at most this many candidates (the most frequent) before embedding. Default 5,000. */
  readonly maxCandidates?: number;
  /** N-grams made only of these words are dropped. Default {@link ENGLISH_STOP_WORDS}. */
  readonly stopWords?: Iterable<string>;
  /** Drop n-grams with a word containing a digit (execution, not planning). Default true. */
  readonly dropNumeric?: boolean;
  /** Embeds the candidate n-grams. Default {@link hashedNgramEmbedder}. */
  readonly embedder?: EmbedderV1;
  /** `kmeans` (seeded k-means++) or `agglomerative` (average linkage, cosine threshold). Default `kmeans`. */
  readonly clustering?: 'kmeans' | 'agglomerative';
  /** k for k-means. Default ceil(sqrt(candidates / 2)). */
  readonly clusterCount?: number;
  /** Cosine similarity at which agglomerative clusters stop merging, in [-1, 1]. Default 0.5. */
  readonly similarityThreshold?: number;
  /** Seed of k-means++. Default 0. */
  readonly seed?: number;
  /** Share of clusters kept, by cluster document frequency, in (0, 1]; ties at the cut kept. Default 0.2. */
  readonly topClusterFraction?: number;
  /** The lexicon's `source` text. */
  readonly source?: string;
}

/** One cluster of candidate n-grams. */
export interface MinedCluster {
  /** Class id in the written lexicon (rank by score, 0 = best), or undefined when not kept. */
  readonly classId: number | undefined;
  /** Distinct documents containing any of the cluster's n-grams. */
  readonly documentFrequency: number;
  /** The n-grams, most frequent first. */
  readonly phrases: readonly string[];
}

export interface MiningResult {
  /** The lexicon to write ({@link writeLexiconFile}) or pass to a classifier. */
  readonly lexicon: LexiconV1;
  /** Every cluster, kept ones first by rank, then the others by score. */
  readonly clusters: readonly MinedCluster[];
  /** Number of documents. */
  readonly documents: number;
  /** Candidate n-grams that were embedded and clustered. */
  readonly candidates: number;
}

/** Words in normalised text: letters, numbers and marks, with inner apostrophes or hyphens. */
const WORD = /[\p{L}\p{N}\p{M}]+(?:['-][\p{L}\p{N}\p{M}]+)*/gu;
const DIGIT = /\p{N}/u;

/** The distinct word n-grams of one document (decision 0014: words joined by a space or ", "). */
export function documentNgrams(text: string, minN: number, maxN: number): Set<string> {
  const normalized = normalizeText(text).text;
  const starts: number[] = [];
  const ends: number[] = [];
  for (const m of normalized.matchAll(WORD)) {
    starts.push(m.index);
    ends.push(m.index + m[0].length);
  }
  const out = new Set<string>();
  for (let first = 0; first < starts.length; first++) {
    for (let n = 1; n <= maxN && first + n <= starts.length; n++) {
      const last = first + n - 1;
      if (n > 1) {
        const gap = normalized.slice(ends[last - 1]!, starts[last]!);
        if (gap !== ' ' && gap !== ', ') break;
      }
      if (n >= minN) out.add(normalized.slice(starts[first]!, ends[last]!));
    }
  }
  return out;
}

/**
 * Mines Strategic Grams from a corpus of successful solutions, as in the paper (HICRA.md
 * section 2): all word n-grams (n in [minN, maxN]) found in at least `minDocumentFrequency`
 * documents, minus stop-word-only (and, by default, numeric) ones, embedded by `embedder`,
 * L2-normalised, clustered; each cluster scored by its document frequency (distinct documents
 * containing any of its n-grams); the top `topClusterFraction` of clusters kept; their n-grams
 * written as a lexicon with `classId` = cluster rank and `score` = cluster document frequency /
 * documents. Deterministic for a seed (and a deterministic embedder).
 */
export async function mineStrategicGrams(
  documents: readonly string[],
  settings: MineStrategicGramsSettings = {},
): Promise<MiningResult> {
  const plugin = 'mineStrategicGrams';
  const s = checkSettings(plugin, settings, {
    minN: 'integer >= 1, default 3',
    maxN: 'integer >= minN, default 5',
    minDocumentFrequency: 'integer >= 1, default 2',
    maxCandidates: 'integer >= 1, default 5000',
    stopWords: 'iterable of words, default English',
    dropNumeric: 'boolean, default true',
    embedder: 'EmbedderV1, default the hashed n-gram embedder',
    clustering: '"kmeans" or "agglomerative", default "kmeans"',
    clusterCount: 'integer >= 1, default ceil(sqrt(candidates / 2))',
    similarityThreshold: 'number in [-1, 1], default 0.5',
    seed: 'non-negative integer, default 0',
    topClusterFraction: 'number in (0, 1], default 0.2',
    source: 'string',
  });
  const minN = numberSetting(plugin, 'minN', s.minN, 3, { integer: true, min: 1 });
  const maxN = numberSetting(plugin, 'maxN', s.maxN, 5, { integer: true, min: minN });
  const minDf = numberSetting(plugin, 'minDocumentFrequency', s.minDocumentFrequency, 2, {
    integer: true,
    min: 1,
  });
  const maxCandidates = numberSetting(plugin, 'maxCandidates', s.maxCandidates, 5000, {
    integer: true,
    min: 1,
  });
  const clustering = oneOfSetting(plugin, 'clustering', s.clustering, 'kmeans', [
    'kmeans',
    'agglomerative',
  ] as const);
  const threshold = numberSetting(plugin, 'similarityThreshold', s.similarityThreshold, 0.5, {
    min: -1,
    max: 1,
  });
  const seed = numberSetting(plugin, 'seed', s.seed, 0, { integer: true, min: 0 });
  const topFraction = numberSetting(plugin, 'topClusterFraction', s.topClusterFraction, 0.2, {
    greaterThan: 0,
    max: 1,
  });
  if (s.dropNumeric !== undefined && typeof s.dropNumeric !== 'boolean') {
    throw new ConfigError(
      'dropNumeric',
      `${plugin}: expected true or false, got ${formatValue(s.dropNumeric)}`,
      {
        source: SOURCE,
      },
    );
  }
  const dropNumeric = s.dropNumeric ?? true;
  if (s.source !== undefined && typeof s.source !== 'string') {
    throw new ConfigError(
      'source',
      `${plugin}: expected a string, got ${describeValue(s.source)}`,
      {
        source: SOURCE,
      },
    );
  }
  const stopWords = readStopWords(s.stopWords);
  const embedder = (s.embedder ?? hashedNgramEmbedder) as EmbedderV1;
  if (
    typeof embedder !== 'object' ||
    embedder === null ||
    typeof embedder.embed !== 'function' ||
    !Number.isSafeInteger(embedder.dimension) ||
    embedder.dimension < 1
  ) {
    throw new ConfigError(
      'embedder',
      `${plugin}: expected an EmbedderV1 ({ dimension, embed(texts) })`,
      {
        source: SOURCE,
      },
    );
  }

  if (!Array.isArray(documents) || documents.length === 0) {
    throw new InvalidArgumentError(
      `${plugin}: documents must be a non-empty array of solution texts, got ${describeValue(documents)}`,
      { source: SOURCE, details: { argument: 'documents' } },
    );
  }
  documents.forEach((d, i) => {
    if (typeof d !== 'string') {
      throw new InvalidArgumentError(
        `${plugin}: documents[${i}] must be a string, got ${describeValue(d)}`,
        {
          source: SOURCE,
          details: { argument: 'documents', index: i },
        },
      );
    }
  });

  // Document frequency of every n-gram, and the documents it occurs in.
  const occurrences = new Map<string, number[]>();
  documents.forEach((doc, d) => {
    for (const gram of documentNgrams(doc, minN, maxN)) {
      const list = occurrences.get(gram);
      if (list === undefined) occurrences.set(gram, [d]);
      else list.push(d);
    }
  });
  let candidates = [...occurrences.entries()]
    .filter(([gram, docs]) => {
      if (docs.length < minDf) return false;
      const words = gram.split(/,? /);
      if (words.every((w) => stopWords.has(w))) return false;
      if (dropNumeric && words.some((w) => DIGIT.test(w))) return false;
      return true;
    })
    .sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  if (candidates.length === 0) {
    throw new InvalidValueError(
      `${plugin}: no ${minN}- to ${maxN}-word n-gram occurs in at least minDocumentFrequency = ${minDf} of the ${documents.length} documents (after dropping stop-word-only${dropNumeric ? ' and numeric' : ''} n-grams); lower minDocumentFrequency or give more documents`,
      { source: SOURCE, details: { documents: documents.length, minDocumentFrequency: minDf } },
    );
  }
  candidates = candidates.slice(0, maxCandidates);
  const phrases = candidates.map(([gram]) => gram);
  const n = phrases.length;

  const dimension = embedder.dimension;
  const raw = await embedder.embed(phrases);
  if (!(raw instanceof Float32Array) || raw.length !== n * dimension) {
    throw new ShapeError(
      `${plugin}: the embedder returned ${describeValue(raw)}; expected a Float32Array of ${n}·${dimension} = ${n * dimension} (candidates · dimension)`,
      { source: SOURCE, details: { expected: n * dimension } },
    );
  }
  const vectors = new Float32Array(raw);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let d = 0; d < dimension; d++) {
      const v = vectors[i * dimension + d]!;
      if (!Number.isFinite(v)) {
        throw new InvalidValueError(
          `${plugin}: the embedding of ${JSON.stringify(phrases[i])} (row ${i}) holds ${v}; embeddings must be finite`,
          { source: SOURCE, details: { row: i } },
        );
      }
      norm += v * v;
    }
    if (norm === 0) {
      throw new InvalidValueError(
        `${plugin}: the embedding of ${JSON.stringify(phrases[i])} (row ${i}) is all zeros; cosine similarity is undefined`,
        { source: SOURCE, details: { row: i } },
      );
    }
    const scale = 1 / Math.sqrt(norm);
    for (let d = 0; d < dimension; d++) vectors[i * dimension + d]! *= scale;
  }

  const k = numberSetting(plugin, 'clusterCount', s.clusterCount, Math.ceil(Math.sqrt(n / 2)), {
    integer: true,
    min: 1,
  });
  const { labels, clusterCount } =
    clustering === 'kmeans'
      ? kMeansPlusPlus(vectors, n, dimension, k, seed)
      : agglomerativeCosine(vectors, n, dimension, threshold);

  // Cluster document frequency: distinct documents containing any member.
  const members: number[][] = Array.from({ length: clusterCount }, () => []);
  for (let i = 0; i < n; i++) members[labels[i]!]!.push(i);
  const stamp = new Int32Array(documents.length).fill(-1);
  const scores = members.map((list, c) => {
    let count = 0;
    for (const i of list) {
      for (const d of candidates[i]![1]) {
        if (stamp[d] !== c) {
          stamp[d] = c;
          count++;
        }
      }
    }
    return count;
  });
  const ranked = members
    .map((_, c) => c)
    .sort((a, b) => scores[b]! - scores[a]! || members[a]![0]! - members[b]![0]!);
  const keep = Math.ceil(topFraction * clusterCount);
  const cut = scores[ranked[keep - 1]!]!;
  const kept = ranked.filter((c) => scores[c]! >= cut);
  const keptSet = new Set(kept);

  const grams: LexiconGramV1[] = [];
  const score = (c: number) => scores[c]! / documents.length;
  kept.forEach((c, classId) => {
    for (const i of members[c]!) grams.push({ phrase: phrases[i]!, classId, score: score(c) });
  });
  const lexicon: LexiconV1 = {
    schema: LEXICON_SCHEMA,
    source:
      (s.source as string | undefined) ??
      `mined by @hicra/planning from ${documents.length} documents`,
    meta: {
      documents: documents.length,
      candidates: n,
      clusters: clusterCount,
      keptClusters: kept.length,
      minN,
      maxN,
      minDocumentFrequency: minDf,
      clustering,
      ...(clustering === 'kmeans' ? { clusterCount: k, seed } : { similarityThreshold: threshold }),
      topClusterFraction: topFraction,
      embedder: embedder === hashedNgramEmbedder ? 'hashed-ngram' : 'custom',
      embeddingDimension: dimension,
    },
    grams,
  };
  const clusters: MinedCluster[] = [
    ...kept.map((c, classId) => ({
      classId,
      documentFrequency: scores[c]!,
      phrases: members[c]!.map((i) => phrases[i]!),
    })),
    ...ranked
      .filter((c) => !keptSet.has(c))
      .map((c) => ({
        classId: undefined,
        documentFrequency: scores[c]!,
        phrases: members[c]!.map((i) => phrases[i]!),
      })),
  ];
  return { lexicon, clusters, documents: documents.length, candidates: n };
}

function readStopWords(value: unknown): ReadonlySet<string> {
  if (value === undefined) return ENGLISH_STOP_WORDS;
  if (
    typeof value === 'string' ||
    value === null ||
    typeof (value as Iterable<unknown>)[Symbol.iterator] !== 'function'
  ) {
    throw new ConfigError(
      'stopWords',
      `mineStrategicGrams: expected an iterable of words (an array or a Set), got ${describeValue(value)}`,
      {
        source: SOURCE,
      },
    );
  }
  const out = new Set<string>();
  for (const w of value as Iterable<unknown>) {
    if (typeof w !== 'string') {
      throw new ConfigError(
        'stopWords',
        `mineStrategicGrams: every stop word must be a string, got ${describeValue(w)}`,
        {
          source: SOURCE,
        },
      );
    }
    out.add(normalizeText(w).text.trim());
  }
  return out;
}

/** Options of {@link readCorpusFile}. */
export interface ReadCorpusOptions {
  /** Field holding the text in object lines. Default: `text`, else `response` (rollout records). */
  readonly field?: string;
  /**
   * Skip object lines that carry a `reward` below this, or a null reward (failed or unscorable
   * rollouts). Lines without a `reward` key are kept.
   */
  readonly minReward?: number;
}

/**
 * Reads a corpus as JSON Lines: each non-blank line is a JSON string, or an object with the
 * text in `field` (default `text`, else `response`, so rollout JSON Lines work as they are).
 * A bad line is a `CorruptFileError` naming the file and the line number.
 */
export function readCorpusFile(path: string, options: ReadCorpusOptions = {}): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CorruptFileError(
      `corpus file ${path}: cannot be read (${(error as Error).message})`,
      {
        source: SOURCE,
        details: { file: path },
        cause: error,
      },
    );
  }
  const out: string[] = [];
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    const where = `corpus file ${path}, line ${index + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new CorruptFileError(`${where}: not valid JSON (${(error as Error).message})`, {
        source: SOURCE,
        details: { file: path, line: index + 1 },
      });
    }
    if (typeof value === 'string') {
      out.push(value);
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new CorruptFileError(
        `${where}: expected a JSON string or an object with a text field, got ${describeValue(value)}`,
        {
          source: SOURCE,
          details: { file: path, line: index + 1 },
        },
      );
    }
    const record = value as Record<string, unknown>;
    const field = options.field ?? ('text' in record ? 'text' : 'response');
    if (typeof record[field] !== 'string') {
      throw new CorruptFileError(
        `${where}: field "${field}" must be a string, got ${describeValue(record[field])}`,
        {
          source: SOURCE,
          details: { file: path, line: index + 1, field },
        },
      );
    }
    if (options.minReward !== undefined && 'reward' in record) {
      const reward = record.reward;
      if (typeof reward !== 'number' || reward < options.minReward) return;
    }
    out.push(record[field] as string);
  });
  return out;
}

/** Writes a lexicon as a lexicon JSON file (decision 0011), creating the folder if needed. */
export function writeLexiconFile(path: string, lexicon: LexiconV1): void {
  const text = serializeLexicon(lexicon);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}
