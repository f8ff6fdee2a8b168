import { ErrorCode } from '@hicra/spec';
import { expectHicraError } from '@hicra/spec/testing';
import { describe, expect, it } from 'vitest';
import {
  aggregateLoss,
  embeddingLookup,
  klPenalty,
  matMul,
  policyLoss,
  tf,
  tokenEntropy,
  tokenLogProbs,
  tokenLogProbsAndEntropy,
} from '../src/index.js';

describe('bad input gets an error naming the argument and the shapes', () => {
  it.each([
    [
      'logits of rank 1',
      () => tokenLogProbs(tf.tensor1d([1, 2]), Int32Array.of(0)),
      ErrorCode.ShapeMismatch,
      ['tokenLogProbs', 'logits', 'rank 2 or 3', '[2]'],
    ],
    [
      'int logits',
      () => tokenEntropy(tf.tensor2d([[1, 2]], undefined, 'int32')),
      ErrorCode.InvalidArgument,
      ['logits', 'float32', 'int32'],
    ],
    [
      'labels of the wrong shape',
      () => tokenLogProbs(tf.zeros([2, 3, 4]), tf.zeros([3, 2], 'int32')),
      ErrorCode.ShapeMismatch,
      ['labels has shape [3, 2]', 'logits [2, 3, 4]', '[2, 3]'],
    ],
    [
      'labels of the wrong length',
      () => tokenLogProbsAndEntropy(tf.zeros([2, 3, 4]), Int32Array.of(0, 1)),
      ErrorCode.ShapeMismatch,
      ['labels has length 2', '6 positions'],
    ],
    [
      'float labels',
      () => tokenLogProbs(tf.zeros([2, 4]), tf.zeros([2])),
      ErrorCode.InvalidArgument,
      ['labels', 'int32', 'float32'],
    ],
    [
      'a label outside the vocabulary',
      () => tokenLogProbs(tf.zeros([2, 4]), Int32Array.of(1, 4)),
      ErrorCode.InvalidValue,
      ['labels[1] = 4', '[0, 4)'],
    ],
    [
      'a negative label',
      () => tokenLogProbs(tf.zeros([2, 4]), tf.tensor1d([-1, 0], 'int32')),
      ErrorCode.InvalidValue,
      ['labels[0] = -1'],
    ],
    [
      'a chunk size of 0',
      () => tokenEntropy(tf.zeros([2, 4]), { chunkRows: 0 }),
      ErrorCode.InvalidArgument,
      ['chunkRows', '>= 1'],
    ],
    [
      'an array instead of a tensor',
      () => tokenEntropy([[1, 2]] as never),
      ErrorCode.InvalidArgument,
      ['logits must be a tf.Tensor, got Array(1)'],
    ],
    [
      'an unknown aggregation mode',
      () => aggregateLoss(tf.zeros([2, 2]), tf.ones([2, 2]), 'mean' as never),
      ErrorCode.InvalidArgument,
      ['mode must be one of', '"token-mean"', 'got "mean"'],
    ],
    [
      'a mask of another shape',
      () => aggregateLoss(tf.zeros([2, 3]), tf.ones([3, 2]), 'token-mean'),
      ErrorCode.ShapeMismatch,
      ['lossMask has shape [3, 2] but loss has shape [2, 3]'],
    ],
    [
      'a scale factor of 0',
      () =>
        aggregateLoss(tf.zeros([2, 3]), tf.ones([2, 3]), 'seq-mean-token-sum-norm', {
          scaleFactor: 0,
        }),
      ErrorCode.InvalidArgument,
      ['scaleFactor'],
    ],
    [
      'an unknown KL estimator',
      () => klPenalty(tf.zeros([2]), tf.zeros([2]), 'k4' as never),
      ErrorCode.InvalidArgument,
      ['estimator must be one of', '"k3"', 'got "k4"'],
    ],
    [
      'a KL estimator given as NaN (printed as NaN, not null)',
      () => klPenalty(tf.zeros([2]), tf.zeros([2]), Number.NaN as never),
      ErrorCode.InvalidArgument,
      ['estimator must be one of', 'got NaN'],
    ],
    [
      'KL inputs of different shapes',
      () => klPenalty(tf.zeros([2]), tf.zeros([3]), 'k1'),
      ErrorCode.ShapeMismatch,
      ['refLogProbs has shape [3] but logProbs has shape [2]'],
    ],
    [
      'policy-loss advantages of another shape',
      () =>
        policyLoss({
          logProbs: tf.zeros([2, 3]),
          oldLogProbs: tf.zeros([2, 3]),
          advantages: tf.zeros([2, 4]),
          lossMask: tf.ones([2, 3]),
        }),
      ErrorCode.ShapeMismatch,
      ['advantages has shape [2, 4] but logProbs has shape [2, 3]'],
    ],
    [
      'policy-loss inputs of rank 1',
      () =>
        policyLoss({
          logProbs: tf.zeros([3]),
          oldLogProbs: tf.zeros([3]),
          advantages: tf.zeros([3]),
          lossMask: tf.ones([3]),
        }),
      ErrorCode.ShapeMismatch,
      ['logProbs must have rank 2', '[3]'],
    ],
    [
      'a dual-clip constant of 1',
      () =>
        policyLoss(
          {
            logProbs: tf.zeros([1, 1]),
            oldLogProbs: tf.zeros([1, 1]),
            advantages: tf.zeros([1, 1]),
            lossMask: tf.ones([1, 1]),
          },
          { clipRatioC: 1 },
        ),
      ErrorCode.InvalidArgument,
      ['clipRatioC must be greater than 1'],
    ],
    [
      'a negative clip ratio',
      () =>
        policyLoss(
          {
            logProbs: tf.zeros([1, 1]),
            oldLogProbs: tf.zeros([1, 1]),
            advantages: tf.zeros([1, 1]),
            lossMask: tf.ones([1, 1]),
          },
          { clipRatioLow: -0.1 },
        ),
      ErrorCode.InvalidArgument,
      ['clipRatioLow must be a finite number >= 0'],
    ],
    [
      'matMul inner sizes that differ',
      () => matMul(tf.zeros([2, 3]), tf.zeros([4, 5])),
      ErrorCode.ShapeMismatch,
      ['cannot multiply a [2, 3] by b [4, 5]', 'inner sizes 3 and 4'],
    ],
    [
      'matMul batch sizes that differ',
      () => matMul(tf.zeros([2, 3, 4]), tf.zeros([3, 4, 5])),
      ErrorCode.ShapeMismatch,
      ['batch [2] vs [3]'],
    ],
    [
      'matMul of a vector',
      () => matMul(tf.zeros([3]), tf.zeros([3, 2])),
      ErrorCode.ShapeMismatch,
      ['rank >= 2'],
    ],
    [
      'an embedding id out of range',
      () => embeddingLookup(tf.zeros([4, 2]), Int32Array.of(0, 9)),
      ErrorCode.InvalidValue,
      ["ids[1] = 9 is outside the table's 4 rows"],
    ],
    [
      'float embedding ids',
      () => embeddingLookup(tf.zeros([4, 2]), tf.zeros([2])),
      ErrorCode.InvalidArgument,
      ['ids', 'int32'],
    ],
    [
      'a disposed tensor',
      () => {
        const t = tf.zeros([2, 2]);
        t.dispose();
        return tokenEntropy(t);
      },
      ErrorCode.InvalidArgument,
      ['logits is a disposed tensor'],
    ],
  ] as const)('%s', (_name, fn, code, fragments) => {
    const error = expectHicraError(
      () =>
        tf.tidy(() => {
          (fn as () => unknown)();
        }),
      { code, message: fragments },
    );
    expect(error.message.startsWith('@hicra/tensor: ')).toBe(true);
  });
});
