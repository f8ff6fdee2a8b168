import { InvalidValueError, ShapeError } from '@hicra/spec';
import { heapKernels, onKernelHeap } from '../simd/heap-kernels.js';
import type { Tensor, Tensor1D, Tensor2D } from '../tf.js';
import { tf } from '../tf.js';
import { assertFiniteNumber, assertTensor, SOURCE } from './assert.js';
import { defaultChunkRows } from './chunk-rows.js';
import { customGradient } from './custom-gradient.js';
import { floatOneHot } from './float-one-hot.js';
import { hostCompute, hostMemoryBackend } from './host-memory.js';

/** Options of the log-prob and entropy ops. */
export interface SoftmaxStatisticsOptions {
  /**
   * Rows (positions) per chunk. The vocabulary dimension is processed this many rows at a time,
   * forward and backward, so temporary memory is bounded by `chunkRows · V` floats instead of
   * `N · V`. Default: 4M elements a chunk (128 rows for V = 32k).
   */
  readonly chunkRows?: number;
}

export type Labels = Tensor | Int32Array;

interface Prepared {
  readonly rows: Tensor2D;
  readonly labels: Tensor1D | undefined;
  readonly leadingShape: number[];
  readonly chunkRows: number;
}

/**
 * Validates and flattens `logits` ([B, T, V] or [N, V]) and optional `labels` ([B, T] or [N]).
 * Returned tensors are new handles owned by the caller's tidy.
 */
export function prepareLogits(
  op: string,
  logits: Tensor,
  labels: Labels | undefined,
  options: SoftmaxStatisticsOptions,
): Prepared {
  assertTensor(op, 'logits', logits, { rank: [2, 3], dtype: 'float32' });
  const vocabSize = logits.shape[logits.rank - 1]!;
  const leadingShape = logits.shape.slice(0, -1);
  const rowCount = leadingShape.reduce((a, b) => a * b, 1);
  if (vocabSize < 1) {
    throw new ShapeError(
      `${op}: logits has an empty vocabulary dimension (shape [${logits.shape.join(', ')}])`,
      {
        source: SOURCE,
        details: { op, argument: 'logits', shape: logits.shape },
      },
    );
  }
  const chunkRows = options.chunkRows ?? defaultChunkRows(vocabSize);
  assertFiniteNumber(op, 'options.chunkRows', chunkRows, { min: 1, integer: true });
  let labelTensor: Tensor1D | undefined;
  if (labels !== undefined) {
    const values = labels instanceof Int32Array ? labels : undefined;
    if (values === undefined) {
      assertTensor(op, 'labels', labels, { dtype: 'int32' });
      if (!tf.util.arraysEqual(labels.shape, leadingShape)) {
        throw new ShapeError(
          `${op}: labels has shape [${labels.shape.join(', ')}] but logits [${logits.shape.join(', ')}] needs labels of shape [${leadingShape.join(', ')}]`,
          {
            source: SOURCE,
            details: { op, argument: 'labels', shape: labels.shape, expected: leadingShape },
          },
        );
      }
    } else if (values.length !== rowCount) {
      throw new ShapeError(
        `${op}: labels has length ${values.length} but logits [${logits.shape.join(', ')}] has ${rowCount} positions`,
        {
          source: SOURCE,
          details: { op, argument: 'labels', length: values.length, expected: rowCount },
        },
      );
    }
    const data = values ?? (labels as Tensor).dataSync();
    for (let i = 0; i < data.length; i++) {
      const id = data[i]!;
      if (id < 0 || id >= vocabSize) {
        throw new InvalidValueError(
          `${op}: labels[${i}] = ${id} is outside the vocabulary [0, ${vocabSize})`,
          {
            source: SOURCE,
            details: { op, argument: 'labels', index: i, value: id, vocabSize },
          },
        );
      }
    }
    labelTensor = values
      ? tf.tensor1d(values, 'int32')
      : (tf.reshape(labels as Tensor, [rowCount]) as Tensor1D);
  }
  return {
    rows: tf.reshape(logits, [rowCount, vocabSize]) as Tensor2D,
    labels: labelTensor,
    leadingShape,
    chunkRows,
  };
}

type Kind = 'logProbs' | 'entropy' | 'both';

/**
 * Log-prob of the label and/or entropy of each row of `rows` ([N, V]), with a hand-written
 * gradient so that neither pass materialises more than one chunk of softmax at a time and no
 * kernel outside the common set is needed (the gradient of `gather` fails on WASM).
 * Returns [N] for one statistic, [N, 2] (log-prob, entropy) for both.
 *
 * On the backends whose tensors live in host memory (WASM, CPU) the whole op, forward and
 * backward, is one fused loop over the rows ({@link hostSoftmaxStatistics}): no softmax is
 * materialised at all and `chunkRows` has nothing left to bound.
 */
export function softmaxStatistics(
  rows: Tensor2D,
  labels: Tensor1D | undefined,
  chunkRows: number,
  kind: Kind,
): Tensor {
  if (hostMemoryBackend()) return hostSoftmaxStatistics(rows, labels, kind);
  const [n, vocabSize] = rows.shape;
  const chunks: [number, number][] = [];
  for (let start = 0; start < n; start += chunkRows)
    chunks.push([start, Math.min(chunkRows, n - start)]);

  const op = customGradient(([x]: [Tensor], save) => {
    const lseParts: Tensor[] = [];
    const logProbParts: Tensor[] = [];
    const entropyParts: Tensor[] = [];
    for (const [start, size] of chunks) {
      const [lse, logProb, entropy] = tf.tidy(() => {
        const xc = chunks.length === 1 ? (x as Tensor2D) : rowsOf(x, start, size);
        const lse = tf.logSumExp(xc, 1);
        const out: Tensor[] = [lse];
        if (kind !== 'entropy') {
          const ids = chunks.length === 1 ? labels! : tf.slice(labels!, [start], [size]);
          // A flat 1-D gather: WASM's GatherV2 reads out of bounds with batchDims = 1.
          const flatIndex = tf.add(
            ids,
            tf.mul(tf.range(0, size, 1, 'int32'), tf.scalar(vocabSize, 'int32')),
          );
          const picked = tf.gather(tf.reshape(xc, [size * vocabSize]), flatIndex);
          out.push(tf.sub(picked, lse));
        } else out.push(tf.zeros([0]));
        if (kind !== 'logProbs') {
          // -Σ p·log p on the shifted logits: no cancellation between two large numbers, so
          // logits of ±1000 keep full precision (logsumexp - Σ p·x loses it in float32).
          const logProbsFull = tf.sub(xc, tf.reshape(lse, [size, 1]));
          const probs = tf.exp(logProbsFull);
          out.push(tf.neg(tf.sum(tf.mul(probs, finiteLogProbs(logProbsFull)), 1)));
        } else out.push(tf.zeros([0]));
        return out as [Tensor, Tensor, Tensor];
      });
      lseParts.push(lse);
      logProbParts.push(logProb);
      entropyParts.push(entropy);
    }
    const lse = concatAndDispose(lseParts);
    const logProbs = kind === 'entropy' ? undefined : concatAndDispose(logProbParts);
    const entropies = kind === 'logProbs' ? undefined : concatAndDispose(entropyParts);
    if (kind === 'entropy') tf.dispose(logProbParts);
    if (kind === 'logProbs') tf.dispose(entropyParts);
    save([x, lse, ...(labels ? [labels] : []), ...(entropies ? [entropies] : [])]);
    const value = kind === 'both' ? tf.stack([logProbs!, entropies!], 1) : (logProbs ?? entropies)!;
    if (kind === 'both') tf.dispose([logProbs!, entropies!]);
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [xs, lseAll] = saved as [Tensor2D, Tensor1D];
        const labelsAll = labels ? (saved[2] as Tensor1D) : undefined;
        const entropyAll = entropies ? (saved[labels ? 3 : 2] as Tensor1D) : undefined;
        const gradParts: Tensor[] = [];
        for (const [start, size] of chunks) {
          gradParts.push(
            tf.tidy(() => {
              const whole = chunks.length === 1;
              const xc = whole ? xs : rowsOf(xs, start, size);
              const lse = tf.reshape(whole ? lseAll : tf.slice(lseAll, [start], [size]), [size, 1]);
              const logProbsFull = tf.sub(xc, lse);
              const probs = tf.exp(logProbsFull);
              let grad: Tensor | undefined;
              if (kind !== 'entropy') {
                const dyc =
                  kind === 'both'
                    ? tf.slice(dy, [start, 0], [size, 1])
                    : tf.reshape(tf.slice(dy, [start], [size]), [size, 1]);
                const ids = whole ? labelsAll! : tf.slice(labelsAll!, [start], [size]);
                const oneHot = floatOneHot(ids, vocabSize);
                grad = tf.mul(dyc, tf.sub(oneHot, probs));
              }
              if (kind !== 'logProbs') {
                const dyc =
                  kind === 'both'
                    ? tf.slice(dy, [start, 1], [size, 1])
                    : tf.reshape(tf.slice(dy, [start], [size]), [size, 1]);
                const h = tf.reshape(whole ? entropyAll! : tf.slice(entropyAll!, [start], [size]), [
                  size,
                  1,
                ]);
                // dH/dx_j = -p_j (log p_j + H)
                const entropyGrad = tf.mul(
                  tf.neg(dyc),
                  tf.mul(probs, tf.add(finiteLogProbs(logProbsFull), h)),
                );
                grad = grad === undefined ? entropyGrad : tf.add(grad, entropyGrad);
              }
              return grad!;
            }),
          );
        }
        return concatAndDispose(gradParts);
      },
    };
  });
  return op(rows);
}

/**
 * {@link softmaxStatistics} as two fused loops over host memory. Forward, per row: the max, then
 * one pass accumulating (in float64) `s = Σ exp(x - max)` and `t = Σ exp(x - max)·(x - max)`,
 * giving `logsumexp = max + log s`, the label's log-prob `x_label - logsumexp` and the entropy
 * `log s - t / s` (shifted logits, so ±1000 keep full precision). Backward, per entry:
 * `dlogp·(1[j = label] - p_j) - dH·p_j·(log p_j + H)`, with `p_j` recomputed from the saved
 * log-sum-exp. A `-Infinity` logit has p = 0 and contributes nothing (its gradient is 0); a row
 * with a NaN, or of only `-Infinity`, is NaN.
 */
function hostSoftmaxStatistics(rows: Tensor2D, labels: Tensor1D | undefined, kind: Kind): Tensor {
  const [n, vocabSize] = rows.shape;
  const labelValues = labels ? (labels.dataSync() as Int32Array).slice() : undefined;
  const width = kind === 'both' ? 2 : 1;
  const logProbColumn = kind === 'entropy' ? -1 : 0;
  const entropyColumn = kind === 'logProbs' ? -1 : kind === 'both' ? 1 : 0;
  const op = customGradient(([x]: [Tensor], save) => {
    save([x]);
    const lse = new Float64Array(n);
    const entropy = new Float64Array(n);
    // Each row's max, NaN where the row's statistics are NaN (the SIMD gradient shifts by it).
    const maxes = new Float64Array(n);
    const kernels = heapKernels();
    // The SIMD kernel's per-row sums (three float64 a row), allocated with the output: a
    // later allocation could grow the heap and detach the views.
    const scratch = kernels ? [{ shape: [n * 6] }] : [];
    const [value, sums] = hostCompute(
      [x],
      [{ shape: width === 2 ? [n, 2] : [n] }, ...scratch],
      ([xs], [out, scratchView]) => {
        const stats =
          kernels && scratchView && onKernelHeap(kernels, xs!) && scratchView.byteOffset % 8 === 0
            ? new Float64Array(scratchView.buffer, scratchView.byteOffset, n * 3)
            : undefined;
        if (stats) kernels!.softmaxRowStats(xs!.byteOffset, n, vocabSize, stats.byteOffset);
        for (let i = 0; i < n; i++) {
          const [rowMax, rowLse, rowEntropy] = stats
            ? statisticsFromSums(stats[3 * i]!, stats[3 * i + 1]!, stats[3 * i + 2]!)
            : rowStatistics(xs!, i * vocabSize, vocabSize);
          maxes[i] = rowMax;
          lse[i] = rowLse;
          entropy[i] = rowEntropy;
          if (logProbColumn >= 0) {
            out![i * width] = xs![i * vocabSize + labelValues![i]!]! - rowLse;
          }
          if (entropyColumn >= 0) out![i * width + entropyColumn] = rowEntropy;
        }
      },
    );
    sums?.dispose();
    return {
      value: value!,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const kernels = heapKernels();
        // Four float64 coefficients a row for the SIMD kernel.
        const scratch = kernels ? [{ shape: [n * 8] }] : [];
        const [grad, coefficients] = hostCompute(
          [saved[0]!, dy],
          [{ shape: [n, vocabSize] }, ...scratch],
          ([xs, dys], [out, scratchView]) => {
            const onHeap =
              kernels !== undefined &&
              scratchView !== undefined &&
              onKernelHeap(kernels, xs!) &&
              onKernelHeap(kernels, out!) &&
              scratchView.byteOffset % 8 === 0;
            const coef = onHeap
              ? new Float64Array(scratchView.buffer, scratchView.byteOffset, n * 4)
              : undefined;
            for (let i = 0; i < n; i++) {
              const base = i * vocabSize;
              const gLogProb = logProbColumn >= 0 ? dys![i * width]! : 0;
              const gEntropy = entropyColumn >= 0 ? dys![i * width + entropyColumn]! : 0;
              const rowLse = lse[i]!;
              const h = entropy[i]!;
              if (coef) {
                // -g·p - gH·p·(log p + H) = p·(a + b·log p)
                coef[4 * i] = maxes[i]!;
                coef[4 * i + 1] = rowLse - maxes[i]!;
                coef[4 * i + 2] = -(gLogProb + gEntropy * h);
                coef[4 * i + 3] = -gEntropy;
              } else {
                for (let j = 0; j < vocabSize; j++) {
                  const logP = xs![base + j]! - rowLse;
                  const p = Math.exp(logP);
                  // p = 0 (a -Infinity logit, or one far below the rest): no contribution.
                  out![base + j] = p === 0 ? 0 : -gLogProb * p - gEntropy * p * (logP + h);
                }
              }
            }
            if (coef) {
              kernels!.softmaxStatsGrad(
                xs!.byteOffset,
                n,
                vocabSize,
                coef.byteOffset,
                out!.byteOffset,
              );
            }
            if (logProbColumn >= 0) {
              for (let i = 0; i < n; i++) {
                const at = i * vocabSize + labelValues![i]!;
                out![at] = out![at]! + dys![i * width]!;
              }
            }
          },
        );
        coefficients?.dispose();
        return grad!;
      },
    };
  });
  return op(rows);
}

/**
 * One row's max, log-sum-exp and entropy from its max, `s = Σ exp(x - max)` and
 * `t = Σ exp(x - max)·(x - max)`: `max + log s` and `log s - t / s` (shifted logits, so ±1000
 * keep full precision). A NaN max (a NaN in the row) or a -Infinity one (only -Infinity) gives
 * NaN for all three.
 */
function statisticsFromSums(max: number, s: number, t: number): [number, number, number] {
  if (Number.isNaN(max) || max === Number.NEGATIVE_INFINITY) {
    return [Number.NaN, Number.NaN, Number.NaN];
  }
  const logS = Math.log(s);
  return [max, max + logS, logS - t / s];
}

/** {@link statisticsFromSums} of the row at `base`, the sums taken in float64 here. */
function rowStatistics(
  xs: ArrayLike<number>,
  base: number,
  vocabSize: number,
): [number, number, number] {
  let max = Number.NEGATIVE_INFINITY;
  let nan = false;
  for (let j = 0; j < vocabSize; j++) {
    const v = xs[base + j]!;
    if (v > max) max = v;
    else if (Number.isNaN(v)) nan = true;
  }
  if (nan) return [Number.NaN, Number.NaN, Number.NaN];
  let s = 0;
  let t = 0;
  if (max !== Number.NEGATIVE_INFINITY) {
    for (let j = 0; j < vocabSize; j++) {
      const d = xs[base + j]! - max;
      if (d === Number.NEGATIVE_INFINITY) continue;
      const e = Math.exp(d);
      s += e;
      t += e * d;
    }
  }
  return statisticsFromSums(max, s, t);
}

/**
 * Log-probs with -Infinity raised to the lowest float32. A -Infinity logit (a masked vocabulary
 * entry) has p = 0, and 0 · -Infinity is NaN; 0 · -3.4e38 is 0, which is its contribution to
 * the entropy and its gradient. Finite log-probs are unchanged, and NaN stays NaN: a NaN logit
 * makes the row's log-sum-exp NaN, hence p NaN at every entry of that row.
 */
function finiteLogProbs(logProbs: Tensor): Tensor {
  return tf.maximum(logProbs, tf.scalar(LOWEST_FLOAT32));
}

const LOWEST_FLOAT32 = -3.4028234663852886e38;

/**
 * Rows `[start, start + size)` of a `[N, V]` tensor. A gather of the row indices, not a slice:
 * the WASM backend's Slice kernel copies the whole input on every call (measured: 4.1 s of a
 * 6.9 s chunked pass over 2,048 × 32k logits), while Gather copies only the rows it returns.
 */
function rowsOf(x: Tensor, start: number, size: number): Tensor {
  return tf.gather(x, tf.range(start, start + size, 1, 'int32'));
}

function concatAndDispose(parts: Tensor[]): Tensor {
  if (parts.length === 1) return parts[0]!;
  const joined = tf.concat(parts, 0);
  tf.dispose(parts);
  return joined;
}
