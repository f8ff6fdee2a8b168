import { countOnes, type MaskWords } from '@hicra/tensor/kernels';

/**
 * Float64 sums over a stretch of tokens that take two values only (`x0` where a 0/1 selection
 * is 0, `x1` where it is 1), equal to the bit to the token-by-token loop
 * `for (t of stretch) s += selected[t] ? x1 : x0`, without visiting every token.
 *
 * Why this is exact: while a sum stays inside one binade [2^p, 2^(p+1)) (in magnitude), the
 * doubles there are the multiples of u = 2^(p-52), so adding x rounds to the nearest multiple of
 * u, which is s + round(x/u)·u, independent of s, unless x/u ends in exactly .5 (a tie, which
 * rounds to even and so depends on s). With no tie and every partial sum inside the binade, k0
 * additions of x0 and k1 of x1 in any order give s + (k0·round(x0/u) + k1·round(x1/u))·u. The
 * stretch is checked whole against that; when it leaves its binade, or on a tie, it is halved,
 * and short stretches are added token by token. A credit's sums cross few binades (the sum of
 * squares grows, the sum moves by whole responses), so most responses cost O(1) plus a count of
 * their selected tokens, which is word-wide.
 */
export function addTwoValued(
  s: number,
  selected: Uint8Array,
  chosen: MaskWords,
  start: number,
  end: number,
  ones: number,
  x0: number,
  x1: number,
): number {
  const n = end - start;
  if (n <= SHORT) return addTokens(s, selected, start, end, x0, x1);
  const jumped = inBinade(s, n - ones, x0, ones, x1);
  if (!Number.isNaN(jumped)) return jumped;
  const mid = start + (n >>> 1);
  const left = countOnes(chosen, start, mid);
  const half = addTwoValued(s, selected, chosen, start, mid, left, x0, x1);
  return addTwoValued(half, selected, chosen, mid, end, ones - left, x0, x1);
}

/** Stretches this short are added token by token (halving further costs more than it saves). */
const SHORT = 32;

/**
 * The loop itself: `x0·(1 - b) + x1·b` is `x0` or `x1` exactly for b in {0, 1} (one product is
 * the value, the other ±0, and x + ±0 = x for x non-zero; a zero x0 or x1 adds a zero either
 * way), with no branch on the selection, which is random token to token.
 */
function addTokens(
  s: number,
  selected: Uint8Array,
  start: number,
  end: number,
  x0: number,
  x1: number,
): number {
  for (let t = start; t < end; t++) {
    const b = selected[t]!;
    s += x0 * (1 - b) + x1 * b;
  }
  return s;
}

/**
 * s + k0 additions of x0 + k1 additions of x1, when that sum provably rounds as the loop's does
 * (see {@link addTwoValued}), else NaN. `x0` and `x1` (finite) must not have opposite signs.
 */
function inBinade(s: number, k0: number, x0: number, k1: number, x1: number): number {
  // Rounding to nearest is symmetric, and no result here is zero (they stay in a binade), so
  // decreasing steps are the increasing steps of -s.
  const down = x0 < 0 || x1 < 0;
  if (down && (x0 > 0 || x1 > 0)) return Number.NaN;
  const from = down ? -s : s;
  const y0 = down ? -x0 : x0;
  const y1 = down ? -x1 : x1;
  const magnitude = Math.abs(from);
  // Zero, subnormal-adjacent or huge sums take the loop: u must be a normal power of two.
  if (!(magnitude >= 1e-270 && magnitude < 1e300)) return Number.NaN;
  const low = binadeFloor(magnitude);
  const u = low * Number.EPSILON; // 2^-52
  const steps = k0 * (k0 === 0 ? 0 : ulps(y0, u)) + k1 * (k1 === 0 ? 0 : ulps(y1, u));
  // Steps are >= 0, so the partial sums climb monotonically from `from` to `to`; all of them,
  // and the exact sums they round from (within u/2 above them), stay in the binade when `to`
  // is strictly inside it. NaN (a tie) and overflow fail these tests too.
  const to = from + steps * u;
  if (from > 0 ? !(to < 2 * low) : !(to < -low)) return Number.NaN;
  return down ? -to : to;
}

/** round(y / u) for y >= 0 and u a power of two; NaN on a tie (ends in exactly .5). */
function ulps(y: number, u: number): number {
  const t = y / u; // exact: a power-of-two scaling
  const whole = Math.floor(t);
  const fraction = t - whole; // exact (t and its floor share their leading bits)
  return fraction < 0.5 ? whole : fraction > 0.5 ? whole + 1 : Number.NaN;
}

const BITS = new DataView(new ArrayBuffer(8));

/** The largest power of two <= x, for a positive normal x: x with its mantissa bits cleared. */
function binadeFloor(x: number): number {
  BITS.setFloat64(0, x);
  BITS.setUint32(0, BITS.getUint32(0) & 0x7ff00000);
  BITS.setUint32(4, 0);
  return BITS.getFloat64(0);
}
