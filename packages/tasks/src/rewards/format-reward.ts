import {
  ConfigError,
  definePlugin,
  defineSettings,
  formatValue,
  parsePluginSettings,
  type RewardFunctionV1,
  type RewardInputV1,
  type RewardResultV1,
  type SettingsInputV1,
} from '@hicra/spec';
import { parseCountdownExpression } from '../countdown/countdown-expression.js';
import {
  ANSWER_FORMATS,
  type AnswerFormat,
  extractFinalAnswer,
} from '../math/extract-final-answer.js';
import { SOURCE } from '../settings.js';
import { checkRewardInput } from './reward-input.js';

const rewardAndPenalty = {
  reward: {
    type: 'number',
    default: 1,
    description: 'reward when the response ends with a usable final answer',
  },
  penalty: { type: 'number', default: 0, description: 'reward otherwise' },
} as const;

/**
 * Settings of `format`: `reward` (default 1) when the response ends with a usable final answer,
 * `penalty` (default 0) otherwise, and the `formats` the answer may be written in (default both
 * `boxed` and `answer-line`).
 */
export const formatRewardSettings = defineSettings({
  ...rewardAndPenalty,
  formats: {
    type: 'custom',
    description: 'where the final answer may be written',
    expects: `a non-empty array of ${ANSWER_FORMATS.map((f) => `"${f}"`).join(', ')}`,
    parse: (value: readonly AnswerFormat[], path): readonly AnswerFormat[] => {
      if (
        !Array.isArray(value) ||
        value.length === 0 ||
        value.some((f) => !ANSWER_FORMATS.includes(f))
      ) {
        throw new ConfigError(
          path,
          `format: expected a non-empty array of ${ANSWER_FORMATS.map((f) => `"${f}"`).join(', ')}, got ${formatValue(value)}`,
          { source: SOURCE, details: { setting: 'formats' } },
        );
      }
      return value;
    },
  },
});
export type FormatRewardSettings = SettingsInputV1<typeof formatRewardSettings>;

/** Settings of `countdown-format`: `reward` (default 1) for a well-formed answer, `penalty` (default 0) otherwise. */
export const countdownFormatRewardSettings = defineSettings(rewardAndPenalty);

/**
 * Format reward: `reward` when a final answer can be extracted (a balanced, non-empty
 * `\boxed{}` or `Answer:` line, whichever comes last), `penalty` otherwise. Always scorable:
 * judging the format is possible for every response. Registry name `format`.
 */
export function createFormatReward(settings?: FormatRewardSettings): RewardFunctionV1 {
  const {
    reward,
    penalty,
    formats = ANSWER_FORMATS,
  } = parsePluginSettings({ name: 'format', settings: formatRewardSettings }, settings, {
    source: SOURCE,
  });
  return {
    name: 'format',
    score(input: RewardInputV1): RewardResultV1 {
      checkRewardInput(input, 'format');
      const value = extractFinalAnswer(input.response, { formats }).ok ? reward : penalty;
      return { kind: 'scored', reward: value, components: { format: value } };
    },
  };
}

/**
 * Countdown format reward: `reward` when the last `Answer:` line holds a well-formed
 * Countdown expression (numbers, `+ - * /`, balanced parentheses), `penalty` otherwise.
 * Registry name `countdown-format`.
 */
export function createCountdownFormatReward(
  settings?: SettingsInputV1<typeof countdownFormatRewardSettings>,
): RewardFunctionV1 {
  const { reward, penalty } = parsePluginSettings(
    { name: 'countdown-format', settings: countdownFormatRewardSettings },
    settings,
    { source: SOURCE },
  );
  return {
    name: 'countdown-format',
    score(input: RewardInputV1): RewardResultV1 {
      checkRewardInput(input, 'countdown-format');
      const extracted = extractFinalAnswer(input.response, {
        formats: ['answer-line'],
        maxAnswerLength: 400,
      });
      const wellFormed =
        extracted.ok && parseCountdownExpression(extracted.answer.split('=')[0]!.trim()).ok;
      const value = wellFormed ? reward : penalty;
      return { kind: 'scored', reward: value, components: { 'countdown-format': value } };
    },
  };
}

export const formatReward: RewardFunctionV1 = createFormatReward();
export const countdownFormatReward: RewardFunctionV1 = createCountdownFormatReward();

/** The registration of `format`. */
export const formatRewardRegistration = definePlugin({
  kind: 'reward',
  name: 'format',
  description:
    'reward when a final answer can be extracted (\\boxed{} or Answer:), penalty otherwise',
  settings: formatRewardSettings,
  create: (settings) => createFormatReward(settings),
});

/** The registration of `countdown-format`. */
export const countdownFormatRewardRegistration = definePlugin({
  kind: 'reward',
  name: 'countdown-format',
  description: 'reward when the last Answer: line holds a well-formed Countdown expression',
  settings: countdownFormatRewardSettings,
  create: (settings) => createCountdownFormatReward(settings),
});
