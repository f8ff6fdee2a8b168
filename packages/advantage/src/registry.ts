import {
  type AdvantageEstimatorV1,
  type CreditAssignerRegistrationV1,
  type CreditAssignerV1,
  type CreditPipelineConfigV1,
  type CreditV1,
  createRegistry,
  type EstimatorRegistrationV1,
  type EstimatorResultV1,
  type PluginConfigV1,
  type PluginRegistryV1,
  parseCreditPipelineConfig,
  type RolloutBatchV1,
} from '@hicra/spec';
import { SOURCE } from './batch-checks.js';
import { builtinAssigners, builtinEstimators } from './builtins.js';
import { creditStatistics } from './diagnostics.js';
import { runFusedPipeline } from './pipeline-run.js';

/** Credit produced by a pipeline; `returns` is the estimator's, when it defines them. */
export interface PipelineCreditV1 extends CreditV1 {
  readonly returns?: Float32Array;
}

/** One estimator followed by assigners, built from a config. */
export interface CreditPipeline {
  readonly config: CreditPipelineConfigV1;
  readonly estimator: AdvantageEstimatorV1;
  readonly assigners: readonly CreditAssignerV1[];
  /** Runs the estimator, starts credit with `lossMask` = the response mask, applies the assigners in order. */
  run(batch: RolloutBatchV1): PipelineCreditV1;
}

/** The first credit of a pipeline: the estimator's advantages, every response token in the loss. */
export function creditFromEstimate(batch: RolloutBatchV1, estimate: EstimatorResultV1): CreditV1 {
  return {
    advantages: estimate.advantages,
    lossMask: new Uint8Array(batch.responseMask),
    diagnostics: estimate.diagnostics,
    warnings: estimate.warnings,
  };
}

/** Composes an estimator and assigners directly (no registry). */
export function composeCredit(
  estimator: AdvantageEstimatorV1,
  assigners: readonly CreditAssignerV1[],
  config?: CreditPipelineConfigV1,
): CreditPipeline {
  return {
    config: config ?? {
      estimator: { name: estimator.name },
      assigners: assigners.map((a) => ({ name: a.name })),
    },
    estimator,
    assigners,
    run(batch) {
      // Built-in stages (and plug-ins defined alike) run fused; the same result, less work.
      const fused = runFusedPipeline(estimator, assigners, batch);
      if (fused !== undefined) return fused;
      const estimate = estimator.estimate(batch);
      let credit = creditFromEstimate(batch, estimate);
      for (const assigner of assigners) credit = assigner.assign(batch, credit);
      // The statistics of the credit that leaves the pipeline, whatever an assigner reported
      // (one written by hand may pass the estimator's diagnostics through unchanged).
      credit = {
        ...credit,
        diagnostics: { ...credit.diagnostics, ...creditStatistics(batch, credit) },
      };
      return estimate.returns === undefined ? credit : { ...credit, returns: estimate.returns };
    },
  };
}

let sealedDefault: CreditRegistry;

/**
 * The registry of estimators and credit assigners, by kebab-case name: `@hicra/spec`'s plug-in
 * registry (`createRegistry`) for these two kinds, with the credit-specific builders
 * (`estimator`, `assigner`, `pipeline`).
 */
export class CreditRegistry {
  #plugins: PluginRegistryV1;

  /** A registry holding the built-ins (default) or nothing. */
  constructor(options: { readonly builtins?: boolean } = {}) {
    this.#plugins = CreditRegistry.#create(options.builtins ?? true, false);
  }

  static #create(builtins: boolean, sealed: boolean): PluginRegistryV1 {
    return createRegistry({
      kinds: ['estimator', 'assigner'],
      source: SOURCE,
      registrations: builtins ? [...builtinEstimators, ...builtinAssigners] : [],
      sealed,
      extendHint: 'new CreditRegistry() starts with the built-ins',
    });
  }

  // `defaultRegistry`: the built-ins, in a plug-in registry that refuses `register`.
  static {
    sealedDefault = new CreditRegistry({ builtins: false });
    sealedDefault.#plugins = CreditRegistry.#create(true, true);
  }

  /** The plug-in registry underneath (e.g. to list registrations with their settings). */
  get plugins(): PluginRegistryV1 {
    return this.#plugins;
  }

  /**
   * Adds a plug-in. A name already taken is an error unless `replace` is set (to swap a built-in
   * for your own implementation deliberately).
   */
  register(
    registration: EstimatorRegistrationV1 | CreditAssignerRegistrationV1,
    options: { readonly replace?: boolean } = {},
  ): this {
    this.#plugins.register(registration, options);
    return this;
  }

  estimatorNames(): string[] {
    return this.#plugins.names('estimator');
  }

  assignerNames(): string[] {
    return this.#plugins.names('assigner');
  }

  /** The registration of an estimator or assigner (settings schema, description, invariants). */
  describe(
    kind: 'estimator' | 'assigner',
    name: string,
  ): EstimatorRegistrationV1 | CreditAssignerRegistrationV1 {
    return this.#plugins.get(kind, name) as EstimatorRegistrationV1 | CreditAssignerRegistrationV1;
  }

  /** Builds an estimator from `'grpo'` or `{ name: 'grpo', normByStd: false }`. */
  estimator(config: string | PluginConfigV1, path = 'estimator'): AdvantageEstimatorV1 {
    return this.#plugins.create('estimator', config, { path });
  }

  /** Builds an assigner from `'hicra'` or `{ name: 'hicra', alpha: 0.2 }`. */
  assigner(config: string | PluginConfigV1, path = 'assigner'): CreditAssignerV1 {
    return this.#plugins.create('assigner', config, { path });
  }

  /** Builds a credit pipeline from its JSON config (`CreditPipelineConfigV1`). */
  pipeline(config: unknown): CreditPipeline {
    const parsed = parseCreditPipelineConfig(config);
    const estimator = this.estimator(parsed.estimator, 'estimator');
    const assigners = parsed.assigners.map((a, i) => this.assigner(a, `assigners[${i}]`));
    return composeCredit(estimator, assigners, parsed);
  }
}

/**
 * The registry with every built-in. It cannot change: `register` on it throws. Add plug-ins to
 * your own, `new CreditRegistry()`, which starts with the built-ins.
 */
export const defaultRegistry: CreditRegistry = sealedDefault;

/** Shorthand: a pipeline from a config, with the built-in registry. */
export function createCreditPipeline(
  config: unknown,
  registry: CreditRegistry = defaultRegistry,
): CreditPipeline {
  return registry.pipeline(config);
}
