import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { initBackend } from '@hicra/tensor';
import { COMMITTED_BASE, DEMO_DESIGN, demoRlConfig } from '../../demo.js';
import { smallModel } from '../../model-presets.js';
import { pretrain } from '../../pretrain.js';
import { writeReport } from '../../report/index.js';
import { defineCommand, requireCheckpointFolder } from '../command.js';
import { UsageError } from '../errors.js';
import { progress } from '../output.js';
import { compareExitCode, compareStrategies, runDirectoriesIn } from './compare.js';

export const demoCommand = defineCommand({
  spec: {
    command: 'demo',
    options: ['out', 'base', 'strategies', 'seeds', 'steps', 'jobs', 'pretrain-steps'],
  },
  summary: 'GRPO vs HICRA vs the placebo from the committed base, paired by seed, and the report',
  usage:
    'hicra demo [--out DIR] [--base CHECKPOINT | --pretrain-steps N] [--strategies grpo,hicra,placebo] [--seeds 0,1,2,3,4,5] [--steps N] [--jobs 2]',
  description:
    "Starts every run from the repository's committed base checkpoint (or --base, or a base it\n" +
    'pretrains into DIR/base with --pretrain-steps), trains each strategy on each seed with the\n' +
    'same budget, two runs at a time, evaluates every held-out problem at the start and the end,\n' +
    'and writes DIR/report.html with the paired comparison. DIR defaults to runs/demo; rerun to\n' +
    'resume.',
  examples: ['hicra demo'],
  usesBackend: false,
  async run({ values }, { output, cliPath, setExitCode }) {
    if (values.base !== undefined && values['pretrain-steps'] !== undefined)
      throw new UsageError('give --base or --pretrain-steps, not both');
    const out = resolve(values.out ?? 'runs/demo');
    let base = resolve(values.base ?? COMMITTED_BASE);
    let pretrained: unknown = 'committed';
    if (values['pretrain-steps'] !== undefined) {
      base = join(out, 'base');
      if (existsSync(join(base, 'config.json'))) {
        progress(output, `demo: reusing the base checkpoint ${base}`);
        pretrained = 'reused';
      } else {
        const steps = values['pretrain-steps'];
        progress(output, `demo: pretraining a base checkpoint in ${base} (${steps} steps)`);
        const backend = await initBackend(values.backend);
        progress(output, `backend: ${backend.name}${backend.simd ? ' (SIMD)' : ''}`);
        pretrained = await pretrain({
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
      }
    } else {
      requireCheckpointFolder(base, values.base === undefined ? 'the committed base' : '--base');
      progress(output, `demo: starting from the base checkpoint ${base}`);
    }
    const steps = values.steps ?? DEMO_DESIGN.steps;
    await mkdir(out, { recursive: true });
    const config = join(out, 'demo-rl.json');
    await writeFile(config, `${JSON.stringify(demoRlConfig(steps), null, 2)}\n`);
    const compareDir = join(out, 'compare');
    const compare = await compareStrategies(
      {
        from: base,
        out: compareDir,
        strategies: values.strategies ?? [...DEMO_DESIGN.strategies],
        seeds: values.seeds ?? [...DEMO_DESIGN.seeds],
        steps,
        config,
        jobs: values.jobs ?? DEMO_DESIGN.jobs,
        cliPath,
        ...(values.backend ? { backend: values.backend } : {}),
      },
      output,
    );
    setExitCode(compareExitCode(compare.runs));
    const report = await writeReport({
      runDirs: runDirectoriesIn(compareDir),
      out: join(out, 'report.html'),
      title: 'hicra demo: GRPO vs HICRA vs placebo on Countdown',
    });
    progress(output, `demo: report written to ${report.path}`);
    return { base, pretrained, ...compare, report: report.path, summary: report.summary };
  },
});
