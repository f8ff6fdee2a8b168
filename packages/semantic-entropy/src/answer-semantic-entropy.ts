import {
  describeValue,
  EVAL_METRIC_KEYS,
  InvalidArgumentError,
  InvalidValueError,
  ShapeError,
} from '@hicra/spec';
import { SOURCE } from './check.js';
import {
  type AnswerClusters,
  clusterAnswers,
  clusterAnswersSync,
  type EquivalenceJudge,
} from './cluster-answers.js';
import {
  type EntropyOptions,
  entropyOfValidCounts,
  type LogBase,
  logBaseDivisor,
} from './entropy-from-counts.js';
import { exactMatchJudge } from './equivalence-judges.js';

/**
 * Discrete answer-level semantic entropy (Kuhn et al. 2023; Farquhar et al. 2024): the entropy
 * of the class sizes, `p(C) = |C| / M` for M answers. 0 for one class, `ln M` when every
 * answer is its own class, 0 for no answers.
 */
export function discreteAnswerEntropy(
  clusters: AnswerClusters,
  options: EntropyOptions = {},
): number {
  const divisor = logBaseDivisor(options.base, 'discreteAnswerEntropy');
  checkClusters(clusters, 'discreteAnswerEntropy');
  return entropyOfValidCounts(clusters.sizes, divisor);
}

/**
 * Likelihood-weighted answer-level semantic entropy: `p(C) ∝ Σ_{i∈C} exp(ℓ_i)` from the
 * sequence log-probs ℓ (natural log; raw or length-normalised, as the caller chooses), then
 * `-Σ_C p(C) ln p(C)`. Computed stably: every ℓ is shifted by the maximum before `exp`
 * (log-sum-exp), so log-probs of -5000 are as good as -5. Log-probs must be finite and <= 0.
 */
export function likelihoodWeightedAnswerEntropy(
  clusters: AnswerClusters,
  sequenceLogProbs: Float32Array | Float64Array | readonly number[],
  options: EntropyOptions = {},
): number {
  const where = 'likelihoodWeightedAnswerEntropy';
  const divisor = logBaseDivisor(options.base, where);
  checkClusters(clusters, where);
  const n = clusters.assignments.length;
  checkSequenceLogProbs(sequenceLogProbs, n, where);
  if (n === 0 || clusters.sizes.length <= 1) return 0;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) if (sequenceLogProbs[i]! > max) max = sequenceLogProbs[i]!;
  const mass = new Float64Array(clusters.sizes.length);
  for (let i = 0; i < n; i++)
    mass[clusters.assignments[i]!]! += Math.exp(sequenceLogProbs[i]! - max);
  let total = 0;
  for (const m of mass) total += m;
  const logTotal = Math.log(total);
  let h = 0;
  for (const m of mass) {
    if (m > 0) h -= (m / total) * (Math.log(m) - logTotal);
  }
  return h > 0 ? h / divisor : 0;
}

/** Answers of a batch, grouped by prompt. */
export interface AnswerSemanticEntropyInput {
  /** `[n]`: the answers (extracted final answers, or whole responses). */
  readonly answers: readonly string[];
  /** `[n]`: prompt (group) of each answer; answers of one prompt share an id. */
  readonly groupIds: Int32Array | readonly number[];
  /** `[n]`: sequence log-prob of each answer, for the likelihood-weighted estimator. */
  readonly sequenceLogProbs?: Float32Array | Float64Array | readonly number[];
}

export interface AnswerSemanticEntropySettings extends EntropyOptions {
  /** The equivalence judge; default {@link exactMatchJudge}. */
  readonly judge?: EquivalenceJudge;
}

/** Answer-level semantic entropy of one prompt. */
export interface AnswerGroupEntropy {
  readonly groupId: number;
  /** Indices of the group's answers in the input, in input order. */
  readonly indices: Int32Array;
  /** Classes of those answers (indices local to the group). */
  readonly clusters: AnswerClusters;
  /** Discrete estimator. */
  readonly discrete: number;
  /** Likelihood-weighted estimator; present when `sequenceLogProbs` was given. */
  readonly likelihoodWeighted?: number;
}

export interface AnswerSemanticEntropyResult {
  /** Per prompt, in order of first appearance. */
  readonly groups: readonly AnswerGroupEntropy[];
  /** Mean discrete estimator over prompts; undefined for an empty batch. */
  readonly meanDiscrete?: number;
  /** Mean likelihood-weighted estimator over prompts; undefined for an empty batch or without log-probs. */
  readonly meanLikelihoodWeighted?: number;
  /** Judge comparisons made over all prompts. */
  readonly judgeCalls: number;
}

interface Prepared {
  readonly groups: { groupId: number; indices: number[] }[];
  readonly answers: readonly string[];
  readonly logProbs: Float32Array | Float64Array | readonly number[] | undefined;
  readonly judge: EquivalenceJudge;
  readonly base: LogBase;
  readonly divisor: number;
}

function prepare(
  input: AnswerSemanticEntropyInput,
  settings: AnswerSemanticEntropySettings,
  where: string,
): Prepared {
  if (typeof input !== 'object' || input === null) {
    throw new InvalidArgumentError(
      `${where}: input must be an object, got ${describeValue(input)}`,
      {
        source: SOURCE,
        details: { argument: 'input' },
      },
    );
  }
  const divisor = logBaseDivisor(settings.base, where);
  const { answers, groupIds, sequenceLogProbs } = input;
  if (!Array.isArray(answers)) {
    throw new InvalidArgumentError(
      `${where}: answers must be an array of strings, got ${describeValue(answers)}`,
      {
        source: SOURCE,
        details: { argument: 'answers' },
      },
    );
  }
  const n = answers.length;
  if (!(groupIds instanceof Int32Array) && !Array.isArray(groupIds)) {
    throw new InvalidArgumentError(
      `${where}: groupIds must be an Int32Array or an array of integers, got ${describeValue(groupIds)}`,
      {
        source: SOURCE,
        details: { argument: 'groupIds' },
      },
    );
  }
  if (groupIds.length !== n) {
    throw new ShapeError(
      `${where}: groupIds has length ${groupIds.length}, expected ${n} (one per answer)`,
      {
        source: SOURCE,
        details: { argument: 'groupIds', expected: n, actual: groupIds.length },
      },
    );
  }
  if (sequenceLogProbs !== undefined) checkSequenceLogProbs(sequenceLogProbs, n, where);
  const byId = new Map<number, { groupId: number; indices: number[] }>();
  for (let i = 0; i < n; i++) {
    if (typeof answers[i] !== 'string') {
      throw new InvalidArgumentError(
        `${where}: answers[${i}] must be a string, got ${describeValue(answers[i])}`,
        {
          source: SOURCE,
          details: { argument: 'answers', index: i },
        },
      );
    }
    const id = groupIds[i]!;
    if (!Number.isSafeInteger(id)) {
      throw new InvalidValueError(
        `${where}: groupIds[${i}] must be an integer, got ${String(id)}`,
        {
          source: SOURCE,
          details: { argument: 'groupIds', index: i },
        },
      );
    }
    let group = byId.get(id);
    if (!group) {
      group = { groupId: id, indices: [] };
      byId.set(id, group);
    }
    group.indices.push(i);
  }
  const judge = settings.judge ?? exactMatchJudge;
  return {
    groups: [...byId.values()],
    answers,
    logProbs: sequenceLogProbs,
    judge,
    base: settings.base ?? 'e',
    divisor,
  };
}

function finish(prepared: Prepared, clustered: AnswerClusters[]): AnswerSemanticEntropyResult {
  const { groups, logProbs, base, divisor } = prepared;
  let judgeCalls = 0;
  let sumDiscrete = 0;
  let sumWeighted = 0;
  const out = groups.map((group, g): AnswerGroupEntropy => {
    const clusters = clustered[g]!;
    judgeCalls += clusters.judgeCalls;
    const discrete = entropyOfValidCounts(clusters.sizes, divisor);
    sumDiscrete += discrete;
    const indices = Int32Array.from(group.indices);
    if (logProbs === undefined) return { groupId: group.groupId, indices, clusters, discrete };
    const local = Float64Array.from(group.indices, (i) => logProbs[i]!);
    const likelihoodWeighted = likelihoodWeightedAnswerEntropy(clusters, local, { base });
    sumWeighted += likelihoodWeighted;
    return { groupId: group.groupId, indices, clusters, discrete, likelihoodWeighted };
  });
  const count = groups.length;
  return {
    groups: out,
    ...(count > 0 ? { meanDiscrete: sumDiscrete / count } : {}),
    ...(count > 0 && logProbs !== undefined ? { meanLikelihoodWeighted: sumWeighted / count } : {}),
    judgeCalls,
  };
}

/**
 * Answer-level semantic entropy per prompt and its mean over prompts: the answers of each
 * prompt are clustered by the judge (greedy, representatives only), then the discrete
 * estimator (and the likelihood-weighted one, with `sequenceLogProbs`) is taken per prompt.
 * An empty batch gives no groups and no means. Prompts are processed one after another.
 *
 * This is Kuhn et al.'s uncertainty over answers, logged as `answer/semantic_entropy`; the
 * paper's diversity of planning phrases is `strategySemanticEntropy`.
 */
export async function answerSemanticEntropy(
  input: AnswerSemanticEntropyInput,
  settings: AnswerSemanticEntropySettings = {},
): Promise<AnswerSemanticEntropyResult> {
  const prepared = prepare(input, settings, 'answerSemanticEntropy');
  const clustered: AnswerClusters[] = [];
  for (const group of prepared.groups) {
    clustered.push(
      await clusterAnswers(
        group.indices.map((i) => prepared.answers[i]!),
        prepared.judge,
      ),
    );
  }
  return finish(prepared, clustered);
}

/** {@link answerSemanticEntropy} for synchronous judges (the built-in exact-match judge, a cosine judge over a synchronous embedder). */
export function answerSemanticEntropySync(
  input: AnswerSemanticEntropyInput,
  settings: AnswerSemanticEntropySettings = {},
): AnswerSemanticEntropyResult {
  const prepared = prepare(input, settings, 'answerSemanticEntropySync');
  const clustered = prepared.groups.map((group) =>
    clusterAnswersSync(
      group.indices.map((i) => prepared.answers[i]!),
      prepared.judge,
    ),
  );
  return finish(prepared, clustered);
}

/** Which estimator goes into the `answer/semantic_entropy` metric. */
export type AnswerEntropyEstimator = 'discrete' | 'likelihood-weighted';

/**
 * The evaluation record entry `answer/semantic_entropy` (mean over prompts, discrete estimator
 * by default); `{}` when the mean is undefined (empty batch, or no log-probs for the
 * likelihood-weighted estimator).
 */
export function answerSemanticEntropyMetrics(
  result: AnswerSemanticEntropyResult,
  options: { readonly estimator?: AnswerEntropyEstimator } = {},
): Record<string, number> {
  const estimator = options.estimator ?? 'discrete';
  if (estimator !== 'discrete' && estimator !== 'likelihood-weighted') {
    throw new InvalidArgumentError(
      `answerSemanticEntropyMetrics: estimator must be "discrete" or "likelihood-weighted", got ${JSON.stringify(estimator)}`,
      { source: SOURCE, details: { argument: 'estimator' } },
    );
  }
  const mean = estimator === 'discrete' ? result.meanDiscrete : result.meanLikelihoodWeighted;
  return mean === undefined ? {} : { [EVAL_METRIC_KEYS.answerSemanticEntropy]: mean };
}

function checkSequenceLogProbs(
  values: unknown,
  n: number,
  where: string,
): asserts values is ArrayLike<number> {
  if (
    !(values instanceof Float32Array) &&
    !(values instanceof Float64Array) &&
    !Array.isArray(values)
  ) {
    throw new InvalidArgumentError(
      `${where}: sequenceLogProbs must be a Float32Array, Float64Array or array of numbers, got ${describeValue(values)}`,
      { source: SOURCE, details: { argument: 'sequenceLogProbs' } },
    );
  }
  if (values.length !== n) {
    throw new ShapeError(
      `${where}: sequenceLogProbs has length ${values.length}, expected ${n} (one per answer)`,
      {
        source: SOURCE,
        details: { argument: 'sequenceLogProbs', expected: n, actual: values.length },
      },
    );
  }
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !(v <= 0 && v > Number.NEGATIVE_INFINITY)) {
      throw new InvalidValueError(
        `${where}: sequenceLogProbs[${i}] = ${String(v)}; sequence log-probs must be finite and <= 0`,
        { source: SOURCE, details: { argument: 'sequenceLogProbs', index: i } },
      );
    }
  }
}

function checkClusters(clusters: unknown, where: string): asserts clusters is AnswerClusters {
  const c = clusters as AnswerClusters;
  if (
    typeof c !== 'object' ||
    c === null ||
    !(c.assignments instanceof Int32Array) ||
    !(c.sizes instanceof Int32Array)
  ) {
    throw new InvalidArgumentError(
      `${where}: clusters must be AnswerClusters (from clusterAnswers), got ${describeValue(clusters)}`,
      {
        source: SOURCE,
        details: { argument: 'clusters' },
      },
    );
  }
  let total = 0;
  for (let k = 0; k < c.sizes.length; k++) {
    if (c.sizes[k]! < 0) {
      throw new InvalidValueError(
        `${where}: clusters.sizes[${k}] = ${c.sizes[k]}; sizes must be >= 0`,
        {
          source: SOURCE,
          details: { argument: 'clusters.sizes', index: k },
        },
      );
    }
    total += c.sizes[k]!;
  }
  if (total !== c.assignments.length) {
    throw new ShapeError(
      `${where}: clusters.sizes sum to ${total}, expected ${c.assignments.length} (one per assignment)`,
      {
        source: SOURCE,
        details: { argument: 'clusters', expected: c.assignments.length, actual: total },
      },
    );
  }
  for (let i = 0; i < c.assignments.length; i++) {
    const a = c.assignments[i]!;
    if (a < 0 || a >= c.sizes.length) {
      throw new InvalidValueError(
        `${where}: clusters.assignments[${i}] = ${a}; expected a class index in [0, ${c.sizes.length})`,
        {
          source: SOURCE,
          details: { argument: 'clusters.assignments', index: i },
        },
      );
    }
  }
}
