import { InvalidArgumentError, MissingInputError, type RewardInputV1 } from '@hicra/spec';
import { describe, readChoice, readNumber, SOURCE } from '../settings.js';

/** Checks the parts of a reward input every reward function reads. */
export function checkRewardInput(input: RewardInputV1, rewardName: string): void {
  if (typeof input !== 'object' || input === null) {
    throw new InvalidArgumentError(
      `reward ${rewardName}: input must be a RewardInputV1 object, got ${describe(input)}`,
      {
        source: SOURCE,
        details: { argument: 'input', reward: rewardName },
      },
    );
  }
  if (typeof input.response !== 'string') {
    throw new InvalidArgumentError(
      `reward ${rewardName}: input.response must be a string, got ${describe(input.response)}`,
      { source: SOURCE, details: { argument: 'input.response', reward: rewardName } },
    );
  }
}

export function requireReference(
  input: RewardInputV1,
  rewardName: string,
  expected: string,
): unknown {
  if (input.reference === undefined || input.reference === null) {
    throw new MissingInputError(
      `reward ${rewardName}: input.reference is required (${expected}); the prompt alone cannot be verified`,
      { source: SOURCE, details: { argument: 'input.reference', reward: rewardName } },
    );
  }
  return input.reference;
}

/** What a correctness reward gives, and what it does with a response without a final answer. */
export interface CorrectnessRewardSettings {
  /** Reward of a verified-correct response. Default 1. */
  readonly correctReward?: number;
  /** Reward of a verified-incorrect response. Default 0. */
  readonly incorrectReward?: number;
  /**
   * A response with no usable final answer (none, empty, unbalanced braces, too long, a
   * truncated response): `incorrect` (default, scored `incorrectReward` as verl and the paper
   * do, with the reason in `missingAnswer` of the result so trainers can count it) or
   * `unscorable` (reported with the reason and dropped from the update and the group baseline,
   * decision 0005). A verifier timeout is always unscorable. Decision 0070.
   */
  readonly missingAnswer?: 'unscorable' | 'incorrect';
}

export function readCorrectnessSettings(
  raw: CorrectnessRewardSettings,
  where: string,
): Required<CorrectnessRewardSettings> {
  return {
    correctReward: readNumber(raw.correctReward, `${where}.correctReward`, 1),
    incorrectReward: readNumber(raw.incorrectReward, `${where}.incorrectReward`, 0),
    missingAnswer: readChoice(
      raw.missingAnswer,
      `${where}.missingAnswer`,
      ['unscorable', 'incorrect'],
      'incorrect',
    ),
  };
}
