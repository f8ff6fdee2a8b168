import { fileURLToPath } from 'node:url';
import type { RlConfigInput } from '@hicra/trainer';

/**
 * The base checkpoint the demo starts from, committed to the repository so that the demo's
 * budget goes to RL rather than to the warm start. `hicra pretrain` made it; the command is in
 * {@link COMMITTED_BASE_COMMAND} and in the README.
 */
export const COMMITTED_BASE = fileURLToPath(new URL('../data/countdown-base', import.meta.url));

/** The command that produced {@link COMMITTED_BASE} (run from the repository root). */
export const COMMITTED_BASE_COMMAND =
  'pnpm hicra pretrain --out apps/reference/data/countdown-base --seed 0 --steps 5500 --examples 11000 --eval-problems 218 --slip-rate 0.05 --dead-end-rate 0.35 --recovery-rate 0.6 --force';

/**
 * The demo's design (decision 0072): GRPO, HICRA and the placebo control, paired by seed, with
 * the same budget; every held-out problem of the task evaluated at the start and the end.
 */
export const DEMO_DESIGN = {
  strategies: ['grpo', 'hicra', 'placebo'],
  seeds: [0, 1, 2, 3, 4, 5],
  steps: 48,
  jobs: 2,
} as const;

/** Every test problem of the demo's Countdown level (the split holds 218). */
export const DEMO_EVAL_PROBLEMS = 218;

/**
 * The RL config of each demo run: three evaluations (start, middle, end) of every held-out
 * problem, 4 samples each at temperature 0.6 plus one greedy.
 */
export function demoRlConfig(steps: number): RlConfigInput {
  return {
    steps,
    promptsPerStep: 8,
    samplesPerPrompt: 8,
    evaluation: {
      every: Math.max(1, Math.ceil(steps / 2)),
      problems: DEMO_EVAL_PROBLEMS,
      k: 4,
      temperature: 0.6,
    },
    checkpointEvery: 12,
  };
}
