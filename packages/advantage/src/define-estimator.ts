import {
  type AdvantageEstimatorV1,
  type EstimatorResultV1,
  type HicraWarningV1,
  InvalidArgumentError,
  type RolloutBatchV1,
} from '@hicra/spec';
import {
  broadcastOverMask,
  checkBatch,
  checkFiniteResult,
  checkPerResponse,
  SOURCE,
} from './batch-checks.js';
import { advantageStatistics } from './diagnostics.js';
import { type CheckedEstimate, checkedEstimators } from './pipeline-internals.js';

interface EstimatorBase {
  readonly name: string;
  /** Optional batch fields this estimator needs. */
  readonly requires?: readonly (keyof RolloutBatchV1)[];
  /** Optional batch fields it reads; any other present field among these is reported as ignored. */
  readonly reads?: readonly (keyof RolloutBatchV1)[];
}

type Compute = (batch: RolloutBatchV1) => { advantages: Float32Array; returns?: Float32Array };
type PerResponse = (batch: RolloutBatchV1) => ArrayLike<number>;

/**
 * An estimator given by `compute` (advantages and returns on a validated batch; zero outside
 * the mask; a non-finite advantage anywhere, or a non-finite return at a valid token, is a
 * `NonFiniteError`), or by `perResponse`, for estimators whose advantage is one value per
 * response broadcast over its valid tokens: those values, unrounded. Its `compute` is then that
 * broadcast (`broadcastOverMask`), and a pipeline whose first assigner can take the values
 * (`AssignerDefinition.fusedBroadcast`) never builds it: that assigner writes the final
 * advantages in its own pass, once. Given both, `compute` must return exactly the broadcast of
 * `perResponse`, and no returns; a `perResponse` of the wrong length leaves the work to
 * `compute`.
 */
export type EstimatorDefinition = EstimatorBase &
  (
    | { readonly compute: Compute; readonly perResponse?: PerResponse }
    | { readonly perResponse: PerResponse; readonly compute?: Compute }
  );

/** Optional fields an estimator may be given but not use (reported as warnings, never errors). */
const ESTIMATOR_INPUTS: readonly (keyof RolloutBatchV1)[] = ['values'];

/** Wraps a computation into an `AdvantageEstimatorV1` with validation, diagnostics and warnings. */
export function defineEstimator(definition: EstimatorDefinition): AdvantageEstimatorV1 {
  const reads = new Set(definition.reads ?? []);
  // Everything but the diagnostics: what a pipeline runs (it computes the final credit's
  // statistics once, after its last stage, and these would be overwritten).
  const perResponse = definition.perResponse;
  if (typeof definition.compute !== 'function' && typeof perResponse !== 'function') {
    throw new InvalidArgumentError(
      `defineEstimator: estimator ${JSON.stringify(definition.name)} needs compute(batch) or perResponse(batch), a function; got neither`,
      { source: SOURCE, details: { name: definition.name } },
    );
  }
  const compute: Compute =
    definition.compute ??
    ((batch) => ({ advantages: broadcastOverMask(batch, perResponse!(batch), definition.name) }));
  const estimateChecked = (batch: RolloutBatchV1, deferBroadcast: boolean): CheckedEstimate => {
    checkBatch(batch, definition.requires);
    let advantages: Float32Array | undefined;
    let returns: Float32Array | undefined;
    let values: ArrayLike<number> | undefined;
    if (deferBroadcast && perResponse !== undefined) values = perResponse(batch);
    // One value per response, or `compute` runs (and reports whatever is wrong, as it would).
    if (values !== undefined && values.length === batch.batchSize) {
      // What `compute` would throw for these values (`broadcastOverMask`'s check), and nothing
      // built: the pipeline's first assigner writes the advantages.
      checkPerResponse(batch, values, definition.name);
    } else {
      values = undefined;
      ({ advantages, returns } = compute(batch));
      checkFiniteResult(definition.name, 'advantage', batch, advantages);
      if (returns !== undefined)
        checkFiniteResult(definition.name, 'return', batch, returns, batch.responseMask);
    }
    const warnings: HicraWarningV1[] = [];
    for (const field of ESTIMATOR_INPUTS) {
      if (batch[field] !== undefined && !reads.has(field)) {
        warnings.push({
          code: 'ignored-input',
          message: `${definition.name} does not use RolloutBatchV1.${field}; it was ignored`,
          source: `estimator:${definition.name}`,
        });
      }
    }
    return { advantages, perResponse: values, returns, warnings };
  };
  const estimator: AdvantageEstimatorV1 = {
    name: definition.name,
    ...(definition.requires ? { requires: [...definition.requires] } : {}),
    estimate(batch: RolloutBatchV1): EstimatorResultV1 {
      const { advantages, returns, warnings } = estimateChecked(batch, false);
      return {
        advantages: advantages!,
        ...(returns === undefined ? {} : { returns }),
        diagnostics: advantageStatistics(advantages!, batch.responseMask),
        warnings,
      };
    },
  };
  checkedEstimators.set(estimator, estimateChecked);
  return estimator;
}
