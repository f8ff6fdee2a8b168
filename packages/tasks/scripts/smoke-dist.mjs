#!/usr/bin/env node
import {
  COUNTDOWN_PLANNING_PHRASES,
  countdownCorrectnessReward,
  countdownTask,
  createCountdownTraceGenerator,
  mathCorrectnessReward,
} from '@hicra/tasks';
// Smoke test of the *built* package, as a consumer sees it (run by `pnpm check:exports` after a
// build): the template data is bundled, mathjs loads lazily from dist, and a reward scores.
import { SeededGenerator } from '@hicra/tensor/kernels';

const fail = (message) => {
  console.error(`@hicra/tasks smoke test: ${message}`);
  process.exit(1);
};

if (COUNTDOWN_PLANNING_PHRASES.length === 0) fail('no planning phrases in the built templates');
const [problem] = countdownTask.generate({ split: 'train', seed: 0, count: 1 });
const trace = createCountdownTraceGenerator().generate(problem, new SeededGenerator(0));
const countdown = countdownCorrectnessReward.score({
  prompt: countdownTask.prompt(problem),
  response: trace.text,
  reference: problem,
});
if (countdown.kind !== 'scored' || countdown.reward !== 1)
  fail(`a clean trace scored ${JSON.stringify(countdown)}`);
const math = mathCorrectnessReward.score({
  prompt: 'q',
  response: 'so \\boxed{\\frac{1}{2}}',
  reference: '0.5',
});
if (math.kind !== 'scored' || math.reward !== 1)
  fail(`\\frac{1}{2} vs 0.5 scored ${JSON.stringify(math)}`);
