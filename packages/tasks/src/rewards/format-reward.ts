import {
  formatValue,
  InvalidArgumentError,
  type RewardFunctionV1,
  type RewardInputV1,
  type RewardResultV1,
} from '@hicra/spec';
import { parseCountdownExpression } from '../countdown/countdown-expression.js';
import {
  ANSWER_FORMATS,
  type AnswerFormat,
  extractFinalAnswer,
} from '../math/extract-final-answer.js';
import { readNumber, readSettings, SOURCE } from '../settings.js';
import { checkRewardInput } from './reward-input.js';

export interface FormatRewardSettings {
  /** Reward when the response ends with a usable final answer. Default 1. */
  readonly reward?: number;
  /** Reward otherwise. Default 0. */
  readonly penalty?: number;
  /** Where the final answer may be written (default both `boxed` and `answer-line`). */
  readonly formats?: readonly AnswerFormat[];
}

function readFormats(value: unknown, where: string): readonly AnswerFormat[] {
  if (value === undefined) return ANSWER_FORMATS;
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    value.some((f) => !ANSWER_FORMATS.includes(f))
  ) {
    throw new InvalidArgumentError(
      `${where} must be a non-empty array of ${ANSWER_FORMATS.map((f) => `"${f}"`).join(', ')}, got ${formatValue(value)}`,
      { source: SOURCE, details: { argument: where } },
    );
  }
  return value;
}

/**
 * Format reward: `reward` when a final answer can be extracted (a balanced, non-empty
 * `\boxed{}` or `Answer:` line, whichever comes last), `penalty` otherwise. Always scorable:
 * judging the format is possible for every response. Registry name `format`.
 */
export function createFormatReward(settings?: FormatRewardSettings): RewardFunctionV1 {
  const where = 'createFormatReward: settings';
  const raw = readSettings(settings, where, ['reward', 'penalty', 'formats']);
  const reward = readNumber(raw.reward, `${where}.reward`, 1);
  const penalty = readNumber(raw.penalty, `${where}.penalty`, 0);
  const formats = readFormats(raw.formats, `${where}.formats`);
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
  settings?: Omit<FormatRewardSettings, 'formats'>,
): RewardFunctionV1 {
  const where = 'createCountdownFormatReward: settings';
  const raw = readSettings(settings, where, ['reward', 'penalty']);
  const reward = readNumber(raw.reward, `${where}.reward`, 1);
  const penalty = readNumber(raw.penalty, `${where}.penalty`, 0);
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
