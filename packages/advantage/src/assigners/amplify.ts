import type { RolloutBatchV1 } from '@hicra/spec';
import { countOnes, type MaskWords, maskWords, skipRun } from '@hicra/tensor/kernels';
import { throwNonFiniteResult } from '../batch-checks.js';
import { type CreditSums, emptySums, maskedOnes } from '../diagnostics.js';
import { addTwoValued } from '../two-valued-sums.js';

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

/**
 * {@link amplify} fused with what a pipeline needs from its result, in one pass in token order
 * over a credit the pipeline has checked: the new advantages (written in place when `inPlace`,
 * else into a copy), the share of response tokens amplified, and the sums behind
 * `creditStatistics` of the result. `selected` must hold only 0 and 1.
 *
 * Inside a response no branch depends on the selection bit (random token to token); padding is
 * crossed a mask word at a time. An amplified advantage that overflows float32 is the
 * `NonFiniteError` that `checkFiniteResult` would throw, at the same (first) token.
 */
export function amplifyFused(
  batch: RolloutBatchV1,
  credit: { readonly advantages: Float32Array; readonly lossMask: Uint8Array },
  selected: Uint8Array,
  alpha: number,
  inPlace: boolean,
  who: string,
): { advantages: Float32Array; amplifiedShare: number; sums: CreditSums } {
  const { responseMask, planningMask } = batch;
  const out = inPlace ? credit.advantages : new Float32Array(credit.advantages);
  const n = Math.min(out.length, responseMask.length);
  const response = maskWords(responseMask);
  const chosen = maskWords(selected);
  // sum, squares, min, max, amplified, selected (a response run at a time, see amplifyRun).
  const acc = ACCUMULATORS;
  acc[0] = 0;
  acc[1] = 0;
  acc[2] = Number.POSITIVE_INFINITY;
  acc[3] = Number.NEGATIVE_INFINITY;
  acc[4] = 0;
  acc[5] = 0;
  let count = 0;
  for (let k = 0; k < n; ) {
    // Padding: only selected entries change there (their advantages are usually zero).
    const start = skipRun(response, k, n, 0);
    for (let p = skipRun(chosen, k, start, 0); p < start; p = skipRun(chosen, p + 1, start, 0)) {
      const a = out[p]!;
      if (a !== 0) {
        out[p] = a + alpha * Math.abs(a);
        if (!Number.isFinite(out[p]!)) overflow(who, batch, p, out[p]!);
      }
    }
    if (start >= n) break;
    const end = skipRun(response, start, n, 1);
    count += end - start;
    amplifyRun(out, selected, start, end, alpha, acc);
    // Inputs are finite, and amplifying only grows a value: an overflow shows in the maximum.
    if (acc[3] === Number.POSITIVE_INFINITY) {
      for (let t = start; t < end; t++)
        if (!Number.isFinite(out[t]!)) overflow(who, batch, t, out[t]!);
    }
    k = end;
  }
  const sums = emptySums();
  sums.count = count;
  sums.sum = acc[0]!;
  sums.squares = acc[1]!;
  sums.min = acc[2]!;
  sums.max = acc[3]!;
  const amplifiedHits = acc[4]!;
  // Both masks are checked 0/1 and the loss mask lies inside the response mask: its ones are
  // all response tokens. The planning mask needs the response runs.
  sums.lossHits = countOnes(maskWords(credit.lossMask));
  if (planningMask !== undefined)
    sums.planningHits =
      selected === planningMask ? acc[5]! : maskedOnes(planningMask, responseMask);
  return { advantages: out, amplifiedShare: count === 0 ? 0 : amplifiedHits / count, sums };
}

/**
 * HICRA's rule over one response run, accumulating the statistics in `acc` (sum, squares, min,
 * max, amplified count, selected count) in token order, with no branch on the selection (random
 * token to token, a branch on it is mispredicted about as often as it is taken). A function per run
 * (not one loop over the batch) so that V8 optimises it whole, never through a stale
 * on-stack-replacement entry.
 */
function amplifyRun(
  out: Float32Array,
  selected: Uint8Array,
  start: number,
  end: number,
  alpha: number,
  acc: Float64Array,
): void {
  let sum = acc[0]!;
  let squares = acc[1]!;
  let min = acc[2]!;
  let max = acc[3]!;
  let amplified = acc[4]!;
  let picked = acc[5]!;
  for (let t = start; t < end; t++) {
    const a = out[t]!;
    const s = selected[t]!;
    picked += s;
    let r = a;
    if (a !== 0) {
      // HICRA's `a + alpha·|a|`, its increment scaled by the 0/1 selection: the same expression
      // where selected (rounded to float32 as the result array rounds it), `a + 0 = a` where
      // not. Zeros (-0 included) stay as they are.
      r = Math.fround(a + s * (alpha * Math.abs(a)));
      amplified += s;
    }
    out[t] = r;
    sum += r;
    squares += r * r;
    if (r < min) min = r;
    if (r > max) max = r;
  }
  acc[0] = sum;
  acc[1] = squares;
  acc[2] = min;
  acc[3] = max;
  acc[4] = amplified;
  acc[5] = picked;
}

const ACCUMULATORS = new Float64Array(6);
// Small runs at load that take every branch, so that V8's first optimised code for the loop has
// type feedback for all of it (V8 allocates a function's feedback only after a few calls, hence
// several). Without them, Node 20 optimised the function from the first real call's partial
// feedback, bailed out, and then entered each later call in the interpreter, jumping into
// on-stack-replaced code part-way through the loop: about 3x slower per token.
for (let i = 0; i < 16; i++) {
  amplifyRun(
    Float32Array.of(0.5, -0.5, 0, 0.25, 0, 1, -1, 2),
    Uint8Array.of(1, 0, 1, 1, 0, 0, 1, 0),
    0,
    8,
    0.5,
    new Float64Array(6),
  );
}

/**
 * {@link amplifyFused} on the broadcast of one advantage per response (finite in float32, as
 * `checkPerResponse` leaves them), without building the broadcast: a new array written once,
 * with the same advantages, amplified share, sums and first overflow error as `amplifyFused`
 * on `broadcastOverMask`'s array, to the bit. For the first stage of a pipeline: it also writes
 * the response mask's ones into `lossMask` (zeros on entry), the loss mask a pipeline starts
 * from. `selected` must hold only 0 and 1.
 *
 * Inside a response run the advantages take two values only, `a` and its amplified `r`: min,
 * max and the counts are settled once per run, the float64 sums (which must add the tokens in
 * order to round as `amplifyFused` does) come from `addTwoValued`, which gives that loop's
 * result without visiting each token, and padding (zero) is never visited.
 */
export function amplifyBroadcast(
  batch: RolloutBatchV1,
  perResponse: ArrayLike<number>,
  lossMask: Uint8Array,
  selected: Uint8Array,
  alpha: number,
  who: string,
): { advantages: Float32Array; amplifiedShare: number; sums: CreditSums } {
  const { batchSize, seqLen, responseMask, planningMask } = batch;
  const out = new Float32Array(batchSize * seqLen);
  // The same memory two tokens at a time (a view, not a copy): see writeRun.
  const pairs = new Float64Array(out.buffer, 0, out.length >>> 1);
  const response = maskWords(responseMask);
  const chosen = maskWords(selected);
  const words = selectionWords(chosen);
  let sum = 0;
  let squares = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let count = 0;
  let amplified = 0;
  let picked = 0;
  for (let i = 0; i < batchSize; i++) {
    const a = Math.fround(perResponse[i]!);
    // HICRA's rule as `amplifyRun` evaluates it where selected; zeros (-0 too) stay.
    const r = a === 0 ? a : Math.fround(a + alpha * Math.abs(a));
    const from = i * seqLen;
    const to = from + seqLen;
    for (let k = skipRun(response, from, to, 0); k < to; k = skipRun(response, k, to, 0)) {
      const end = skipRun(response, k, to, 1);
      if (end === k) {
        k++; // not a 0/1 mask here: only entries equal to 1 are valid
        continue;
      }
      count += end - k;
      lossMask.fill(1, k, end);
      if (a === 0) {
        // ±0 adds nothing to the sums (the sum starts at +0, so it is never -0); +0 is there
        // already. Min and max see one value, whose first token decides as any other would.
        if (Object.is(a, -0)) out.fill(a, k, end);
        if (a < min) min = a;
        if (a > max) max = a;
        picked += countOnes(chosen, k, end);
      } else {
        // The selection is counted as it is read for the writes (an overflowing `r` written
        // there is never returned).
        const hits = writeRun(out, pairs, selected, words, chosen.head, k, end, a, r);
        picked += hits;
        // Amplifying only grows a magnitude, and a negative one shrinks: only a positive `a`
        // can overflow, and only where selected. The first such token is `amplifyFused`'s error.
        if (hits > 0 && r === Number.POSITIVE_INFINITY)
          overflow(who, batch, skipRun(chosen, k, end, 0), r);
        // In token order, as amplifyRun adds them (a and r share a sign, or r is +0).
        const x1 = hits === 0 ? a : r;
        sum = addTwoValued(sum, selected, chosen, k, end, hits, a, x1);
        squares = addTwoValued(squares, selected, chosen, k, end, hits, a * a, x1 * x1);
        amplified += hits;
        // Min and max of {a, r} in any order: the two differ unless alpha is 0, and at most
        // one of them is zero (no -0/+0 tie whose order would matter).
        if (hits < end - k) {
          if (a < min) min = a;
          if (a > max) max = a;
        }
        if (hits > 0) {
          if (r < min) min = r;
          if (r > max) max = r;
        }
      }
      k = end;
    }
  }
  const sums = emptySums();
  sums.count = count;
  sums.sum = sum;
  sums.squares = squares;
  sums.min = min;
  sums.max = max;
  // The loss mask is the response mask's ones, written above: all of them response tokens.
  sums.lossHits = count;
  if (planningMask !== undefined)
    sums.planningHits = selected === planningMask ? picked : maskedOnes(planningMask, responseMask);
  return { advantages: out, amplifiedShare: count === 0 ? 0 : amplified / count, sums };
}

/**
 * Two float32s, (a, a), (r, a), (a, r), (r, r) in memory order, read as float64s: a token pair
 * of writeRun, indexed by its two selection bits. A float64 NaN (which V8 may rewrite) would
 * need a float32 half with an all-ones exponent and the top three bits of its mantissa set: a
 * float32 NaN. `a` and `r` are never NaN (an overflowing `r` is +Infinity, whose mantissa is
 * 0), so the bits are copied as they are, on either byte order.
 */
const PAIR_VALUES = new Float32Array(8);
const PAIRS = new Float64Array(PAIR_VALUES.buffer);

/** Whether an Int32Array word holds its first byte in its low bits (little-endian). */
const LITTLE_ENDIAN = new Uint8Array(Int32Array.of(1).buffer)[0] === 1;

/**
 * The selection's words for {@link writeRun}, when its four-byte words line up with the
 * advantages' token pairs (little-endian, and an even first word-aligned index); else
 * undefined, and writeRun reads the selection a byte at a time.
 */
function selectionWords(chosen: MaskWords): Int32Array | undefined {
  return LITTLE_ENDIAN && (chosen.head & 1) === 0 ? chosen.words : undefined;
}

/**
 * Writes `r` where selected and `a` elsewhere over [start, end) and returns how many tokens
 * there are selected (the selection holds only 0 and 1), two tokens per store: a load
 * from a table of four pairs, indexed by the two selection bits, rather than a branch on the
 * selection (random token to token) or the arithmetic of each value. With `words` (see
 * selectionWords) four selection bytes come in one load, the bits of two pairs picked out of
 * it. `pairs` views `out` from its start; `head` is the selection's first word-aligned index.
 */
function writeRun(
  out: Float32Array,
  pairs: Float64Array,
  selected: Uint8Array,
  words: Int32Array | undefined,
  head: number,
  start: number,
  end: number,
  a: number,
  r: number,
): number {
  const values = PAIR_VALUES;
  values[0] = a;
  values[1] = a;
  values[2] = r;
  values[3] = a;
  values[4] = a;
  values[5] = r;
  values[6] = r;
  values[7] = r;
  const table = PAIRS;
  let ones = 0;
  let t = start;
  if (words !== undefined && end - start >= 8) {
    for (; ((t - head) & 3) !== 0; t++) {
      ones += selected[t]!;
      out[t] = selected[t] === 1 ? r : a;
    }
    // Bytes 0..3 of the word are bits 0, 8, 16 and 24 (0/1 bytes, little-endian); they sum
    // into the top byte of w · 0x01010101.
    for (const stop = end - 3; t < stop; t += 4) {
      const w = words[(t - head) >> 2]!;
      ones += Math.imul(w, 0x01010101) >>> 24;
      const j = t >>> 1;
      pairs[j] = table[(w & 1) | ((w >>> 7) & 2)]!;
      pairs[j + 1] = table[((w >>> 16) & 1) | ((w >>> 23) & 2)]!;
    }
  } else if ((t & 1) === 1) {
    ones += selected[t]!;
    out[t] = selected[t] === 1 ? r : a;
    t++;
  }
  for (const stop = end - 1; t < stop; t += 2) {
    const b0 = selected[t]!;
    const b1 = selected[t + 1]!;
    ones += b0 + b1;
    pairs[t >>> 1] = table[b0 | (b1 << 1)]!;
  }
  if (t < end) {
    ones += selected[t]!;
    out[t] = selected[t] === 1 ? r : a;
  }
  return ones;
}

// As for amplifyRun above: full type feedback before the first real call, on both paths.
for (let i = 0; i < 16; i++) {
  const out = new Float32Array(24);
  const selected = Uint8Array.of(
    1,
    0,
    1,
    1,
    0,
    0,
    1,
    0,
    1,
    0,
    0,
    1,
    1,
    0,
    1,
    0,
    0,
    0,
    1,
    1,
    1,
    0,
    1,
    0,
  );
  const chosen = maskWords(selected);
  for (const words of [selectionWords(chosen), undefined]) {
    writeRun(out, new Float64Array(out.buffer), selected, words, chosen.head, 1, 23, 0.5, 0.6);
  }
}

function overflow(who: string, batch: RolloutBatchV1, t: number, value: number): never {
  return throwNonFiniteResult({
    who,
    quantity: 'advantage',
    batch,
    response: Math.floor(t / batch.seqLen),
    token: t % batch.seqLen,
    value,
  });
}
