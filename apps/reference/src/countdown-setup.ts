import { createPlanningClassifier, strategicGrams } from '@hicra/planning';
import { WordTokenizer } from '@hicra/policy';
import type { PlanningClassifierV1, RewardFunctionV1 } from '@hicra/spec';
import {
  type CountdownProblem,
  countdownVocabulary,
  createCountdownTask,
  createReward,
} from '@hicra/tasks';
import type { Problem } from '@hicra/trainer';

/** The built-in task of the reference app: Countdown at a difficulty level. */
export function countdownSetup(level: 1 | 2 | 3 | 4 = 1) {
  const task = createCountdownTask({ level });
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
    problems(split: 'train' | 'test', seed: number, count: number): Problem[] {
      return task.generate({ split, seed, count }).map(toProblem);
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
