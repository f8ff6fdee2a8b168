import {
  describeValue,
  type EmbedderV1,
  InvalidArgumentError,
  InvalidValueError,
  ShapeError,
} from '@hicra/spec';
import { SOURCE } from './check.js';
import type { AnswerComparator, EquivalenceJudge } from './cluster-answers.js';

/**
 * The default answer normalisation of the exact-match judge: Unicode NFKC, lower-case,
 * whitespace runs collapsed to one space, trimmed. (`' The  ANSWER '` -> `'the answer'`.)
 * For math answers, plug a judge built on the task's own answer equivalence instead.
 */
export function normalizeAnswer(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\s+/gu, ' ').trim();
}

export interface ExactMatchJudgeSettings {
  /** Maps an answer to the string that is compared; default {@link normalizeAnswer}. */
  readonly normalize?: (answer: string) => string;
}

/** Answers are equivalent iff their normalised forms are equal (a transitive judge). */
export function createExactMatchJudge(settings: ExactMatchJudgeSettings = {}): EquivalenceJudge {
  const where = 'createExactMatchJudge';
  if (typeof settings !== 'object' || settings === null) {
    throw new InvalidArgumentError(
      `${where}: settings must be an object, got ${describeValue(settings)}`,
      {
        source: SOURCE,
        details: { argument: 'settings' },
      },
    );
  }
  const normalize = settings.normalize ?? normalizeAnswer;
  if (typeof normalize !== 'function') {
    throw new InvalidArgumentError(
      `${where}: normalize must be a function, got ${describeValue(normalize)}`,
      {
        source: SOURCE,
        details: { argument: 'normalize' },
      },
    );
  }
  return {
    name: 'exact-match',
    bind(answers) {
      const keys = answers.map((answer, i) => {
        const key = normalize(answer);
        if (typeof key !== 'string') {
          throw new InvalidValueError(
            `exact-match judge: normalize(answers[${i}]) returned ${describeValue(key)}; expected a string`,
            { source: SOURCE, details: { index: i } },
          );
        }
        return key;
      });
      return (representative, candidate) => keys[representative] === keys[candidate];
    },
  };
}

/** The exact-match judge with the default normalisation. */
export const exactMatchJudge: EquivalenceJudge = createExactMatchJudge();

/** Default cosine-similarity threshold of {@link createCosineJudge}. */
export const DEFAULT_COSINE_THRESHOLD = 0.9;

export interface CosineJudgeSettings {
  /** Any `EmbedderV1` (sync or async). */
  readonly embedder: EmbedderV1;
  /** Answers with cosine similarity at or above this are equivalent; in [-1, 1], default 0.9. */
  readonly threshold?: number;
}

/**
 * Answers are equivalent iff the cosine similarity of their embeddings is at least
 * `threshold`. Each prompt's answers are embedded once, in one `embed` call, at `bind`.
 * There is no default instance: it needs your embedder.
 */
export function createCosineJudge(settings: CosineJudgeSettings): EquivalenceJudge {
  const where = 'createCosineJudge';
  if (typeof settings !== 'object' || settings === null) {
    throw new InvalidArgumentError(
      `${where}: settings must be an object with an embedder, got ${describeValue(settings)}`,
      {
        source: SOURCE,
        details: { argument: 'settings' },
      },
    );
  }
  const { embedder, threshold = DEFAULT_COSINE_THRESHOLD } = settings;
  if (
    typeof embedder !== 'object' ||
    embedder === null ||
    typeof embedder.embed !== 'function' ||
    !Number.isSafeInteger(embedder.dimension) ||
    embedder.dimension < 1
  ) {
    throw new InvalidArgumentError(
      `${where}: embedder must be an EmbedderV1 (a positive integer dimension and an embed function), got ${describeValue(embedder)}`,
      { source: SOURCE, details: { argument: 'embedder' } },
    );
  }
  if (typeof threshold !== 'number' || !(threshold >= -1 && threshold <= 1)) {
    throw new InvalidValueError(
      `${where}: threshold must be in [-1, 1], got ${String(threshold)}`,
      {
        source: SOURCE,
        details: { argument: 'threshold' },
      },
    );
  }
  const dimension = embedder.dimension;
  const comparator = (answers: readonly string[], vectors: unknown): AnswerComparator => {
    const n = answers.length;
    if (!(vectors instanceof Float32Array)) {
      throw new InvalidValueError(
        `cosine judge: embedder.embed returned ${describeValue(vectors)}; expected a Float32Array`,
        { source: SOURCE, details: { argument: 'embeddings' } },
      );
    }
    if (vectors.length !== n * dimension) {
      throw new ShapeError(
        `cosine judge: embeddings have length ${vectors.length}, expected ${n * dimension} (${n} answers x dimension ${dimension})`,
        {
          source: SOURCE,
          details: { argument: 'embeddings', expected: n * dimension, actual: vectors.length },
        },
      );
    }
    const unit = new Float64Array(n * dimension);
    for (let i = 0; i < n; i++) {
      let norm = 0;
      for (let d = 0; d < dimension; d++) {
        const v = vectors[i * dimension + d]!;
        if (!Number.isFinite(v)) {
          throw new InvalidValueError(
            `cosine judge: embedding of answers[${i}] has ${v} at dimension ${d}; embeddings must be finite`,
            { source: SOURCE, details: { argument: 'embeddings', index: i, dimension: d } },
          );
        }
        norm += v * v;
      }
      if (norm === 0) {
        throw new InvalidValueError(
          `cosine judge: embedding of answers[${i}] is the zero vector; cosine similarity is undefined`,
          { source: SOURCE, details: { argument: 'embeddings', index: i } },
        );
      }
      const scale = 1 / Math.sqrt(norm);
      for (let d = 0; d < dimension; d++)
        unit[i * dimension + d] = vectors[i * dimension + d]! * scale;
    }
    return (representative, candidate) => {
      let dot = 0;
      const a = representative * dimension;
      const b = candidate * dimension;
      for (let d = 0; d < dimension; d++) dot += unit[a + d]! * unit[b + d]!;
      return dot >= threshold;
    };
  };
  return {
    name: 'cosine',
    bind(answers) {
      const vectors = embedder.embed(answers);
      return typeof (vectors as { then?: unknown } | null)?.then === 'function'
        ? Promise.resolve(vectors).then((v) => comparator(answers, v))
        : comparator(answers, vectors);
    },
  };
}

export interface PairwiseJudgeSettings {
  /** Kebab-case name for messages (`nli-entailment`). */
  readonly name: string;
  /**
   * Are the two answers equivalent? Called with (representative, candidate). For
   * bidirectional entailment (Farquhar et al.), test entailment both ways here.
   */
  readonly equivalent: (representative: string, candidate: string) => boolean | Promise<boolean>;
}

/** A judge from a plain pairwise function over answer texts (sync or async). */
export function createPairwiseJudge(settings: PairwiseJudgeSettings): EquivalenceJudge {
  const where = 'createPairwiseJudge';
  if (typeof settings !== 'object' || settings === null) {
    throw new InvalidArgumentError(
      `${where}: settings must be an object, got ${describeValue(settings)}`,
      {
        source: SOURCE,
        details: { argument: 'settings' },
      },
    );
  }
  const { name, equivalent } = settings;
  if (typeof name !== 'string' || name === '') {
    throw new InvalidArgumentError(
      `${where}: name must be a non-empty string, got ${describeValue(name)}`,
      {
        source: SOURCE,
        details: { argument: 'name' },
      },
    );
  }
  if (typeof equivalent !== 'function') {
    throw new InvalidArgumentError(
      `${where}: equivalent must be a function, got ${describeValue(equivalent)}`,
      {
        source: SOURCE,
        details: { argument: 'equivalent' },
      },
    );
  }
  return {
    name,
    bind: (answers) => (representative, candidate) =>
      equivalent(answers[representative]!, answers[candidate]!),
  };
}
