import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  type AdamParamsV1,
  type DatumFloatField,
  type DatumOutputV1,
  type DatumV1,
  type EngineCapabilitiesV1,
  type EngineInfoV1,
  type ForwardOptionsV1,
  type ForwardResultV1,
  InvalidArgumentError,
  InvalidValueError,
  KL_ESTIMATOR_NAMES,
  LOSS_NAMES,
  type LossNameV1,
  type LossSettingsV1,
  type LossSpecV1,
  MissingInputError,
  NonFiniteError,
  type OptimStepResultV1,
  type TrainingClientV1,
  UnknownNameError,
  validateDatums,
} from '@hicra/spec';
import {
  type EngineLossInput,
  engineLoss,
  type Scalar,
  type Tensor,
  tf,
  type Variable,
} from '@hicra/tensor';
import { type CheckpointTokenizer, saveCheckpoint } from '../checkpoint/policy-checkpoint.js';
import { encodeSafetensors } from '../checkpoint/safetensors.js';
import type { TransformerPolicy } from '../transformer-policy.js';
import {
  AdamMoments,
  clipScale,
  firstNonFiniteWeight,
  globalNorm,
  resolveAdamParams,
} from './adam.js';
import {
  ENGINE_STATE_FILES,
  ENGINE_STATE_SCHEMA,
  type EngineStateJson,
  readEngineState,
} from './engine-state.js';
import { LocalSamplingClient } from './local-sampling-client.js';

const SOURCE = '@hicra/policy';

/** What the local engine can do: everything, every loss of `LOSS_NAMES`. */
export const LOCAL_ENGINE_CAPABILITIES: EngineCapabilitiesV1 = Object.freeze({
  entropies: true,
  klTerm: true,
  entropyBonus: true,
  temperature: true,
  losses: LOSS_NAMES,
});

/** Every key of `LossSettingsV1`; any other key is refused (a typo would be silently ignored). */
const LOSS_SETTING_KEYS = [
  'clipLowThreshold',
  'clipHighThreshold',
  'beta',
  'clipRatioLow',
  'clipRatioHigh',
  'clipRatioC',
  'logRatioClamp',
  'entropyCoefficient',
  'klCoefficient',
  'klEstimator',
] as const satisfies readonly (keyof LossSettingsV1)[];

/** A state or sampler name: one plain path segment. */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export interface LocalTrainingClientOptions {
  /**
   * The folder `saveState(name)` writes into (`<directory>/<name>/`), and against which
   * `loadState` resolves a relative location. Created on the first save.
   */
  readonly directory: string;
  /** `info().modelName`. Default `hicra-transformer`. */
  readonly modelName?: string;
  /**
   * More content for every folder `saveState(name)` writes, in the same atomic swap: a
   * tokenizer, metadata, and files by name (a trainer's own state, so that one folder holds a
   * consistent checkpoint). Called at each save, after the calls before it have finished.
   */
  readonly stateFiles?: (name: string) => StateFiles | Promise<StateFiles>;
}

/** What {@link LocalTrainingClientOptions.stateFiles} adds to a saved state. */
export interface StateFiles {
  readonly tokenizer?: CheckpointTokenizer;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly extraFiles?: Readonly<Record<string, string | Uint8Array>>;
}

/** The datum fields a loss reads, as `validateDatums`' `requires`. */
export function lossRequirements(loss: LossSpecV1): DatumFloatField[] {
  const fields: DatumFloatField[] = loss.name === 'cross-entropy' ? [] : ['logProbs', 'advantages'];
  if ((loss.settings?.klCoefficient ?? 0) !== 0) fields.push('refLogProbs');
  return fields;
}

/** A packed micro-batch: right-padded `[B, T]` arrays. */
interface PackedBatch {
  readonly batchSize: number;
  readonly seqLen: number;
  readonly lengths: readonly number[];
  readonly inputTokens: Int32Array;
  readonly targetTokens: Int32Array;
  readonly mask: Uint8Array;
  readonly floats: Partial<Record<DatumFloatField, Float32Array>>;
}

/**
 * `TrainingClientV1` in process, over a {@link TransformerPolicy} (the local engine).
 *
 * - `forwardBackward` validates the datums (`validateDatums`), packs them right-padded into
 *   `[B, T]` micro-batches of `policy.microBatchSize` datums, scores them with
 *   `TransformerPolicy.sequenceStatistics` inside `tf.variableGrads` over the loss (a token sum,
 *   so micro-batch gradients add up to the call's), and adds the call's gradient to the
 *   accumulated one only once the whole call has succeeded: a rejected call accumulates
 *   nothing. Outputs: per-datum log-probs and entropies. Metrics: `loss:sum` and the loss's own
 *   (`name:reduction` keys, reduced across micro-batches by their suffix).
 * - `optimStep` applies Adam(W) with Tinker's defaults (β1 0.9, β2 0.95, eps 1e-12, no weight
 *   decay, no clipping) to the accumulated gradient and clears it. A non-finite gradient norm
 *   leaves weights, moments and step count untouched, discards the gradient and throws a
 *   `NonFiniteError`. Metrics: `learning_rate`, `grad_norm` (before clipping).
 * - `saveState(name)` writes `<directory>/<name>/` in one atomic folder swap: a policy
 *   checkpoint (`config.json`, `model.safetensors`) plus `optimizer.safetensors` (Adam moments)
 *   and `engine-state.json` (step count). An existing state of that name is replaced.
 *   `loadState` restores weights, moments and step exactly, and discards any accumulated
 *   gradient; a state of another architecture is refused before anything changes.
 * - `saveWeightsForSampler(name)` returns a {@link LocalSamplingClient} over a frozen copy of the
 *   current weights (`policy.clone()`); **dispose it** when done, or its copy stays allocated.
 *
 * Calls run one at a time in call order, as a Tinker server runs a model's requests in `seq_id`
 * order. The policy stays the caller's: `dispose()` releases the engine's own tensors (the
 * accumulated gradient and the Adam moments) once the calls already made have finished, not
 * the policy.
 */
export class LocalTrainingClient implements TrainingClientV1 {
  readonly policy: TransformerPolicy;
  readonly directory: string;
  readonly modelName: string;
  readonly #stateFiles: LocalTrainingClientOptions['stateFiles'];
  readonly #parameters: readonly (readonly [string, Variable])[];
  readonly #nameOfVariable: ReadonlyMap<string, string>;
  readonly #adam = new AdamMoments();
  #gradients: Map<string, Tensor> | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #disposed = false;
  #released: Promise<void> = Promise.resolve();

  constructor(policy: TransformerPolicy, options: LocalTrainingClientOptions) {
    if (typeof options?.directory !== 'string' || options.directory.length === 0) {
      throw new InvalidArgumentError(
        'LocalTrainingClient: options.directory (where saveState writes) must be a non-empty string',
        { source: SOURCE, details: { argument: 'directory' } },
      );
    }
    const parameters = [...policy.model.parameters()];
    const untrainable = parameters.find(([, variable]) => !variable.trainable);
    if (untrainable !== undefined) {
      throw new InvalidArgumentError(
        `LocalTrainingClient: parameter "${untrainable[0]}" is not trainable (a frozen copy from clone()?); train a policy from TransformerPolicy.create or loadCheckpoint`,
        { source: SOURCE, details: { parameter: untrainable[0] } },
      );
    }
    this.policy = policy;
    this.directory = resolve(options.directory);
    this.modelName = options.modelName ?? 'hicra-transformer';
    this.#stateFiles = options.stateFiles;
    this.#parameters = parameters;
    this.#nameOfVariable = new Map(parameters.map(([name, variable]) => [variable.name, name]));
  }

  /** The same as the constructor. */
  static create(
    policy: TransformerPolicy,
    options: LocalTrainingClientOptions,
  ): LocalTrainingClient {
    return new LocalTrainingClient(policy, options);
  }

  /** Optimizer steps taken (restored by `loadState`). */
  get step(): number {
    return this.#adam.step;
  }

  /** True while a gradient is accumulated (`forwardBackward` since the last `optimStep`). */
  get hasGradient(): boolean {
    return this.#gradients !== undefined;
  }

  async info(): Promise<EngineInfoV1> {
    this.#checkOpen('info');
    return {
      modelName: this.modelName,
      vocabSize: this.policy.vocabSize,
      contextLength: this.policy.contextLength,
      capabilities: LOCAL_ENGINE_CAPABILITIES,
    };
  }

  forwardBackward(
    data: readonly DatumV1[],
    loss: LossSpecV1,
    options: ForwardOptionsV1 = {},
  ): Promise<ForwardResultV1> {
    return this.#serial('forwardBackward', async () => {
      const spec = checkLoss(loss);
      const temperature = checkTemperature(options);
      this.#validate(data, spec);
      preflightLoss(spec, data);
      const variables = this.#parameters.map(([, variable]) => variable);
      const pending = new Map<string, Tensor>();
      try {
        const result = await this.#run(data, (batch, keep) => {
          const { value, grads } = tf.variableGrads(() => {
            const stats = this.#statistics(batch, temperature);
            keep(stats);
            const { loss: total, metrics } = engineLoss(
              spec.name,
              lossInput(batch, stats),
              spec.settings,
            );
            keep({ metrics });
            return total;
          }, variables);
          for (const [variableName, grad] of Object.entries(grads)) {
            const name = this.#nameOfVariable.get(variableName)!;
            addInto(pending, name, grad);
          }
          return value;
        });
        // The whole call succeeded: its gradient joins the accumulated one.
        const accumulated = this.#gradients ?? new Map<string, Tensor>();
        for (const [name, grad] of pending) addInto(accumulated, name, grad);
        pending.clear();
        this.#gradients = accumulated;
        return result;
      } finally {
        tf.dispose([...pending.values()]);
      }
    });
  }

  forward(
    data: readonly DatumV1[],
    loss?: LossSpecV1,
    options: ForwardOptionsV1 = {},
  ): Promise<ForwardResultV1> {
    return this.#serial('forward', async () => {
      const spec = loss === undefined ? undefined : checkLoss(loss);
      const temperature = checkTemperature(options);
      this.#validate(data, spec);
      if (spec !== undefined) preflightLoss(spec, data);
      return this.#run(data, (batch, keep) =>
        tf.tidy(() => {
          const stats = this.#statistics(batch, temperature);
          keep(stats);
          if (spec === undefined) return undefined;
          const { loss: total, metrics } = engineLoss(
            spec.name,
            lossInput(batch, stats),
            spec.settings,
          );
          keep({ metrics });
          return total;
        }),
      );
    });
  }

  optimStep(adam: AdamParamsV1): Promise<OptimStepResultV1> {
    return this.#serial('optimStep', async () => {
      const params = resolveAdamParams(adam);
      const grads = this.#gradients;
      if (grads === undefined) {
        throw new MissingInputError(
          'optimStep: no gradient is accumulated; call forwardBackward before each optimStep',
          { source: SOURCE, details: { step: this.#adam.step } },
        );
      }
      // Taken whatever happens: a refused gradient is discarded, not retried.
      this.#gradients = undefined;
      try {
        const norm = globalNorm(grads.values());
        if (!Number.isFinite(norm)) {
          throw new NonFiniteError(
            `optimStep: the accumulated gradient has a non-finite norm (${norm}); the weights and the optimizer state were not changed, and the gradient was discarded`,
            {
              source: SOURCE,
              details: { quantity: 'gradient norm', gradNorm: String(norm), step: this.#adam.step },
            },
          );
        }
        this.#adam.apply(this.#parameters, grads, params, clipScale(norm, params.gradClipNorm));
        const bad = firstNonFiniteWeight(this.#parameters);
        if (bad !== undefined) {
          throw new NonFiniteError(
            `optimStep: step ${this.#adam.step} left non-finite weights: "${bad.name}"[${bad.index}] = ${bad.value} at learning rate ${params.learningRate} (gradient norm ${norm}); the learning rate or the gradients are too large, and these weights must not be saved`,
            {
              source: SOURCE,
              details: {
                quantity: 'weights',
                parameter: bad.name,
                index: bad.index,
                value: String(bad.value),
                learningRate: params.learningRate,
              },
            },
          );
        }
        return { metrics: { learning_rate: params.learningRate, grad_norm: norm } };
      } finally {
        tf.dispose([...grads.values()]);
      }
    });
  }

  saveState(name: string): Promise<string> {
    return this.#serial('saveState', async () => {
      checkName(name, 'saveState');
      const target = resolve(this.directory, name);
      await mkdir(this.directory, { recursive: true });
      const moments = new Map<string, { shape: number[]; data: Float32Array }>();
      for (const [parameter, variable] of this.#parameters) {
        const state = this.#adam.moments(parameter);
        const shape = [...variable.shape];
        moments.set(`m.${parameter}`, {
          shape,
          data: state ? (state.m.dataSync() as Float32Array) : new Float32Array(variable.size),
        });
        moments.set(`v.${parameter}`, {
          shape,
          data: state ? (state.v.dataSync() as Float32Array) : new Float32Array(variable.size),
        });
      }
      const state: EngineStateJson = {
        schema: ENGINE_STATE_SCHEMA,
        step: this.#adam.step,
        modelName: this.modelName,
      };
      const added = (await this.#stateFiles?.(name)) ?? {};
      await saveCheckpoint(target, this.policy, {
        ...(added.tokenizer ? { tokenizer: added.tokenizer } : {}),
        metadata: {
          optimizerStep: String(this.#adam.step),
          modelName: this.modelName,
          ...(added.metadata ?? {}),
        },
        extraFiles: {
          ...(added.extraFiles ?? {}),
          [ENGINE_STATE_FILES.state]: `${JSON.stringify(state, null, 2)}\n`,
          [ENGINE_STATE_FILES.optimizer]: encodeSafetensors(moments, {
            step: String(this.#adam.step),
          }),
        },
      });
      return target;
    });
  }

  loadState(location: string): Promise<void> {
    return this.#serial('loadState', async () => {
      if (typeof location !== 'string' || location.length === 0) {
        throw new InvalidArgumentError(
          `loadState: location must be a non-empty string (what saveState returned), got ${String(location)}`,
          { source: SOURCE, details: { argument: 'location' } },
        );
      }
      const folder = resolve(this.directory, location);
      const shapes = new Map(
        this.#parameters.map(([name, variable]) => [name, variable.shape as readonly number[]]),
      );
      const state = await readEngineState(folder, shapes, this.policy.config);
      // Everything is checked: from here on nothing can fail half-way.
      for (const [name, variable] of this.#parameters) {
        tf.tidy(() => {
          variable.assign(tf.tensor(state.weights.get(name)!, variable.shape, 'float32'));
        });
      }
      this.#adam.restore(state.optimizer, shapes);
      this.#discardGradient();
    });
  }

  saveWeightsForSampler(name: string): Promise<LocalSamplingClient> {
    return this.#serial('saveWeightsForSampler', async () => {
      checkName(name, 'saveWeightsForSampler');
      const frozen = this.policy.clone();
      return new LocalSamplingClient(frozen, { name, onDispose: () => frozen.dispose() });
    });
  }

  /**
   * Releases the accumulated gradient and the Adam moments (not the policy, which stays the
   * caller's, nor sampling clients, which have their own `dispose`), once the calls already
   * made have finished. Calls made after it reject. Calling it again does nothing more.
   */
  async dispose(): Promise<void> {
    if (this.#disposed) return this.#released;
    this.#disposed = true;
    this.#released = this.#queue.then(() => {
      this.#discardGradient();
      this.#adam.dispose();
    });
    return this.#released;
  }

  #discardGradient(): void {
    if (this.#gradients !== undefined) tf.dispose([...this.#gradients.values()]);
    this.#gradients = undefined;
  }

  #checkOpen(call: string): void {
    if (this.#disposed) {
      throw new InvalidArgumentError(`LocalTrainingClient.${call}: the client was disposed`, {
        source: SOURCE,
        details: { call },
      });
    }
  }

  /** Runs calls one at a time, in call order; a failed call does not block the next. */
  #serial<T>(call: string, body: () => Promise<T>): Promise<T> {
    try {
      this.#checkOpen(call);
    } catch (error) {
      return Promise.reject(error);
    }
    const run = this.#queue.then(body);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #validate(data: readonly DatumV1[], loss: LossSpecV1 | undefined): void {
    validateDatums(data, {
      vocabSize: this.policy.vocabSize,
      contextLength: this.policy.contextLength,
      requires: loss === undefined ? [] : lossRequirements(loss),
      source: SOURCE,
    });
  }

  #statistics(batch: PackedBatch, temperature: number) {
    return this.policy.sequenceStatistics({
      batchSize: batch.batchSize,
      seqLen: batch.seqLen,
      inputTokens: batch.inputTokens,
      targetTokens: batch.targetTokens,
      mask: batch.mask,
      temperature,
    });
  }

  /**
   * Scores `data` in micro-batches: `step` runs one packed batch and returns its loss (or
   * nothing), keeping the statistics and metrics it passes to `keep` (they outlive its tidy
   * scope). Reads the outputs back and reduces the metrics across micro-batches.
   */
  async #run(
    data: readonly DatumV1[],
    step: (
      batch: PackedBatch,
      keep: (tensors: {
        logProbs?: Tensor;
        entropies?: Tensor;
        metrics?: Record<string, Scalar>;
      }) => void,
    ) => Tensor | undefined,
  ): Promise<ForwardResultV1> {
    const outputs: DatumOutputV1[] = [];
    const metrics: Record<string, number> = {};
    const size = this.policy.microBatchSize;
    for (let from = 0; from < data.length; from += size) {
      const chunk = data.slice(from, from + size);
      const batch = packDatums(chunk, this.policy.padId);
      const kept: { logProbs?: Tensor; entropies?: Tensor; metrics: Record<string, Scalar> } = {
        metrics: {},
      };
      let loss: Tensor | undefined;
      try {
        loss = step(batch, (tensors) => {
          if (tensors.logProbs) kept.logProbs = tf.keep(tensors.logProbs);
          if (tensors.entropies) kept.entropies = tf.keep(tensors.entropies);
          for (const [key, value] of Object.entries(tensors.metrics ?? {}))
            kept.metrics[key] = tf.keep(value);
        });
        const logProbs = (await kept.logProbs!.data()) as Float32Array;
        const entropies = (await kept.entropies!.data()) as Float32Array;
        const T = batch.seqLen;
        batch.lengths.forEach((n, r) => {
          outputs.push({
            logProbs: logProbs.slice(r * T, r * T + n),
            entropies: entropies.slice(r * T, r * T + n),
          });
        });
        const values: Record<string, number> = {};
        if (loss !== undefined) values['loss:sum'] = (await loss.data())[0]!;
        for (const [key, value] of Object.entries(kept.metrics))
          values[key.includes(':') ? key : `${key}:sum`] = (await value.data())[0]!;
        mergeMetrics(metrics, values, from, chunk.length);
      } finally {
        tf.dispose([
          ...(loss ? [loss] : []),
          ...(kept.logProbs ? [kept.logProbs] : []),
          ...(kept.entropies ? [kept.entropies] : []),
          ...Object.values(kept.metrics),
        ]);
      }
    }
    return { outputs, metrics };
  }
}

function addInto(target: Map<string, Tensor>, name: string, grad: Tensor): void {
  const previous = target.get(name);
  if (previous === undefined) {
    target.set(name, grad);
    return;
  }
  target.set(name, tf.add(previous, grad));
  previous.dispose();
  grad.dispose();
}

/**
 * Reduces one micro-batch's metrics into the call's by the key's suffix, as Tinker merges
 * chunked results: `sum`, `min`, `max`, `mean` (weighted by datums); anything else keeps the
 * first value.
 */
function mergeMetrics(
  into: Record<string, number>,
  values: Record<string, number>,
  datumsBefore: number,
  datums: number,
): void {
  for (const [key, value] of Object.entries(values)) {
    const previous = into[key];
    if (previous === undefined) {
      into[key] = value;
      continue;
    }
    switch (key.slice(key.lastIndexOf(':') + 1)) {
      case 'sum':
        into[key] = previous + value;
        break;
      case 'min':
        into[key] = Math.min(previous, value);
        break;
      case 'max':
        into[key] = Math.max(previous, value);
        break;
      case 'mean':
        into[key] = (previous * datumsBefore + value * datums) / (datumsBefore + datums);
        break;
    }
  }
}

/** Right-pads datums into `[B, T]` arrays, T the longest datum. */
function packDatums(data: readonly DatumV1[], padId: number): PackedBatch {
  const B = data.length;
  const lengths = data.map((d) => d.inputTokens.length);
  const T = Math.max(...lengths);
  const inputTokens = new Int32Array(B * T).fill(padId);
  const targetTokens = new Int32Array(B * T).fill(padId);
  const mask = new Uint8Array(B * T);
  const floats: Partial<Record<DatumFloatField, Float32Array>> = {};
  for (const field of ['weights', 'logProbs', 'advantages', 'refLogProbs'] as const) {
    if (!data.some((d) => d[field] !== undefined)) continue;
    const packed = new Float32Array(B * T);
    data.forEach((d, r) => {
      const values = d[field];
      if (values !== undefined) packed.set(values, r * T);
      // Absent weights are 1 (DatumV1); other absent fields are 0 and unread by the loss.
      else if (field === 'weights') packed.fill(1, r * T, r * T + lengths[r]!);
    });
    floats[field] = packed;
  }
  data.forEach((d, r) => {
    inputTokens.set(d.inputTokens, r * T);
    targetTokens.set(d.targetTokens, r * T);
    mask.fill(1, r * T, r * T + lengths[r]!);
  });
  return { batchSize: B, seqLen: T, lengths, inputTokens, targetTokens, mask, floats };
}

/** The loss's inputs as `[B, T]` tensors (created inside the caller's tidy or gradient scope). */
function lossInput(
  batch: PackedBatch,
  stats: { logProbs: Tensor; entropies: Tensor },
): EngineLossInput {
  const shape: [number, number] = [batch.batchSize, batch.seqLen];
  const tensor = (field: DatumFloatField) => {
    const values = batch.floats[field];
    return values === undefined ? undefined : tf.tensor2d(values, shape, 'float32');
  };
  const weights = tensor('weights');
  const oldLogProbs = tensor('logProbs');
  const advantages = tensor('advantages');
  const refLogProbs = tensor('refLogProbs');
  return {
    logProbs: stats.logProbs,
    entropies: stats.entropies,
    mask: tf.tensor2d(batch.mask, shape, 'float32'),
    ...(weights ? { weights } : {}),
    ...(oldLogProbs ? { oldLogProbs } : {}),
    ...(advantages ? { advantages } : {}),
    ...(refLogProbs ? { refLogProbs } : {}),
  };
}

/**
 * Runs the loss once on a `[1, 1]` batch with the fields `data` carries, outside any gradient
 * scope, so that what the loss refuses (its settings, a missing input, a loss it lacks) is
 * refused here. An error thrown inside `tf.variableGrads` leaks the tensors the tape saved for
 * the backward pass (tfjs 4.22 disposes them only in the backward pass).
 */
function preflightLoss(loss: LossSpecV1, data: readonly DatumV1[]): void {
  tf.tidy(() => {
    const one = () => tf.ones([1, 1], 'float32');
    const has = (field: DatumFloatField) => data.some((d) => d[field] !== undefined);
    const input: EngineLossInput = {
      logProbs: tf.zeros([1, 1], 'float32'),
      entropies: one(),
      mask: one(),
      ...(has('weights') ? { weights: one() } : {}),
      ...(has('logProbs') ? { oldLogProbs: tf.zeros([1, 1], 'float32') } : {}),
      ...(has('advantages') ? { advantages: one() } : {}),
      ...(has('refLogProbs') ? { refLogProbs: tf.zeros([1, 1], 'float32') } : {}),
    };
    engineLoss(loss.name, input, loss.settings);
  });
}

/** Checks the loss's name and settings; returns it typed. */
function checkLoss(loss: LossSpecV1): LossSpecV1 {
  if (typeof loss !== 'object' || loss === null) {
    throw new InvalidArgumentError(`loss must be a LossSpecV1 object, got ${String(loss)}`, {
      source: SOURCE,
      details: { argument: 'loss' },
    });
  }
  if (!(LOSS_NAMES as readonly string[]).includes(loss.name)) {
    throw new UnknownNameError('loss', String(loss.name), LOSS_NAMES, { source: SOURCE });
  }
  const settings = loss.settings ?? {};
  if (typeof settings !== 'object' || settings === null) {
    throw new InvalidArgumentError(`loss ${loss.name}: settings must be an object`, {
      source: SOURCE,
      details: { argument: 'loss.settings' },
    });
  }
  for (const [key, value] of Object.entries(settings)) {
    if (value === undefined) continue;
    if (!(LOSS_SETTING_KEYS as readonly string[]).includes(key)) {
      throw new InvalidArgumentError(
        `loss ${loss.name}: unknown setting "${key}"; known settings: ${LOSS_SETTING_KEYS.join(', ')}`,
        { source: SOURCE, details: { argument: `loss.settings.${key}` } },
      );
    }
    if (key === 'klEstimator') {
      if (!(KL_ESTIMATOR_NAMES as readonly string[]).includes(value as string))
        throw new UnknownNameError('KL estimator', String(value), KL_ESTIMATOR_NAMES, {
          source: SOURCE,
        });
    } else if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new InvalidValueError(
        `loss ${loss.name}: setting ${key} must be a finite number, got ${String(value)}`,
        { source: SOURCE, details: { argument: `loss.settings.${key}`, value: String(value) } },
      );
    }
  }
  return loss as { name: LossNameV1; settings?: LossSettingsV1 };
}

function checkTemperature(options: ForwardOptionsV1): number {
  const temperature = options?.temperature ?? 1;
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || !(temperature > 0)) {
    throw new InvalidValueError(
      `options.temperature must be a finite number > 0, got ${String(temperature)}`,
      { source: SOURCE, details: { argument: 'temperature', value: String(temperature) } },
    );
  }
  return temperature;
}

function checkName(name: string, call: string): void {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new InvalidArgumentError(
      `${call}: name must be a plain folder name (letters, digits, '.', '_', '-', not starting with '.'), got ${JSON.stringify(name)}`,
      { source: SOURCE, details: { argument: 'name', value: String(name) } },
    );
  }
}
