import type {
  BuiltinAssignerName,
  BuiltinEstimatorName,
  CreditAssignerRegistrationV1,
  EstimatorRegistrationV1,
} from '@hicra/spec';
import { forkTokensRegistration } from './assigners/fork-tokens.js';
import { hicraRegistration } from './assigners/hicra.js';
import { hicraCodeVariantRegistration } from './assigners/hicra-code-variant.js';
import { highEntropyAdvantageRegistration } from './assigners/high-entropy-advantage.js';
import { gaeRegistration } from './estimators/gae.js';
import { drGrpoRegistration, grpoRegistration } from './estimators/grpo.js';
import { grpoPassKRegistration } from './estimators/grpo-pass-k.js';
import { opoRegistration } from './estimators/opo.js';
import { reinforcePlusPlusRegistration } from './estimators/reinforce-plus-plus.js';
import { reinforcePlusPlusBaselineRegistration } from './estimators/reinforce-plus-plus-baseline.js';
import { rlooRegistration } from './estimators/rloo.js';

/**
 * Registrations of the built-in estimators, each defined in its plug-in's file, under the names
 * of `@hicra/spec` (typed against them, so a name cannot drift; a test checks that every name
 * has one).
 */
export const builtinEstimators: readonly EstimatorRegistrationV1[] = [
  grpoRegistration,
  drGrpoRegistration,
  rlooRegistration,
  reinforcePlusPlusRegistration,
  reinforcePlusPlusBaselineRegistration,
  opoRegistration,
  gaeRegistration,
  grpoPassKRegistration,
] satisfies readonly (EstimatorRegistrationV1 & { readonly name: BuiltinEstimatorName })[];

/** Registrations of the built-in credit assigners. */
export const builtinAssigners: readonly CreditAssignerRegistrationV1[] = [
  hicraRegistration,
  hicraCodeVariantRegistration,
  highEntropyAdvantageRegistration,
  forkTokensRegistration,
] satisfies readonly (CreditAssignerRegistrationV1 & { readonly name: BuiltinAssignerName })[];
