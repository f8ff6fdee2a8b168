import { InvalidArgumentError } from '@hicra/spec';
import { SOURCE } from '../batch-checks.js';

/** Checks HICRA's alpha: in [0, 1] so that a negative advantage is damped, never flipped. */
export function checkAlpha(who: string, alpha: number): number {
  if (typeof alpha !== 'number' || !(alpha >= 0 && alpha <= 1)) {
    throw new InvalidArgumentError(
      `${who}: alpha must be in [0, 1] (above 1 a negative advantage would flip sign), got ${String(alpha)}`,
      { source: SOURCE, details: { argument: 'alpha', value: String(alpha) } },
    );
  }
  return alpha;
}

export function checkShare(who: string, name: string, value: number): number {
  if (typeof value !== 'number' || !(value > 0 && value <= 1)) {
    throw new InvalidArgumentError(`${who}: ${name} must be in (0, 1], got ${String(value)}`, {
      source: SOURCE,
      details: { argument: name, value: String(value) },
    });
  }
  return value;
}

/**
 * HICRA's rule on the selected tokens: `A + alpha·|A|`. Positive advantages grow by (1 + alpha),
 * negative ones shrink in magnitude by (1 - alpha); zero stays zero. Returns the new advantages
 * and the tokens actually changed.
 */
export function amplify(
  advantages: Float32Array,
  selected: Uint8Array,
  alpha: number,
): { advantages: Float32Array; amplified: Uint8Array } {
  const out = new Float32Array(advantages);
  const amplified = new Uint8Array(advantages.length);
  for (let k = 0; k < advantages.length; k++) {
    if (selected[k] === 1) {
      const a = advantages[k]!;
      if (a !== 0) {
        out[k] = a + alpha * Math.abs(a);
        amplified[k] = 1;
      }
    }
  }
  return { advantages: out, amplified };
}
