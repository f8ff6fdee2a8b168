import { ErrorCode } from '@hicra/spec';
import { type BadInputCase, expectHicraError } from '@hicra/spec/testing';
import { describe, expect, it } from 'vitest';
import {
  type CountdownReference,
  countdownVerifier,
  createCountdownVerifier,
} from '../src/index.js';

const P: CountdownReference = { numbers: [3, 8, 2], target: 22 };
const SUBSET: CountdownReference = { numbers: [3, 8, 2], target: 24, useAllNumbers: false };

type Expected = 'correct' | 'incorrect' | 'unscorable';

/** [what the case is about, response, problem, expected verdict, derivation]. */
const CASES: readonly (readonly [string, string, CountdownReference, Expected, string?])[] = [
  [
    'a clean derivation and answer',
    '3 * 8 = 24\n24 - 2 = 22\nAnswer: 3 * 8 - 2',
    P,
    'correct',
    'correct',
  ],
  ['an answer without steps', 'Answer: 3 * 8 - 2', P, 'correct', 'absent'],
  ['a parenthesised answer', 'Answer: (3 * 8) - 2', P, 'correct'],
  ['another order of the same numbers', 'Answer: 8 * 3 - 2', P, 'correct'],
  ['unicode operators', 'Answer: 3 \u00d7 8 \u2212 2', P, 'correct'],
  ['an answer in a box', 'so \\boxed{3 * 8 - 2}', P, 'correct'],
  ['an answer with its value after =', 'Answer: 3 * 8 - 2 = 22', P, 'correct'],
  ['a wrong value', 'Answer: 3 * 8 + 2', P, 'incorrect'],
  ['a number not given', 'Answer: 3 * 8 - 1 - 1', P, 'incorrect'],
  ['a number used twice', 'Answer: 8 * 3 - 2 + 2 - 2', P, 'incorrect'],
  [
    'a number left unused (all must be used)',
    'Answer: 8 * 3',
    { numbers: [3, 8, 2], target: 24 },
    'incorrect',
  ],
  ['a subset is enough when the rule allows it', 'Answer: 8 * 3', SUBSET, 'correct'],
  [
    'the reference rule wins over the verifier default',
    'Answer: 8 * 3',
    { ...SUBSET, useAllNumbers: true },
    'incorrect',
  ],
  [
    'repeated numbers can each be used once',
    'Answer: 5 * 5 - 3',
    { numbers: [5, 5, 3], target: 22 },
    'correct',
  ],
  [
    'a repeated number used more often than given',
    'Answer: 5 * 5 * 5',
    { numbers: [5, 5, 3], target: 125, useAllNumbers: false },
    'incorrect',
  ],
  [
    'exact fractions on the way are fine',
    'Answer: 8 / (3 - 8 / 3)',
    { numbers: [8, 3, 8, 3], target: 24 },
    'correct',
  ],
  [
    'division by zero',
    'Answer: 8 / (3 - 3) + 2',
    { numbers: [8, 3, 3, 2], target: 22 },
    'incorrect',
  ],
  ['unary minus is not allowed', 'Answer: -2 + 3 * 8', P, 'incorrect'],
  ['unbalanced parentheses', 'Answer: (3 * 8 - 2', P, 'incorrect'],
  ['words in the answer', 'Answer: three times eight minus two', P, 'incorrect'],
  ['just the target', 'Answer: 22', P, 'incorrect'],
  ['no answer line', '3 * 8 = 24\n24 - 2 = 22', P, 'unscorable'],
  ['an empty answer line', '3 * 8 = 24\nAnswer:', P, 'unscorable'],
  [
    'a wrong step is caught even with a right answer',
    '3 * 8 = 23\n23 - 1 = 22\nAnswer: 3 * 8 - 2',
    P,
    'incorrect',
    'incorrect',
  ],
  [
    'a slip carried forward',
    '3 * 8 = 23\n23 - 2 = 21\nAnswer: 3 * 8 - 2',
    P,
    'incorrect',
    'incorrect',
  ],
  [
    'a derivation that ends off target',
    '3 + 8 = 11\n11 * 2 = 22\nAnswer: 3 * 8 - 2',
    { numbers: [3, 8, 2], target: 22 },
    'correct',
    'correct',
  ],
  [
    'a derivation ending elsewhere',
    '3 * 8 = 24\n24 + 2 = 26\nAnswer: 3 * 8 - 2',
    P,
    'incorrect',
    'incorrect',
  ],
  [
    'a dead end, then backtracking: only the last attempt is judged',
    "maybe 3 + 8 = 11\nnext 11 + 2 = 13\nthat can't be right\nalternatively 3 * 8 = 24\nso 24 - 2 = 22\nAnswer: 3 * 8 - 2",
    P,
    'correct',
    'correct',
  ],
  [
    'a dead end with a wrong step is not judged once abandoned',
    '3 + 8 = 12\nhold on\n3 * 8 = 24\n24 - 2 = 22\nAnswer: 3 * 8 - 2',
    P,
    'correct',
    'correct',
  ],
  [
    'an unrecovered dead end',
    'maybe 3 + 8 = 11\nnext 11 + 2 = 13\nAnswer: 3 + 8 + 2',
    P,
    'incorrect',
    'incorrect',
  ],
  [
    'steps with a number that is not available',
    '5 * 4 = 20\n20 + 2 = 22\nAnswer: 3 * 8 - 2',
    P,
    'incorrect',
    'incorrect',
  ],
  [
    'a derivation leaving a number unused',
    '8 * 3 = 24\nAnswer: 8 * 3',
    { numbers: [3, 8, 2], target: 24 },
    'incorrect',
    'incorrect',
  ],
  ['compound steps are steps too', '3 * 8 - 2 = 22\nAnswer: 3 * 8 - 2', P, 'correct', 'correct'],
  ['chained equalities', '3 * 8 = 24 - 2 = 22\nAnswer: 3 * 8 - 2', P, 'correct', 'correct'],
  [
    'steps inside a sentence',
    'First, 3 * 8 = 24, and 24 - 2 = 22.\nAnswer: 3 * 8 - 2',
    P,
    'correct',
    'correct',
  ],
  [
    'prose numbers are not steps',
    'I have 3 numbers and need 22.\nAnswer: 3 * 8 - 2',
    P,
    'correct',
    'absent',
  ],
];

describe('Countdown verifier: the table of cases', () => {
  for (const [about, response, problem, expected, derivation] of CASES) {
    it(about, () => {
      const verdict = countdownVerifier.verify(response, problem);
      const actual =
        verdict.status === 'unscorable' ? 'unscorable' : verdict.correct ? 'correct' : 'incorrect';
      expect({ actual, verdict }).toMatchObject({ actual: expected });
      if (derivation !== undefined) expect(verdict).toMatchObject({ derivation });
    });
  }

  it('explains what is wrong', () => {
    const reasonOf = (response: string, problem = P) => {
      const verdict = countdownVerifier.verify(response, problem);
      return verdict.status === 'checked' ? verdict.reason : verdict.reason;
    };
    expect(reasonOf('Answer: 3 * 8 + 2')).toBe('the answer equals 26, not 22');
    expect(reasonOf('Answer: 8 * 3', { numbers: [3, 8, 2], target: 24 })).toBe(
      'the answer leaves 2 unused',
    );
    expect(reasonOf('3 * 8 = 23\n23 - 2 = 21\nAnswer: 3 * 8 - 2')).toBe(
      'step 1 (3 * 8 = 23) is wrong: 3 * 8 = 24',
    );
    expect(reasonOf('3 * 8 = 24\n24 + 2 = 26\nAnswer: 3 * 8 - 2')).toBe(
      'the derivation ends at 26, not 22',
    );
    expect(reasonOf('Answer: -2 + 3 * 8')).toContain('unary minus');
    expect(reasonOf('no answer')).toContain('no final answer');
  });

  it('reports the steps it found and where the last attempt starts', () => {
    const verdict = countdownVerifier.verify(
      '3 + 8 = 12\nhold on\n3 * 8 = 24\n24 - 2 = 22\nAnswer: 3 * 8 - 2',
      P,
    );
    expect(verdict).toMatchObject({
      status: 'checked',
      correct: true,
      answerValue: '22',
      attemptStart: 1,
      steps: [
        { text: '3 + 8 = 12', claimed: '12', actual: '11', arithmeticCorrect: false },
        { text: '3 * 8 = 24', arithmeticCorrect: true },
        { text: '24 - 2 = 22', arithmeticCorrect: true },
      ],
    });
  });

  it('requireDerivation makes an answer without steps incorrect', () => {
    const strict = createCountdownVerifier({ requireDerivation: true });
    expect(strict.verify('Answer: 3 * 8 - 2', P)).toMatchObject({
      correct: false,
      reason: 'the response shows no arithmetic step',
    });
    expect(strict.verify('3 * 8 = 24\n24 - 2 = 22\nAnswer: 3 * 8 - 2', P)).toMatchObject({
      correct: true,
    });
  });

  it('useAllNumbers: false as the verifier default applies when the reference is silent', () => {
    const lenient = createCountdownVerifier({ useAllNumbers: false });
    expect(lenient.verify('Answer: 8 * 3', { numbers: [3, 8, 2], target: 24 })).toMatchObject({
      correct: true,
    });
  });
});

describe('Countdown verifier: bad input', () => {
  it.each([
    [
      'a response that is not a string',
      () => countdownVerifier.verify(3 as never, P),
      ErrorCode.InvalidArgument,
      ['response', '3'],
    ],
    [
      'a missing reference',
      () => countdownVerifier.verify('Answer: 1', undefined as never),
      ErrorCode.InvalidArgument,
      ['reference', 'numbers, target'],
    ],
    [
      'numbers that are not an array',
      () => countdownVerifier.verify('Answer: 1', { numbers: '3,8', target: 1 } as never),
      ErrorCode.InvalidArgument,
      ['reference.numbers', 'non-empty array'],
    ],
    [
      'a fractional number',
      () => countdownVerifier.verify('Answer: 1', { numbers: [3, 1.5], target: 1 }),
      ErrorCode.InvalidValue,
      ['reference.numbers[1]', '1.5'],
    ],
    [
      'a target that is not an integer',
      () => countdownVerifier.verify('Answer: 1', { numbers: [3], target: Number.NaN }),
      ErrorCode.InvalidValue,
      ['reference.target', 'NaN'],
    ],
    [
      'a rule that is not a boolean',
      () =>
        countdownVerifier.verify('Answer: 1', {
          numbers: [3],
          target: 3,
          useAllNumbers: 'yes',
        } as never),
      ErrorCode.InvalidArgument,
      ['useAllNumbers', 'yes'],
    ],
    [
      'an unknown setting',
      () => createCountdownVerifier({ strict: true } as never),
      ErrorCode.InvalidConfig,
      ['strict', 'requireDerivation, useAllNumbers'],
    ],
    [
      'a setting of the wrong type',
      () => createCountdownVerifier({ requireDerivation: 1 } as never),
      ErrorCode.InvalidArgument,
      ['requireDerivation', 'true or false'],
    ],
  ] satisfies BadInputCase[])('%s', (_about, call, code, message) => {
    expectHicraError(call, { code, message });
  });
});
