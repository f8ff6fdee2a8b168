import { resolve } from 'node:path';
import type { AppLevel } from '../../countdown-setup.js';
import { smallModel, tinyModel } from '../../model-presets.js';
import { pretrain } from '../../pretrain.js';
import { defineCommand } from '../command.js';
import { UsageError } from '../errors.js';
import { progress } from '../output.js';

export const pretrainCommand = defineCommand({
  spec: {
    command: 'pretrain',
    options: [
      'out',
      'seed',
      'steps',
      'level',
      'examples',
      'batch-size',
      'learning-rate',
      'model',
      'eval-problems',
      'slip-rate',
      'dead-end-rate',
      'recovery-rate',
      'force',
    ],
    required: ['out'],
  },
  summary: 'supervised warm start of the small policy on Countdown traces -> a base checkpoint',
  usage:
    'hicra pretrain --out DIR [--seed N] [--steps N] [--level 0-4] [--examples N] [--batch-size N] [--learning-rate X] [--slip-rate P] [--dead-end-rate P] [--recovery-rate P] [--model small|tiny] [--force]',
  description:
    'Supervised warm start on Countdown traces with controlled slips and dead ends; writes a\n' +
    'checkpoint folder to DIR. An existing, non-empty DIR is refused unless --force is given.',
  examples: ['hicra pretrain --out runs/base --seed 0 --steps 600'],
  usesBackend: true,
  async run({ values }, { output }) {
    if (values.model !== undefined && values.model !== 'small' && values.model !== 'tiny') {
      throw new UsageError(
        `--model for pretrain is an architecture preset, small or tiny, got ${JSON.stringify(values.model)}`,
      );
    }
    const steps = values.steps ?? 600;
    const started = performance.now();
    const result = await pretrain({
      out: resolve(values.out!),
      seed: values.seed ?? 0,
      steps,
      level: (values.level ?? 0) as AppLevel,
      examples: values.examples ?? 4000,
      batchSize: values['batch-size'] ?? 32,
      model: values.model === 'tiny' ? tinyModel : smallModel,
      evalProblems: values['eval-problems'] ?? 64,
      overwrite: values.force ?? false,
      ...(values['learning-rate'] === undefined ? {} : { learningRate: values['learning-rate'] }),
      ...(values['slip-rate'] === undefined ? {} : { slipRate: values['slip-rate'] }),
      ...(values['dead-end-rate'] === undefined
        ? {}
        : { strategicErrorRate: values['dead-end-rate'] }),
      ...(values['recovery-rate'] === undefined ? {} : { recoveryRate: values['recovery-rate'] }),
      onStep: (step, loss) => {
        if (step % 25 === 0 || step === steps) {
          const elapsed = (performance.now() - started) / 1000;
          progress(
            output,
            `pretrain step ${step}/${steps}  loss ${loss.toFixed(3)}  ETA ${Math.round((elapsed / step) * (steps - step))} s`,
          );
        }
      },
    });
    progress(
      output,
      `base checkpoint: ${result.out} (greedy accuracy on held-out problems ${(result.accuracy * 100).toFixed(1)}%)`,
    );
    return result;
  },
});
