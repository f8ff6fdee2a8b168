import {
  definePlugin,
  defineSettings,
  InvalidArgumentError,
  parsePluginSettings,
  type RewardFunctionV1,
  type RewardInputV1,
  type RewardResultV1,
  type SettingsInputV1,
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
import { describe, SOURCE } from '../settings.js';
import { checkRewardInput, correctnessSettingFields, requireReference } from './reward-input.js';

/** Settings of `math-correctness`: the correctness settings and the math verifier's (time limit, answer length, tolerance, formats). */
export const mathCorrectnessSettings = defineSettings({
  ...correctnessSettingFields,
  verifier: {
    type: 'custom',
    description: "the math verifier's settings",
    expects: 'an object of math verifier settings',
    // Checked by building the verifier once; the reward builds its own from the same settings.
    parse: (value: MathVerifierSettings) => {
      createMathVerifier(value);
      return value;
    },
  },
});
export type MathCorrectnessRewardSettings = SettingsInputV1<typeof mathCorrectnessSettings>;

/** Settings of `countdown-correctness`: the correctness settings and the Countdown verifier's (`useAllNumbers` default, `requireDerivation`). */
export const countdownCorrectnessSettings = defineSettings({
  ...correctnessSettingFields,
  verifier: {
    type: 'custom',
    description: "the Countdown verifier's settings",
    expects: 'an object of Countdown verifier settings',
    parse: (value: CountdownVerifierSettings) => {
      createCountdownVerifier(value);
      return value;
    },
  },
});
export type CountdownCorrectnessRewardSettings = SettingsInputV1<
  typeof countdownCorrectnessSettings
>;

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
  const { verifier: verifierSettings, ...values } = parsePluginSettings(
    { name, settings: mathCorrectnessSettings },
    settings,
    { source: SOURCE },
  );
  const verifier = createMathVerifier(verifierSettings);
  return {
    name,
    score(input: RewardInputV1): RewardResultV1 {
      checkRewardInput(input, name);
      const verdict = verifier.verify(input.response, mathReference(input, name));
      return toResult(verdict, values, name);
    },
    // The formats the verifier looks for (validated by createMathVerifier above).
    extractAnswer: finalAnswerOf(verifierSettings?.formats ?? ANSWER_FORMATS),
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
  const { verifier: verifierSettings, ...values } = parsePluginSettings(
    { name, settings: countdownCorrectnessSettings },
    settings,
    { source: SOURCE },
  );
  const verifier = createCountdownVerifier(verifierSettings);
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
  values: {
    readonly correctReward: number;
    readonly incorrectReward: number;
    readonly missingAnswer: 'incorrect' | 'unscorable';
  },
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

/** The registration of `math-correctness`. */
export const mathCorrectnessRegistration = definePlugin({
  kind: 'reward',
  name: 'math-correctness',
  description: 'the final answer verified equivalent to the reference (\\boxed{} or Answer:)',
  settings: mathCorrectnessSettings,
  create: (settings) => createMathCorrectnessReward(settings),
});

/** The registration of `countdown-correctness`. */
export const countdownCorrectnessRegistration = definePlugin({
  kind: 'reward',
  name: 'countdown-correctness',
  description: 'a correct final Countdown expression and, with shown steps, a correct last attempt',
  settings: countdownCorrectnessSettings,
  create: (settings) => createCountdownCorrectnessReward(settings),
});
