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
