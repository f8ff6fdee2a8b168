import { strategicGrams } from '@hicra/planning';
import { countdownCorrectnessReward, createCountdownTraceGenerator } from '@hicra/tasks';
import { SeededGenerator } from '@hicra/tensor';
import { describe, expect, it } from 'vitest';
import { countdownSetup } from '../src/index.js';

describe('the default planning classifier on the built-in task', () => {
  it('finds every planning phrase the trace generator wrote, through the app tokenizer', async () => {
    const setup = countdownSetup(1);
    const traces = createCountdownTraceGenerator({
      slipRate: 0.3,
      strategicErrorRate: 0.6,
      recoveryRate: 0.5,
      maxValue: setup.maxValue,
    });
    const random = new SeededGenerator(4);
    const problems = setup.task.generate({ split: 'train', seed: 4, count: 150 });
    let phrases = 0;
    for (const problem of problems) {
      const trace = traces.generate(problem, random);
      // What the policy would emit: the trace through the app's tokenizer.
      const { ids, spans } = setup.tokenizer.encode(trace.text);
      const text = setup.tokenizer.decode(ids);
      expect(text).toBe(trace.text);
      const result = strategicGrams.classify({
        batchSize: 1,
        seqLen: ids.length,
        texts: [text],
        tokenSpans: spans,
      });
      for (const span of trace.planningSpans) {
        phrases++;
        const covered =
          result.matches[0]!.some((m) => m.start <= span.start && span.end <= m.end) ||
          result.matches[0]!.some((m) => m.start < span.end && span.start < m.end);
        expect(covered, `"${span.phrase}" in ${JSON.stringify(text)}`).toBe(true);
        for (let k = 0; k < ids.length; k++) {
          if (
            spans[2 * k]! >= span.start &&
            spans[2 * k + 1]! <= span.end &&
            spans[2 * k]! < spans[2 * k + 1]!
          ) {
            expect(result.mask[k], `token ${k} of "${span.phrase}"`).toBe(1);
          }
        }
      }
      const reward = await countdownCorrectnessReward.score({
        prompt: setup.task.prompt(problem),
        response: text,
        reference: problem,
      });
      expect(reward.kind === 'scored' && reward.correct === trace.expectedCorrect).toBe(true);
    }
    expect(phrases).toBeGreaterThan(300);
  });
});
