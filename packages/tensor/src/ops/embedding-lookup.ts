import { InvalidValueError } from '@hicra/spec';
import type { Tensor, Tensor1D } from '../tf.js';
import { tf } from '../tf.js';
import { assertTensor, SOURCE } from './assert.js';
import { defaultChunkRows } from './chunk-rows.js';
import { customGradient } from './custom-gradient.js';
import { floatOneHot } from './float-one-hot.js';
import { hostCompute, hostMemoryBackend } from './host-memory.js';

/**
 * Rows of an embedding table for a tensor of ids: `table[ids]`, shape `[...ids.shape, D]`.
 *
 * Its gradient works on every backend. tfjs's own gradient of `gather` needs the
 * `UnsortedSegmentSum` kernel, which the WASM backend does not register. On the backends whose
 * tensors live in host memory (WASM, CPU) the table's gradient is one scatter-add loop over
 * `dy` (N·D additions, whatever the vocabulary); elsewhere the kernel is used, or where it is
 * missing `oneHot(ids)ᵀ · dy`, computed in row chunks so the one-hot matrix never exceeds 4M
 * elements.
 *
 * @param table float32 `[V, D]`
 * @param ids int32 tensor of any shape (or an `Int32Array`, taken as 1-D), each in `[0, V)`
 */
export function embeddingLookup(table: Tensor, ids: Tensor | Int32Array): Tensor {
  const op = 'embeddingLookup';
  assertTensor(op, 'table', table, { rank: 2, dtype: 'float32' });
  const [vocabSize, width] = table.shape as [number, number];
  if (!(ids instanceof Int32Array)) assertTensor(op, 'ids', ids, { dtype: 'int32' });
  const values = ids instanceof Int32Array ? ids : ids.dataSync();
  for (let i = 0; i < values.length; i++) {
    const id = values[i]!;
    if (id < 0 || id >= vocabSize) {
      throw new InvalidValueError(
        `${op}: ids[${i}] = ${id} is outside the table's ${vocabSize} rows`,
        {
          source: SOURCE,
          details: { op, argument: 'ids', index: i, value: id, vocabSize },
        },
      );
    }
  }
  const shape = ids instanceof Int32Array ? [ids.length] : ids.shape;
  const idValues = Int32Array.from(values);
  return tf.tidy(() => {
    const flatIds = ids instanceof Int32Array ? tf.tensor1d(ids, 'int32') : tf.reshape(ids, [-1]);
    const lookup = customGradient(([t]: [Tensor], save) => {
      save([flatIds]);
      return {
        // WASM's GatherV2 copies element by element (18 ms for 2,016 rows of 128); a row copy
        // per id over host memory is the same result.
        value: hostMemoryBackend() ? hostGather(t, idValues, width) : tf.gather(t, flatIds),
        gradFunc: (dy: Tensor, saved: Tensor[]) =>
          hostMemoryBackend()
            ? hostTableGradient(idValues, dy, vocabSize, width)
            : tableGradient(saved[0]!, dy, vocabSize, width),
      };
    });
    return tf.reshape(lookup(table), [...shape, width]);
  });
}

/** `table[ids]` as `[N, D]`: one row copy per id. */
function hostGather(table: Tensor, ids: Int32Array, width: number): Tensor {
  const [rows] = hostCompute([table], [{ shape: [ids.length, width] }], ([t], [out]) => {
    for (let i = 0; i < ids.length; i++) {
      const from = ids[i]! * width;
      out!.set(t!.subarray(from, from + width), i * width);
    }
  });
  return rows!;
}

/** `grad[ids[i]] += dy[i]` for every row i, into a zeroed `[V, D]`. */
function hostTableGradient(ids: Int32Array, dy: Tensor, vocabSize: number, width: number): Tensor {
  const [grad] = hostCompute([dy], [{ shape: [vocabSize, width] }], ([dys], [out]) => {
    out!.fill(0);
    for (let i = 0; i < ids.length; i++) {
      const from = i * width;
      const to = ids[i]! * width;
      for (let k = 0; k < width; k++) out![to + k] = out![to + k]! + dys![from + k]!;
    }
  });
  return grad!;
}

function tableGradient(ids: Tensor, dy: Tensor, vocabSize: number, width: number): Tensor {
  if (tf.getKernel('UnsortedSegmentSum', tf.getBackend()) !== undefined) {
    return tf.unsortedSegmentSum(dy, ids as Tensor1D, vocabSize);
  }
  const n = ids.shape[0]!;
  const chunkRows = defaultChunkRows(vocabSize);
  let grad: Tensor | undefined;
  for (let start = 0; start < n; start += chunkRows) {
    const size = Math.min(chunkRows, n - start);
    const part = tf.tidy(() => {
      const idsChunk = n <= chunkRows ? ids : tf.slice(ids, [start], [size]);
      const dyChunk = n <= chunkRows ? dy : tf.slice(dy, [start, 0], [size, width]);
      const oneHotT = tf.transpose(floatOneHot(idsChunk, vocabSize));
      return tf.matMul(oneHotT, dyChunk);
    });
    if (grad === undefined) grad = part;
    else {
      const sum = tf.add(grad, part);
      tf.dispose([grad, part]);
      grad = sum;
    }
  }
  return grad ?? tf.zeros([vocabSize, width]);
}
