import {
  type AdamParamsV1,
  type DatumV1,
  InvalidValueError,
  type MetricSinkV1,
  NonFiniteError,
  type TokenizerV1,
  type TrainingClientV1,
} from '@hicra/spec';
import { SeededGenerator } from '@hicra/tensor/kernels';
import { checkSftSettings } from './config.js';
import { learningRateAt } from './schedule.js';

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

/** Adam(W) of the supervised warm start. */
export interface OptimizerSettings {
  /** `adam`, or `adamw` (decoupled weight decay). Default `adamw`. */
  readonly name?: 'adam' | 'adamw';
  /** Default 0.9. */
  readonly beta1?: number;
  /** Default 0.999. */
  readonly beta2?: number;
  /** Default 1e-8. */
  readonly epsilon?: number;
  /** AdamW's decoupled weight decay. Default 0.01 for adamw, 0 for adam. */
  readonly weightDecay?: number;
}

export interface SftOptions {
  /** The engine that trains the policy (e.g. `LocalTrainingClient` of `@hicra/policy`). */
  readonly engine: TrainingClientV1;
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
  const { engine, tokenizer, examples, settings } = options;
  checkSftSettings(settings);
  if (examples.length === 0)
    throw new InvalidValueError('trainSupervised: no examples', { source: SOURCE });
  const adam = adamOf(settings);
  const { contextLength } = await engine.info();
  const eos = tokenizer.specialTokens.eos;
  const encoded = examples.map((example, i) => {
    const prompt = tokenizer.encode(example.prompt, { addSpecialTokens: true }).ids;
    const completion = [
      ...tokenizer.encode(example.completion).ids,
      ...(eos === undefined ? [] : [eos]),
    ];
    if (contextLength !== undefined && prompt.length + completion.length > contextLength) {
      throw new InvalidValueError(
        `trainSupervised: example ${i} has ${prompt.length} prompt + ${completion.length} completion tokens, more than the context length ${contextLength}`,
        { source: SOURCE, details: { index: i } },
      );
    }
    if (prompt.length === 0) {
      throw new InvalidValueError(
        `trainSupervised: example ${i} has an empty prompt; the first completion token needs a token before it (give the tokenizer a BOS token, or a prompt)`,
        { source: SOURCE, details: { index: i } },
      );
    }
    return { prompt, completion: Int32Array.from(completion) };
  });
  const generator = new SeededGenerator(settings.seed ?? 0);
  const losses: number[] = [];
  let order: number[] = [];
  let position = 0;
  for (let step = 0; step < settings.steps; step++) {
    const picked: number[] = [];
    while (picked.length < settings.batchSize) {
      if (position >= order.length) {
        order = generator.shuffle(Array.from({ length: encoded.length }, (_, i) => i));
        position = 0;
      }
      picked.push(order[position++]!);
    }
    // The mean negative log-likelihood of the completion tokens as a token sum: weight
    // 1 / (completion tokens of the batch) on completion positions, 0 on the prompt's.
    const tokens = picked.reduce((n, i) => n + encoded[i]!.completion.length, 0);
    const datums: DatumV1[] = picked.map((i) => {
      const { prompt, completion } = encoded[i]!;
      const sequence = new Int32Array(prompt.length + completion.length);
      sequence.set(prompt);
      sequence.set(completion, prompt.length);
      const weights = new Float32Array(sequence.length - 1);
      weights.fill(1 / tokens, prompt.length - 1);
      return {
        inputTokens: sequence.subarray(0, sequence.length - 1),
        targetTokens: sequence.subarray(1),
        weights,
      };
    });
    const learningRate = learningRateAt(step, {
      learningRate: settings.learningRate,
      warmupSteps: settings.warmupSteps ?? 0,
      totalSteps: settings.steps,
      minLearningRate: settings.minLearningRate ?? 0,
    });
    const result = await engine.forwardBackward(datums, { name: 'cross-entropy' });
    const loss = result.metrics['loss:sum'] ?? Number.NaN;
    let gradNorm: number | undefined;
    try {
      if (!Number.isFinite(loss)) {
        throw new NonFiniteError(`the loss is ${loss}; the weights were not changed`, {
          source: SOURCE,
          details: { quantity: 'loss', loss: String(loss) },
        });
      }
      gradNorm = (await engine.optimStep({ ...adam, learningRate })).metrics.grad_norm;
    } catch (error) {
      if (!NonFiniteError.isInstance(error)) throw error;
      throw new NonFiniteError(`step ${step + 1}: supervised update: ${error.message}`, {
        source: SOURCE,
        details: { step: step + 1, ...(error.details ?? {}) },
        cause: error,
      });
    }
    losses.push(loss);
    options.onStep?.(step + 1, { loss, learningRate });
    const record: Record<string, number | string> = {
      kind: 'train',
      step: step + 1,
      time: new Date().toISOString(),
      'sft/loss': loss,
      ...(gradNorm === undefined ? {} : { 'actor/grad_norm': gradNorm }),
      'actor/learning_rate': learningRate,
      'sft/tokens': tokens,
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
  return { losses };
}

/** The engine's Adam parameters for `settings.optimizer` (checked by `checkSftSettings`). */
function adamOf(settings: SftSettings): Omit<AdamParamsV1, 'learningRate'> {
  const o = settings.optimizer ?? {};
  const name = o.name ?? 'adamw';
  return {
    beta1: o.beta1 ?? 0.9,
    beta2: o.beta2 ?? 0.999,
    eps: o.epsilon ?? 1e-8,
    weightDecay: name === 'adamw' ? (o.weightDecay ?? 0.01) : 0,
    gradClipNorm: settings.maxGradNorm ?? 1,
  };
}
