import { resolve } from 'node:path';
import { HuggingFaceTokenizer, loadCheckpoint } from '@hicra/policy';
import {
  type AppLevel,
  countdownReward,
  countdownSetup,
  levelOfCheckpoint,
} from '../../countdown-setup.js';
import { evaluatePolicy } from '../../evaluate.js';
import { defineCommand, requireCheckpointFolder } from '../command.js';
import { InputError } from '../errors.js';
import { progress } from '../output.js';

/** The paper's evaluation temperature: pass@1 is the mean accuracy over k samples at 0.6. */
export const EVAL_TEMPERATURE = 0.6;

export const evalCommand = defineCommand({
  spec: {
    command: 'eval',
    options: ['from', 'problems', 'k', 'temperature', 'seed', 'level'],
    required: ['from'],
  },
  summary: 'accuracy (mean@k, pass@k) of a checkpoint or Hugging Face model on the test split',
  usage:
    'hicra eval --from CHECKPOINT [--problems N] [--k K] [--temperature T] [--seed N] [--level 0-4]',
  description:
    'mean@k and pass@k on held-out Countdown problems (temperature 0: greedy). --from takes a\n' +
    'checkpoint folder or a Hugging Face model folder (Qwen2, Qwen3, Llama) with its tokenizer.',
  examples: ['hicra eval --from runs/hicra-0/checkpoint --problems 128 --k 4'],
  usesBackend: true,
  async run({ values }, { output }) {
    requireCheckpointFolder(values.from!, '--from');
    const { policy, tokenizer, metadata, stopTokenIds } = await loadCheckpoint(
      resolve(values.from!),
    );
    try {
      if (!tokenizer)
        throw new InputError(
          `--from ${values.from}: the checkpoint has no tokenizer.json; eval needs the tokenizer it was trained with`,
        );
      const setup = countdownSetup(
        values.level === undefined ? levelOfCheckpoint(metadata) : (values.level as AppLevel),
      );
      const k = values.k ?? 4;
      const seed = values.seed ?? 0;
      const problems = setup.problems('test', seed, values.problems ?? 128);
      const temperature = values.temperature ?? EVAL_TEMPERATURE;
      const common = {
        policy,
        tokenizer,
        reward: countdownReward(),
        problems,
        maxNewTokens: 64,
        seed,
        ...(stopTokenIds ? { stopTokenIds } : {}),
      };
      const sampled = await evaluatePolicy({ ...common, k, temperature });
      const greedy = await evaluatePolicy({ ...common, k: 1, temperature: 0 });
      progress(
        output,
        `pass@1 ${(sampled.meanAtK * 100).toFixed(1)}% (mean over ${k} samples at temperature ${temperature})  pass@${k} ${(sampled.passAtK * 100).toFixed(1)}%  greedy ${(greedy.meanAtK * 100).toFixed(1)}%  over ${sampled.problems} problems`,
      );
      return { ...sampled, temperature, greedyAccuracy: greedy.meanAtK };
    } finally {
      policy.dispose();
      if (tokenizer instanceof HuggingFaceTokenizer) await tokenizer.close();
    }
  },
});
