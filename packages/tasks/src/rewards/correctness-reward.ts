import {
  InvalidArgumentError,
  type RewardFunctionV1,
  type RewardInputV1,
  type RewardResultV1,
} from '@hicra/spec';
import type { CountdownReference } from '../countdown/countdown-problem.js';
import {
  type CountdownVerifierSettings,
  createCountdownVerifier,
} from '../countdown/countdown-verifier.js';
import {
  ANSWER_FORMATS,
  type AnswerFormat,
  extractFinalAnswer,
} from '../math/extract-final-answer.js';
import { createMathVerifier, type MathVerifierSettings } from '../math/math-verifier.js';
import { describe, readSettings, SOURCE } from '../settings.js';
import {
  type CorrectnessRewardSettings,
  checkRewardInput,
  readCorrectnessSettings,
  requireReference,
} from './reward-input.js';

export interface MathCorrectnessRewardSettings extends CorrectnessRewardSettings {
  /** Settings of the math verifier (time limit, answer length, tolerance, formats). */
  readonly verifier?: MathVerifierSettings;
}

export interface CountdownCorrectnessRewardSettings extends CorrectnessRewardSettings {
  /** Settings of the Countdown verifier (`useAllNumbers` default, `requireDerivation`). */
  readonly verifier?: CountdownVerifierSettings;
}

const CORRECTNESS_KEYS = ['correctReward', 'incorrectReward', 'missingAnswer', 'verifier'] as const;

/** A math reference: the answer string or number, or an object with an `answer` field. */
function mathReference(input: RewardInputV1, name: string): string {
  const reference = requireReference(
    input,
    name,
    'the reference answer: a string, a number or { answer }',
  );
  const answer =
    typeof reference === 'object' && reference !== null && 'answer' in reference
      ? (reference as { answer: unknown }).answer
      : reference;
  if (typeof answer === 'string' && answer.trim() !== '') return answer;
  if (typeof answer === 'number' && Number.isFinite(answer)) return String(answer);
  throw new InvalidArgumentError(
    `reward ${name}: input.reference must be a non-empty answer string, a finite number or { answer }, got ${describe(answer)}`,
    { source: SOURCE, details: { argument: 'input.reference', reward: name } },
  );
}

/**
 * Correctness of a math response: its final answer (`\boxed{}` or `Answer:`) verified
 * equivalent to the reference answer. `input.reference` is the answer (string or number) or
 * `{ answer }`. Registry name `math-correctness`.
 */
export function createMathCorrectnessReward(
  settings?: MathCorrectnessRewardSettings,
): RewardFunctionV1 {
  const name = 'math-correctness';
  const where = 'createMathCorrectnessReward: settings';
  const raw = readSettings(settings, where, CORRECTNESS_KEYS);
  const values = readCorrectnessSettings(raw, where);
  const verifier = createMathVerifier(raw.verifier);
  return {
    name,
    score(input: RewardInputV1): RewardResultV1 {
      checkRewardInput(input, name);
      const verdict = verifier.verify(input.response, mathReference(input, name));
      return toResult(verdict, values, name);
    },
    // The formats the verifier looks for (validated by createMathVerifier above).
    extractAnswer: finalAnswerOf(
      (raw.verifier as MathVerifierSettings | undefined)?.formats ?? ANSWER_FORMATS,
    ),
  };
}

/**
 * Correctness of a Countdown response: a correct final expression and, when the response
 * shows steps, a correct last attempt (see `createCountdownVerifier`). `input.reference` is
 * the problem (`{ numbers, target, useAllNumbers? }`). Registry name `countdown-correctness`.
 */
export function createCountdownCorrectnessReward(
  settings?: CountdownCorrectnessRewardSettings,
): RewardFunctionV1 {
  const name = 'countdown-correctness';
  const where = 'createCountdownCorrectnessReward: settings';
  const raw = readSettings(settings, where, CORRECTNESS_KEYS);
  const values = readCorrectnessSettings(raw, where);
  const verifier = createCountdownVerifier(raw.verifier);
  return {
    name,
    score(input: RewardInputV1): RewardResultV1 {
      checkRewardInput(input, name);
      const reference = requireReference(
        input,
        name,
        'the problem: { numbers, target, useAllNumbers? }',
      );
      const verdict = verifier.verify(input.response, reference as CountdownReference);
      return toResult(verdict, values, name);
    },
    extractAnswer: finalAnswerOf(['answer-line']),
  };
}

/** `RewardFunctionV1.extractAnswer` over `extractFinalAnswer` with the given formats. */
function finalAnswerOf(formats: readonly AnswerFormat[]): (response: string) => string | undefined {
  return (response) => {
    const result = extractFinalAnswer(response, { formats });
    return result.ok ? result.answer : undefined;
  };
}

function toResult(
  verdict:
    | { status: 'unscorable'; reason: string; cause: string }
    | { status: 'checked'; correct: boolean },
  values: Required<CorrectnessRewardSettings>,
  name: string,
): RewardResultV1 {
  if (verdict.status === 'unscorable') {
    if (values.missingAnswer === 'unscorable' || verdict.cause === 'timeout') {
      return { kind: 'unscorable', reason: verdict.reason };
    }
    return {
      kind: 'scored',
      reward: values.incorrectReward,
      correct: false,
      components: { [name]: values.incorrectReward },
      missingAnswer: verdict.reason,
    };
  }
  const reward = verdict.correct ? values.correctReward : values.incorrectReward;
  return { kind: 'scored', reward, correct: verdict.correct, components: { [name]: reward } };
}

/** Math correctness with the defaults: 1 if correct, 0 if not or without an answer (flagged `missingAnswer`). */
export const mathCorrectnessReward: RewardFunctionV1 = createMathCorrectnessReward();

/** Countdown correctness with the defaults. */
export const countdownCorrectnessReward: RewardFunctionV1 = createCountdownCorrectnessReward();
