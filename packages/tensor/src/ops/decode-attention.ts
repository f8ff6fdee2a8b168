import { InvalidArgumentError, ShapeError } from '@hicra/spec';
import { heapKernels, onKernelHeap } from '../simd/heap-kernels.js';
import type { Tensor } from '../tf.js';
import { assertTensor, SOURCE } from './assert.js';
import { hostCompute, hostMemoryBackend, hostWritableView } from './host-memory.js';

/** A key/value cache of one attention layer, preallocated for `capacity` positions. */
export interface KvCacheBuffers {
  /** `[B, kvHeads, capacity, Dh]` float32, updated in place. */
  readonly keys: Tensor;
  /** `[B, kvHeads, capacity, Dh]` float32, updated in place. */
  readonly values: Tensor;
}

/**
 * One decoding step of causal self-attention over a preallocated KV cache, for one new token
 * per row: writes the new keys and values into column `past` of the cache **in place**, then
 * attends the query to columns `0 ..= past` whose `keyMask` is 1, `softmax(q·kᵀ/√Dh)·v` in one
 * loop (grouped-query heads share their key/value head). Inference only (no gradient), and only
 * on the WASM and CPU backends, whose tensors live in host memory ({@link hostMemoryBackend}).
 * On WASM the loop is a SIMD kernel in float32; elsewhere a JavaScript loop in float64.
 *
 * @param query `[B, heads, 1, Dh]`
 * @param key `[B, kvHeads, 1, Dh]` the new token's key (after any norm and rotary embedding)
 * @param value `[B, kvHeads, 1, Dh]`
 * @param cache buffers of `capacity` positions; columns `< past` hold earlier tokens
 * @param past how many positions the cache holds before this step
 * @param keyMask `[B·capacity]` 1 where a cached (or the new) position is a real token
 * @returns `[B, heads, 1, Dh]` float32
 */
export function decodeAttention(
  query: Tensor,
  key: Tensor,
  value: Tensor,
  cache: KvCacheBuffers,
  past: number,
  keyMask: Uint8Array,
): Tensor {
  const op = 'decodeAttention';
  assertTensor(op, 'query', query, { rank: 4, dtype: 'float32' });
  assertTensor(op, 'key', key, { rank: 4, dtype: 'float32' });
  assertTensor(op, 'value', value, { rank: 4, dtype: 'float32' });
  assertTensor(op, 'cache.keys', cache.keys, { rank: 4, dtype: 'float32' });
  assertTensor(op, 'cache.values', cache.values, { rank: 4, dtype: 'float32' });
  const [batch, heads, one, dim] = query.shape as [number, number, number, number];
  const [, kvHeads, capacity] = cache.keys.shape as [number, number, number, number];
  const expectedKv = [batch, kvHeads, 1, dim];
  const expectedCache = [batch, kvHeads, capacity, dim];
  const bad = (name: string, actual: readonly number[], expected: readonly number[]) =>
    new ShapeError(
      `${op}: ${name} has shape [${actual.join(', ')}], expected [${expected.join(', ')}] (query [${query.shape.join(', ')}], cache [${cache.keys.shape.join(', ')}])`,
      { source: SOURCE, details: { op, argument: name, shape: actual, expected } },
    );
  if (one !== 1) throw bad('query', query.shape, [batch, heads, 1, dim]);
  if (kvHeads < 1 || heads % kvHeads !== 0)
    throw bad('cache.keys', cache.keys.shape, expectedCache);
  for (const [name, t, expected] of [
    ['key', key, expectedKv],
    ['value', value, expectedKv],
    ['cache.keys', cache.keys, expectedCache],
    ['cache.values', cache.values, expectedCache],
  ] as const) {
    if (t.shape.some((d, i) => d !== expected[i])) throw bad(name, t.shape, expected);
  }
  if (!Number.isInteger(past) || past < 0 || past >= capacity) {
    throw new InvalidArgumentError(
      `${op}: past must be an integer in [0, ${capacity}) (the cache's capacity), got ${past}`,
      { source: SOURCE, details: { op, argument: 'past', value: past, capacity } },
    );
  }
  if (!(keyMask instanceof Uint8Array) || keyMask.length !== batch * capacity) {
    throw new ShapeError(
      `${op}: keyMask must be a Uint8Array of B·capacity = ${batch * capacity}`,
      {
        source: SOURCE,
        details: { op, argument: 'keyMask', expected: batch * capacity },
      },
    );
  }
  if (!hostMemoryBackend()) {
    throw new InvalidArgumentError(
      `${op}: needs a backend whose tensors live in host memory (wasm or cpu)`,
      { source: SOURCE, details: { op } },
    );
  }
  const group = heads / kvHeads;
  const scale = 1 / Math.sqrt(dim);
  const kernels = heapKernels();
  // The SIMD kernel's scratch: a row's real columns (int32) and their weights.
  const scratch = kernels ? [{ shape: [2 * (past + 1)] }] : [];
  const [out, scratchTensor] = hostCompute(
    [query, key, value],
    [{ shape: [batch, heads, 1, dim] }, ...scratch],
    ([qs, ks, vs], [outs, scratchView]) => {
      // Views after the output's allocation (a heap growth would detach earlier ones).
      const keys = hostWritableView(cache.keys)!;
      const values = hostWritableView(cache.values)!;
      for (let b = 0; b < batch; b++) {
        for (let g = 0; g < kvHeads; g++) {
          const row = (b * kvHeads + g) * capacity;
          const at = (row + past) * dim;
          const from = (b * kvHeads + g) * dim;
          keys.set((ks as Float32Array).subarray(from, from + dim), at);
          values.set((vs as Float32Array).subarray(from, from + dim), at);
        }
      }
      const q = qs as Float32Array;
      const o = outs as Float32Array;
      const heap =
        kernels !== undefined &&
        scratchView !== undefined &&
        [q, o, keys, values, scratchView].every((view) => onKernelHeap(kernels, view));
      // The real columns 0..past of each row, shared by its heads.
      const columns = heap
        ? new Int32Array(scratchView!.buffer, scratchView!.byteOffset, past + 1)
        : new Int32Array(past + 1);
      const weights = new Float64Array(heap ? 0 : past + 1);
      const acc = new Float64Array(heap ? 0 : dim);
      for (let b = 0; b < batch; b++) {
        let count = 0;
        for (let c = 0; c <= past; c++) if (keyMask[b * capacity + c] === 1) columns[count++] = c;
        if (heap) {
          const cacheOffset = b * kvHeads * capacity * dim * 4;
          const rowOffset = b * heads * dim * 4;
          kernels!.decodeAttentionRow(
            q.byteOffset + rowOffset,
            keys.byteOffset + cacheOffset,
            values.byteOffset + cacheOffset,
            o.byteOffset + rowOffset,
            heads,
            group,
            capacity,
            dim,
            columns.byteOffset,
            count,
            scale,
            columns.byteOffset + (past + 1) * 4,
          );
          continue;
        }
        for (let h = 0; h < heads; h++) {
          const row = (b * kvHeads + Math.floor(h / group)) * capacity;
          const qBase = (b * heads + h) * dim;
          let max = Number.NEGATIVE_INFINITY;
          for (let n = 0; n < count; n++) {
            const k = (row + columns[n]!) * dim;
            let dot = 0;
            for (let d = 0; d < dim; d++) dot += q[qBase + d]! * keys[k + d]!;
            const s = dot * scale;
            weights[n] = s;
            if (s > max) max = s;
          }
          let sum = 0;
          for (let n = 0; n < count; n++) {
            const w = Math.exp(weights[n]! - max);
            weights[n] = w;
            sum += w;
          }
          acc.fill(0);
          for (let n = 0; n < count; n++) {
            const w = weights[n]! / sum;
            const v = (row + columns[n]!) * dim;
            for (let d = 0; d < dim; d++) acc[d] = acc[d]! + w * values[v + d]!;
          }
          for (let d = 0; d < dim; d++) o[qBase + d] = acc[d]!;
        }
      }
    },
  );
  scratchTensor?.dispose();
  return out!;
}
