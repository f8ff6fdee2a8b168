import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initBackend } from '@hicra/tensor';
import { smallModel } from '../../model-presets.js';
import { pretrain } from '../../pretrain.js';
import { writeReport } from '../../report/index.js';
import { defineCommand } from '../command.js';
import { progress } from '../output.js';
import { compareExitCode, compareStrategies, runDirectoriesIn } from './compare.js';

export const demoCommand = defineCommand({
  spec: {
    command: 'demo',
    options: ['out', 'seeds', 'steps', 'pretrain-steps'],
  },
  summary: 'base checkpoint (reused or made), a GRPO vs HICRA comparison, its report',
  usage: 'hicra demo [--out DIR] [--seeds 0,1] [--steps N] [--pretrain-steps N]',
  description:
    'Reuses DIR/base or pretrains it, compares GRPO and HICRA over the seeds (two runs at a\n' +
    'time), and writes DIR/report.html. DIR defaults to runs/demo.',
  examples: ['hicra demo'],
  usesBackend: false,
  async run({ values }, { output, cliPath, setExitCode }) {
    const out = resolve(values.out ?? 'runs/demo');
    const base = join(out, 'base');
    let pretrained: unknown = 'reused';
    if (existsSync(join(base, 'config.json'))) {
      progress(output, `demo: reusing the base checkpoint ${base}`);
    } else {
      progress(
        output,
        `demo: no base checkpoint in ${base}; pretraining one (supervised warm start)`,
      );
      const backend = await initBackend(values.backend);
      progress(output, `backend: ${backend.name}${backend.simd ? ' (SIMD)' : ''}`);
      const steps = values['pretrain-steps'] ?? 900;
      const result = await pretrain({
        out: base,
        seed: 0,
        steps,
        model: smallModel,
        // A base folder without config.json is what an interrupted earlier demo left.
        overwrite: true,
        onStep: (step, loss) => {
          if (step % 25 === 0 || step === steps)
            progress(output, `pretrain step ${step}/${steps}  loss ${loss.toFixed(3)}`);
        },
      });
      progress(
        output,
        `base checkpoint: ${result.out} (greedy accuracy on held-out problems ${(result.accuracy * 100).toFixed(1)}%)`,
      );
      pretrained = result;
    }
    const compareDir = join(out, 'compare');
    const compare = await compareStrategies(
      {
        from: base,
        out: compareDir,
        strategies: ['grpo', 'hicra'],
        seeds: values.seeds ?? [0, 1],
        steps: values.steps ?? 30,
        jobs: 2,
        cliPath,
        ...(values.backend ? { backend: values.backend } : {}),
      },
      output,
    );
    setExitCode(compareExitCode(compare.runs));
    const report = await writeReport({
      runDirs: runDirectoriesIn(compareDir),
      out: join(out, 'report.html'),
      title: 'hicra demo: GRPO vs HICRA on Countdown',
    });
    progress(output, `demo: report written to ${report.path}`);
    return { base, pretrained, ...compare, report: report.path, summary: report.summary };
  },
});
