import { ConfigError } from '@hicra/spec';
import { describe, expect, it } from 'vitest';
import { parseRlConfig } from '../src/index.js';

function configError(input: unknown): ConfigError {
  try {
    parseRlConfig(input);
  } catch (error) {
    if (ConfigError.isInstance(error)) return error as ConfigError;
    throw error;
  }
  throw new Error('expected a ConfigError');
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
    [{ update: { clipRatioLow: 2 } }, 'update.clipRatioLow', 'Too big'],
    [{ update: { clipRatioC: 1 } }, 'update.clipRatioC', 'Too small'],
    [{ update: { lossAggregation: 'mean' } }, 'update.lossAggregation', 'Invalid option'],
    [{ steps: 0 }, 'steps', 'Too small'],
    [{ sampling: { topP: 0 } }, 'sampling.topP', 'Too small'],
    [{ stepz: 3 }, '', 'Unrecognized key'],
    [{ update: { clipRatio: 0.2 } }, 'update', 'Unrecognized key'],
    [{ credit: { estimator: { name: 'GRPO' } } }, 'credit.estimator.name', 'kebab-case'],
    [
      { samplesPerPrompt: 1 },
      'samplesPerPrompt',
      'group-relative and needs at least 2 samples per prompt',
    ],
    [{ update: { klInReward: true } }, 'update.klInReward', 'needs klCoefficient > 0'],
    [{ seed: 'one' }, 'seed', 'expected number'],
  ])('rejects %j at %s', (input, path, fragment) => {
    const error = configError(input);
    expect(error.path).toBe(path);
    expect(error.message.toLowerCase()).toContain(fragment.toLowerCase());
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
    const { RlTrainer } = await import('../src/index.js');
    const { toyClassifier, toyProblems, toyReward, toyTokenizer } = await import('./toy-task.js');
    const policy = TransformerPolicy.create(
      { vocabSize: toyTokenizer.vocabSize + 1, contextLength: 8, width: 8, layers: 1, heads: 2 },
      { seed: 1 },
    );
    const make = (extra: object = {}) =>
      new RlTrainer({
        config: {},
        policy,
        tokenizer: toyTokenizer,
        reward: toyReward,
        classifier: toyClassifier,
        trainProblems: toyProblems(2),
        ...extra,
      });
    expect(() => make()).toThrow(/the tokenizer has 12 ids but the policy's vocabulary is 13/);
    const matching = TransformerPolicy.create(
      { vocabSize: toyTokenizer.vocabSize, contextLength: 8, width: 8, layers: 1, heads: 2 },
      { seed: 1 },
    );
    expect(() =>
      make({ policy: matching, config: { credit: { estimator: { name: 'gpro' } } } }),
    ).toThrow(/unknown estimator "gpro"/);
    expect(() => make({ policy: matching, trainProblems: [] })).toThrow(/no training problems/);
    policy.dispose();
    matching.dispose();
  });
});
