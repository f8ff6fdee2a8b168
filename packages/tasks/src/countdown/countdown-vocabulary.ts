import { InvalidValueError } from '@hicra/spec';
import { SOURCE } from '../settings.js';
import { COUNTDOWN_PLANNING_PHRASES } from './countdown-templates.js';

/** The line prefix of the final answer in Countdown traces. */
export const COUNTDOWN_ANSWER_PREFIX = 'Answer:';

const WORD = /\n|\d+|[A-Za-z]+(?:'[A-Za-z]+)*|[^\sA-Za-z\d]/g;

/**
 * Splits text into the words of the Countdown vocabulary: a newline, a run of digits (one
 * word per number), a run of letters with inner apostrophes (`let's`, `can't`), or any other
 * single non-space character (`*`, `=`, `:`, `,`). Other whitespace separates words.
 */
export function splitCountdownWords(text: string): string[] {
  return text.match(WORD) ?? [];
}

/** Words of the prompt template and the answer line, besides numbers and phrases. */
const FIXED_WORDS = [
  '\n',
  'Use',
  'to',
  'make',
  'Answer',
  ':',
  '=',
  '+',
  '-',
  '*',
  '/',
  '(',
  ')',
  ',',
  '.',
];

/**
 * Every word a Countdown prompt or trace can contain when all values stay within
 * `[0, maxValue]`: the fixed words, the words of every planning phrase, then the numbers
 * `0..maxValue`. A word-level tokenizer built from this list never meets an unknown word in
 * generated data. Order: fixed words, phrase words in first-seen order, numbers ascending.
 */
export function countdownVocabulary(maxValue = 100): string[] {
  if (!Number.isInteger(maxValue) || maxValue < 1 || maxValue > 999) {
    throw new InvalidValueError(
      `countdownVocabulary: maxValue must be an integer in [1, 999], got ${maxValue}`,
      { source: SOURCE, details: { argument: 'maxValue', value: maxValue } },
    );
  }
  const words = new Set(FIXED_WORDS);
  for (const phrase of COUNTDOWN_PLANNING_PHRASES)
    for (const word of splitCountdownWords(phrase)) words.add(word);
  for (let n = 0; n <= maxValue; n++) words.add(String(n));
  return [...words];
}
