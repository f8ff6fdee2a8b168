import { answerSemanticEntropySync } from '@hicra/semantic-entropy';
import type { RewardFunctionV1, RolloutSourceV1, TokenizerV1 } from '@hicra/spec';
import { type RewardErrorPolicy, sampleAndScore } from './phases/sample-and-score.js';
import type { Problem } from './problem.js';
import { passAtK } from './rollouts.js';

export interface EvaluationSettings {
  readonly source: RolloutSourceV1;
  readonly tokenizer: TokenizerV1;
  readonly reward: RewardFunctionV1;
  readonly problems: readonly Problem[];
  /** Samples per problem. */
  readonly k: number;
  /** Of the k samples; 0 is greedy. */
  readonly temperature: number;
  readonly maxNewTokens: number;
  readonly stopTokenIds: readonly number[];
  /** The sampling seed of the chunk of problems starting at `from`, for the sampled and the greedy pass. */
  readonly seed: (from: number, pass: 'sampled' | 'greedy') => number;
  /** Problems per sampling call. Default 16. */
  readonly chunk?: number;
  /** Also decode one greedy response per problem (`greedyAccuracy`). Default true. */
  readonly greedy?: boolean;
  /**
   * The final answer of a response, for answer-level semantic entropy. Default: the reward's
   * `extractAnswer`, then {@link defaultAnswerOf} where it finds none.
   */
  readonly answerOf?: (response: string) => string;
  /** Adds the tokenizer's special tokens when encoding prompts. Default true. */
  readonly addSpecialTokens?: boolean;
  readonly onRewardError?: RewardErrorPolicy;
}

export interface EvaluationResult {
  /** Mean accuracy over every sample (the paper's pass@1 when estimated from k samples). */
  readonly meanAtK: number;
  /** Unbiased pass@k. */
  readonly passAtK: number;
  /** Accuracy of one greedy response per problem (absent with `greedy: false`). */
  readonly greedyAccuracy?: number;
  readonly responseLengthMean: number;
  /**
   * Mean over problems of the discrete semantic entropy of the k samples' final answers
   * (absent when there is nothing to measure).
   */
  readonly answerSemanticEntropy: number | undefined;
  readonly k: number;
  readonly temperature: number;
  readonly problems: number;
}

/**
 * Accuracy on held-out problems, verified by the reward's `correct`: k samples each at
 * `temperature` (mean@k and the unbiased pass@k), and one greedy response each. The one
 * evaluation of the project: the RL loop's periodic evaluation and the app's `hicra eval` both
 * run it.
 */
export async function evaluateProblems(settings: EvaluationSettings): Promise<EvaluationResult> {
  const { problems, k } = settings;
  const chunk = Math.max(1, settings.chunk ?? 16);
  const answerOf =
    settings.answerOf ??
    ((response: string) => settings.reward.extractAnswer?.(response) ?? defaultAnswerOf(response));
  const common = {
    source: settings.source,
    tokenizer: settings.tokenizer,
    reward: settings.reward,
    maxNewTokens: settings.maxNewTokens,
    topK: 0,
    topP: 1,
    stopTokenIds: settings.stopTokenIds,
    addSpecialTokens: settings.addSpecialTokens ?? true,
    onRewardError: settings.onRewardError ?? 'exclude',
  };
  let correct = 0;
  let greedyCorrect = 0;
  let passSum = 0;
  let lengthSum = 0;
  let total = 0;
  const answers: string[] = [];
  const answerGroups: number[] = [];
  for (let from = 0; from < problems.length; from += chunk) {
    const part = problems.slice(from, from + chunk);
    const { batch, promptIndex, lengths, scored } = await sampleAndScore(part, {
      ...common,
      samplesPerPrompt: k,
      temperature: settings.temperature,
      seed: settings.seed(from, 'sampled'),
    });
    for (let p = 0; p < part.length; p++) {
      let c = 0;
      for (let r = 0; r < promptIndex.length; r++) {
        if (promptIndex[r] !== p) continue;
        if (scored[r]!.correct) c++;
        lengthSum += lengths[r]!;
        total++;
        answers.push(answerOf(batch.responseTexts[r]!));
        answerGroups.push(from + p);
      }
      correct += c;
      passSum += passAtK(k, c, k);
    }
    if (settings.greedy ?? true) {
      const greedy = await sampleAndScore(part, {
        ...common,
        samplesPerPrompt: 1,
        temperature: 0,
        seed: settings.seed(from, 'greedy'),
      });
      for (const response of greedy.scored) if (response.correct) greedyCorrect++;
    }
  }
  const n = problems.length;
  return {
    meanAtK: total ? correct / total : 0,
    passAtK: n ? passSum / n : 0,
    ...((settings.greedy ?? true) ? { greedyAccuracy: n ? greedyCorrect / n : 0 } : {}),
    responseLengthMean: total ? lengthSum / total : 0,
    answerSemanticEntropy: total
      ? answerSemanticEntropySync({ answers, groupIds: answerGroups }).meanDiscrete
      : undefined,
    k,
    temperature: settings.temperature,
    problems: n,
  };
}

/** The text after the last `Answer:`, else the last non-empty line (trimmed). */
export function defaultAnswerOf(response: string): string {
  const at = response.lastIndexOf('Answer:');
  if (at >= 0)
    return response
      .slice(at + 'Answer:'.length)
      .split('\n')[0]!
      .trim();
  const lines = response
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  return lines.at(-1) ?? '';
}
