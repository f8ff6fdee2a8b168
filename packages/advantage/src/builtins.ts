import type {
  BuiltinAssignerName,
  BuiltinEstimatorName,
  CreditAssignerRegistrationV1,
  EstimatorRegistrationV1,
} from '@hicra/spec';
import { createForkTokensAssigner, forkTokensSettingsSchema } from './assigners/fork-tokens.js';
import { createHicraAssigner, hicraSettingsSchema } from './assigners/hicra.js';
import {
  createHicraCodeVariantAssigner,
  hicraCodeVariantSettingsSchema,
} from './assigners/hicra-code-variant.js';
import {
  createHighEntropyAdvantageAssigner,
  highEntropyAdvantageSettingsSchema,
} from './assigners/high-entropy-advantage.js';
import { createGaeEstimator, gaeSettingsSchema } from './estimators/gae.js';
import {
  createDrGrpoEstimator,
  createGrpoEstimator,
  grpoSettingsSchema,
} from './estimators/grpo.js';
import { createGrpoPassKEstimator, grpoPassKSettingsSchema } from './estimators/grpo-pass-k.js';
import { createOpoEstimator } from './estimators/opo.js';
import {
  createReinforcePlusPlusEstimator,
  reinforcePlusPlusSettingsSchema,
} from './estimators/reinforce-plus-plus.js';
import { createReinforcePlusPlusBaselineEstimator } from './estimators/reinforce-plus-plus-baseline.js';
import { createRlooEstimator } from './estimators/rloo.js';

type Settings = Parameters<EstimatorRegistrationV1['create']>[0];
const num = (settings: Settings, key: string) => settings[key] as number;

/**
 * Registrations of the built-in estimators, under the names of `@hicra/spec` (typed against
 * them, so a name cannot drift; a test checks that every name has one).
 */
export const builtinEstimators: readonly EstimatorRegistrationV1[] = [
  {
    kind: 'estimator',
    name: 'grpo',
    description: 'group-relative outcome advantage (r - mean) / (std + eps), as verl',
    settings: grpoSettingsSchema,
    create: (s) =>
      createGrpoEstimator({ normByStd: s.normByStd as boolean, epsilon: num(s, 'epsilon') }),
  },
  {
    kind: 'estimator',
    name: 'dr-grpo',
    description: 'Dr.GRPO: the group-mean baseline without std division',
    settings: { epsilon: grpoSettingsSchema.epsilon! },
    create: (s) => createDrGrpoEstimator({ epsilon: num(s, 'epsilon') }),
  },
  {
    kind: 'estimator',
    name: 'rloo',
    description: 'leave-one-out group mean baseline',
    settings: {},
    create: () => createRlooEstimator(),
  },
  {
    kind: 'estimator',
    name: 'reinforce-plus-plus',
    description: 'discounted return-to-go whitened over the batch, no group baseline',
    settings: reinforcePlusPlusSettingsSchema,
    create: (s) => createReinforcePlusPlusEstimator({ gamma: num(s, 'gamma') }),
  },
  {
    kind: 'estimator',
    name: 'reinforce-plus-plus-baseline',
    description: 'group mean removed, then whitened over the batch',
    settings: {},
    create: () => createReinforcePlusPlusBaselineEstimator(),
  },
  {
    kind: 'estimator',
    name: 'opo',
    description: 'length-weighted group baseline',
    settings: {},
    create: () => createOpoEstimator(),
  },
  {
    kind: 'estimator',
    name: 'gae',
    description: 'generalised advantage estimation from critic values, whitened',
    settings: gaeSettingsSchema,
    create: (s) => createGaeEstimator({ gamma: num(s, 'gamma'), lambda: num(s, 'lambda') }),
  },
  {
    kind: 'estimator',
    name: 'grpo-pass-k',
    description: 'only the best response of each group gets r_max - r_second',
    settings: grpoPassKSettingsSchema,
    create: (s) =>
      createGrpoPassKEstimator({ normByStd: s.normByStd as boolean, epsilon: num(s, 'epsilon') }),
  },
] satisfies readonly (EstimatorRegistrationV1 & { readonly name: BuiltinEstimatorName })[];

/** Registrations of the built-in credit assigners. */
export const builtinAssigners: readonly CreditAssignerRegistrationV1[] = [
  {
    kind: 'assigner',
    name: 'hicra',
    description: 'HICRA: A + alpha·|A| on planning tokens',
    settings: hicraSettingsSchema,
    create: (s) => createHicraAssigner({ alpha: num(s, 'alpha') }),
  },
  {
    kind: 'assigner',
    name: 'hicra-code-variant',
    description:
      "the authors' code as described second-hand: long positive responses, planning or top-q entropy tokens",
    settings: hicraCodeVariantSettingsSchema,
    create: (s) => createHicraCodeVariantAssigner({ alpha: num(s, 'alpha'), q: num(s, 'q') }),
  },
  {
    kind: 'assigner',
    name: 'high-entropy-advantage',
    description: 'HICRA amplification on the top-q entropy tokens',
    settings: highEntropyAdvantageSettingsSchema,
    create: (s) =>
      createHighEntropyAdvantageAssigner({
        alpha: num(s, 'alpha'),
        q: num(s, 'q'),
        scope: s.scope as 'batch' | 'sequence',
      }),
  },
  {
    kind: 'assigner',
    name: 'fork-tokens',
    description: 'the 80/20 rule: gradient only on the top-rho entropy tokens',
    settings: forkTokensSettingsSchema,
    create: (s) => createForkTokensAssigner({ rho: num(s, 'rho') }),
  },
] satisfies readonly (CreditAssignerRegistrationV1 & { readonly name: BuiltinAssignerName })[];
