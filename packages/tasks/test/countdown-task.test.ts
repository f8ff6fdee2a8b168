import { ErrorCode } from '@hicra/spec';
import { type BadInputCase, expectHicraError } from '@hicra/spec/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  COUNTDOWN_LEVELS,
  type CountdownProblem,
  countdownProblemKey,
  countdownProblemsToJsonLines,
  countdownTask,
  countdownVerifier,
  createCountdownTask,
  evaluateCountdownExpression,
  formatCountdownExpression,
  loadCountdownProblems,
  parseCountdownExpression,
  solveCountdown,
} from '../src/index.js';

const keys = (problems: readonly CountdownProblem[]) => problems.map(countdownProblemKey);

describe('Countdown generator', () => {
  it('is deterministic in (settings, split, seed) and different across seeds', () => {
    const a = countdownTask.generate({ split: 'train', seed: 7, count: 200 });
    const b = createCountdownTask().generate({ split: 'train', seed: 7, count: 200 });
    expect(b).toEqual(a);
    const c = countdownTask.generate({ split: 'train', seed: 8, count: 200 });
    expect(keys(c)).not.toEqual(keys(a));
    // A longer stream starts with the shorter one.
    expect(countdownTask.generate({ split: 'train', seed: 7, count: 250 }).slice(0, 200)).toEqual(
      a,
    );
    expect(a[0]!.id).toBe('countdown-1-train-7-0');
  });

  it('pins the first problems of the default task (any change to the generator shows here)', () => {
    const first = countdownTask.generate({ split: 'train', seed: 0, count: 3 });
    expect(first.map((p) => `${countdownTask.prompt(p)} ${p.solution}`)).toMatchInlineSnapshot(`
      [
        "Use 9, 5, 12 to make 51. 5 * 12 - 9",
        "Use 8, 15, 15 to make 38. 15 + 15 + 8",
        "Use 18, 16, 4 to make 38. 16 + (4 + 18)",
      ]
    `);
  });

  it('train and test never share a problem, even over many problems and several seeds', () => {
    for (const level of [1, 2] as const) {
      const task = createCountdownTask({ level });
      const train = new Set([
        ...keys(task.generate({ split: 'train', seed: 1, count: 4000 })),
        ...keys(task.generate({ split: 'train', seed: 2, count: 2000 })),
      ]);
      const test = keys(task.generate({ split: 'test', seed: 1, count: 1500 }));
      expect(test.filter((key) => train.has(key))).toEqual([]);
      expect(new Set(test).size).toBe(test.length);
    }
  });

  it('assigns every problem to the split it was generated for; the share of test follows testFraction', () => {
    const task = createCountdownTask({ testFraction: 0.3, splitSeed: 5 });
    for (const split of ['train', 'test'] as const) {
      for (const problem of task.generate({ split, seed: 3, count: 300 })) {
        expect(task.splitOf(problem)).toBe(split);
        expect(problem.split).toBe(split);
      }
    }
    // Over a wide random sample of keys the hash sends about 30% to test (4 sigma).
    let inTest = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++)
      if (task.splitOf({ numbers: [i % 97, i % 13, 1 + i], target: i }) === 'test') inTest++;
    expect(Math.abs(inTest / n - 0.3)).toBeLessThan(4 * Math.sqrt((0.3 * 0.7) / n));
  });

  it('another splitSeed gives another partition', () => {
    const a = createCountdownTask({ splitSeed: 1 });
    const b = createCountdownTask({ splitSeed: 2 });
    const problems = a.generate({ split: 'test', seed: 0, count: 200 });
    expect(problems.some((p) => b.splitOf(p) === 'train')).toBe(true);
  });

  it.each([1, 2, 3, 4] as const)(
    'level %i: problems are solvable, within the level, unique, and their solutions verify',
    (level) => {
      const settings = COUNTDOWN_LEVELS[level];
      const task = createCountdownTask({ level });
      const problems = task.generate({ split: 'train', seed: 11, count: 150 });
      expect(new Set(keys(problems)).size).toBe(problems.length);
      for (const problem of problems) {
        expect(problem.numbers).toHaveLength(settings.numberCount);
        for (const n of problem.numbers)
          expect(n >= settings.minNumber && n <= settings.maxNumber).toBe(true);
        expect(problem.target >= settings.minTarget && problem.target <= settings.maxValue).toBe(
          true,
        );
        expect(problem.numbers).not.toContain(problem.target);
        expect(
          solveCountdown(problem.numbers, problem.target, { maxValue: settings.maxValue }),
        ).toBeDefined();
        const verdict = countdownVerifier.verify(`Answer: ${problem.solution}`, problem);
        expect(verdict).toMatchObject({ status: 'checked', correct: true });
      }
    },
  );

  it('subset mode: the solution has solutionSteps operations, the other numbers are distractors', () => {
    const task = createCountdownTask({
      useAllNumbers: false,
      level: {
        numberCount: 4,
        minNumber: 1,
        maxNumber: 12,
        solutionSteps: 2,
        maxValue: 100,
        minTarget: 10,
      },
    });
    for (const problem of task.generate({ split: 'train', seed: 4, count: 100 })) {
      expect(problem.useAllNumbers).toBe(false);
      expect(problem.level).toBe('custom');
      const parsed = parseCountdownExpression(problem.solution);
      if (!parsed.ok) throw new Error(parsed.reason);
      expect(problem.solution.split(/[-+*/]/).length).toBe(3);
      expect(countdownVerifier.verify(`Answer: ${problem.solution}`, problem)).toMatchObject({
        correct: true,
      });
    }
  });

  it('round-trips through JSON Lines', async () => {
    const problems = countdownTask.generate({ split: 'test', seed: 2, count: 50 });
    const text = countdownProblemsToJsonLines(problems);
    expect(text.split('\n')).toHaveLength(51);
    expect(JSON.parse(text.split('\n')[0]!)).toMatchObject({
      schema: 'hicra.countdown.v1',
      prompt: countdownTask.prompt(problems[0]!),
    });
    const reader = loadCountdownProblems([text]);
    const back: CountdownProblem[] = [];
    for await (const { value } of reader) back.push(value);
    expect(back).toEqual(problems);
    expect(reader.report).toMatchObject({ records: 50, badLines: [] });
  });

  it('reports bad Countdown lines with their numbers', async () => {
    const good = countdownProblemsToJsonLines(
      countdownTask.generate({ split: 'train', seed: 0, count: 1 }),
    );
    const lines = [
      good.trim(),
      JSON.stringify({ ...JSON.parse(good), numbers: [3, -1] }),
      JSON.stringify({ ...JSON.parse(good), schema: 'other' }),
      JSON.stringify({ ...JSON.parse(good), solution: '3 +' }),
    ];
    const reader = loadCountdownProblems([lines.join('\n')]);
    for await (const _ of reader) {
      // drain
    }
    expect(reader.report.badLines.map((b) => [b.line, b.reason])).toEqual([
      [2, 'numbers[1] must be a positive integer, got -1'],
      [3, 'schema must be "hicra.countdown.v1", got "other"'],
      [4, 'solution must be a Countdown expression, got "3 +"'],
    ]);
  });
});

describe('Countdown expressions and solver', () => {
  const tree = fc.letrec((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.integer({ min: 1, max: 50 }).map((n) => ({ kind: 'number' as const, n })),
      fc.record({
        kind: fc.constant('operation' as const),
        operator: fc.constantFrom('+', '-', '*', '/'),
        left: tie('node'),
        right: tie('node'),
      }),
    ),
  })).node;

  it('formatting keeps the tree: parse(format(e)) formats the same and has the same value (property)', () => {
    fc.assert(
      fc.property(tree, (node) => {
        const expression = toExpression(node as Node);
        const text = formatCountdownExpression(expression);
        const parsed = parseCountdownExpression(text);
        if (!parsed.ok) throw new Error(`${text}: ${parsed.reason}`);
        expect(formatCountdownExpression(parsed.expression)).toBe(text);
        const before = evaluateCountdownExpression(expression);
        const after = evaluateCountdownExpression(parsed.expression);
        expect(after.ok).toBe(before.ok);
        if (before.ok && after.ok) expect(after.value.equals(before.value)).toBe(true);
      }),
    );
  });

  it('uses the fewest parentheses that keep the tree', () => {
    const cases: [string, string][] = [
      ['(3 * 8) - 2', '3 * 8 - 2'],
      ['(3 + 8) * 2', '(3 + 8) * 2'],
      ['10 * (14 / 7)', '10 * (14 / 7)'],
      ['(10 * 14) / 7', '10 * 14 / 7'],
      ['9 - (3 + 2)', '9 - (3 + 2)'],
      ['((1 + 2) + 3)', '1 + 2 + 3'],
    ];
    for (const [input, output] of cases) {
      const parsed = parseCountdownExpression(input);
      if (!parsed.ok) throw new Error(parsed.reason);
      expect(formatCountdownExpression(parsed.expression)).toBe(output);
    }
  });

  it('rejects malformed expressions with a reason', () => {
    expect(parseCountdownExpression('')).toEqual({ ok: false, reason: 'empty expression' });
    expect(parseCountdownExpression('3 +')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('the end'),
    });
    expect(parseCountdownExpression('(3 + 4')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('missing ")"'),
    });
    expect(parseCountdownExpression('3 + x')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('"x"'),
    });
    expect(parseCountdownExpression('-3 + 4')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('unary minus'),
    });
    expect(parseCountdownExpression(`${'('.repeat(100)}1${')'.repeat(100)}`)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('nested'),
    });
    expect(parseCountdownExpression('1+'.repeat(300))).toMatchObject({
      ok: false,
      reason: expect.stringContaining('longer than'),
    });
  });

  it('the solver finds a solution exactly when brute force does (small cases)', () => {
    const cases: [number[], number, boolean][] = [
      [[3, 8, 2], 22, true],
      [[1, 1, 1], 7, false],
      [[25, 50, 75, 100, 3, 6], 952, true],
      [[2, 2], 1, true],
      [[2, 3], 7, false],
    ];
    for (const [numbers, target, solvable] of cases) {
      const found = solveCountdown(numbers, target);
      expect(found !== undefined).toBe(solvable);
      if (found) {
        const verdict = countdownVerifier.verify(`Answer: ${formatCountdownExpression(found)}`, {
          numbers,
          target,
        });
        expect(verdict).toMatchObject({ correct: true });
      }
    }
    expect(solveCountdown([3, 8, 2], 24, { useAllNumbers: false })).toBeDefined();
    expect(solveCountdown([3, 8, 2], 48, { maxValue: 30 })).toBeUndefined();
  });
});

type Node =
  | { kind: 'number'; n: number }
  | { kind: 'operation'; operator: '+' | '-' | '*' | '/'; left: Node; right: Node };
function toExpression(node: Node): Parameters<typeof formatCountdownExpression>[0] {
  if (node.kind === 'number') {
    const parsed = parseCountdownExpression(String(node.n));
    if (!parsed.ok) throw new Error('unreachable');
    return parsed.expression;
  }
  return {
    kind: 'operation',
    operator: node.operator,
    left: toExpression(node.left),
    right: toExpression(node.right),
  };
}

describe('Countdown task: bad input', () => {
  const tight = {
    numberCount: 3,
    minNumber: 1,
    maxNumber: 2,
    solutionSteps: 2,
    maxValue: 20,
    minTarget: 2,
  };

  it.each([
    [
      'an unknown level',
      () => createCountdownTask({ level: 9 as never }),
      ErrorCode.InvalidValue,
      ['settings.level', '9'],
    ],
    [
      'an unknown setting',
      () => createCountdownTask({ seed: 3 } as never),
      ErrorCode.InvalidConfig,
      ['seed', 'useAllNumbers'],
    ],
    [
      'a testFraction of 0',
      () => createCountdownTask({ testFraction: 0 }),
      ErrorCode.InvalidValue,
      ['testFraction', '> 0', '0'],
    ],
    [
      'a testFraction of 1',
      () => createCountdownTask({ testFraction: 1 }),
      ErrorCode.InvalidValue,
      ['testFraction', '<= 0.999'],
    ],
    [
      'too many numbers',
      () => createCountdownTask({ level: { ...tight, numberCount: 9 } }),
      ErrorCode.InvalidValue,
      ['numberCount', '<= 6', '9'],
    ],
    [
      'maxNumber below minNumber',
      () => createCountdownTask({ level: { ...tight, minNumber: 5, maxNumber: 2 } }),
      ErrorCode.InvalidValue,
      ['maxNumber', '>= 5'],
    ],
    [
      'a shallow solution while every number must be used',
      () => createCountdownTask({ level: { ...tight, solutionSteps: 1 } }),
      ErrorCode.InvalidValue,
      ['solutionSteps', '>= 2', '1'],
    ],
    [
      'a missing level field',
      () => createCountdownTask({ level: { numberCount: 3 } as never }),
      ErrorCode.InvalidArgument,
      ['maxValue', 'required'],
    ],
    [
      'an unknown level field',
      () => createCountdownTask({ level: { ...tight, depth: 2 } as never }),
      ErrorCode.InvalidConfig,
      ['settings.level.depth'],
    ],
    [
      'an unknown split',
      () => countdownTask.generate({ split: 'validation' as never, seed: 0, count: 1 }),
      ErrorCode.InvalidValue,
      ['split', 'validation'],
    ],
    [
      'a negative seed',
      () => countdownTask.generate({ split: 'train', seed: -1, count: 1 }),
      ErrorCode.InvalidValue,
      ['seed', '-1'],
    ],
    [
      'a fractional count',
      () => countdownTask.generate({ split: 'train', seed: 0, count: 2.5 }),
      ErrorCode.InvalidValue,
      ['count', 'integer'],
    ],
    [
      'more problems than the split holds',
      () => createCountdownTask({ level: tight }).generate({ split: 'train', seed: 0, count: 100 }),
      ErrorCode.InvalidValue,
      ['train split ran out of new problems'],
    ],
  ] satisfies BadInputCase[])('%s', (_about, call, code, message) => {
    expectHicraError(call, { code, message });
  });
});
