import { formatValue, InvalidArgumentError, InvalidValueError } from '@hicra/spec';

const SOURCE = '@hicra/tensor';
const ALGORITHM = 'xoshiro128**';

/** The complete state of a {@link SeededGenerator}: JSON-serialisable, for checkpoints. */
export interface SeededGeneratorState {
  /** Always `xoshiro128**`. */
  readonly algorithm: typeof ALGORITHM;
  /** The four 32-bit words of the xoshiro128** state (unsigned), not all zero. */
  readonly words: readonly [number, number, number, number];
  /** A second normal deviate left over from the last Box–Muller draw, or null. */
  readonly spareNormal: number | null;
}

/** splitmix32: expands a seed into well-mixed 32-bit words (used only for seeding). */
function splitmix32(state: { x: number }): number {
  state.x = (state.x + 0x9e3779b9) | 0;
  let z = state.x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));

/**
 * A seeded pseudo-random generator whose whole state can be saved and restored, so a resumed
 * run continues every random stream exactly.
 *
 * Algorithm: **xoshiro128\*\*** (Blackman and Vigna, 2018; period 2^128 - 1, 32-bit output),
 * seeded by running **splitmix32** over the seed's low and high 32-bit halves. Doubles take
 * 53 random bits from two outputs; normals use the Box–Muller transform (the spare deviate is
 * part of the state); integers below n use rejection sampling, so they are unbiased.
 */
export class SeededGenerator {
  #s0 = 0;
  #s1 = 0;
  #s2 = 0;
  #s3 = 0;
  #spare: number | null = null;

  /** @param seed a non-negative safe integer */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new InvalidArgumentError(
        `SeededGenerator: seed must be a non-negative safe integer, got ${String(seed)}`,
        {
          source: SOURCE,
          details: { argument: 'seed', value: String(seed) },
        },
      );
    }
    const mixer = { x: (seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32), 0x632be5ab) };
    this.#s0 = splitmix32(mixer);
    this.#s1 = splitmix32(mixer);
    this.#s2 = splitmix32(mixer);
    this.#s3 = splitmix32(mixer);
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1;
  }

  /** A generator that continues from a saved state. */
  static fromState(state: SeededGeneratorState): SeededGenerator {
    const generator = new SeededGenerator(0);
    generator.setState(state);
    return generator;
  }

  /** The next 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.#s1, 5), 7), 9) >>> 0;
    const t = this.#s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return result;
  }

  /** A double uniform in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** An integer uniform in [0, n), unbiased; `n` a positive integer up to 2^32. */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 2 ** 32) {
      throw new InvalidArgumentError(
        `SeededGenerator.nextInt: n must be an integer in [1, 2^32], got ${n}`,
        {
          source: SOURCE,
          details: { argument: 'n', value: n },
        },
      );
    }
    const limit = 2 ** 32 - (2 ** 32 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** A normal deviate with the given mean and standard deviation. */
  nextNormal(mean = 0, std = 1): number {
    if (this.#spare !== null) {
      const z = this.#spare;
      this.#spare = null;
      return mean + std * z;
    }
    let u = 0;
    while (u === 0) u = this.nextFloat();
    const v = this.nextFloat();
    const radius = Math.sqrt(-2 * Math.log(u));
    this.#spare = radius * Math.sin(2 * Math.PI * v);
    return mean + std * radius * Math.cos(2 * Math.PI * v);
  }

  /** Fills `out` with normal deviates (weight initialisation). */
  fillNormal(out: Float32Array, mean = 0, std = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.nextNormal(mean, std);
    return out;
  }

  /** Fills `out` with deviates uniform in [low, high). */
  fillUniform(out: Float32Array, low = 0, high = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = low + (high - low) * this.nextFloat();
    return out;
  }

  /** Shuffles `array` in place (Fisher–Yates) and returns it. */
  shuffle<T>(array: T[]): T[];
  shuffle<A extends { length: number; [index: number]: number }>(array: A): A;
  shuffle(array: { length: number; [index: number]: unknown }): unknown {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const t = array[i];
      array[i] = array[j];
      array[j] = t;
    }
    return array;
  }

  /**
   * An index drawn with probability proportional to `weights[i]` (non-negative, finite, not
   * all zero).
   */
  nextCategorical(weights: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i]!;
      if (!(w >= 0) || !Number.isFinite(w)) {
        throw new InvalidValueError(
          `SeededGenerator.nextCategorical: weights[${i}] = ${w}; weights must be finite and >= 0`,
          {
            source: SOURCE,
            details: { argument: 'weights', index: i },
          },
        );
      }
      total += w;
    }
    if (total <= 0) {
      throw new InvalidValueError('SeededGenerator.nextCategorical: weights sum to 0', {
        source: SOURCE,
        details: { argument: 'weights' },
      });
    }
    let target = this.nextFloat() * total;
    for (let i = 0; i < weights.length; i++) {
      target -= weights[i]!;
      if (target < 0) return i;
    }
    for (let i = weights.length - 1; i >= 0; i--) if (weights[i]! > 0) return i;
    return weights.length - 1;
  }

  /**
   * A new, independent generator seeded from this one's next four outputs (this one advances).
   * Use it to give each consumer (sampling, data order, placebo) its own stream.
   */
  split(): SeededGenerator {
    const child = new SeededGenerator(0);
    child.setState({
      algorithm: ALGORITHM,
      words: [
        this.nextUint32(),
        this.nextUint32(),
        this.nextUint32(),
        (this.nextUint32() | 1) >>> 0,
      ],
      spareNormal: null,
    });
    return child;
  }

  /** A copy with the same state; the two then produce the same stream. */
  clone(): SeededGenerator {
    return SeededGenerator.fromState(this.getState());
  }

  /** The complete state, as a plain JSON-serialisable object. */
  getState(): SeededGeneratorState {
    return {
      algorithm: ALGORITHM,
      words: [this.#s0 >>> 0, this.#s1 >>> 0, this.#s2 >>> 0, this.#s3 >>> 0],
      spareNormal: this.#spare,
    };
  }

  /** Restores a state from {@link getState}; rejects malformed states with a clear error. */
  setState(state: SeededGeneratorState): void {
    const fail = (message: string): never => {
      throw new InvalidValueError(`SeededGenerator.setState: ${message}`, {
        source: SOURCE,
        details: { argument: 'state' },
      });
    };
    if (typeof state !== 'object' || state === null)
      fail(`expected a state object, got ${String(state)}`);
    if (state.algorithm !== ALGORITHM)
      fail(`expected algorithm "${ALGORITHM}", got ${JSON.stringify(state.algorithm)}`);
    const words = state.words;
    if (
      !Array.isArray(words) ||
      words.length !== 4 ||
      !words.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32)
    ) {
      fail(`words must be four unsigned 32-bit integers, got ${formatValue(words)}`);
    }
    if (words.every((w) => w === 0))
      fail('words must not all be zero (xoshiro would emit zeros forever)');
    if (state.spareNormal !== null && !Number.isFinite(state.spareNormal))
      fail(`spareNormal must be a finite number or null, got ${state.spareNormal}`);
    [this.#s0, this.#s1, this.#s2, this.#s3] = words.map((w) => w | 0) as [
      number,
      number,
      number,
      number,
    ];
    this.#spare = state.spareNormal;
  }
}
