import type { Tensor } from '../tf.js';
import { tf } from '../tf.js';

/**
 * A float32 one-hot matrix. `tf.oneHot(..., 'float32')` is not enough: the WASM backend's
 * OneHot kernel ignores the dtype and writes integer bits (1 reads as 1.4e-45), so the int32
 * result is cast instead.
 */
export function floatOneHot(ids: Tensor, depth: number): Tensor {
  return tf.tidy(() => tf.cast(tf.oneHot(ids, depth), 'float32'));
}
