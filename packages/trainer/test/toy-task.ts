import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalTrainingClient, type TransformerPolicy } from '@hicra/policy';
import type { EncodingV1, PlanningClassifierV1, RewardFunctionV1, TokenizerV1 } from '@hicra/spec';
import { type Problem, RlTrainer, type RlTrainerOptions } from '../src/index.js';

/**
 * A toy verifiable task for testing the loop itself: "copy <digit>" -> the response must start
 * with that digit. Real tasks live in @hicra/tasks; this one keeps the trainer's tests small.
 */
const WORDS = [
  '<pad>',
  '<bos>',
  '<eos>',
  'copy',
  'hmm',
  'ok',
  ...Array.from({ length: 6 }, (_, d) => String(d)),
];

export const toyTokenizer: TokenizerV1 = {
  vocabSize: WORDS.length,
  specialTokens: { pad: 0, bos: 1, eos: 2 },
  encode(text: string, options?: { addSpecialTokens?: boolean }): EncodingV1 {
    const ids: number[] = options?.addSpecialTokens ? [1] : [];
    const spans: number[] = options?.addSpecialTokens ? [-1, -1] : [];
    for (const match of text.matchAll(/\S+/g)) {
      const id = WORDS.indexOf(match[0]);
      ids.push(Math.max(id, 0));
      spans.push(match.index, match.index + match[0].length);
    }
    return { ids: Int32Array.from(ids), spans: Int32Array.from(spans) };
  },
  decode(ids: ArrayLike<number>): string {
    return Array.from(ids)
      .filter((id) => id > 2)
      .map((id) => WORDS[id])
      .join(' ');
  },
};

export const toyProblems = (count: number, offset = 0): Problem[] =>
  Array.from({ length: count }, (_, i) => {
    const digit = (i + offset) % 6;
    return { id: `copy-${i + offset}`, prompt: `copy ${digit}`, reference: String(digit) };
  });

export const toyReward: RewardFunctionV1 = {
  name: 'toy-copy',
  score({ response, reference }) {
    const first = response.split(' ')[0];
    if (first === undefined || first === '')
      return { kind: 'unscorable', reason: 'empty response' };
    const correct = first === reference;
    return { kind: 'scored', reward: correct ? 1 : 0, correct };
  },
};

/** "hmm" is the planning phrase of the toy task. */
export const toyClassifier: PlanningClassifierV1 = {
  name: 'toy-hmm',
  classify({ batchSize, seqLen, texts, tokenSpans }) {
    const mask = new Uint8Array(batchSize * seqLen);
    const matches = texts.map((text, i) => {
      const found = [];
      for (const m of text.matchAll(/hmm/g))
        found.push({ start: m.index, end: m.index + 3, gram: 'hmm', gramId: 0, classId: 0 });
      for (let t = 0; t < seqLen; t++) {
        const k = i * seqLen + t;
        const [s, e] = [tokenSpans[2 * k]!, tokenSpans[2 * k + 1]!];
        if (s >= 0 && found.some((f) => s < f.end && f.start < e)) mask[k] = 1;
      }
      return found;
    });
    return { mask, matches };
  },
};

/** The transformer every trainer test trains on the toy task: one layer, width 16. */
export const toyModelConfig = {
  vocabSize: toyTokenizer.vocabSize,
  contextLength: 16,
  width: 16,
  layers: 1,
  heads: 2,
};

/** The local engine over a policy, saving states into a fresh temporary folder. */
export function localEngine(policy: TransformerPolicy): LocalTrainingClient {
  return new LocalTrainingClient(policy, {
    directory: mkdtempSync(join(tmpdir(), 'hicra-trainer-test-')),
  });
}

const engines = new WeakMap<RlTrainer, LocalTrainingClient>();

/** An RL trainer over the local engine of `policy` (release it with {@link closeTrainer}). */
export async function localTrainer(
  policy: TransformerPolicy,
  options: Omit<RlTrainerOptions, 'engine'>,
  engine: LocalTrainingClient = localEngine(policy),
): Promise<RlTrainer> {
  try {
    const trainer = await RlTrainer.create({ ...options, engine });
    engines.set(trainer, engine);
    return trainer;
  } catch (error) {
    await engine.dispose();
    throw error;
  }
}

/** Disposes a trainer made by {@link localTrainer} and its engine (not the policy). */
export async function closeTrainer(...trainers: RlTrainer[]): Promise<void> {
  for (const trainer of trainers) {
    await trainer.dispose();
    await engines.get(trainer)?.dispose();
  }
}
