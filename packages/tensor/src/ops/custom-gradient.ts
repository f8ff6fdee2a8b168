import type { Tensor } from '../tf.js';
import { tf } from '../tf.js';

type Save = (tensors: Tensor[]) => void;

/** The forward of a custom-gradient op: its value and how to differentiate it. */
export type CustomGradientForward<I extends Tensor[]> = (
  inputs: I,
  save: Save,
) => { value: Tensor; gradFunc: (dy: Tensor, saved: Tensor[]) => Tensor | Tensor[] };

/**
 * A typed wrapper of `tf.customGrad`: `forward` receives the inputs as a tuple plus `save`
 * (tensors kept alive for the backward pass, even across nested tidies). When no gradient is
 * being recorded (inference: sampling, scoring) the forward runs alone, without the custom-grad
 * bookkeeping (tens of microseconds a call, which a decoding step pays dozens of times).
 */
export function customGradient<I extends Tensor[]>(
  forward: CustomGradientForward<I>,
): (...inputs: I) => Tensor {
  const op = tf.customGrad(((...args: unknown[]) =>
    forward(args.slice(0, -1) as I, args[args.length - 1] as Save)) as Parameters<
    typeof tf.customGrad
  >[0]);
  return (...inputs: I) =>
    recording() ? op(...inputs) : tf.tidy(() => forward(inputs, ignore).value);
}

const ignore: Save = () => {};

/** Whether a gradient tape is recording (tfjs-core's `Engine.isTapeOn`). */
function recording(): boolean {
  const engine = tf.engine() as unknown as { isTapeOn?: () => boolean };
  // An engine without the method: take the safe path.
  return typeof engine.isTapeOn === 'function' ? engine.isTapeOn() : true;
}
