import { TransformerPolicy } from '@hicra/policy';
import { ConfigError, ErrorCode } from '@hicra/spec';
import { expectHicraRejection } from '@hicra/spec/testing';
import { describe, expect, it } from 'vitest';
import { trainSupervised } from '../src/index.js';
import { localEngine, toyModelConfig, toyProblems, toyTokenizer } from './toy-task.js';

describe('trainSupervised', () => {
  it('teaches the toy task: loss falls and greedy answers become correct', async () => {
    const policy = TransformerPolicy.create(toyModelConfig, { seed: 1 });
    const engine = localEngine(policy);
    const examples = toyProblems(30).map((p) => ({
      prompt: p.prompt,
      completion: `hmm ${p.reference}`,
    }));
    const evaluations: number[] = [];
    const evaluate = async () => {
      const problems = toyProblems(6, 50);
      const ids = problems.map(
        (p) => toyTokenizer.encode(p.prompt, { addSpecialTokens: true }).ids,
      );
      const offsets = [0];
      for (const p of ids) offsets.push(offsets[offsets.length - 1]! + p.length);
      const sampled = await policy.sample({
        prompts: {
          tokenIds: Int32Array.from(ids.flatMap((x) => Array.from(x))),
          offsets: Int32Array.from(offsets),
        },
        samplesPerPrompt: 1,
        maxNewTokens: 3,
        temperature: 0,
        seed: 0,
        stopTokenIds: [2],
      });
      let correct = 0;
      problems.forEach((p, i) => {
        const text = toyTokenizer.decode(sampled.tokenIds.subarray(i * 3, i * 3 + 3));
        if (text.split(' ')[1] === p.reference) correct++;
      });
      evaluations.push(correct / problems.length);
      return { 'eval/mean_at_k': correct / problems.length };
    };
    const records: object[] = [];
    const { losses } = await trainSupervised({
      engine,
      tokenizer: toyTokenizer,
      examples,
      settings: {
        steps: 60,
        batchSize: 8,
        learningRate: 0.02,
        warmupSteps: 5,
        evaluateEvery: 30,
        seed: 3,
      },
      sink: { write: (r) => void records.push(r) },
      evaluate,
    });
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.3);
    expect(evaluations.at(-1)).toBe(1);
    expect(records.filter((r) => (r as { kind: string }).kind === 'eval')).toHaveLength(2);
    await engine.dispose();
    policy.dispose();
  });

  it('rejects examples longer than the context and an empty set', async () => {
    const policy = TransformerPolicy.create(
      { vocabSize: toyTokenizer.vocabSize, contextLength: 4, width: 16, layers: 1, heads: 2 },
      { seed: 1 },
    );
    const engine = localEngine(policy);
    const settings = { steps: 1, batchSize: 1, learningRate: 0.01 };
    await expect(
      trainSupervised({
        engine,
        tokenizer: toyTokenizer,
        examples: [{ prompt: 'copy 1', completion: 'hmm ok ok 1' }],
        settings,
      }),
    ).rejects.toThrow(
      /example 0 has 3 prompt \+ 5 completion tokens, more than the context length 4/,
    );
    await expect(
      trainSupervised({ engine, tokenizer: toyTokenizer, examples: [], settings }),
    ).rejects.toThrow(/no examples/);
    await engine.dispose();
    policy.dispose();
  });
  it.each([
    [{ steps: 0, batchSize: 1, learningRate: 0.01 }, 'steps', 'expected an integer >= 1, got 0'],
    [
      { steps: 1.5, batchSize: 1, learningRate: 0.01 },
      'steps',
      'expected an integer >= 1, got 1.5',
    ],
    [
      { steps: 1, batchSize: 1, learningRate: 1e30 },
      'learningRate',
      'expected a number in (0, 1], got 1e+30',
    ],
    [
      { steps: 1, batchSize: 1e8, learningRate: 0.01 },
      'batchSize',
      'expected an integer in [1, 65536], got 100000000',
    ],
    [
      { steps: 1, batchSize: 1, learningRate: 0.01, minLearningRate: 0.1 },
      'minLearningRate',
      'expected a number in [0, learningRate = 0.01], got 0.1',
    ],
    [
      { steps: 1, batchSize: 1, learningRate: 0.01, optimizer: { beta1: 1 } },
      'optimizer.beta1',
      'expected a number in [0, 1), got 1',
    ],
    [
      { steps: 1, batchSize: 1, learningRate: 0.01, optimizer: { epsilon: 0 } },
      'optimizer.epsilon',
      'expected a number > 0, got 0',
    ],
    [{ steps: 1, batchSize: 1, learningRate: 0.01, stepz: 2 }, '', 'Unrecognized key'],
    [42, '', 'SFT settings: expected an object of settings, got the number 42'],
    [null, '', 'SFT settings: expected an object of settings, got null'],
  ])('rejects settings %j at %s before any work', async (settings, path, fragment) => {
    const policy = TransformerPolicy.create(toyModelConfig, { seed: 1 });
    const before = policy.trainableVariables()[0]!.dataSync().slice();
    const engine = localEngine(policy);
    const error = await expectHicraRejection(
      trainSupervised({
        engine,
        tokenizer: toyTokenizer,
        examples: [{ prompt: 'copy 1', completion: 'hmm 1' }],
        settings: settings as never,
      }),
    );
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as ConfigError).code).toBe(ErrorCode.InvalidConfig);
    expect((error as ConfigError).path).toBe(path);
    expect((error as ConfigError).message).toContain(fragment);
    expect(policy.trainableVariables()[0]!.dataSync()).toEqual(before);
    await engine.dispose();
    policy.dispose();
  });
});
