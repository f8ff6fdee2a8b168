import { InvalidValueError, type MetricSinkV1, type TokenizerV1 } from '@hicra/spec';
import { type DifferentiablePolicy, SeededGenerator } from '@hicra/tensor';
import { checkSftSettings } from './config.js';
import { AdamOptimizer, type OptimizerSettings } from './optimizer.js';
import { toRagged } from './rollouts.js';
import { learningRateAt } from './schedule.js';
import { supervisedUpdate } from './update-steps.js';

const SOURCE = '@hicra/trainer';

/** One supervised example: the model learns `completion` given `prompt`. */
export interface SftExample {
  readonly prompt: string;
  readonly completion: string;
}

export interface SftSettings {
  readonly steps: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly warmupSteps?: number;
  readonly minLearningRate?: number;
  readonly maxGradNorm?: number;
  readonly seed?: number;
  readonly optimizer?: OptimizerSettings;
  /** Call `evaluate` every this many steps (0: never). */
  readonly evaluateEvery?: number;
}

export interface SftOptions {
  readonly policy: DifferentiablePolicy & { readonly contextLength: number };
  readonly tokenizer: TokenizerV1;
  readonly examples: readonly SftExample[];
  readonly settings: SftSettings;
  readonly sink?: MetricSinkV1;
  /** Evaluation hook: returns metrics to log (e.g. accuracy on held-out problems). */
  readonly evaluate?: (step: number) => Promise<Record<string, number>> | Record<string, number>;
  /** Progress callback after every step. */
  readonly onStep?: (step: number, metrics: { loss: number; learningRate: number }) => void;
}

/**
 * The supervised warm start: cross-entropy on prompt + completion with the prompt tokens as
 * context only (never targets), the completion ending with EOS; AdamW, warm-up + cosine
 * schedule, gradient clipping, seeded example order, an evaluation hook.
 */
export async function trainSupervised(options: SftOptions): Promise<{ losses: number[] }> {
  const { policy, tokenizer, examples, settings } = options;
  checkSftSettings(settings);
  if (examples.length === 0)
    throw new InvalidValueError('trainSupervised: no examples', { source: SOURCE });
  const eos = tokenizer.specialTokens.eos;
  const encoded = examples.map((example, i) => {
    const prompt = tokenizer.encode(example.prompt, { addSpecialTokens: true }).ids;
    const completion = [
      ...tokenizer.encode(example.completion).ids,
      ...(eos === undefined ? [] : [eos]),
    ];
    if (prompt.length + completion.length > policy.contextLength) {
      throw new InvalidValueError(
        `trainSupervised: example ${i} has ${prompt.length} prompt + ${completion.length} completion tokens, more than the context length ${policy.contextLength}`,
        { source: SOURCE, details: { index: i } },
      );
    }
    return { prompt, completion: Int32Array.from(completion) };
  });
  const generator = new SeededGenerator(settings.seed ?? 0);
  const optimizer = new AdamOptimizer(policy.trainableVariables(), settings.optimizer);
  const losses: number[] = [];
  let order: number[] = [];
  let position = 0;
  try {
    for (let step = 0; step < settings.steps; step++) {
      const picked: number[] = [];
      while (picked.length < settings.batchSize) {
        if (position >= order.length) {
          order = generator.shuffle(Array.from({ length: encoded.length }, (_, i) => i));
          position = 0;
        }
        picked.push(order[position++]!);
      }
      const seqLen = Math.max(...picked.map((i) => encoded[i]!.completion.length));
      const tokenIds = new Int32Array(picked.length * seqLen);
      const responseMask = new Uint8Array(picked.length * seqLen);
      picked.forEach((i, row) => {
        tokenIds.set(encoded[i]!.completion, row * seqLen);
        responseMask.fill(1, row * seqLen, row * seqLen + encoded[i]!.completion.length);
      });
      const learningRate = learningRateAt(step, {
        learningRate: settings.learningRate,
        warmupSteps: settings.warmupSteps ?? 0,
        totalSteps: settings.steps,
        minLearningRate: settings.minLearningRate ?? 0,
      });
      const result = supervisedUpdate(
        policy,
        optimizer,
        {
          prompts: toRagged(picked.map((i) => encoded[i]!.prompt)),
          batchSize: picked.length,
          seqLen,
          tokenIds,
          responseMask,
        },
        learningRate,
        settings.maxGradNorm ?? 1,
        { step: step + 1 },
      );
      losses.push(result.loss);
      options.onStep?.(step + 1, { loss: result.loss, learningRate });
      const record: Record<string, number | string> = {
        kind: 'train',
        step: step + 1,
        time: new Date().toISOString(),
        'sft/loss': result.loss,
        'actor/grad_norm': result.gradNorm,
        'actor/learning_rate': learningRate,
        'sft/tokens': result.tokens,
      };
      await options.sink?.write(record as never);
      const every = settings.evaluateEvery ?? 0;
      if (
        options.evaluate &&
        every > 0 &&
        ((step + 1) % every === 0 || step + 1 === settings.steps)
      ) {
        const metrics = await options.evaluate(step + 1);
        await options.sink?.write({
          kind: 'eval',
          step: step + 1,
          time: new Date().toISOString(),
          ...metrics,
        });
      }
    }
  } finally {
    optimizer.dispose();
  }
  return { losses };
}
