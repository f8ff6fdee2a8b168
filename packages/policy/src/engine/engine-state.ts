/**
 * The local engine's saved training state: a policy checkpoint folder (`config.json`,
 * `model.safetensors`, written by `saveCheckpoint` in one atomic folder swap) plus the Adam
 * moments (`optimizer.safetensors`, `m.<parameter>` / `v.<parameter>`, float32 in the
 * parameter's shape) and `engine-state.json` (schema, optimizer step count, model name).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, CorruptFileError, ShapeError } from '@hicra/spec';
import { CHECKPOINT_FILES } from '../checkpoint/policy-checkpoint.js';
import { readSafetensorsFile, type SafetensorsContent } from '../checkpoint/safetensors.js';
import type { TransformerConfig } from '../model/config.js';
import type { AdamStateArrays } from './adam.js';

const SOURCE = '@hicra/policy';

/** `engine-state.json`'s `schema` value. */
export const ENGINE_STATE_SCHEMA = 'hicra.local-engine-state.v1';

/** The files a saved engine state adds to a policy checkpoint folder. */
export const ENGINE_STATE_FILES = {
  state: 'engine-state.json',
  optimizer: 'optimizer.safetensors',
} as const;

export interface EngineStateJson {
  readonly schema: typeof ENGINE_STATE_SCHEMA;
  /** Optimizer steps taken (Adam's bias correction). */
  readonly step: number;
  readonly modelName: string;
}

/** A state read from disk and checked against the model, ready to assign. */
export interface LoadedEngineState {
  readonly weights: ReadonlyMap<string, Float32Array>;
  readonly optimizer: AdamStateArrays;
}

/**
 * Reads the state in `folder` and checks it against the model (`shapes`: every parameter's
 * name and shape; `config`: its architecture) before anything is assigned:
 *
 * - a tensor the model lacks, a parameter the state lacks, or a shape that differs is a
 *   `ShapeError` naming the tensor and both shapes (a state of another architecture);
 * - same shapes but another architecture setting (rotary base, norm epsilon, heads × head
 *   width...) is a `ConfigError` at `model.<key>` (`initStd` and `contextLength` may differ);
 * - a missing or unreadable file, a wrong schema or dtype, or a non-finite weight is a
 *   `CorruptFileError` naming the file.
 */
export async function readEngineState(
  folder: string,
  shapes: ReadonlyMap<string, readonly number[]>,
  config: TransformerConfig,
): Promise<LoadedEngineState> {
  const statePath = join(folder, ENGINE_STATE_FILES.state);
  const state = await readJson(statePath);
  if (
    state?.schema !== ENGINE_STATE_SCHEMA ||
    !Number.isInteger(state.step) ||
    (state.step as number) < 0
  ) {
    throw new CorruptFileError(
      `${statePath}: expected schema "${ENGINE_STATE_SCHEMA}" and a non-negative integer step, got schema ${JSON.stringify(state?.schema)} and step ${JSON.stringify(state?.step)}`,
      { source: SOURCE, details: { path: statePath } },
    );
  }
  const configPath = join(folder, CHECKPOINT_FILES.config);
  const saved = (await readJson(configPath))?.model as Record<string, unknown> | undefined;
  if (typeof saved !== 'object' || saved === null) {
    throw new CorruptFileError(`${configPath}: no "model" architecture object`, {
      source: SOURCE,
      details: { path: configPath },
    });
  }

  const weightsPath = join(folder, CHECKPOINT_FILES.weights);
  const weights = await readTensors(weightsPath);
  const checked = new Map<string, Float32Array>();
  for (const [name, shape] of shapes) {
    checked.set(name, tensorOf(weights, name, shape, weightsPath, 'weight'));
  }
  for (const name of weights.tensors.keys()) {
    if (!shapes.has(name)) {
      throw new ShapeError(
        `${weightsPath}: the state has tensor "${name}" (shape [${weights.tensors.get(name)!.shape.join(', ')}]), which this model does not have; the state was saved from another architecture`,
        { source: SOURCE, details: { path: weightsPath, tensor: name } },
      );
    }
  }
  const current = config as unknown as Record<string, unknown>;
  for (const key of new Set([...Object.keys(current), ...Object.keys(saved)])) {
    // Not the function the weights compute: the initialisation scale, and the longest input
    // (rotary positions have no parameters).
    if (key === 'initStd' || key === 'contextLength') continue;
    const a = JSON.stringify(saved[key]);
    const b = JSON.stringify(current[key]);
    if (a !== b) {
      throw new ConfigError(
        `model.${key}`,
        `the state in ${folder} was saved from a model with ${key} = ${a ?? '(absent)'}, this engine's model has ${b ?? '(absent)'}`,
        { source: SOURCE, details: { path: configPath, saved: a, current: b } },
      );
    }
  }

  const optimizerPath = join(folder, ENGINE_STATE_FILES.optimizer);
  const optimizer = await readTensors(optimizerPath);
  const moments = new Map<string, { m: Float32Array; v: Float32Array }>();
  for (const [name, shape] of shapes) {
    moments.set(name, {
      m: tensorOf(optimizer, `m.${name}`, shape, optimizerPath, 'moment'),
      v: tensorOf(optimizer, `v.${name}`, shape, optimizerPath, 'moment'),
    });
  }
  for (const name of optimizer.tensors.keys()) {
    const parameter = name.replace(/^[mv]\./, '');
    if (parameter === name || !shapes.has(parameter)) {
      throw new ShapeError(
        `${optimizerPath}: the state has moment "${name}", which matches no parameter of this model; the state was saved from another architecture`,
        { source: SOURCE, details: { path: optimizerPath, tensor: name } },
      );
    }
  }
  return { weights: checked, optimizer: { step: state.step as number, moments } };
}

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CorruptFileError(
      `${path}: ${code === 'ENOENT' ? 'not found; is this a folder written by saveState?' : `unreadable (${(error as Error).message})`}`,
      { source: SOURCE, details: { path }, cause: error },
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CorruptFileError(`${path}: not valid JSON (${(error as Error).message})`, {
      source: SOURCE,
      details: { path },
    });
  }
}

async function readTensors(path: string): Promise<SafetensorsContent> {
  try {
    return await readSafetensorsFile(path);
  } catch (error) {
    if (CorruptFileError.isInstance(error)) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new CorruptFileError(
      `${path}: ${code === 'ENOENT' ? 'not found; is this a folder written by saveState?' : `unreadable (${(error as Error).message})`}`,
      { source: SOURCE, details: { path }, cause: error },
    );
  }
}

function tensorOf(
  content: SafetensorsContent,
  name: string,
  shape: readonly number[],
  path: string,
  kind: 'weight' | 'moment',
): Float32Array {
  const tensor = content.tensors.get(name);
  if (tensor === undefined) {
    throw new ShapeError(
      `${path}: the state has no ${kind} "${name}" (this model's has shape [${shape.join(', ')}]); the state was saved from another architecture`,
      { source: SOURCE, details: { path, tensor: name, expected: shape } },
    );
  }
  if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i])) {
    throw new ShapeError(
      `${path}: ${kind} "${name}" has shape [${tensor.shape.join(', ')}] in the state, [${shape.join(', ')}] in this model; the state was saved from another architecture`,
      { source: SOURCE, details: { path, tensor: name, saved: tensor.shape, expected: shape } },
    );
  }
  if (tensor.dtype !== 'F32') {
    throw new CorruptFileError(
      `${path}: ${kind} "${name}" has dtype ${tensor.dtype}, expected F32`,
      {
        source: SOURCE,
        details: { path, tensor: name },
      },
    );
  }
  const data = tensor.data as Float32Array;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      throw new CorruptFileError(
        `${path}: ${kind} "${name}" holds ${data[i]} at index ${i}; a saved state must be finite`,
        { source: SOURCE, details: { path, tensor: name, index: i, value: String(data[i]) } },
      );
    }
  }
  return data;
}
