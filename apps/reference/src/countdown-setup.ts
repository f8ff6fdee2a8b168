import { createPlanningClassifier, strategicGrams } from '@hicra/planning';
import { WordTokenizer } from '@hicra/policy';
import type { PlanningClassifierV1, RewardFunctionV1 } from '@hicra/spec';
import {
  type CountdownLevelSettings,
  type CountdownProblem,
  countdownVocabulary,
  createCountdownTask,
  createReward,
} from '@hicra/tasks';
import type { Problem } from '@hicra/trainer';

/**
 * Level 0 of the reference app: Countdown with three numbers from 1 to 9 and values up to 30,
 * small enough that a transformer of 0.1M parameters learns the arithmetic in minutes on a CPU,
 * so that the demo's base policy solves some problems and RL has a signal to work with.
 */
export const WARM_UP_LEVEL: CountdownLevelSettings = {
  numberCount: 3,
  minNumber: 1,
  maxNumber: 9,
  solutionSteps: 2,
  maxValue: 30,
  minTarget: 5,
};

/** A Countdown level: 0 (the app's warm-up level) or the task's built-in levels 1-4. */
export type AppLevel = 0 | 1 | 2 | 3 | 4;

/** The built-in task of the reference app: Countdown at a difficulty level. */
export function countdownSetup(level: AppLevel = 0) {
  const task = createCountdownTask({ level: level === 0 ? WARM_UP_LEVEL : level });
  const maxValue = task.settings.levelSettings.maxValue;
  // Every word a prompt or a trace can contain, one token each; line breaks are tokens because
  // a derivation has one step per line and the verifier reads that layout.
  const tokenizer = WordTokenizer.fromCorpus([countdownVocabulary(maxValue).join(' ')], {
    lowercase: false,
    newlines: true,
    onUnknown: 'unk',
  });
  const toProblem = (problem: CountdownProblem, i: number): Problem => ({
    id: `countdown-${level}-${i}`,
    prompt: task.prompt(problem),
    reference: problem,
  });
  return {
    task,
    tokenizer,
    maxValue,
    /** Up to `count` distinct problems of a split (fewer when a small level runs out). */
    problems(split: 'train' | 'test', seed: number, count: number): Problem[] {
      return distinctProblems(task, split, seed, count).map(toProblem);
    },
    /** Up to `count` distinct Countdown problems of a split, as the task generates them. */
    countdownProblems(split: 'train' | 'test', seed: number, count: number): CountdownProblem[] {
      return distinctProblems(task, split, seed, count);
    },
  };
}

/** The training reward: the whole derivation verified (unscorable without an answer). */
export function countdownReward(): RewardFunctionV1 {
  return createReward({ name: 'countdown-correctness' });
}

/** The planning classifier of a strategy: the paper's Strategic Grams, or the placebo. */
export function planningClassifier(
  kind: 'strategic-grams' | 'placebo',
  seed: number,
): PlanningClassifierV1 {
  if (kind === 'strategic-grams') return strategicGrams;
  return createPlanningClassifier({ name: 'placebo-ngrams', seed });
}

/** The Countdown level a checkpoint was pretrained on (its `task` metadata), 0 when unknown. */
export function levelOfCheckpoint(metadata: Readonly<Record<string, string>>): AppLevel {
  const match = /^countdown-level-([0-4])$/.exec(metadata.task ?? '');
  return match ? (Number(match[1]) as AppLevel) : 0;
}

function distinctProblems(
  task: ReturnType<typeof createCountdownTask>,
  split: 'train' | 'test',
  seed: number,
  count: number,
): CountdownProblem[] {
  const out: CountdownProblem[] = [];
  const stream = task.problems({ split, seed });
  try {
    for (const problem of stream) {
      out.push(problem);
      if (out.length >= count) break;
    }
  } catch (error) {
    // A small level's split runs out of new problems: use what it has.
    if (out.length === 0) throw error;
  }
  return out;
}
