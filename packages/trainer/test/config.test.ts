import { ConfigError, ErrorCode } from '@hicra/spec';
import { expectHicraError } from '@hicra/spec/testing';
import { describe, expect, it } from 'vitest';
import { MAX_RESPONSES_PER_STEP, parseRlConfig } from '../src/index.js';

/** The ConfigError parseRlConfig throws for `input`; any other outcome fails the test. */
function configError(input: unknown): ConfigError {
  return expectHicraError(() => parseRlConfig(input), { errorClass: ConfigError });
}

describe('parseRlConfig', () => {
  it('fills every default', () => {
    const config = parseRlConfig({});
    expect(config.update).toMatchObject({
      clipRatioLow: 0.2,
      clipRatioHigh: 0.28,
      clipRatioC: 3,
      lossAggregation: 'token-mean',
    });
    expect(config.credit).toEqual({ estimator: { name: 'grpo' }, assigners: [] });
    expect(config.samplesPerPrompt).toBe(8);
  });

  it.each([
    [{ update: { clipRatioLow: 2 } }, 'update.clipRatioLow', 'expected a number in [0, 1], got 2'],
    [{ update: { clipRatioC: 1 } }, 'update.clipRatioC', 'expected a number > 1, got 1'],
    [
      { update: { clipRatioHigh: -0.1 } },
      'update.clipRatioHigh',
      'expected a number >= 0, got -0.1',
    ],
    [{ update: { maxGradNorm: 0 } }, 'update.maxGradNorm', 'expected a number > 0, got 0'],
    [
      { update: { entropyCoefficient: Number.POSITIVE_INFINITY } },
      'update.entropyCoefficient',
      'expected a number >= 0, got Infinity',
    ],
    [{ update: { epochs: 1e6 } }, 'update.epochs', 'expected an integer in [1, 100], got 1000000'],
    [
      { update: { miniBatchSize: 1e9 } },
      'update.miniBatchSize',
      'expected an integer in [1, 65536], got 1000000000',
    ],
    [{ update: { lossAggregation: 'mean' } }, 'update.lossAggregation', 'Invalid option'],
    [{ steps: 0 }, 'steps', 'expected an integer >= 1, got 0'],
    [{ steps: -3 }, 'steps', 'expected an integer >= 1, got -3'],
    [{ steps: 2.5 }, 'steps', 'expected an integer >= 1, got 2.5'],
    [{ steps: Number.NaN }, 'steps', 'expected an integer >= 1, got NaN'],
    [{ sampling: { topP: 0 } }, 'sampling.topP', 'expected a number in (0, 1], got 0'],
    [
      { sampling: { temperature: 0 } },
      'sampling.temperature',
      'expected a number in [0.001, 100], got 0',
    ],
    [
      { evaluation: { temperature: -1 } },
      'evaluation.temperature',
      'expected 0 (greedy) or a number in [0.001, 100], got -1',
    ],
    [
      { optimizer: { learningRate: 1e30 } },
      'optimizer.learningRate',
      'expected a number in (0, 1], got 1e+30',
    ],
    [
      { optimizer: { learningRate: 0 } },
      'optimizer.learningRate',
      'expected a number in (0, 1], got 0',
    ],
    [
      { optimizer: { learningRate: Number.NaN } },
      'optimizer.learningRate',
      'expected a number in (0, 1], got NaN',
    ],
    [
      { optimizer: { minLearningRate: 2 } },
      'optimizer.minLearningRate',
      'expected a number in [0, 1], got 2',
    ],
    [
      { optimizer: { learningRate: 1e-3, minLearningRate: 1e-2 } },
      'optimizer.minLearningRate',
      'expected a number in [0, learningRate = 0.001], got 0.01',
    ],
    [
      { optimizer: { weightDecay: 5 } },
      'optimizer.weightDecay',
      'expected a number in [0, 1], got 5',
    ],
    [{ optimizer: { beta1: 1 } }, 'optimizer.beta1', 'expected a number in [0, 1), got 1'],
    [{ optimizer: { beta2: -0.5 } }, 'optimizer.beta2', 'expected a number in [0, 1), got -0.5'],
    [
      { dynamicSampling: { maxRefills: 1e6 } },
      'dynamicSampling.maxRefills',
      'expected an integer in [0, 100], got 1000000',
    ],
    [
      { promptsPerStep: 1e8 },
      'promptsPerStep',
      'promptsPerStep · samplesPerPrompt = 100000000 · 8 = 800000000 responses per step, more than the maximum 65536',
    ],
    [
      { promptsPerStep: 512, samplesPerPrompt: 256 },
      'promptsPerStep',
      '= 131072 responses per step, more than the maximum 65536',
    ],
    [
      { sampling: { maxNewTokens: 1e6 } },
      'sampling.maxNewTokens',
      'promptsPerStep · samplesPerPrompt · sampling.maxNewTokens = 64 · 1000000 = 64000000 response tokens per step, more than the maximum 16777216',
    ],
    [
      { evaluation: { problems: 1e5 } },
      'evaluation.problems',
      'evaluation.problems · evaluation.k = 100000 · 4 = 400000 responses per evaluation, more than the maximum 65536',
    ],
    [{ stepz: 3 }, '', 'Unrecognized key'],
    [{ update: { clipRatio: 0.2 } }, 'update', 'Unrecognized key'],
    [{ sampling: 42 }, 'sampling', 'got 42'],
    [{ credit: { estimator: { name: 'GRPO' } } }, 'credit.estimator.name', 'kebab-case'],
    [
      { samplesPerPrompt: 1 },
      'samplesPerPrompt',
      'group-relative and needs at least 2 samples per prompt',
    ],
    [{ update: { klInReward: true } }, 'update.klInReward', 'needs klCoefficient > 0'],
    [{ seed: 'one' }, 'seed', 'expected an integer >= 0, got "one"'],
    [42, '', 'RL config: expected an object of settings, got the number 42'],
    [null, '', 'RL config: expected an object of settings, got null'],
    [[], '', 'RL config: expected an object of settings, got an array of 0 entries'],
    ['steps: 3', '', 'RL config: expected an object of settings, got the string "steps: 3"'],
  ])('rejects %j at %s', (input, path, fragment) => {
    const error = configError(input);
    expect(error.code).toBe(ErrorCode.InvalidConfig);
    expect(error.path).toBe(path);
    expect(error.message).toContain(`config${path ? ` key ${path}` : ''}: `);
    expect(error.message.toLowerCase()).toContain(fragment.toLowerCase());
  });

  it('accepts the bounds themselves, and undefined as every default', () => {
    const config = parseRlConfig({
      steps: 1,
      promptsPerStep: 256,
      samplesPerPrompt: 256,
      sampling: { maxNewTokens: 256, temperature: 0.001 },
      evaluation: { temperature: 0 },
      optimizer: { learningRate: 1, minLearningRate: 1, weightDecay: 1, beta1: 0 },
      update: { epochs: 100, clipRatioLow: 1 },
    });
    expect(config.promptsPerStep * config.samplesPerPrompt).toBe(MAX_RESPONSES_PER_STEP);
    expect(parseRlConfig(undefined).steps).toBe(100);
  });

  it('allows a group of one with a non-group estimator', () => {
    expect(
      parseRlConfig({ samplesPerPrompt: 1, credit: { estimator: { name: 'reinforce-plus-plus' } } })
        .samplesPerPrompt,
    ).toBe(1);
  });
});

describe('RlTrainer construction', () => {
  it('rejects a tokenizer and policy that disagree on the vocabulary', async () => {
    const { TransformerPolicy } = await import('@hicra/policy');
    const { toyClassifier, toyProblems, toyReward, toyTokenizer } = await import('./toy-task.js');
    const policy = TransformerPolicy.create(
      { vocabSize: toyTokenizer.vocabSize + 1, contextLength: 8, width: 8, layers: 1, heads: 2 },
      { seed: 1 },
    );
    const { localTrainer } = await import('./toy-task.js');
    const make = (candidate: typeof policy, extra: object = {}) =>
      localTrainer(candidate, {
        config: {},
        tokenizer: toyTokenizer,
        reward: toyReward,
        classifier: toyClassifier,
        trainProblems: toyProblems(2),
        ...extra,
      });
    await expect(make(policy)).rejects.toThrow(
      /the tokenizer has 12 ids but the policy's vocabulary \(the engine \(hicra-transformer\)\) is 13/,
    );
    const matching = TransformerPolicy.create(
      { vocabSize: toyTokenizer.vocabSize, contextLength: 8, width: 8, layers: 1, heads: 2 },
      { seed: 1 },
    );
    await expect(
      make(matching, { config: { credit: { estimator: { name: 'gpro' } } } }),
    ).rejects.toThrow(/unknown estimator "gpro"/);
    await expect(make(matching, { trainProblems: [] })).rejects.toThrow(/no training problems/);
    policy.dispose();
    matching.dispose();
  });
});
