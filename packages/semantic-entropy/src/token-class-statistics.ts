import { MissingInputError } from '@hicra/spec';
import { SOURCE } from './check.js';
import {
  type ForkOverlapSummary,
  TokenClassAccumulator,
  type TokenClassInput,
  type TokenClassSettings,
  type TokenClassSummary,
} from './token-class-accumulator.js';

/** Statistics of the three token classes of a batch. */
export interface TokenClassStatistics {
  readonly all: TokenClassSummary;
  readonly planning: TokenClassSummary;
  readonly execution: TokenClassSummary;
}

/**
 * Mean next-token entropy and perplexity (`exp` of the mean negative log-prob, natural log)
 * over all response tokens, planning tokens and execution tokens (response tokens that are not
 * planning tokens). A class without tokens, or a quantity without its input, is undefined.
 */
export function tokenClassStatistics(input: TokenClassInput): TokenClassStatistics {
  return new TokenClassAccumulator().add(input).summary();
}

/**
 * Fork-token overlap: the share of planning tokens among the top-q tokens by entropy
 * (`topQMask` of `@hicra/tensor/kernels`, q = 0.3 and one threshold per batch by default),
 * and the share of those top-q tokens that are planning tokens. Needs `entropies` and
 * `planningMask`.
 */
export function forkOverlap(
  input: TokenClassInput,
  settings: TokenClassSettings = {},
): ForkOverlapSummary {
  for (const name of ['entropies', 'planningMask'] as const) {
    if (input?.[name] === undefined) {
      throw new MissingInputError(`forkOverlap: ${name} is required`, {
        source: SOURCE,
        details: { argument: name },
      });
    }
  }
  return new TokenClassAccumulator(settings).add(input).forkOverlap()!;
}
