// The one door through which TensorFlow.js enters hicra. Every other package uses `tf` from
// here, so a workspace holds exactly one tfjs-core instance (one engine, one set of kernels).
import * as tf from '@tensorflow/tfjs-core';

export type {
  DataType,
  NamedTensorMap,
  Optimizer,
  Rank,
  Scalar,
  Tensor,
  Tensor1D,
  Tensor2D,
  Tensor3D,
  Tensor4D,
  TensorLike,
  Variable,
} from '@tensorflow/tfjs-core';
export { tf };
