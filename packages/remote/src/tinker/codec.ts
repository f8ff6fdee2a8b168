/**
 * Contract values (`@hicra/spec`, camelCase, typed arrays) to and from Tinker's JSON shapes.
 * Client side: datums, losses and Adam settings out, forward results in. Server side: the
 * reverse, with 400 errors that name the request field at fault.
 */
import {
  type AdamParamsV1,
  type DatumFloatField,
  type DatumOutputV1,
  type DatumV1,
  type ForwardResultV1,
  InvalidArgumentError,
  InvalidValueError,
  KL_ESTIMATOR_NAMES,
  type LossNameV1,
  type LossSettingsV1,
  type LossSpecV1,
  ShapeError,
  UnknownNameError,
} from '@hicra/spec';
import { HttpStatusError } from '../http/errors.js';
import type { TinkerServerFeatures } from './capabilities.js';
import {
  contractLossName,
  DATUM_INPUT_KEYS,
  LOSS_CONFIG_KEYS,
  TINKER_LOSS_CONFIG_KEYS,
  type WireAdamParams,
  type WireDatum,
  type WireForwardBackwardInput,
  type WireForwardBackwardOutput,
  type WireHicraOptions,
  type WireModelInput,
  type WireNumbers,
  type WireTensorData,
  wireLossName,
} from './wire.js';

const SOURCE = '@hicra/remote';

// ---------------------------------------------------------------------------------------------
// Client side: contract -> wire.

/** The float fields a loss reads on a plain Tinker server. */
function tinkerFieldsOf(loss: string): readonly DatumFloatField[] {
  return loss === 'cross_entropy' ? ['weights'] : ['logProbs', 'advantages'];
}

/**
 * One datum as Tinker's `Datum`: `model_input` one `encoded_text` chunk of the input tokens,
 * `loss_fn_inputs` `target_tokens` (int64) and the float fields in `fields` (float32), every
 * tensor `[N]`. The typed arrays are referenced, not copied. With `onesForWeights`, absent
 * weights travel as ones (Tinker's `cross_entropy` needs them; the contract means 1).
 */
export function encodeDatum(
  datum: DatumV1,
  fields: readonly DatumFloatField[],
  onesForWeights: boolean,
): WireDatum {
  const n = datum.inputTokens.length;
  const shape = [n];
  const inputs: Record<string, WireTensorData> = {
    target_tokens: { data: datum.targetTokens, dtype: 'int64', shape },
  };
  for (const field of fields) {
    let values = datum[field];
    if (values === undefined && field === 'weights' && onesForWeights)
      values = new Float32Array(n).fill(1);
    if (values !== undefined)
      inputs[DATUM_INPUT_KEYS[field]] = { data: values, dtype: 'float32', shape };
  }
  return {
    loss_fn_inputs: inputs,
    model_input: { chunks: [{ tokens: datum.inputTokens, type: 'encoded_text' }] },
  };
}

/** A loss checked against a server, ready to send. */
export interface WireLoss {
  readonly lossFn: string;
  readonly config: Readonly<Record<string, number>>;
  readonly hicra: WireHicraOptions;
  /** The datum float fields to send. */
  readonly fields: readonly DatumFloatField[];
  /** Send absent weights as ones. */
  readonly onesForWeights: boolean;
}

/**
 * `loss` (absent: scored without a loss, sent as `cross_entropy` with its metrics discarded)
 * checked against what the server offers: unknown losses, settings the server does not read,
 * a temperature other than 1, an entropy bonus or a KL term without the capability are
 * refused here, before anything is sent.
 */
export function resolveLoss(
  loss: LossSpecV1 | undefined,
  temperature: number,
  features: TinkerServerFeatures,
  where: string,
): WireLoss {
  const caps = features.capabilities;
  const name = loss?.name ?? 'cross-entropy';
  if (!(caps.losses as readonly string[]).includes(name)) {
    throw new UnknownNameError('loss', String(name), caps.losses, {
      source: SOURCE,
      details: { argument: 'loss.name', offeredBy: features.hicra ? 'server' : 'tinker' },
    });
  }
  const lossFn = wireLossName(name);
  const config: Record<string, number> = {};
  let klEstimator: string | undefined;
  for (const [key, value] of Object.entries(loss?.settings ?? {})) {
    if (value === undefined) continue;
    if (key === 'klEstimator') {
      if (!(KL_ESTIMATOR_NAMES as readonly string[]).includes(value as string))
        throw new UnknownNameError('KL estimator', String(value), KL_ESTIMATOR_NAMES, {
          source: SOURCE,
        });
      klEstimator = value as string;
      continue;
    }
    const wireKey = LOSS_CONFIG_KEYS[key as keyof typeof LOSS_CONFIG_KEYS];
    if (wireKey === undefined) {
      throw new InvalidArgumentError(
        `${where}: loss ${name}: unknown setting "${key}"; known settings: ${[...Object.keys(LOSS_CONFIG_KEYS), 'klEstimator'].join(', ')}`,
        { source: SOURCE, details: { argument: `loss.settings.${key}` } },
      );
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new InvalidValueError(
        `${where}: loss ${name}: setting ${key} must be a finite number, got ${String(value)}`,
        { source: SOURCE, details: { argument: `loss.settings.${key}`, value: String(value) } },
      );
    }
    if (key === 'entropyCoefficient' && value !== 0 && !caps.entropyBonus)
      throw capabilityError(where, 'an entropy bonus (entropyCoefficient)', 'entropyBonus');
    if (key === 'klCoefficient' && value !== 0 && !caps.klTerm)
      throw capabilityError(where, 'a KL term (klCoefficient)', 'klTerm');
    const readable = features.hicra
      ? features.lossConfigKeys.has(wireKey)
      : (TINKER_LOSS_CONFIG_KEYS[lossFn] ?? []).includes(wireKey);
    if (!readable) {
      if (value === 0 && (key === 'entropyCoefficient' || key === 'klCoefficient')) continue;
      throw new InvalidArgumentError(
        `${where}: loss ${name}: setting ${key} (${wireKey}) is not read by this server's ${lossFn}; it reads ${features.hicra ? [...features.lossConfigKeys].join(', ') : (TINKER_LOSS_CONFIG_KEYS[lossFn] ?? []).join(', ') || 'no settings'}`,
        { source: SOURCE, details: { argument: `loss.settings.${key}` } },
      );
    }
    config[wireKey] = value;
  }
  if (temperature !== 1 && !caps.temperature) {
    throw capabilityError(where, `a temperature of ${temperature}`, 'temperature');
  }
  const fields: DatumFloatField[] = features.hicra
    ? ['weights', 'logProbs', 'advantages', ...(caps.klTerm ? (['refLogProbs'] as const) : [])]
    : [...tinkerFieldsOf(lossFn)];
  const hicra: WireHicraOptions = {
    ...(temperature !== 1 ? { temperature } : {}),
    ...(klEstimator !== undefined && features.hicra ? { kl_estimator: klEstimator } : {}),
  };
  return {
    lossFn,
    config,
    hicra,
    fields,
    onesForWeights: lossFn === 'cross_entropy' && !features.hicra,
  };
}

/** The forward(-backward) input of `data` under a resolved loss. */
export function encodeForwardInput(
  data: readonly DatumV1[],
  loss: WireLoss,
): WireForwardBackwardInput {
  return {
    data: data.map((datum) => encodeDatum(datum, loss.fields, loss.onesForWeights)),
    loss_fn: loss.lossFn,
    ...(Object.keys(loss.config).length > 0 ? { loss_fn_config: loss.config } : {}),
    ...(Object.keys(loss.hicra).length > 0 ? { hicra_options: loss.hicra } : {}),
  };
}

function capabilityError(where: string, what: string, capability: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `${where}: the server does not offer ${what} (capabilities.${capability} is false: a plain Tinker server offers its five losses at temperature 1, without entropies, KL term or entropy bonus)`,
    { source: SOURCE, details: { capability } },
  );
}

/** Adam settings with Tinker's defaults, checked. */
export function encodeAdam(adam: AdamParamsV1): WireAdamParams {
  if (typeof adam !== 'object' || adam === null) {
    throw new InvalidArgumentError(`optimStep: adam must be an AdamParamsV1 object`, {
      source: SOURCE,
      details: { argument: 'adam' },
    });
  }
  const params: WireAdamParams = {
    learning_rate: adam.learningRate,
    beta1: adam.beta1 ?? 0.9,
    beta2: adam.beta2 ?? 0.95,
    eps: adam.eps ?? 1e-12,
    weight_decay: adam.weightDecay ?? 0,
    grad_clip_norm: adam.gradClipNorm ?? 0,
  };
  const checks: [keyof AdamParamsV1, number, (v: number) => boolean, string][] = [
    ['learningRate', params.learning_rate, (v) => v > 0, '> 0'],
    ['beta1', params.beta1, (v) => v >= 0 && v < 1, 'in [0, 1)'],
    ['beta2', params.beta2, (v) => v >= 0 && v < 1, 'in [0, 1)'],
    ['eps', params.eps, (v) => v > 0, '> 0'],
    ['weightDecay', params.weight_decay, (v) => v >= 0, '>= 0'],
    ['gradClipNorm', params.grad_clip_norm, (v) => v >= 0, '>= 0'],
  ];
  for (const [key, value, ok, range] of checks) {
    if (!(typeof value === 'number' && Number.isFinite(value) && ok(value))) {
      throw new InvalidValueError(
        `optimStep: adam.${key} must be a finite number ${range}, got ${String(value)}`,
        { source: SOURCE, details: { argument: `adam.${key}`, value: String(value) } },
      );
    }
  }
  return params;
}

/** A forward(-backward) output as `ForwardResultV1`, checked against the datums sent. */
export function decodeForwardOutput(
  output: unknown,
  data: readonly DatumV1[],
  where: string,
  keepMetrics: boolean,
): ForwardResultV1 {
  const o = output as Partial<WireForwardBackwardOutput> | null;
  if (typeof o !== 'object' || o === null || !Array.isArray(o.loss_fn_outputs)) {
    throw new InvalidValueError(
      `${where}: the result has no loss_fn_outputs list (got ${describe(output)})`,
      { source: SOURCE, details: { field: 'loss_fn_outputs' } },
    );
  }
  if (o.loss_fn_outputs.length !== data.length) {
    throw new ShapeError(
      `${where}: the result has ${o.loss_fn_outputs.length} loss_fn_outputs for ${data.length} datums`,
      {
        source: SOURCE,
        details: {
          field: 'loss_fn_outputs',
          expected: data.length,
          actual: o.loss_fn_outputs.length,
        },
      },
    );
  }
  const outputs: DatumOutputV1[] = o.loss_fn_outputs.map((entry, i) => {
    const n = data[i]!.inputTokens.length;
    const logProbs = readFloat(entry?.logprobs, n, `${where}: loss_fn_outputs[${i}].logprobs`);
    if (logProbs === undefined) {
      throw new InvalidValueError(`${where}: loss_fn_outputs[${i}] has no logprobs tensor`, {
        source: SOURCE,
        details: { field: `loss_fn_outputs[${i}].logprobs` },
      });
    }
    const entropies = readFloat(entry?.entropies, n, `${where}: loss_fn_outputs[${i}].entropies`);
    return entropies === undefined ? { logProbs } : { logProbs, entropies };
  });
  return { outputs, metrics: keepMetrics ? decodeMetrics(o.metrics) : {} };
}

/** Metrics as numbers (`null`, a non-finite value a server could not write, becomes NaN). */
export function decodeMetrics(metrics: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (typeof metrics !== 'object' || metrics === null) return out;
  for (const [key, value] of Object.entries(metrics)) {
    if (typeof value === 'number') out[key] = value;
    else if (value === null) out[key] = Number.NaN;
  }
  return out;
}

function readFloat(tensor: unknown, n: number, where: string): Float32Array | undefined {
  if (tensor === undefined || tensor === null) return undefined;
  const t = tensor as Partial<WireTensorData>;
  if (!Array.isArray(t.data)) {
    throw new InvalidValueError(`${where}: data must be an array of numbers`, {
      source: SOURCE,
      details: { field: where },
    });
  }
  if (t.data.length !== n) {
    throw new ShapeError(`${where} has ${t.data.length} values for a datum of ${n} tokens`, {
      source: SOURCE,
      details: { field: where, expected: n, actual: t.data.length },
    });
  }
  const values = Float32Array.from(t.data as readonly number[]);
  return values;
}

/**
 * Merges the results of consecutive chunks of one call: outputs concatenated, metrics reduced
 * by the suffix of their key as Tinker does (`sum`, `min`, `max`, `mean` weighted by datums);
 * other suffixes keep the first chunk's value.
 */
export function mergeForwardResults(
  parts: readonly { result: ForwardResultV1; datums: number }[],
): ForwardResultV1 {
  if (parts.length === 1) return parts[0]!.result;
  const outputs: DatumOutputV1[] = [];
  const metrics: Record<string, number> = {};
  let before = 0;
  for (const { result, datums } of parts) {
    outputs.push(...result.outputs);
    for (const [key, value] of Object.entries(result.metrics)) {
      const previous = metrics[key];
      if (previous === undefined) metrics[key] = value;
      else {
        switch (key.slice(key.lastIndexOf(':') + 1)) {
          case 'sum':
            metrics[key] = previous + value;
            break;
          case 'min':
            metrics[key] = Math.min(previous, value);
            break;
          case 'max':
            metrics[key] = Math.max(previous, value);
            break;
          case 'mean':
            metrics[key] = (previous * before + value * datums) / (before + datums);
            break;
        }
      }
    }
    before += datums;
  }
  return { outputs, metrics };
}

/** Rough JSON size of a datum (bytes), for chunking: ~12 bytes per token per tensor. */
export function estimateDatumBytes(datum: DatumV1, tensors: number): number {
  return 64 + datum.inputTokens.length * 12 * (tensors + 1);
}

// ---------------------------------------------------------------------------------------------
// Server side: wire -> contract, with 400s naming the field.

/** Tokens of a model input: its `encoded_text` chunks, concatenated. */
export function decodeModelInput(input: WireModelInput, where: string): Int32Array {
  const chunks = input.chunks;
  let total = 0;
  chunks.forEach((chunk, c) => {
    if (chunk.type !== 'encoded_text') {
      throw new HttpStatusError(
        400,
        `${where}.chunks[${c}].type is "${chunk.type}": this server serves token input only (encoded_text chunks)`,
        { field: `${where}.chunks[${c}].type` },
      );
    }
    const tokens = (chunk as { tokens?: WireNumbers }).tokens;
    if (tokens === undefined) {
      throw new HttpStatusError(400, `${where}.chunks[${c}].tokens: required field missing`, {
        field: `${where}.chunks[${c}].tokens`,
      });
    }
    total += tokens.length;
  });
  const out = new Int32Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    const tokens = (chunk as { tokens: WireNumbers }).tokens;
    out.set(tokens as ArrayLike<number>, offset);
    offset += tokens.length;
  }
  return out;
}

const FIELD_OF_INPUT_KEY: Readonly<Record<string, DatumFloatField>> = {
  weights: 'weights',
  logprobs: 'logProbs',
  advantages: 'advantages',
  ref_logprobs: 'refLogProbs',
};

/**
 * A wire datum as `DatumV1`. 400 (naming the field) for a missing `target_tokens`, an unknown
 * `loss_fn_inputs` key, a wrong dtype, a shape other than `[N]`, a sparse tensor, or a tensor
 * whose length differs from the model input's.
 */
export function decodeDatum(datum: WireDatum, where: string): DatumV1 {
  const inputTokens = decodeModelInput(datum.model_input, `${where}.model_input`);
  const n = inputTokens.length;
  const inputs = datum.loss_fn_inputs;
  const out: { -readonly [K in keyof DatumV1]?: DatumV1[K] } = { inputTokens };
  if (inputs.target_tokens === undefined) {
    throw new HttpStatusError(
      400,
      `${where}.loss_fn_inputs.target_tokens: required field missing (position i of model_input predicts target_tokens[i])`,
      { field: `${where}.loss_fn_inputs.target_tokens` },
    );
  }
  for (const [key, tensor] of Object.entries(inputs)) {
    const at = `${where}.loss_fn_inputs.${key}`;
    const field = key === 'target_tokens' ? 'targetTokens' : FIELD_OF_INPUT_KEY[key];
    if (field === undefined) {
      throw new HttpStatusError(
        400,
        `${at}: unknown loss_fn_inputs key "${key}"; this server reads target_tokens, ${Object.keys(FIELD_OF_INPUT_KEY).join(', ')}`,
        { field: at },
      );
    }
    const dtype = field === 'targetTokens' ? 'int64' : 'float32';
    if (tensor.dtype !== dtype) {
      throw new HttpStatusError(400, `${at}.dtype must be "${dtype}", got "${tensor.dtype}"`, {
        field: `${at}.dtype`,
      });
    }
    if (tensor.sparse_crow_indices !== undefined || tensor.sparse_col_indices !== undefined) {
      throw new HttpStatusError(400, `${at}: sparse tensors are not served; send dense [N] data`, {
        field: `${at}.sparse_crow_indices`,
      });
    }
    if (tensor.shape !== undefined && (tensor.shape.length !== 1 || tensor.shape[0] !== n)) {
      throw new HttpStatusError(
        400,
        `${at}.shape is ${JSON.stringify(tensor.shape)}; every loss_fn_inputs tensor is [N] with N = ${n}, the model input's length`,
        { field: `${at}.shape` },
      );
    }
    if (tensor.data.length !== n) {
      throw new HttpStatusError(
        400,
        `${at}.data has ${tensor.data.length} values, but model_input has ${n} tokens; every loss_fn_inputs tensor has the model input's length`,
        { field: `${at}.data` },
      );
    }
    if (field === 'targetTokens') {
      for (let i = 0; i < n; i++) {
        const v = tensor.data[i]!;
        if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) {
          throw new HttpStatusError(400, `${at}.data[${i}] = ${v} is not a token id`, {
            field: `${at}.data[${i}]`,
          });
        }
      }
      out.targetTokens = Int32Array.from(tensor.data as ArrayLike<number>);
    } else {
      out[field] = Float32Array.from(tensor.data as ArrayLike<number>);
    }
  }
  return out as DatumV1;
}

/** The loss of a wire input as `LossSpecV1` (the name and settings; the engine checks ranges). */
export function decodeLoss(input: WireForwardBackwardInput, where: string): LossSpecV1 {
  const name = contractLossName(input.loss_fn) as LossNameV1;
  const settings: { -readonly [K in keyof LossSettingsV1]?: LossSettingsV1[K] } = {};
  const byWire = new Map<string, keyof typeof LOSS_CONFIG_KEYS>(
    Object.entries(LOSS_CONFIG_KEYS).map(([k, v]) => [v, k as keyof typeof LOSS_CONFIG_KEYS]),
  );
  for (const [key, value] of Object.entries(input.loss_fn_config ?? {})) {
    const setting = byWire.get(key);
    if (setting === undefined) {
      throw new HttpStatusError(
        400,
        `${where}.loss_fn_config.${key}: unknown setting; known: ${[...byWire.keys()].join(', ')}`,
        { field: `${where}.loss_fn_config.${key}` },
      );
    }
    settings[setting] = value;
  }
  const estimator = input.hicra_options?.kl_estimator;
  if (estimator !== undefined) settings.klEstimator = estimator as LossSettingsV1['klEstimator'];
  return Object.keys(settings).length > 0 ? { name, settings } : { name };
}

/** A forward result as the wire's `ForwardBackwardOutput` (typed arrays referenced). */
export function encodeForwardOutput(
  result: ForwardResultV1,
  withEntropies: boolean,
): WireForwardBackwardOutput {
  return {
    loss_fn_output_type: 'ArrayRecord',
    loss_fn_outputs: result.outputs.map((output) => {
      const shape = [output.logProbs.length];
      const entry: Record<string, WireTensorData> = {
        logprobs: { data: output.logProbs, dtype: 'float32', shape },
      };
      if (withEntropies && output.entropies !== undefined)
        entry.entropies = { data: output.entropies, dtype: 'float32', shape };
      return entry;
    }),
    metrics: result.metrics,
  };
}

/** A wire Adam config as `AdamParamsV1`. */
export function decodeAdam(params: WireAdamParams): AdamParamsV1 {
  return {
    learningRate: params.learning_rate,
    beta1: params.beta1,
    beta2: params.beta2,
    eps: params.eps,
    weightDecay: params.weight_decay,
    gradClipNorm: params.grad_clip_norm,
  };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
