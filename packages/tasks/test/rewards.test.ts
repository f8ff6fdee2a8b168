import {
  type ConfigError,
  definePlugin,
  defineSettings,
  ErrorCode,
  type RewardFunctionV1,
  type RewardResultV1,
} from '@hicra/spec';
import { type BadInputCase, expectHicraError } from '@hicra/spec/testing';
import { describe, expect, it } from 'vitest';
import {
  countdownCorrectnessReward,
  countdownFormatReward,
  createCountdownCorrectnessReward,
  createFormatReward,
  createMathCorrectnessReward,
  createOverlongPenaltyReward,
  createReward,
  createRewardRegistry,
  createWeightedReward,
  formatReward,
  mathCorrectnessReward,
  overlongPenaltyReward,
  REWARD_NAMES,
  rewardRegistry,
} from '../src/index.js';

const problem = { numbers: [3, 8, 2], target: 22 };
const score = (reward: RewardFunctionV1, input: Parameters<RewardFunctionV1['score']>[0]) =>
  reward.score(input) as RewardResultV1;

describe('correctness rewards', () => {
  it('math: 1 for a correct answer, 0 for a wrong one, with the component and the verdict', () => {
    expect(
      score(mathCorrectnessReward, {
        prompt: 'q',
        response: '\\boxed{\\frac12}',
        reference: '0.5',
      }),
    ).toEqual({
      kind: 'scored',
      reward: 1,
      correct: true,
      components: { 'math-correctness': 1 },
    });
    expect(
      score(mathCorrectnessReward, {
        prompt: 'q',
        response: 'Answer: 3',
        reference: { answer: 4 },
      }),
    ).toMatchObject({
      reward: 0,
      correct: false,
    });
  });

  it('by default a response without a final answer scores incorrect, flagged with the reason', () => {
    const result = score(mathCorrectnessReward, {
      prompt: 'q',
      response: 'no idea',
      reference: '4',
    });
    expect(result).toEqual({
      kind: 'scored',
      reward: 0,
      correct: false,
      components: { 'math-correctness': 0 },
      missingAnswer: expect.stringContaining('no final answer'),
    });
    expect(
      score(countdownCorrectnessReward, {
        prompt: 'q',
        response: '3 * 8 = 24',
        reference: problem,
      }),
    ).toMatchObject({ kind: 'scored', reward: 0, missingAnswer: expect.any(String) });
    expect(
      score(mathCorrectnessReward, { prompt: 'q', response: '\\boxed{1', reference: '1' }),
    ).toMatchObject({ kind: 'scored', missingAnswer: 'the last \\boxed{ has no matching }' });
    // a checked answer carries no flag
    expect(
      score(mathCorrectnessReward, { prompt: 'q', response: 'Answer: 3', reference: '4' }),
    ).not.toHaveProperty('missingAnswer');
  });

  it("missingAnswer: 'unscorable' drops a response without a final answer, with the reason", () => {
    const dropping = createMathCorrectnessReward({ missingAnswer: 'unscorable' });
    expect(score(dropping, { prompt: 'q', response: 'no idea', reference: '4' })).toEqual({
      kind: 'unscorable',
      reason: expect.stringContaining('no final answer'),
    });
    expect(
      score(createCountdownCorrectnessReward({ missingAnswer: 'unscorable' }), {
        prompt: 'q',
        response: '3 * 8 = 24',
        reference: problem,
      }),
    ).toMatchObject({ kind: 'unscorable' });
    expect(score(dropping, { prompt: 'q', response: '\\boxed{1', reference: '1' })).toEqual({
      kind: 'unscorable',
      reason: 'the last \\boxed{ has no matching }',
    });
  });

  it('missingAnswer: incorrect scores a missing answer as incorrect, but a timeout stays unscorable', () => {
    const strict = createMathCorrectnessReward({ missingAnswer: 'incorrect', incorrectReward: -1 });
    expect(score(strict, { prompt: 'q', response: 'no idea', reference: '4' })).toMatchObject({
      kind: 'scored',
      reward: -1,
      correct: false,
    });
    const hurried = createMathCorrectnessReward({
      missingAnswer: 'incorrect',
      verifier: { timeLimitMs: 1, maxAnswerLength: 1_000_000 },
    });
    const big = Array.from({ length: 5000 }, (_, i) => `\\sqrt{${i}+x}`).join('+');
    expect(
      score(hurried, { prompt: 'q', response: `\\boxed{${big}}`, reference: 'x' }),
    ).toMatchObject({ kind: 'unscorable' });
  });

  it('countdown: uses the problem as reference and custom reward values', () => {
    const reward = createCountdownCorrectnessReward({ correctReward: 2, incorrectReward: -0.5 });
    expect(
      score(reward, {
        prompt: 'Use 3, 8, 2 to make 22.',
        response: 'Answer: 3 * 8 - 2',
        reference: problem,
      }),
    ).toMatchObject({ reward: 2, correct: true });
    expect(
      score(reward, {
        prompt: '',
        response: '3 * 8 = 23\n23 - 1 = 22\nAnswer: 3 * 8 - 2',
        reference: problem,
      }),
    ).toMatchObject({ reward: -0.5, correct: false });
  });
});

describe('reading the final answer (extractAnswer)', () => {
  it('the correctness rewards read answers as their verifiers do; weighted takes its first reader', () => {
    expect(mathCorrectnessReward.extractAnswer?.('so x = 4, \\boxed{\\frac{1}{2}}')).toBe(
      '\\frac{1}{2}',
    );
    expect(mathCorrectnessReward.extractAnswer?.('Answer: 12.')).toBe('12');
    expect(mathCorrectnessReward.extractAnswer?.('no answer here')).toBeUndefined();
    expect(countdownCorrectnessReward.extractAnswer?.('3 * 8 = 24\nAnswer: 3 * 8 - 2')).toBe(
      '3 * 8 - 2',
    );
    // Countdown reads only the Answer: line, never a boxed value.
    expect(countdownCorrectnessReward.extractAnswer?.('\\boxed{22}')).toBeUndefined();
    const combined = createWeightedReward({
      components: [
        { weight: 0.1, reward: formatReward },
        { weight: 1, reward: countdownCorrectnessReward },
      ],
    });
    expect(combined.extractAnswer?.('Answer: 3 * 8 - 2')).toBe('3 * 8 - 2');
    expect(
      createWeightedReward({ components: [{ weight: 1, reward: formatReward }] }).extractAnswer,
    ).toBeUndefined();
  });
});

describe('format rewards', () => {
  it('reward a usable final answer and are always scorable', () => {
    expect(score(formatReward, { prompt: '', response: '\\boxed{3}' })).toMatchObject({
      kind: 'scored',
      reward: 1,
    });
    expect(score(formatReward, { prompt: '', response: '\\boxed{3' })).toMatchObject({
      kind: 'scored',
      reward: 0,
    });
    expect(score(formatReward, { prompt: '', response: 'nothing' })).toMatchObject({
      kind: 'scored',
      reward: 0,
    });
    expect(
      score(countdownFormatReward, { prompt: '', response: 'Answer: (3 + 8) * 2' }),
    ).toMatchObject({ reward: 1 });
    expect(score(countdownFormatReward, { prompt: '', response: 'Answer: 3 + x' })).toMatchObject({
      reward: 0,
    });
    expect(score(countdownFormatReward, { prompt: '', response: '\\boxed{3 + 8}' })).toMatchObject({
      reward: 0,
    });
  });
});

describe('DAPO soft overlong penalty', () => {
  // L_max = 100, L_cache = 20: 0 up to 80, then linear down to -1 at 100, -1 beyond.
  const penalty = createOverlongPenaltyReward({ maxLength: 100, cacheLength: 20 });
  it.each([
    [0, 0],
    [80, 0],
    [81, -0.05],
    [90, -0.5],
    [99, -0.95],
    [100, -1],
    [101, -1],
    [5000, -1],
  ])('length %i -> %f', (length, expected) => {
    const result = score(penalty, { prompt: '', response: 'x', responseLength: length });
    expect(result.kind).toBe('scored');
    if (result.kind === 'scored') expect(result.reward).toBeCloseTo(expected, 12);
  });

  it('takes L_max from the input and L_cache as 20% of it by default; penaltyFactor scales it', () => {
    expect(
      score(overlongPenaltyReward, {
        prompt: '',
        response: '',
        responseLength: 90,
        maxResponseLength: 100,
      }),
    ).toMatchObject({ reward: -0.5 });
    const scaled = createOverlongPenaltyReward({
      maxLength: 100,
      cacheLength: 20,
      penaltyFactor: 0.5,
    });
    expect(score(scaled, { prompt: '', response: '', responseLength: 120 })).toMatchObject({
      reward: -0.5,
    });
    const hard = createOverlongPenaltyReward({ maxLength: 100, cacheLength: 0 });
    expect(score(hard, { prompt: '', response: '', responseLength: 100 })).toMatchObject({
      reward: 0,
    });
    expect(score(hard, { prompt: '', response: '', responseLength: 101 })).toMatchObject({
      reward: -1,
    });
  });
});

describe('weighted combinations', () => {
  const correctness = countdownCorrectnessReward;
  const overlong = createOverlongPenaltyReward({ maxLength: 100, cacheLength: 20 });

  it('sums weighted components and keeps each unweighted part', () => {
    const combined = createWeightedReward({
      components: [
        { reward: correctness, weight: 1 },
        { reward: countdownFormatReward, weight: 0.1 },
        { reward: overlong, weight: 1 },
      ],
    });
    expect(combined.name).toBe('weighted');
    expect(
      score(combined, {
        prompt: '',
        response: 'Answer: 3 * 8 - 2',
        reference: problem,
        responseLength: 90,
      }),
    ).toEqual({
      kind: 'scored',
      reward: 1 + 0.1 - 0.5,
      correct: true,
      components: { 'countdown-correctness': 1, 'countdown-format': 1, 'overlong-penalty': -0.5 },
    });
  });

  it('is unscorable when a component is, naming it', () => {
    const combined = createWeightedReward({
      components: [
        { reward: countdownFormatReward, weight: 1 },
        {
          reward: createCountdownCorrectnessReward({ missingAnswer: 'unscorable' }),
          weight: 1,
        },
      ],
    });
    expect(score(combined, { prompt: '', response: 'nothing', reference: problem })).toEqual({
      kind: 'unscorable',
      reason: expect.stringMatching(/^countdown-correctness: no final answer/),
    });
  });

  it('carries a component missingAnswer flag, naming the component', () => {
    const combined = createWeightedReward({
      components: [
        { reward: countdownFormatReward, weight: 1 },
        { reward: correctness, weight: 1 },
      ],
    });
    expect(score(combined, { prompt: '', response: 'nothing', reference: problem })).toMatchObject({
      kind: 'scored',
      reward: 0,
      correct: false,
      missingAnswer: expect.stringMatching(/^countdown-correctness: no final answer/),
    });
  });

  it('awaits asynchronous components and names repeated ones apart', async () => {
    const remote: RewardFunctionV1 = {
      name: 'remote-judge',
      score: async () => ({ kind: 'scored', reward: 0.25, correct: false }),
    };
    const combined = createWeightedReward({
      name: 'mix',
      components: [
        { reward: remote, weight: 2 },
        { reward: remote, weight: 1 },
        { reward: correctness, weight: 1 },
      ],
    });
    await expect(
      combined.score({ prompt: '', response: 'Answer: 3 * 8 - 2', reference: problem }),
    ).resolves.toEqual({
      kind: 'scored',
      reward: 0.75 + 1,
      correct: false,
      components: { 'remote-judge': 0.25, 'remote-judge#2': 0.25, 'countdown-correctness': 1 },
    });
  });

  it('refuses a component that returns a non-finite reward', () => {
    const broken: RewardFunctionV1 = {
      name: 'broken',
      score: () => ({ kind: 'scored', reward: Number.NaN }),
    };
    const combined = createWeightedReward({ components: [{ reward: broken, weight: 1 }] });
    expect(() => combined.score({ prompt: '', response: '' })).toThrow(
      /component broken returned NaN/,
    );
  });
});

describe('registry', () => {
  it('takes the one registration shape; a weighted config builds its parts from the same registry', () => {
    const registry = createRewardRegistry();
    registry.register(
      definePlugin({
        kind: 'reward',
        name: 'length-bonus',
        description: 'a bonus per character',
        settings: defineSettings({
          perChar: { type: 'number', min: 0, default: 0.01, description: 'bonus per character' },
        }),
        create: ({ perChar }) => ({
          name: 'length-bonus',
          score: (input) => ({ kind: 'scored', reward: perChar * input.response.length }),
        }),
      }),
    );
    const reward = registry.create({
      name: 'weighted',
      components: [
        { weight: 1, reward: { name: 'format' } },
        { weight: 2, reward: { name: 'length-bonus', perChar: 0.5 } },
      ],
    });
    expect(reward.score({ prompt: 'q', response: 'Answer: 4' })).toMatchObject({
      kind: 'scored',
      reward: 1 + 2 * 0.5 * 9,
    });
    const error = expectHicraError<ConfigError>(
      () =>
        registry.create({
          name: 'weighted',
          components: [{ weight: 1, reward: { name: 'length-bonus', perChar: -1 } }],
        }),
      { code: ErrorCode.InvalidConfig, message: 'length-bonus: expected a number >= 0, got -1' },
    );
    expect(error.path).toBe('components[0].reward.perChar');
    // The sealed default knows only the built-ins.
    expectHicraError(() => createReward({ name: 'length-bonus' }), {
      code: ErrorCode.UnknownName,
    });
  });

  it('knows the built-in names and builds each from a config', () => {
    expect(rewardRegistry.names()).toEqual([...REWARD_NAMES].sort());
    const reward = createReward({
      name: 'weighted',
      components: [
        { weight: 1, reward: { name: 'countdown-correctness', missingAnswer: 'incorrect' } },
        { weight: 1, reward: { name: 'overlong-penalty', maxLength: 96, cacheLength: 16 } },
      ],
    });
    expect(
      score(reward, { prompt: '', response: 'nothing', reference: problem, responseLength: 88 }),
    ).toMatchObject({
      kind: 'scored',
      reward: -0.5,
      correct: false,
    });
    for (const name of REWARD_NAMES.filter((n) => n !== 'weighted'))
      expect(createReward({ name }).name).toBe(name);
  });

  it('accepts third-party reward functions under new names', () => {
    const registry = createRewardRegistry();
    registry.register('length-bonus', (settings) => ({
      name: 'length-bonus',
      score: (input) => ({
        kind: 'scored',
        reward: (settings.scale as number) * input.response.length,
      }),
    }));
    expect(registry.has('length-bonus')).toBe(true);
    expect(
      score(registry.create({ name: 'length-bonus', scale: 2 }), { prompt: '', response: 'abc' }),
    ).toMatchObject({ reward: 6 });
    expect(rewardRegistry.has('length-bonus')).toBe(false);
    // The default registry cannot change.
    expectHicraError(
      () => rewardRegistry.register('length-bonus', () => createReward({ name: 'format' })),
      {
        code: ErrorCode.InvalidConfig,
        message: ['cannot change', 'length-bonus', 'createRewardRegistry()'],
      },
    );
    expect(rewardRegistry.has('length-bonus')).toBe(false);
  });
});

describe('rewards: bad input', () => {
  it.each([
    [
      'an unknown reward name',
      () => createReward({ name: 'accuracy' }),
      ErrorCode.UnknownName,
      ['unknown reward "accuracy"', '"countdown-correctness"', '"weighted"'],
    ],
    [
      'a config without a name',
      () => createReward({} as never),
      ErrorCode.InvalidConfig,
      ['config key name', 'undefined'],
    ],
    [
      'answer formats holding a non-finite number (printed as such, not null)',
      () => createFormatReward({ formats: [Number.POSITIVE_INFINITY] as never }),
      ErrorCode.InvalidConfig,
      ['config key formats', 'format: expected a non-empty array', 'got [Infinity]'],
    ],
    [
      'an unknown setting',
      () => createReward({ name: 'format', bonus: 1 }),
      ErrorCode.InvalidConfig,
      [
        'config key bonus',
        'unknown setting',
        'reward (number, default 1); penalty (number, default 0)',
      ],
    ],
    [
      'a bad setting deep in a weighted config',
      () =>
        createReward({
          name: 'weighted',
          components: [
            { weight: 1, reward: { name: 'format' } },
            { weight: 1, reward: { name: 'overlong-penalty', cacheLength: -2 } },
          ],
        }),
      ErrorCode.InvalidConfig,
      ['components[1].reward', 'cacheLength', '-2'],
    ],
    [
      'an unknown name deep in a weighted config',
      () =>
        createReward({ name: 'weighted', components: [{ weight: 1, reward: { name: 'nope' } }] }),
      ErrorCode.UnknownName,
      ['unknown reward "nope"', 'known rewards'],
    ],
    [
      'a component with an extra key',
      () =>
        createReward({
          name: 'weighted',
          components: [{ weight: 1, reward: { name: 'format' }, scale: 2 }],
        }),
      ErrorCode.InvalidConfig,
      ['components[0].scale'],
    ],
    [
      'a weight that is not a number',
      () => createWeightedReward({ components: [{ reward: formatReward, weight: '1' as never }] }),
      ErrorCode.InvalidArgument,
      ['components[0].weight', 'number'],
    ],
    [
      'no components',
      () => createWeightedReward({ components: [] }),
      ErrorCode.InvalidArgument,
      ['components', 'non-empty'],
    ],
    [
      'a component that is not a reward function',
      () => createWeightedReward({ components: [{ reward: {} as never, weight: 1 }] }),
      ErrorCode.InvalidArgument,
      ['components[0].reward', 'RewardFunctionV1'],
    ],
    [
      'a registered name that is not kebab-case',
      () => createRewardRegistry().register('Length_Bonus', () => formatReward),
      ErrorCode.InvalidConfig,
      ['kebab-case', 'Length_Bonus'],
    ],
    [
      'a name registered twice',
      () => createRewardRegistry().register('format', () => formatReward),
      ErrorCode.InvalidConfig,
      ['"format" is already registered'],
    ],
    [
      'a missing reference',
      () => mathCorrectnessReward.score({ prompt: 'q', response: '\\boxed{1}' }),
      ErrorCode.MissingInput,
      ['input.reference is required'],
    ],
    [
      'an empty reference answer',
      () => mathCorrectnessReward.score({ prompt: 'q', response: '\\boxed{1}', reference: ' ' }),
      ErrorCode.InvalidArgument,
      ['input.reference', 'non-empty'],
    ],
    [
      'a response that is not a string',
      () => formatReward.score({ prompt: 'q', response: 1 as never }),
      ErrorCode.InvalidArgument,
      ['input.response', 'string'],
    ],
    [
      'no response length for the overlong penalty',
      () => overlongPenaltyReward.score({ prompt: '', response: '', maxResponseLength: 10 }),
      ErrorCode.MissingInput,
      ['input.responseLength'],
    ],
    [
      'no L_max for the overlong penalty',
      () => overlongPenaltyReward.score({ prompt: '', response: '', responseLength: 10 }),
      ErrorCode.MissingInput,
      ['L_max', 'maxLength', 'maxResponseLength'],
    ],
    [
      'a negative response length',
      () =>
        overlongPenaltyReward.score({
          prompt: '',
          response: '',
          responseLength: -1,
          maxResponseLength: 10,
        }),
      ErrorCode.InvalidValue,
      ['responseLength', '-1'],
    ],
    [
      'a cache longer than L_max',
      () => createOverlongPenaltyReward({ maxLength: 10, cacheLength: 20 }),
      ErrorCode.InvalidConfig,
      ['cacheLength', '<= maxLength (10)', '20'],
    ],
    [
      'a bad missingAnswer',
      () => createMathCorrectnessReward({ missingAnswer: 'zero' as never }),
      ErrorCode.InvalidConfig,
      ['missingAnswer', '"incorrect", "unscorable"', 'zero'],
    ],
  ] satisfies BadInputCase[])('%s', (_about, call, code, message) => {
    expectHicraError(call, { code, message });
  });
});
