/**
 * execution-damping: a credit-assignment strategy in the spirit of HICRA, written as a third
 * party would, against `@hicra/spec` alone. Instead of amplifying planning tokens, it scales the
 * advantage of *execution* tokens by `beta` in [0, 1], so that relatively more of the credit
 * goes to planning. beta = 1 is the identity; beta = 0 trains on planning tokens only (through
 * the advantages; the loss mask is left alone, so the loss keeps its scale).
 */
import {
  type CreditAssignerV1,
  definePlugin,
  defineSettings,
  parsePluginSettings,
  type SettingsInputV1,
  ShapeError,
  validateRolloutBatch,
} from '@hicra/spec';

const SOURCE = 'execution-damping';

/** The settings, stated once: validation, defaults, `--help` text and the TypeScript type come from here. */
export const executionDampingSettings = defineSettings({
  beta: {
    type: 'number',
    min: 0,
    max: 1,
    default: 0.5,
    description: 'factor applied to execution-token advantages',
  },
});
export type ExecutionDampingSettings = SettingsInputV1<typeof executionDampingSettings>;

export function createExecutionDamping(settings: ExecutionDampingSettings = {}): CreditAssignerV1 {
  // Called directly, the factory validates with the same schema a registry uses.
  const { beta } = parsePluginSettings(
    { name: 'execution-damping', settings: executionDampingSettings },
    settings,
    { source: SOURCE },
  );
  return {
    name: 'execution-damping',
    assign(batch, credit) {
      // A third-party strategy validates what it reads; the contract's validator does the work.
      validateRolloutBatch(batch, { source: SOURCE, require: ['planningMask'] });
      const tokens = batch.batchSize * batch.seqLen;
      if (credit.advantages.length !== tokens) {
        throw new ShapeError(
          `credit.advantages has length ${credit.advantages.length}, expected ${tokens}`,
          { source: SOURCE },
        );
      }
      const planning = batch.planningMask!;
      const advantages = new Float32Array(credit.advantages);
      for (let k = 0; k < tokens; k++) {
        if (batch.responseMask[k] === 1 && planning[k] === 0) advantages[k] = advantages[k]! * beta;
      }
      return { ...credit, advantages };
    },
  };
}

/**
 * Add to a registry: `new CreditRegistry().register(executionDamping)`, then use
 * `{ "name": "execution-damping", "beta": 0.5 }`; or load this module with
 * `hicra train --plugin`. The conformance kit checks the invariants it declares.
 */
export const executionDamping = definePlugin({
  kind: 'assigner',
  name: 'execution-damping',
  description: 'scale execution-token advantages by beta, leaving planning tokens untouched',
  settings: executionDampingSettings,
  invariants: ['never-flips-sign', 'loss-mask-unchanged'],
  create: (settings) => createExecutionDamping(settings),
});
