import { readFileSync } from 'node:fs';
import { ErrorCode } from '@hicra/spec';
import { type BadInputCase, expectHicraError } from '@hicra/spec/testing';
import { SeededGenerator } from '@hicra/tensor/kernels';
import { describe, expect, it } from 'vitest';
import {
  COUNTDOWN_PLANNING_PHRASES,
  COUNTDOWN_TEMPLATES,
  type CountdownProblem,
  type CountdownTraceSettings,
  countdownTraceGenerator,
  countdownVerifier,
  countdownVocabulary,
  createCountdownTask,
  createCountdownTraceGenerator,
  splitCountdownWords,
} from '../src/index.js';

const lexicon: { grams: string[] } = JSON.parse(
  readFileSync(new URL('../data/strategic-grams.paper.json', import.meta.url), 'utf8'),
);

function tracesFor(
  level: 1 | 2 | 3 | 4,
  settings: CountdownTraceSettings,
  count: number,
  seed = 1,
  useAllNumbers = true,
) {
  const task = createCountdownTask({ level, useAllNumbers });
  const problems = task.generate({ split: 'train', seed, count });
  const generator = createCountdownTraceGenerator({
    ...settings,
    maxValue: task.settings.levelSettings.maxValue,
  });
  const random = new SeededGenerator(seed);
  return problems.map((problem) => ({ problem, trace: generator.generate(problem, random), task }));
}

/** |observed share - p| within 4 binomial standard deviations. */
function expectRate(hits: number, n: number, p: number) {
  const sigma = Math.sqrt((p * (1 - p)) / n);
  expect(Math.abs(hits / n - p), `share ${hits / n} vs setting ${p} over ${n}`).toBeLessThanOrEqual(
    4 * sigma,
  );
}

describe('planning phrases', () => {
  it('every phrase of the templates appears verbatim in the copied lexicon of the paper', () => {
    const grams = new Set(lexicon.grams);
    expect(lexicon.grams).toHaveLength(249);
    for (const phrase of COUNTDOWN_PLANNING_PHRASES) expect(grams.has(phrase), phrase).toBe(true);
    for (const role of Object.values(COUNTDOWN_TEMPLATES))
      for (const phrase of role) expect(grams.has(phrase), phrase).toBe(true);
  });

  it('phrases survive a word-level round trip: no punctuation besides inner apostrophes', () => {
    for (const phrase of COUNTDOWN_PLANNING_PHRASES) {
      expect(splitCountdownWords(phrase).join(' ')).toBe(phrase);
    }
  });

  it('the planning spans of a trace point at template phrases in its text', () => {
    for (const { trace } of tracesFor(1, { slipRate: 0.3, strategicErrorRate: 0.5 }, 200)) {
      expect(trace.planningSpans.length).toBeGreaterThan(0);
      for (const span of trace.planningSpans) {
        expect(trace.text.slice(span.start, span.end)).toBe(span.phrase);
        expect(COUNTDOWN_PLANNING_PHRASES).toContain(span.phrase);
      }
    }
  });
});

describe('trace shape', () => {
  it('reads as planning phrases, steps and a final answer line', () => {
    const problem: CountdownProblem = {
      id: 'x',
      numbers: [3, 8, 2],
      target: 22,
      useAllNumbers: true,
      solution: '3 * 8 - 2',
      level: 1,
      split: 'train',
    };
    const trace = countdownTraceGenerator.generate(problem, new SeededGenerator(0));
    const lines = trace.text.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/ 3 \* 8 = 24$/);
    expect(lines[1]).toMatch(/ 24 - 2 = 22$/);
    expect(lines[2]).toBe('Answer: 3 * 8 - 2');
    expect(trace).toMatchObject({
      slip: false,
      deadEnd: false,
      recovered: false,
      expectedCorrect: true,
      answer: '3 * 8 - 2',
    });
  });

  it('is deterministic in the problem and the generator state', () => {
    const a = tracesFor(2, { slipRate: 0.3, strategicErrorRate: 0.5 }, 50, 3).map((t) => t.trace);
    const b = tracesFor(2, { slipRate: 0.3, strategicErrorRate: 0.5 }, 50, 3).map((t) => t.trace);
    expect(b).toEqual(a);
  });

  it('level 1 traces stay within 60 words, and every word of prompts and traces is in the vocabulary', () => {
    for (const level of [1, 2, 3, 4] as const) {
      const samples = tracesFor(
        level,
        { slipRate: 0.5, strategicErrorRate: 0.6, recoveryRate: 0.5 },
        400,
        2,
      );
      const vocabulary = new Set(
        countdownVocabulary(samples[0]!.task.settings.levelSettings.maxValue),
      );
      let longest = 0;
      for (const { problem, trace, task } of samples) {
        const words = splitCountdownWords(trace.text);
        longest = Math.max(longest, words.length);
        for (const word of [...words, ...splitCountdownWords(task.prompt(problem))]) {
          expect(vocabulary.has(word), `${JSON.stringify(word)} at level ${level}`).toBe(true);
        }
      }
      if (level === 1) expect(longest).toBeLessThanOrEqual(60);
    }
  });

  it('the vocabulary is small and lists each word once', () => {
    const vocabulary = countdownVocabulary(100);
    expect(new Set(vocabulary).size).toBe(vocabulary.length);
    expect(vocabulary.length).toBeLessThan(200);
    expect(vocabulary).toContain('\n');
    expect(vocabulary).toContain("can't");
    expect(vocabulary).toContain('100');
    expect(vocabulary).not.toContain('101');
  });
});

describe('error rates and correctness', () => {
  it('generated traces verify as correct exactly when no uncorrected error was injected', () => {
    for (const useAllNumbers of [true, false]) {
      for (const level of [1, 2, 3, 4] as const) {
        for (const { problem, trace } of tracesFor(
          level,
          { slipRate: 0.35, strategicErrorRate: 0.5, recoveryRate: 0.5 },
          300,
          5,
          useAllNumbers,
        )) {
          const verdict = countdownVerifier.verify(trace.text, problem);
          expect(verdict.status).toBe('checked');
          const correct = verdict.status === 'checked' && verdict.correct;
          if (correct !== trace.expectedCorrect)
            throw new Error(`level ${level}: ${trace.text}\n${JSON.stringify(verdict)}`);
          expect(trace.expectedCorrect).toBe(!trace.slip && (!trace.deadEnd || trace.recovered));
        }
      }
    }
  });

  it('measured slip, dead-end and recovery rates match the settings within 4 sigma (errors measured in the text)', () => {
    const settings = { slipRate: 0.3, strategicErrorRate: 0.4, recoveryRate: 0.6 };
    const samples = tracesFor(1, settings, 4000, 9);
    let slips = 0;
    let deadEnds = 0;
    let recoveries = 0;
    let correct = 0;
    const deadEndPhrases = new Set(COUNTDOWN_TEMPLATES.deadEnd);
    for (const { problem, trace } of samples) {
      const verdict = countdownVerifier.verify(trace.text, problem);
      if (verdict.status !== 'checked') throw new Error('unscorable trace');
      // An execution slip shows as a step with wrong arithmetic.
      const slipped = verdict.steps.some((step) => !step.arithmeticCorrect);
      // A recovered dead end shows as a dead-end phrase; an unrecovered one as a wrong answer.
      const recovered = trace.planningSpans.some((span) => deadEndPhrases.has(span.phrase));
      const deadEnd = recovered || !verdict.answerCorrect;
      expect([slipped, deadEnd, recovered]).toEqual([trace.slip, trace.deadEnd, trace.recovered]);
      slips += Number(slipped);
      deadEnds += Number(deadEnd);
      recoveries += Number(recovered);
      correct += Number(verdict.correct);
    }
    const n = samples.length;
    expectRate(slips, n, settings.slipRate);
    expectRate(deadEnds, n, settings.strategicErrorRate);
    expectRate(recoveries, deadEnds, settings.recoveryRate);
    expectRate(
      correct,
      n,
      (1 - settings.slipRate) * (1 - settings.strategicErrorRate * (1 - settings.recoveryRate)),
    );
  });

  it('rates of 0 and 1 are exact', () => {
    const clean = tracesFor(2, {}, 200);
    expect(clean.every(({ trace }) => trace.expectedCorrect && !trace.slip && !trace.deadEnd)).toBe(
      true,
    );
    const always = tracesFor(2, { slipRate: 1, strategicErrorRate: 1, recoveryRate: 1 }, 200);
    expect(
      always.every(
        ({ trace }) => trace.slip && trace.deadEnd && trace.recovered && !trace.expectedCorrect,
      ),
    ).toBe(true);
    const neverRecover = tracesFor(2, { strategicErrorRate: 1, recoveryRate: 0 }, 200);
    for (const { problem, trace } of neverRecover) {
      expect(countdownVerifier.verify(trace.text, problem)).toMatchObject({
        correct: false,
        answerCorrect: false,
      });
    }
  });
});

describe('trace generator: bad input', () => {
  const problem = { numbers: [3, 8, 2], target: 22, solution: '3 * 8 - 2' };

  it.each([
    [
      'a rate above 1',
      () => createCountdownTraceGenerator({ slipRate: 1.5 }),
      ErrorCode.InvalidValue,
      ['slipRate', '<= 1', '1.5'],
    ],
    [
      'a negative rate',
      () => createCountdownTraceGenerator({ recoveryRate: -0.1 }),
      ErrorCode.InvalidValue,
      ['recoveryRate', '>= 0'],
    ],
    [
      'a rate that is not a number',
      () => createCountdownTraceGenerator({ strategicErrorRate: '0.2' as never }),
      ErrorCode.InvalidArgument,
      ['strategicErrorRate', 'number', '"0.2"'],
    ],
    [
      'an unknown setting',
      () => createCountdownTraceGenerator({ errorRate: 0.1 } as never),
      ErrorCode.InvalidConfig,
      ['errorRate', 'slipRate'],
    ],
    [
      'a solution that does not parse',
      () =>
        countdownTraceGenerator.generate({ ...problem, solution: '3 *' }, new SeededGenerator(0)),
      ErrorCode.InvalidValue,
      ['problem.solution', '"3 *"'],
    ],
    [
      'a solution beyond maxValue',
      () =>
        createCountdownTraceGenerator({ maxValue: 20 }).generate(problem, new SeededGenerator(0)),
      ErrorCode.InvalidValue,
      ['maxValue 20'],
    ],
    [
      'a vocabulary bound out of range',
      () => countdownVocabulary(0),
      ErrorCode.InvalidValue,
      ['maxValue', '0'],
    ],
  ] satisfies BadInputCase[])('%s', (_about, call, code, message) => {
    expectHicraError(call, { code, message });
  });
});
