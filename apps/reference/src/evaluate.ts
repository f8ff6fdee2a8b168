import type { PolicyV1, RewardFunctionV1, TokenizerV1 } from '@hicra/spec';
import { PolicyRolloutSource, type Problem, passAtK } from '@hicra/trainer';

export interface EvaluateOptions {
  readonly policy: PolicyV1;
  readonly tokenizer: TokenizerV1;
  readonly reward: RewardFunctionV1;
  readonly problems: readonly Problem[];
  /** Samples per problem. */
  readonly k: number;
  readonly temperature: number;
  readonly maxNewTokens: number;
  readonly seed: number;
  /** Problems per sampling batch. Default 16. */
  readonly chunk?: number;
  /** Ids that end a response. Default: the tokenizer's end-of-sequence token. */
  readonly stopTokenIds?: readonly number[];
}

export interface EvaluationResult {
  /** Mean accuracy over all samples (pass@1 for k = 1). */
  readonly meanAtK: number;
  /** Unbiased pass@k. */
  readonly passAtK: number;
  readonly k: number;
  readonly problems: number;
  readonly meanLength: number;
}

/** Accuracy of a policy on problems: mean@k and pass@k, verified by the reward's `correct`. */
export async function evaluatePolicy(options: EvaluateOptions): Promise<EvaluationResult> {
  const source = new PolicyRolloutSource(options.policy, options.tokenizer);
  const eos = options.tokenizer.specialTokens.eos;
  const chunk = options.chunk ?? 16;
  let correct = 0;
  let pass = 0;
  let length = 0;
  let total = 0;
  for (let from = 0; from < options.problems.length; from += chunk) {
    const part = options.problems.slice(from, from + chunk);
    const batch = await source.generate({
      prompts: part.map((p, i) => ({ groupId: i, text: p.prompt })),
      samplesPerPrompt: options.k,
      maxNewTokens: options.maxNewTokens,
      temperature: options.temperature,
      stopTokenIds: options.stopTokenIds ?? (eos === undefined ? [] : [eos]),
      seed: options.seed + from,
    });
    const perProblem = new Array(part.length).fill(0);
    for (let r = 0; r < batch.batchSize; r++) {
      const p = batch.groupIds[r]!;
      const result = await options.reward.score({
        prompt: part[p]!.prompt,
        response: batch.responseTexts![r]!,
        reference: part[p]!.reference,
      });
      if (result.kind === 'scored' && (result.correct ?? result.reward > 0)) perProblem[p]++;
      for (let t = 0; t < batch.seqLen; t++) length += batch.responseMask[r * batch.seqLen + t]!;
      total++;
    }
    for (const c of perProblem) {
      correct += c;
      pass += passAtK(options.k, c, options.k);
    }
  }
  const n = options.problems.length;
  return {
    meanAtK: total ? correct / total : 0,
    passAtK: n ? pass / n : 0,
    k: options.k,
    problems: n,
    meanLength: total ? length / total : 0,
  };
}
