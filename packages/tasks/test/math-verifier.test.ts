import { ErrorCode } from '@hicra/spec';
import { type BadInputCase, expectHicraError } from '@hicra/spec/testing';
import { describe, expect, it } from 'vitest';
import {
  createMathCorrectnessReward,
  createMathVerifier,
  extractFinalAnswer,
  mathVerifier,
  normaliseAnswer,
  runWithTimeLimit,
} from '../src/index.js';

type Expected = 'correct' | 'incorrect' | 'unscorable';

/**
 * [what the case is about, response, reference answer, expected verdict]. Responses go
 * through the whole path: extraction, normalisation, equivalence.
 */
const CASES: readonly (readonly [string, string, string, Expected])[] = [
  // Extraction
  ['a plain boxed answer', 'So the answer is $\\boxed{5}$.', '5', 'correct'],
  ['nested braces inside the box', '\\boxed{\\frac{1}{2}}', '1/2', 'correct'],
  [
    'several boxes: the last one counts',
    'First \\boxed{3}, then corrected: \\boxed{4}',
    '4',
    'correct',
  ],
  [
    'several boxes: an earlier one does not count',
    'First \\boxed{3}, then corrected: \\boxed{4}',
    '3',
    'incorrect',
  ],
  ['an empty box', 'The answer is \\boxed{}.', '5', 'unscorable'],
  ['an empty box with spaces', 'The answer is \\boxed{  }.', '5', 'unscorable'],
  ['unbalanced braces in the last box', 'The answer is \\boxed{\\frac{1}{2}', '1/2', 'unscorable'],
  ['unbalanced last box after a good one', '\\boxed{2} wait \\boxed{3', '2', 'unscorable'],
  ['no answer at all', 'I think it is five.', '5', 'unscorable'],
  ['an Answer: line', 'Work...\nAnswer: 42', '42', 'correct'],
  ['a Final Answer: line with markdown', 'Work...\n**Final Answer:** 42', '42', 'correct'],
  ['an Answer: line with a trailing period', 'Answer: 42.', '42', 'correct'],
  ['an Answer: line in dollars', 'Answer: $42$', '42', 'correct'],
  ['an empty Answer: line', 'Answer:', '42', 'unscorable'],
  [
    'the later marker wins: box after answer line',
    'Answer: 7\nActually \\boxed{8}',
    '8',
    'correct',
  ],
  ['the later marker wins: answer line after box', '\\boxed{8}\nAnswer: 7', '7', 'correct'],
  ['a box inside the answer line', 'Answer: $\\boxed{9}$', '9', 'correct'],
  ['\\fbox counts as a box', '\\fbox{6}', '6', 'correct'],
  ['brace-less \\boxed 5', 'so $\\boxed 5$', '5', 'correct'],
  ['double braces', '\\boxed{{5}}', '5', 'correct'],
  ['escaped braces inside a box', '\\boxed{\\{1, 2\\}}', '\\{2, 1\\}', 'correct'],
  // Whitespace, fractions, decimals
  ['whitespace inside the box', '\\boxed{  7 }', '7', 'correct'],
  ['0.5 vs \\frac{1}{2}', '\\boxed{0.5}', '\\frac{1}{2}', 'correct'],
  ['\\dfrac vs a decimal', '\\boxed{\\dfrac{3}{4}}', '0.75', 'correct'],
  ['\\tfrac shorthand without braces', '\\boxed{\\tfrac12}', '0.5', 'correct'],
  ['\\frac shorthand without braces', '\\boxed{\\frac12}', '1/2', 'correct'],
  ['an unreduced fraction', '\\boxed{\\frac{2}{4}}', '\\frac{1}{2}', 'correct'],
  ['a slash fraction', '\\boxed{2/6}', '1/3', 'correct'],
  ['a negative fraction written two ways', '\\boxed{\\frac{-1}{2}}', '-\\frac{1}{2}', 'correct'],
  ['a leading-dot decimal', '\\boxed{.5}', '0.5', 'correct'],
  ['trailing zeros', '\\boxed{0.50}', '1/2', 'correct'],
  ['an integer vs a decimal integer', '\\boxed{12}', '12.0', 'correct'],
  ['a truncated decimal is not a third', '\\boxed{0.333}', '\\frac{1}{3}', 'incorrect'],
  [
    'a long truncated decimal is still not a third (rationals are exact)',
    '\\boxed{0.3333333333}',
    '1/3',
    'incorrect',
  ],
  ['a mixed number', '\\boxed{2\\frac{1}{4}}', '9/4', 'correct'],
  ['division by zero is no answer to 1', '\\boxed{\\frac{1}{0}}', '1', 'incorrect'],
  // Thousands separators
  ['1,000 vs 1000', '\\boxed{1,000}', '1000', 'correct'],
  ['1,000,000 vs 10^6', '\\boxed{1,000,000}', '10^6', 'correct'],
  ['a LaTeX thin space as separator', '\\boxed{1\\,000}', '1000', 'correct'],
  ['a LaTeX {,} separator', '\\boxed{1{,}000}', '1000', 'correct'],
  ['1,234 is one number', '\\boxed{1,234}', '1234', 'correct'],
  ['a comma list is not a number', '\\boxed{1,2}', '12', 'incorrect'],
  // Percentages
  ['50% vs 50', '\\boxed{50\\%}', '50', 'correct'],
  ['50% vs 0.5', '\\boxed{50\\%}', '0.5', 'correct'],
  ['12.5% vs 1/8', '\\boxed{12.5\\%}', '\\frac{1}{8}', 'correct'],
  ['two percentages', '\\boxed{75\\%}', '75%', 'correct'],
  ['a wrong percentage', '\\boxed{40\\%}', '0.5', 'incorrect'],
  // Assignments
  ['x=3 vs 3', 'Answer: x=3', '3', 'correct'],
  ['x = 3 vs x=3', '\\boxed{x = 3}', 'x=3', 'correct'],
  ['3 vs a reference written x = 3', '\\boxed{3}', 'x = 3', 'correct'],
  ['y = 2x + 1 vs 2x+1', '\\boxed{y = 2x + 1}', '2x+1', 'correct'],
  ['x = 4 vs 3', '\\boxed{x = 4}', '3', 'incorrect'],
  // Units, degrees, currency, text
  ['degrees', '\\boxed{90^\\circ}', '90', 'correct'],
  ['degrees in braces', '\\boxed{90^{\\circ}}', '90', 'correct'],
  ['dollars', '\\boxed{\\$42}', '42', 'correct'],
  ['units in \\text', '\\boxed{5\\text{ cm}}', '5', 'correct'],
  ['a text answer', '\\boxed{\\text{yes}}', 'yes', 'correct'],
  ['a text answer, case ignored', '\\boxed{Yes}', 'yes', 'correct'],
  ['a multiple-choice letter in parentheses', '\\boxed{\\text{(B)}}', 'B', 'correct'],
  ['a multiple-choice letter vs its parenthesised form', '\\boxed{B}', '(B)', 'correct'],
  ['a wrong multiple-choice letter', '\\boxed{(C)}', '(B)', 'incorrect'],
  // Radicals, constants, powers
  ['sqrt(2)/2 vs its LaTeX fraction', '\\boxed{\\sqrt{2}/2}', '\\frac{\\sqrt{2}}{2}', 'correct'],
  ['rationalised denominators', '\\boxed{\\frac{\\sqrt{3}}{3}}', '\\frac{1}{\\sqrt{3}}', 'correct'],
  ['2 sqrt 2 vs sqrt 8', '\\boxed{2\\sqrt{2}}', '\\sqrt{8}', 'correct'],
  ['a cube root', '\\boxed{\\sqrt[3]{27}}', '3', 'correct'],
  ['sqrt 16 vs 4', '\\boxed{\\sqrt{16}}', '4', 'correct'],
  ['2 pi vs 2*pi', '\\boxed{2\\pi}', '2*pi', 'correct'],
  ['pi is not 3.14', '\\boxed{\\pi}', '3.14', 'incorrect'],
  ['a power in braces', '\\boxed{2^{10}}', '1024', 'correct'],
  ['10^{3} vs 1000', '\\boxed{10^{3}}', '1000', 'correct'],
  ['\\cdot multiplication', '\\boxed{3 \\cdot 4}', '12', 'correct'],
  [
    'huge powers are compared, not overflowed into equality',
    '\\boxed{10^{10^{10}}}',
    '10^{10^{11}}',
    'incorrect',
  ],
  // Signs
  ['a negative number', '\\boxed{-5}', '-5', 'correct'],
  ['a sign error', '\\boxed{-5}', '5', 'incorrect'],
  ['\\left( \\right) around a number', '\\boxed{\\left( 5 \\right)}', '5', 'correct'],
  // Expressions in variables
  ['an expanded square', '\\boxed{x^2+2x+1}', '(x+1)^2', 'correct'],
  ['a wrong expansion', '\\boxed{x^2+1}', '(x+1)^2', 'incorrect'],
  ['implicit multiplication', '\\boxed{2x}', '2*x', 'correct'],
  ['x/2 vs 0.5x', '\\boxed{\\frac{x}{2}}', '0.5x', 'correct'],
  ['different variables', '\\boxed{x+1}', 'y+1', 'incorrect'],
  // Tuples, lists, sets
  ['an ordered pair', '\\boxed{(1, 2)}', '(1,2)', 'correct'],
  ['an ordered pair in the wrong order', '\\boxed{(2, 1)}', '(1, 2)', 'incorrect'],
  ['a pair with \\left \\right', '\\boxed{\\left( 1, 2 \\right)}', '(1,2)', 'correct'],
  ['a list of roots in any order', '\\boxed{3, -1}', '-1, 3', 'correct'],
  ['a list with a missing root', '\\boxed{3}', '-1, 3', 'incorrect'],
  ['an interval keeps its brackets', '\\boxed{[0, 1)}', '[0,1)', 'correct'],
  ['an open vs half-open interval', '\\boxed{(0, 1)}', '[0,1)', 'incorrect'],
  ['a pair of fractions', '\\boxed{\\left(\\frac{1}{2}, 0.25\\right)}', '(0.5, 1/4)', 'correct'],
];

describe('math verifier: the table of cases', () => {
  it('has at least 60 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(60);
  });

  it.each(CASES)('%s', (_about, response, reference, expected) => {
    const verdict = mathVerifier.verify(response, reference);
    const actual =
      verdict.status === 'unscorable' ? 'unscorable' : verdict.correct ? 'correct' : 'incorrect';
    expect({ actual, verdict }).toMatchObject({ actual: expected });
  });

  it('equivalence is symmetric on every comparable case', () => {
    for (const [, response, reference, expected] of CASES) {
      if (expected === 'unscorable') continue;
      const extracted = extractFinalAnswer(response);
      if (!extracted.ok) throw new Error(`no answer in ${response}`);
      const forward = mathVerifier.equivalent(extracted.answer, reference).status;
      const backward = mathVerifier.equivalent(reference, extracted.answer).status;
      expect([response, backward]).toEqual([response, forward]);
    }
  });
});

describe('extraction reasons and normalisation', () => {
  it('says why no answer could be extracted', () => {
    expect(extractFinalAnswer('nothing')).toMatchObject({ ok: false, code: 'no-answer' });
    expect(extractFinalAnswer('\\boxed{1')).toMatchObject({ ok: false, code: 'unbalanced-braces' });
    expect(extractFinalAnswer('\\boxed{}')).toMatchObject({ ok: false, code: 'empty-answer' });
    expect(extractFinalAnswer(`\\boxed{${'9'.repeat(1001)}}`)).toMatchObject({
      ok: false,
      code: 'answer-too-long',
    });
    expect(extractFinalAnswer('Answer: 5', { formats: ['boxed'] })).toMatchObject({
      ok: false,
      code: 'no-answer',
    });
    expect(extractFinalAnswer('\\boxedstyle{5}')).toMatchObject({ ok: false, code: 'no-answer' });
  });

  it("reads GSM8K's `#### answer` line only when asked to", () => {
    const response = 'She has 3 + 4 = 7 boxes, 7 * 6 = 42.\n#### 42\n';
    expect(extractFinalAnswer(response)).toMatchObject({ ok: false, code: 'no-answer' });
    expect(extractFinalAnswer(response, { formats: ['gsm8k'] })).toMatchObject({
      ok: true,
      answer: '42',
      format: 'gsm8k',
    });
    // The last marker wins across formats; an empty one is reported as such.
    expect(
      extractFinalAnswer('Answer: 41\n#### 1,042', { formats: ['answer-line', 'gsm8k'] }),
    ).toMatchObject({ ok: true, answer: '1,042', format: 'gsm8k' });
    expect(extractFinalAnswer('#### ', { formats: ['gsm8k'] })).toMatchObject({
      ok: false,
      code: 'empty-answer',
      reason: 'the last "####" line is empty',
    });
    expect(extractFinalAnswer('no marker', { formats: ['gsm8k', 'boxed'] })).toMatchObject({
      reason: 'no final answer (looked for "#### " and \\boxed{...})',
    });
    // The correctness reward extracts answers with the formats its verifier looks for.
    const reward = createMathCorrectnessReward({ verifier: { formats: ['gsm8k'] } });
    expect(reward.extractAnswer?.(response)).toBe('42');
    expect(createMathCorrectnessReward().extractAnswer?.(response)).toBeUndefined();
    const verifier = createMathVerifier({ formats: ['gsm8k', 'boxed', 'answer-line'] });
    expect(verifier.verify('so 1000 + 42\n#### 1,042', '1042')).toMatchObject({
      status: 'checked',
      correct: true,
    });
  });

  it('normalises the shapes of an answer', () => {
    expect(normaliseAnswer('\\boxed{1,000}')).toMatchObject({ kind: 'scalar', text: '1000' });
    expect(normaliseAnswer('x = \\dfrac{1}{2}')).toMatchObject({
      kind: 'scalar',
      text: '((1)/(2))',
    });
    expect(normaliseAnswer('50\\%')).toMatchObject({ kind: 'scalar', text: '50', percent: true });
    expect(normaliseAnswer('(1, 2)')).toMatchObject({ kind: 'tuple', open: '(', close: ')' });
    expect(normaliseAnswer('\\{1, 2\\}')).toMatchObject({ kind: 'set' });
    expect(normaliseAnswer('1, 2')).toMatchObject({ kind: 'list' });
  });
});

describe('time limit', () => {
  it('interrupts a computation that never ends and reports it', () => {
    const result = runWithTimeLimit(() => {
      for (;;) {
        // spins until interrupted
      }
    }, 50);
    expect(result).toEqual({ completed: false, timeLimitMs: 50 });
    expect(runWithTimeLimit(() => 6 * 7, 50)).toEqual({ completed: true, value: 42 });
  });

  it('lets the errors of the function through', () => {
    expect(() =>
      runWithTimeLimit(() => {
        throw new RangeError('boom');
      }, 50),
    ).toThrow(RangeError);
  });

  it('a math comparison past its limit is unscorable with the limit in the reason', () => {
    // Parsing 5,000 radicals takes far longer than 1 ms on any machine, so the limit binds.
    const verifier = createMathVerifier({ timeLimitMs: 1, maxAnswerLength: 1_000_000 });
    const big = Array.from({ length: 5000 }, (_, i) => `\\sqrt{${i}+x}`).join('+');
    const verdict = verifier.verify(`\\boxed{${big}}`, big.replace(/\+x/g, '+y'));
    expect(verdict).toMatchObject({ status: 'unscorable', cause: 'timeout' });
    expect((verdict as { reason: string }).reason).toContain('timed out after 1 ms');
    // The verifier keeps working afterwards.
    expect(createMathVerifier().verify('\\boxed{2}', '2')).toMatchObject({ correct: true });
  });

  it('an answer over the length limit is unscorable, not compared', () => {
    const verifier = createMathVerifier({ maxAnswerLength: 10 });
    expect(verifier.verify('\\boxed{1+1+1+1+1+1+1}', '7')).toMatchObject({
      status: 'unscorable',
      cause: 'answer-too-long',
    });
    expect(verifier.equivalent('1+1+1+1+1+1+1', '7')).toMatchObject({ status: 'too-long' });
  });
});

describe('bad input', () => {
  it.each([
    [
      'an unknown setting',
      () => createMathVerifier({ timeout: 5 } as never),
      ErrorCode.InvalidConfig,
      ['timeout', 'timeLimitMs'],
    ],
    [
      'a zero time limit',
      () => createMathVerifier({ timeLimitMs: 0 }),
      ErrorCode.InvalidValue,
      ['timeLimitMs', '>= 1', '0'],
    ],
    [
      'a fractional time limit',
      () => createMathVerifier({ timeLimitMs: 1.5 }),
      ErrorCode.InvalidValue,
      ['timeLimitMs', 'integer'],
    ],
    [
      'a negative tolerance',
      () => createMathVerifier({ relativeTolerance: -1 }),
      ErrorCode.InvalidValue,
      ['relativeTolerance'],
    ],
    [
      'an unknown format',
      () => createMathVerifier({ formats: ['latex'] as never }),
      ErrorCode.InvalidArgument,
      ['formats', 'latex'],
    ],
    [
      'a response that is not a string',
      () => mathVerifier.verify(5 as never, '5'),
      ErrorCode.InvalidArgument,
      ['response', '5'],
    ],
    [
      'a reference that is not a string',
      () => mathVerifier.equivalent('5', null as never),
      ErrorCode.InvalidArgument,
      ['reference', 'null'],
    ],
    [
      'a bad time limit for runWithTimeLimit',
      () => runWithTimeLimit(() => 1, -3),
      ErrorCode.InvalidValue,
      ['timeLimitMs', '-3'],
    ],
  ] satisfies BadInputCase[])('%s', (_about, call, code, message) => {
    expectHicraError(call, { code, message, source: '@hicra/tasks' });
  });
});
