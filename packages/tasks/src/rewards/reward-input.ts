import {
  InvalidArgumentError,
  MissingInputError,
  type RewardInputV1,
  type SettingsInputV1,
} from '@hicra/spec';
import { describe, SOURCE } from '../settings.js';

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

/**
 * What a correctness reward gives, and what it does with a response without a final answer:
 * `correctReward` (default 1), `incorrectReward` (default 0), and `missingAnswer`. A response
 * with no usable final answer (none, empty, unbalanced braces, too long, a truncated response)
 * is `incorrect` (default, scored `incorrectReward` as verl and the paper do, with the reason in
 * `missingAnswer` of the result so trainers can count it) or `unscorable` (reported with the
 * reason and dropped from the update and the group baseline, decision 0005). A verifier timeout
 * is always unscorable. Decision 0070.
 */
export const correctnessSettingFields = {
  correctReward: {
    type: 'number',
    default: 1,
    description: 'reward of a verified-correct response',
  },
  incorrectReward: {
    type: 'number',
    default: 0,
    description: 'reward of a verified-incorrect response',
  },
  missingAnswer: {
    type: 'string',
    oneOf: ['incorrect', 'unscorable'],
    default: 'incorrect',
    description: 'a response without a usable final answer: scored incorrect, or unscorable',
  },
} as const;
export type CorrectnessRewardSettings = SettingsInputV1<typeof correctnessSettingFields>;
