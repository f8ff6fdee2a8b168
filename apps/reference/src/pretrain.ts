import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  LocalTrainingClient,
  saveCheckpoint,
  type TransformerConfigInput,
  TransformerPolicy,
} from '@hicra/policy';
import { InvalidArgumentError } from '@hicra/spec';
import { createCountdownTraceGenerator } from '@hicra/tasks';
import { SeededGenerator } from '@hicra/tensor';
import { JsonlSink, trainSupervised } from '@hicra/trainer';
import { type AppLevel, countdownReward, countdownSetup } from './countdown-setup.js';
import { evaluatePolicy } from './evaluate.js';
import { smallModel } from './model-presets.js';

export interface PretrainOptions {
  /** Checkpoint folder to write. */
  readonly out: string;
  readonly seed: number;
  readonly steps: number;
  /** Countdown level (0: the app's warm-up level, default). */
  readonly level?: AppLevel;
  readonly batchSize?: number;
  readonly learningRate?: number;
  /** Traces generated for the warm start. */
  readonly examples?: number;
  /** Error rates of the traces (execution slips, dead ends, recoveries). */
  readonly slipRate?: number;
  readonly strategicErrorRate?: number;
  readonly recoveryRate?: number;
  /** Architecture; default the small preset. */
  readonly model?: (vocabSize: number) => TransformerConfigInput;
  /** Held-out problems for the final accuracy. */
  readonly evalProblems?: number;
  readonly onStep?: (step: number, loss: number) => void;
  /**
   * Replace what `out` holds. Default false: a folder that exists and is not empty (a checkpoint
   * from an earlier run) is refused, so a mistyped `--out` never destroys a trained base.
   */
  readonly overwrite?: boolean;
}

export interface PretrainResult {
  readonly out: string;
  readonly accuracy: number;
  readonly finalLoss: number;
  readonly parameters: number;
}

/**
 * The supervised warm start: Countdown traces with controlled slips and dead ends (so the base
 * policy starts well below the ceiling and RL has both kinds of error to fix), cross-entropy on
 * the trace given the prompt, then greedy accuracy on held-out problems. Deterministic in the seed.
 */
export async function pretrain(options: PretrainOptions): Promise<PretrainResult> {
  if (!Number.isInteger(options.steps) || options.steps < 1) {
    throw new InvalidArgumentError(
      `pretrain: steps must be an integer >= 1, got ${options.steps}`,
      { source: '@hicra/reference', details: { argument: 'steps' } },
    );
  }
  refuseToReplace(options.out, options.overwrite ?? false);
  const level = options.level ?? 0;
  const setup = countdownSetup(level);
  const traceRates = {
    slipRate: options.slipRate ?? 0.15,
    strategicErrorRate: options.strategicErrorRate ?? 0.5,
    recoveryRate: options.recoveryRate ?? 0.5,
  };
  const traces = createCountdownTraceGenerator({ ...traceRates, maxValue: setup.maxValue });
  const random = new SeededGenerator(options.seed);
  // Distinct problems (a small level has a few hundred), each with fresh random traces until
  // there are `examples` of them.
  const count = options.examples ?? 4000;
  const problems = setup.countdownProblems('train', options.seed, count);
  const examples = Array.from({ length: count }, (_, i) => {
    const problem = problems[i % problems.length]!;
    return {
      prompt: setup.task.prompt(problem),
      completion: traces.generate(problem, random).text,
    };
  });
  const policy = TransformerPolicy.create(
    (options.model ?? smallModel)(setup.tokenizer.vocabSize),
    { seed: options.seed },
  );
  try {
    await mkdir(options.out, { recursive: true });
    const metricsPath = join(options.out, '..', `${pathName(options.out)}.pretrain-metrics.jsonl`);
    // A replaced base starts a fresh metrics file rather than appending to the old run's.
    if (options.overwrite) await rm(metricsPath, { force: true });
    const sink = new JsonlSink(metricsPath);
    // The local engine trains the policy in place; it saves no state here (the base is saved
    // as a plain checkpoint below).
    const engine = new LocalTrainingClient(policy, { directory: options.out });
    let finalLoss = Number.NaN;
    try {
      await trainSupervised({
        engine,
        tokenizer: setup.tokenizer,
        examples,
        settings: {
          steps: options.steps,
          batchSize: options.batchSize ?? 32,
          learningRate: options.learningRate ?? 3e-3,
          warmupSteps: Math.min(50, Math.floor(options.steps / 10)),
          minLearningRate: (options.learningRate ?? 3e-3) / 10,
          seed: options.seed,
          optimizer: { name: 'adamw', weightDecay: 0.01 },
        },
        sink,
        onStep: (step, { loss }) => {
          finalLoss = loss;
          options.onStep?.(step, loss);
        },
      });
    } finally {
      sink.close();
      await engine.dispose();
    }
    const evaluation = await evaluatePolicy({
      policy,
      tokenizer: setup.tokenizer,
      reward: countdownReward(),
      problems: setup.problems('test', options.seed, options.evalProblems ?? 64),
      k: 1,
      temperature: 0,
      maxNewTokens: 64,
      seed: options.seed,
    });
    await saveCheckpoint(options.out, policy, {
      tokenizer: setup.tokenizer,
      metadata: {
        kind: 'base',
        task: `countdown-level-${level}`,
        seed: String(options.seed),
        steps: String(options.steps),
        accuracy: evaluation.meanAtK.toFixed(4),
      },
    });
    await writeFile(
      join(options.out, 'pretrain.json'),
      `${JSON.stringify(
        {
          seed: options.seed,
          steps: options.steps,
          level,
          examples: examples.length,
          batchSize: options.batchSize ?? 32,
          learningRate: options.learningRate ?? 3e-3,
          slipRate: traceRates.slipRate,
          strategicErrorRate: traceRates.strategicErrorRate,
          recoveryRate: traceRates.recoveryRate,
          model: policy.config,
          evalProblems: evaluation.problems,
          accuracy: evaluation.meanAtK,
          finalLoss,
        },
        null,
        2,
      )}\n`,
    );
    return {
      out: options.out,
      accuracy: evaluation.meanAtK,
      finalLoss,
      parameters: policy.trainableVariables().reduce((n, v) => n + v.size, 0),
    };
  } finally {
    policy.dispose();
  }
}

function refuseToReplace(out: string, overwrite: boolean): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) {
    throw new InvalidArgumentError(`${out} is a file; pretrain writes a checkpoint folder`, {
      source: '@hicra/reference',
      details: { path: out },
    });
  }
  if (overwrite || readdirSync(out).length === 0) return;
  const what = existsSync(join(out, 'config.json')) ? 'a checkpoint' : 'files';
  throw new InvalidArgumentError(
    `${out} already holds ${what}; choose another --out, or give --force to replace it`,
    { source: '@hicra/reference', details: { path: out } },
  );
}

function pathName(path: string): string {
  return path.replace(/\/+$/, '').split('/').pop() ?? 'base';
}
