import type { PlanningMatchV1 } from '@hicra/spec';
import type { GramClassMap } from './class-map.js';
import type { EntropyOptions } from './entropy-from-counts.js';
import { StrategyAccumulator } from './strategy-accumulator.js';

/** `[B]` lists of matches, one per response, as `PlanningResultV1.matches`. */
export type PlanningMatches = readonly (readonly PlanningMatchV1[])[];

/**
 * The paper's semantic entropy of strategies: Shannon entropy of the frequency distribution of
 * matched planning phrases (Strategic Grams) across the responses of a batch,
 * `-Σ_g p_g ln p_g` with `p_g` = occurrences of phrase g / all occurrences. Nats by default.
 * 0 when nothing matched (docs/decisions/0031). Not the answer-level semantic entropy of
 * Kuhn et al. (`answerSemanticEntropy`).
 */
export function strategySemanticEntropy(
  planningMatches: PlanningMatches,
  options: EntropyOptions = {},
): number {
  return new StrategyAccumulator().add({ planningMatches }).semanticEntropy(options);
}

/**
 * The clustered variant: the same entropy over strategy classes, each occurrence counted under
 * `classOf[gram]` (or the match's own `classId` when `classOf` is not given).
 */
export function clusteredStrategySemanticEntropy(
  planningMatches: PlanningMatches,
  options: EntropyOptions & { readonly classOf?: GramClassMap } = {},
): number {
  const { classOf, ...entropy } = options;
  return new StrategyAccumulator(classOf === undefined ? {} : { classOf })
    .add({ planningMatches })
    .clusteredSemanticEntropy(entropy);
}

/**
 * Conditional procedural entropy H(continuation | phrase): for each occurrence, its
 * continuation is the first n words (default 3) of the response text between the end of the
 * match and the start of the next match (or the end of the text); occurrences with no word
 * there are left out. The entropy of each phrase's continuations is weighted by the phrase's
 * share of the counted occurrences (docs/decisions/0032).
 */
export function conditionalProceduralEntropy(
  planningMatches: PlanningMatches,
  responseTexts: readonly string[],
  options: EntropyOptions & { readonly continuationLength?: number } = {},
): number {
  const { continuationLength, ...entropy } = options;
  return new StrategyAccumulator(continuationLength === undefined ? {} : { continuationLength })
    .add({ planningMatches, responseTexts })
    .conditionalProceduralEntropy(entropy);
}
