import type { PolicyV1, RewardFunctionV1, TokenizerV1 } from '@hicra/spec';
import { evaluateProblems, PolicyRolloutSource, type Problem } from '@hicra/trainer';

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

/**
 * Accuracy of a policy on problems: mean@k and pass@k, verified by the reward's `correct`. The
 * trainer's evaluation (`evaluateProblems` of `@hicra/trainer`) on the policy's own sampler,
 * without its greedy pass; the chunk of problems starting at `from` samples with seed
 * `seed + from`.
 */
export async function evaluatePolicy(options: EvaluateOptions): Promise<EvaluationResult> {
  const eos = options.tokenizer.specialTokens.eos;
  const result = await evaluateProblems({
    source: new PolicyRolloutSource(options.policy, options.tokenizer),
    tokenizer: options.tokenizer,
    reward: options.reward,
    problems: options.problems,
    k: options.k,
    temperature: options.temperature,
    maxNewTokens: options.maxNewTokens,
    stopTokenIds: options.stopTokenIds ?? (eos === undefined ? [] : [eos]),
    seed: (from) => options.seed + from,
    chunk: options.chunk ?? 16,
    greedy: false,
  });
  return {
    meanAtK: result.meanAtK,
    passAtK: result.passAtK,
    k: result.k,
    problems: result.problems,
    meanLength: result.responseLengthMean,
  };
}
