import type { SeededGenerator } from '@hicra/tensor';

export interface TokenSamplingOptions {
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
}

/**
 * Draws one token from a row of logits. Temperature 0 is greedy (argmax, first index on ties).
 * Otherwise the logits are divided by the temperature, truncated to the top k, then to the
 * smallest set whose probability reaches top-p, renormalised, and sampled with `generator`.
 * Returns the token and its log-probability **after temperature, before top-k/top-p**
 * (`log_softmax(logits / temperature)[token]`, what scoring at that temperature gives); greedy
 * returns the untempered log-prob.
 */
export function sampleToken(
  logits: Float32Array,
  options: TokenSamplingOptions,
  generator: SeededGenerator,
): { token: number; logProb: number } {
  const vocab = logits.length;
  let max = Number.NEGATIVE_INFINITY;
  let argmax = 0;
  for (let v = 0; v < vocab; v++) {
    if (logits[v]! > max) {
      max = logits[v]!;
      argmax = v;
    }
  }
  if (options.temperature === 0) {
    let sum = 0;
    for (let v = 0; v < vocab; v++) sum += Math.exp(logits[v]! - max);
    return { token: argmax, logProb: logits[argmax]! - max - Math.log(sum) };
  }

  const inverse = 1 / options.temperature;
  if (!(options.topK > 0 && options.topK < vocab) && !(options.topP < 1)) {
    // No truncation: the weights are the tempered normaliser's own terms, computed once, and
    // the draw is over the vocabulary itself (no index pool). The same values and the same
    // draw as the general path below.
    const weights = scratchWeights(vocab);
    let temperedSum = 0;
    for (let v = 0; v < vocab; v++) {
      const w = Math.exp((logits[v]! - max) * inverse);
      weights[v] = w;
      temperedSum += w;
    }
    const choice = generator.nextCategorical(weights);
    return {
      token: choice,
      logProb: (logits[choice]! - max) * inverse - Math.log(temperedSum),
    };
  }
  // The tempered normaliser over the whole vocabulary (before truncation).
  let temperedSum = 0;
  for (let v = 0; v < vocab; v++) temperedSum += Math.exp((logits[v]! - max) * inverse);
  const logNormaliser = Math.log(temperedSum);
  let candidates: number[] | undefined;
  if (options.topK > 0 && options.topK < vocab) {
    candidates = Array.from({ length: vocab }, (_, v) => v)
      .sort((a, b) => logits[b]! - logits[a]! || a - b)
      .slice(0, options.topK);
  }
  const pool = candidates ?? Array.from({ length: vocab }, (_, v) => v);
  const weights = new Float64Array(pool.length);
  let total = 0;
  for (let i = 0; i < pool.length; i++) {
    const w = Math.exp((logits[pool[i]!]! - max) * inverse);
    weights[i] = w;
    total += w;
  }
  if (options.topP < 1) {
    const order = Array.from({ length: pool.length }, (_, i) => i).sort(
      (a, b) => weights[b]! - weights[a]! || pool[a]! - pool[b]!,
    );
    let cumulative = 0;
    const keep = new Uint8Array(pool.length);
    for (const i of order) {
      keep[i] = 1;
      cumulative += weights[i]! / total;
      if (cumulative >= options.topP) break;
    }
    for (let i = 0; i < pool.length; i++) if (keep[i] === 0) weights[i] = 0;
  }
  const choice = pool[generator.nextCategorical(weights)]!;
  return { token: choice, logProb: (logits[choice]! - max) * inverse - logNormaliser };
}

let scratch = new Float64Array(0);

/** A reused weights buffer of exactly `length` entries (a view when a longer one exists). */
function scratchWeights(length: number): Float64Array {
  if (scratch.length < length) scratch = new Float64Array(length);
  return scratch.length === length ? scratch : scratch.subarray(0, length);
}
