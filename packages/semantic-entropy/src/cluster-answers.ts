import { describeValue, InvalidArgumentError, InvalidValueError } from '@hicra/spec';
import { SOURCE } from './check.js';

/**
 * A judge bound to one prompt's answers: is `candidate` equivalent in meaning to the class
 * whose representative is `representative`? Indices are into the answers given to `bind`.
 * Returns a boolean, or a promise of one (an NLI model behind an API, say).
 */
export type AnswerComparator = (
  representative: number,
  candidate: number,
) => boolean | Promise<boolean>;

/**
 * Decides semantic equivalence of answers, for answer-level semantic entropy (Kuhn et al.
 * 2023; Farquhar et al. 2024, who use bidirectional entailment). `bind` receives one prompt's
 * answers once (an embedding judge embeds them there) and returns the comparator that
 * clustering calls; it may be asynchronous.
 */
export interface EquivalenceJudge {
  /** Kebab-case name, for messages and reports (`exact-match`, `cosine`). */
  readonly name: string;
  bind(answers: readonly string[]): AnswerComparator | Promise<AnswerComparator>;
}

/** Equivalence classes of one prompt's answers. */
export interface AnswerClusters {
  /** `[n]`: class index of each answer, classes numbered in order of first appearance. */
  readonly assignments: Int32Array;
  /** `[k]`: index of each class's representative (its first answer). */
  readonly representatives: Int32Array;
  /** `[k]`: answers per class. */
  readonly sizes: Int32Array;
  /** Comparator calls made: at most n·k, and at most n(n-1)/2. */
  readonly judgeCalls: number;
}

type Step = boolean | Promise<boolean>;

/**
 * Greedy clustering: each answer, in order, is compared with the representative of each
 * existing class in order of creation and joins the first that the judge calls equivalent;
 * otherwise it founds a new class. Only representatives are compared, so the judge runs
 * O(n·k) times for n answers in k classes (not O(n²)). For a transitive judge (exact match)
 * the partition does not depend on the order of the answers.
 */
function* greedyClusters(
  n: number,
  compare: AnswerComparator,
  judge: string,
): Generator<Step, AnswerClusters, boolean> {
  const assignments = new Int32Array(n);
  const representatives: number[] = [];
  const sizes: number[] = [];
  let judgeCalls = 0;
  for (let i = 0; i < n; i++) {
    let joined = -1;
    for (let c = 0; c < representatives.length; c++) {
      const representative = representatives[c]!;
      judgeCalls++;
      const verdict = yield compare(representative, i);
      if (typeof verdict !== 'boolean') {
        throw new InvalidValueError(
          `clusterAnswers: judge "${judge}" returned ${describeValue(verdict)} for answers ${representative} and ${i}; expected true or false`,
          { source: SOURCE, details: { judge, representative, candidate: i } },
        );
      }
      if (verdict) {
        joined = c;
        break;
      }
    }
    if (joined < 0) {
      joined = representatives.length;
      representatives.push(i);
      sizes.push(0);
    }
    assignments[i] = joined;
    sizes[joined]!++;
  }
  return {
    assignments,
    representatives: Int32Array.from(representatives),
    sizes: Int32Array.from(sizes),
    judgeCalls,
  };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function checkInputs(
  answers: unknown,
  judge: unknown,
  where: string,
): asserts judge is EquivalenceJudge {
  if (!Array.isArray(answers)) {
    throw new InvalidArgumentError(
      `${where}: answers must be an array of strings, got ${describeValue(answers)}`,
      {
        source: SOURCE,
        details: { argument: 'answers' },
      },
    );
  }
  for (let i = 0; i < answers.length; i++) {
    if (typeof answers[i] !== 'string') {
      throw new InvalidArgumentError(
        `${where}: answers[${i}] must be a string, got ${describeValue(answers[i])}`,
        {
          source: SOURCE,
          details: { argument: 'answers', index: i },
        },
      );
    }
  }
  if (
    typeof judge !== 'object' ||
    judge === null ||
    typeof (judge as EquivalenceJudge).bind !== 'function'
  ) {
    throw new InvalidArgumentError(
      `${where}: judge must be an EquivalenceJudge (an object with name and bind), got ${describeValue(judge)}`,
      { source: SOURCE, details: { argument: 'judge' } },
    );
  }
}

function checkComparator(
  compare: unknown,
  judge: EquivalenceJudge,
  where: string,
): asserts compare is AnswerComparator {
  if (typeof compare !== 'function') {
    throw new InvalidValueError(
      `${where}: judge "${judge.name}".bind returned ${describeValue(compare)}; expected a comparator function`,
      { source: SOURCE, details: { judge: judge.name } },
    );
  }
}

/** {@link clusterAnswers} for synchronous judges; an asynchronous one is an `InvalidArgumentError`. */
export function clusterAnswersSync(
  answers: readonly string[],
  judge: EquivalenceJudge,
): AnswerClusters {
  const where = 'clusterAnswersSync';
  checkInputs(answers, judge, where);
  const asyncError = () =>
    new InvalidArgumentError(
      `${where}: judge "${judge.name}" is asynchronous (it returned a promise); use clusterAnswers`,
      { source: SOURCE, details: { judge: judge.name } },
    );
  const compare = judge.bind(answers);
  if (isThenable(compare)) {
    // The promise is dropped; keep an eventual rejection from going unhandled.
    Promise.resolve(compare).catch(() => {});
    throw asyncError();
  }
  checkComparator(compare, judge, where);
  const steps = greedyClusters(answers.length, compare, judge.name);
  let step = steps.next();
  while (!step.done) {
    if (isThenable(step.value)) {
      Promise.resolve(step.value).catch(() => {});
      throw asyncError();
    }
    step = steps.next(step.value);
  }
  return step.value;
}

/**
 * Greedy equivalence clustering of one prompt's answers (see `greedyClusters` above): each
 * answer is compared only with class representatives, so the judge runs O(n·k) times.
 * Works with synchronous and asynchronous judges; comparisons run one at a time, in order.
 */
export async function clusterAnswers(
  answers: readonly string[],
  judge: EquivalenceJudge,
): Promise<AnswerClusters> {
  const where = 'clusterAnswers';
  checkInputs(answers, judge, where);
  const compare = await judge.bind(answers);
  checkComparator(compare, judge, where);
  const steps = greedyClusters(answers.length, compare, judge.name);
  let step = steps.next();
  while (!step.done) step = steps.next(await step.value);
  return step.value;
}
