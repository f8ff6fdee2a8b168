import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint, WordTokenizer } from '@hicra/policy';
import { describe, expect, it } from 'vitest';
import { countdownReward, countdownSetup, levelOfCheckpoint } from '../src/countdown-setup.js';
import { COMMITTED_BASE, COMMITTED_BASE_COMMAND, DEMO_EVAL_PROBLEMS } from '../src/demo.js';
import { evaluatePolicy } from '../src/evaluate.js';

// The demo starts from a checkpoint committed to the repository. It must be what the documented
// command makes, and as good as the demo's design needs: 20-40% accuracy on held-out problems
// by the demo's own measure (pass@1, the mean over 4 samples at temperature 0.6), so that RL has
// both a reward signal and room to improve.
describe('the committed base checkpoint', () => {
  it('records the settings of the documented command', () => {
    const record = JSON.parse(readFileSync(join(COMMITTED_BASE, 'pretrain.json'), 'utf8'));
    const flag = (name: string) => {
      const match = new RegExp(`--${name} (\\S+)`).exec(COMMITTED_BASE_COMMAND);
      return match ? Number(match[1]) : undefined;
    };
    expect(record).toMatchObject({
      seed: flag('seed'),
      steps: flag('steps'),
      examples: flag('examples'),
      slipRate: flag('slip-rate'),
      strategicErrorRate: flag('dead-end-rate'),
      recoveryRate: flag('recovery-rate'),
      evalProblems: flag('eval-problems'),
      level: 0,
    });
  });

  it('solves 20-40% of the held-out problems (pass@1 over 4 samples at 0.6)', async () => {
    const { policy, tokenizer, metadata } = await loadCheckpoint(COMMITTED_BASE);
    try {
      expect(tokenizer).toBeInstanceOf(WordTokenizer);
      const setup = countdownSetup(levelOfCheckpoint(metadata));
      const problems = setup.problems('test', 0, DEMO_EVAL_PROBLEMS);
      expect(problems).toHaveLength(DEMO_EVAL_PROBLEMS);
      const result = await evaluatePolicy({
        policy,
        tokenizer: tokenizer!,
        reward: countdownReward(),
        problems,
        k: 4,
        temperature: 0.6,
        maxNewTokens: 64,
        seed: 0,
      });
      expect(result.meanAtK).toBeGreaterThanOrEqual(0.2);
      expect(result.meanAtK).toBeLessThanOrEqual(0.4);
    } finally {
      policy.dispose();
    }
  });
});
