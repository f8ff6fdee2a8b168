import {
  formatValue,
  type HicraSettingsSchemaV1,
  type InferSettingsV1,
  NonFiniteError,
  parsePluginSettings,
  type RolloutBatchV1,
  type SettingsSchemaV1,
  validateRolloutBatch,
} from '@hicra/spec';
import { type MaskWords, maskWords, skipRun } from '@hicra/tensor/kernels';

export const SOURCE = '@hicra/advantage';

/**
 * A plug-in's settings as its factory receives them when called directly, validated by the
 * same schema its registration declares (one validator for both routes): defaults filled in,
 * errors are `ConfigError`s naming the key.
 */
export function readSettings<F extends SettingsSchemaV1>(
  plugin: string,
  schema: HicraSettingsSchemaV1<F>,
  given: object | undefined,
): InferSettingsV1<F> {
  return parsePluginSettings({ name: plugin, settings: schema }, given as Record<string, unknown>, {
    source: SOURCE,
  });
}

/**
 * Batches already validated whole. The contract treats a batch as immutable once built, so a
 * pipeline validates it once (in its estimator) and its assigners only check the optional
 * fields they need.
 */
const validated = new WeakSet<RolloutBatchV1>();

/** Validates a batch for a component, requiring the optional fields it needs. */
export function checkBatch(
  batch: RolloutBatchV1,
  require: readonly (keyof RolloutBatchV1)[] = [],
): RolloutBatchV1 {
  if (typeof batch === 'object' && batch !== null && validated.has(batch)) {
    for (const field of require) {
      if (batch[field] === undefined)
        validateRolloutBatch(batch, { source: SOURCE, require: [field] });
    }
    return batch;
  }
  validateRolloutBatch(batch, { source: SOURCE, require });
  validated.add(batch);
  return batch;
}

/**
 * The outcome score of each response: the sum of its token rewards over valid tokens when the
 * batch carries token rewards (outcome rewards placed on the last token, or rewards shaped by a
 * KL penalty), otherwise its outcome reward. As verl's `token_level_rewards.sum(-1)`.
 */
export function outcomeScores(batch: RolloutBatchV1): Float64Array {
  const { batchSize, seqLen, responseMask, tokenRewards, rewards } = batch;
  const scores = new Float64Array(batchSize);
  if (tokenRewards === undefined) {
    for (let i = 0; i < batchSize; i++) scores[i] = rewards[i]!;
    return scores;
  }
  const view = maskWords(responseMask);
  for (let i = 0; i < batchSize; i++) {
    // In token order over the valid tokens (float64), crossing padding word-wide.
    let sum = 0;
    const offset = i * seqLen;
    const last = offset + seqLen;
    for (let k = skipRun(view, offset, last, 0); k < last; k = skipRun(view, k, last, 0)) {
      const end = skipRun(view, k, last, 1);
      for (let t = k; t < end; t++) sum += tokenRewards[t]!;
      k = end === k ? k + 1 : end;
    }
    scores[i] = sum;
  }
  return scores;
}

/**
 * Per-token rewards: the batch's token rewards, or the outcome reward on the last valid token
 * of each response (zero elsewhere).
 */
export function tokenLevelRewards(batch: RolloutBatchV1): Float32Array {
  if (batch.tokenRewards !== undefined) return batch.tokenRewards;
  const { batchSize, seqLen, responseMask, rewards } = batch;
  const out = new Float32Array(batchSize * seqLen);
  for (let i = 0; i < batchSize; i++) {
    for (let t = seqLen - 1; t >= 0; t--) {
      if (responseMask[i * seqLen + t] === 1) {
        out[i * seqLen + t] = rewards[i]!;
        break;
      }
    }
  }
  return out;
}

/**
 * Arrays made by {@link broadcastOverMask}: new, not shared with anything, and finite by
 * construction. `checkFiniteResult` skips them once, and a pipeline may take them over (and
 * amplify in place); an estimator that writes into one after broadcasting must not return it.
 */
const freshFinite = new WeakSet<Float32Array>();

/** Whether `values` came from {@link broadcastOverMask} and nobody has claimed it; claims it. */
export function claimFresh(values: Float32Array): boolean {
  return freshFinite.delete(values);
}

/**
 * Calls `fill(start, end)` for each run of ones of `mask` in `[from, to)`, in order; padding
 * and whole runs are crossed four entries at a time.
 */
function fillRuns(
  out: Float32Array | Float64Array,
  view: MaskWords,
  from: number,
  to: number,
  value: number,
): void {
  for (let k = skipRun(view, from, to, 0); k < to; k = skipRun(view, k, to, 0)) {
    const end = skipRun(view, k, to, 1);
    if (end === k) {
      k++; // not a 0/1 mask here: only entries equal to 1 are valid
      continue;
    }
    out.fill(value, k, end);
    k = end;
  }
}

/**
 * Broadcasts one value per response over its valid tokens (zero elsewhere), as float32. A value
 * that float32 cannot hold (finite rewards near ±3.4e38 whose differences overflow) is a
 * `NonFiniteError` naming `who`, the response and its group, never an Infinity in the result.
 */
export function broadcastOverMask(
  batch: RolloutBatchV1,
  perResponse: ArrayLike<number>,
  who: string,
  quantity = 'advantage',
): Float32Array {
  checkPerResponse(batch, perResponse, who, quantity);
  const { batchSize, seqLen, responseMask } = batch;
  const out = new Float32Array(batchSize * seqLen);
  const view = maskWords(responseMask);
  for (let i = 0; i < batchSize; i++) {
    const value = Math.fround(perResponse[i]!);
    // Runs are filled natively; padding is never written (the array starts at zero).
    if (!Object.is(value, 0)) fillRuns(out, view, i * seqLen, (i + 1) * seqLen, value);
  }
  freshFinite.add(out);
  return out;
}

/**
 * The check behind {@link broadcastOverMask}, on its own: every value rounds to a finite
 * float32, or the `NonFiniteError` naming `who`, the first such response and its group. What a
 * pipeline runs when it defers the broadcast to its first assigner's pass.
 */
export function checkPerResponse(
  batch: RolloutBatchV1,
  perResponse: ArrayLike<number>,
  who: string,
  quantity = 'advantage',
): void {
  for (let i = 0; i < batch.batchSize; i++) {
    if (!Number.isFinite(Math.fround(perResponse[i]!)))
      throwNonFiniteResult({ who, quantity, batch, response: i, value: perResponse[i]! });
  }
}

/**
 * As {@link broadcastOverMask}, in float64: the input of a whitening step, which must not round
 * to float32 first (centred rewards near the float32 limit would overflow to Infinity and
 * whiten to NaN, although their whitened values are small).
 */
export function broadcastOverMask64(
  batch: RolloutBatchV1,
  perResponse: ArrayLike<number>,
): Float64Array {
  const { batchSize, seqLen, responseMask } = batch;
  const out = new Float64Array(batchSize * seqLen);
  const view = maskWords(responseMask);
  for (let i = 0; i < batchSize; i++) {
    const value = perResponse[i]!;
    if (!Object.is(value, 0)) fillRuns(out, view, i * seqLen, (i + 1) * seqLen, value);
  }
  return out;
}

/** The largest finite float32, the range of every result array. */
export const FLOAT32_MAX = 3.4028234663852886e38;

export interface NonFiniteSite {
  /** `rloo`, or `assigner hicra`. */
  readonly who: string;
  /** `advantage` or `return`. */
  readonly quantity: string;
  readonly batch: RolloutBatchV1;
  readonly response: number;
  /** The token, for per-token quantities. */
  readonly token?: number;
  /** The value before rounding to float32 (float64), or the non-finite value found. */
  readonly value: number;
  /** What to rescale; default `the rewards`. */
  readonly inputs?: string;
}

/**
 * Throws the `NonFiniteError` of a result that is not finite in float32: which component, which
 * quantity, where (response, token, group) and the value. A finite float64 value beyond the
 * float32 range means the inputs were finite but too large; NaN or Infinity means the component
 * produced it.
 */
export function throwNonFiniteResult(site: NonFiniteSite): never {
  const { who, quantity, batch, response, token, value } = site;
  const group = batch.groupIds[response]!;
  const where =
    token === undefined
      ? `of response ${response} (group ${group})`
      : `at response ${response}, token ${token} (group ${group})`;
  const component = who.startsWith('assigner ') ? 'assigner' : 'estimator';
  const why = Number.isFinite(value)
    ? `, outside the float32 range of the result (±${FLOAT32_MAX}); the inputs are finite but too large for this ${component}: rescale ${site.inputs ?? 'the rewards'}`
    : Number.isNaN(value)
      ? `; ${quantity}s must be finite`
      : `: the result overflowed the float32 range (±${FLOAT32_MAX}); ${quantity}s must be finite`;
  throw new NonFiniteError(`${who}: the ${quantity} ${where} is ${formatValue(value)}${why}`, {
    source: SOURCE,
    details: {
      [component]: who.replace(/^assigner /, ''),
      quantity,
      response,
      ...(token === undefined ? {} : { token }),
      group,
      value: formatValue(value),
    },
  });
}

/**
 * Checks a float32 result array where `check` is 1 (all positions when omitted): every entry
 * finite, or {@link throwNonFiniteResult}. One pass; the safety net behind every estimator and
 * assigner, so that nothing non-finite leaves this package silently.
 */
export function checkFiniteResult(
  who: string,
  quantity: string,
  batch: RolloutBatchV1,
  values: Float32Array,
  check?: Uint8Array,
): void {
  // Finite by construction (a fresh broadcast): nothing to check.
  if (check === undefined && freshFinite.has(values)) return;
  for (let k = 0; k < values.length; k++) {
    if (!Number.isFinite(values[k]!) && (check === undefined || check[k] === 1)) {
      throwNonFiniteResult({
        who,
        quantity,
        batch,
        response: Math.floor(k / batch.seqLen),
        token: k % batch.seqLen,
        value: values[k]!,
      });
    }
  }
}
