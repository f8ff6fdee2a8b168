/**
 * Seeded inputs of the tensor-ops benchmark, written as raw little-endian files that the
 * PyTorch peer reads with numpy.fromfile, so both sides compute on exactly the same numbers.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SeededGenerator } from '@hicra/tensor';

export const SEED = 20_251_126;
/** The masked and loss ops: B responses padded to T tokens (2M tokens). */
export const B = 512;
export const T = 4096;
/** The log-prob and entropy ops: N rows of V logits. */
export const N = 2048;
export const V = 32_000;
export const GROUP_SIZE = 8;
export const TOP_Q = 0.3;
export const POLICY_LOSS = { clipRatioLow: 0.2, clipRatioHigh: 0.28, clipRatioC: 3 } as const;
export const AGGREGATION_MODES = [
  'token-mean',
  'seq-mean-token-sum',
  'seq-mean-token-mean',
  'seq-mean-token-sum-norm',
] as const;

export interface MaskedInputs {
  readonly logProbs: Float32Array;
  readonly oldLogProbs: Float32Array;
  readonly refLogProbs: Float32Array;
  readonly advantages: Float32Array;
  readonly perTokenLoss: Float32Array;
  /** 0/1 as float32 (the tensor ops) ... */
  readonly responseMask: Float32Array;
  /** ... and as bytes (the typed-array kernels). */
  readonly responseMaskBytes: Uint8Array;
  readonly values: Float32Array;
  readonly entropies: Float32Array;
  readonly rewards: Float32Array;
  readonly groupIds: Int32Array;
}

export interface LogitsInputs {
  readonly logits: Float32Array;
  readonly labels: Int32Array;
}

function normals(generator: SeededGenerator, n: number, mean = 0, std = 1): Float32Array {
  return generator.fillNormal(new Float32Array(n), mean, std);
}

/** Each input from its own stream of one seed, so adding an input does not shift the others. */
export function maskedInputs(seed = SEED): MaskedInputs {
  const root = new SeededGenerator(seed);
  const streams = {
    lengths: root.split(),
    oldLogProbs: root.split(),
    logProbs: root.split(),
    refLogProbs: root.split(),
    advantages: root.split(),
    perTokenLoss: root.split(),
    values: root.split(),
    entropies: root.split(),
    rewards: root.split(),
  };
  const size = B * T;
  const responseMask = new Float32Array(size);
  const responseMaskBytes = new Uint8Array(size);
  for (let i = 0; i < B; i++) {
    const length = 1 + streams.lengths.nextInt(T);
    responseMask.fill(1, i * T, i * T + length);
    responseMaskBytes.fill(1, i * T, i * T + length);
  }
  // Sampled-token log-probs are <= 0; the current and reference policies stay close to the old.
  const oldLogProbs = normals(streams.oldLogProbs, size, 0, 1.5).map((x) => -Math.abs(x));
  const logProbs = normals(streams.logProbs, size, 0, 0.1).map((d, k) => oldLogProbs[k]! + d);
  const refLogProbs = normals(streams.refLogProbs, size, 0, 0.1).map((d, k) => oldLogProbs[k]! + d);
  const entropies = normals(streams.entropies, size, 0, 1.5).map((x) => Math.abs(x));
  const rewards = new Float32Array(B);
  for (let i = 0; i < B; i++) rewards[i] = streams.rewards.nextFloat() < 0.5 ? 1 : 0;
  const groupIds = new Int32Array(B);
  for (let i = 0; i < B; i++) groupIds[i] = Math.floor(i / GROUP_SIZE);
  return {
    logProbs,
    oldLogProbs,
    refLogProbs,
    advantages: normals(streams.advantages, size),
    perTokenLoss: normals(streams.perTokenLoss, size),
    responseMask,
    responseMaskBytes,
    values: normals(streams.values, size, 0.5, 2),
    entropies,
    rewards,
    groupIds,
  };
}

export function logitsInputs(seed = SEED + 1): LogitsInputs {
  const root = new SeededGenerator(seed);
  const logitsStream = root.split();
  const labelsStream = root.split();
  const labels = new Int32Array(N);
  for (let i = 0; i < N; i++) labels[i] = labelsStream.nextInt(V);
  return { logits: normals(logitsStream, N * V, 0, 2), labels };
}

function write(dir: string, name: string, array: ArrayBufferView): void {
  writeFileSync(join(dir, name), new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
}

export function writeMaskedInputs(dir: string, inputs: MaskedInputs): void {
  write(dir, 'log_probs.bin', inputs.logProbs);
  write(dir, 'old_log_probs.bin', inputs.oldLogProbs);
  write(dir, 'ref_log_probs.bin', inputs.refLogProbs);
  write(dir, 'advantages.bin', inputs.advantages);
  write(dir, 'per_token_loss.bin', inputs.perTokenLoss);
  write(dir, 'response_mask.bin', inputs.responseMask);
  write(dir, 'values.bin', inputs.values);
  write(dir, 'entropies.bin', inputs.entropies);
  write(dir, 'rewards.bin', inputs.rewards);
  write(dir, 'group_ids.bin', inputs.groupIds);
}

export function writeLogitsInputs(dir: string, inputs: LogitsInputs): void {
  write(dir, 'logits.bin', inputs.logits);
  write(dir, 'labels.bin', inputs.labels);
}

export function writeMeta(dir: string): void {
  const meta = {
    seed: SEED,
    B,
    T,
    N,
    V,
    groupSize: GROUP_SIZE,
    topQ: { q: TOP_Q, scope: 'batch' },
    policyLoss: { ...POLICY_LOSS, mode: 'token-mean' },
    aggregationModes: AGGREGATION_MODES,
    byteOrder: 'little-endian',
  };
  writeFileSync(join(dir, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
}

const ARRAY_TYPES = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  uint8: Uint8Array,
} as const;

/** Reads a raw array the peer wrote (numpy dtype name). */
export function readArray(path: string, dtype: string): ArrayLike<number> {
  const type = ARRAY_TYPES[dtype as keyof typeof ARRAY_TYPES];
  if (type === undefined) throw new Error(`cannot read ${path}: unknown dtype ${dtype}`);
  const bytes = readFileSync(path);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new type(copy.buffer, 0, bytes.byteLength / type.BYTES_PER_ELEMENT);
}
