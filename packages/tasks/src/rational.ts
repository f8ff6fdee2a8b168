/**
 * Exact rational numbers over BigInt, always in lowest terms with a positive denominator.
 * Countdown derivations and rational math answers are compared exactly, never in floating
 * point. Operations that would exceed {@link RATIONAL_MAX_BITS} bits return `undefined`, so a
 * pathological input (a power tower) costs a bounded amount of work.
 */

/** Largest numerator or denominator, in bits, that an operation may produce. */
export const RATIONAL_MAX_BITS = 4096;

const bitLength = (x: bigint): number => (x < 0n ? -x : x).toString(2).length;

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

export class Rational {
  readonly numerator: bigint;
  readonly denominator: bigint;

  private constructor(numerator: bigint, denominator: bigint) {
    this.numerator = numerator;
    this.denominator = denominator;
  }

  /** `numerator / denominator` in lowest terms; `undefined` when the denominator is 0. */
  static of(numerator: bigint, denominator = 1n): Rational | undefined {
    if (denominator === 0n) return undefined;
    const sign = denominator < 0n ? -1n : 1n;
    const divisor = gcd(numerator, denominator) || 1n;
    return new Rational((sign * numerator) / divisor, (sign * denominator) / divisor);
  }

  static fromInteger(value: number | bigint): Rational {
    return new Rational(BigInt(value), 1n);
  }

  /** Parses `12`, `-3`, `0.25`, `.5`, `7/4`; `undefined` for anything else. */
  static parse(text: string): Rational | undefined {
    const trimmed = text.trim();
    const fraction = /^(-?\d+)\s*\/\s*(\d+)$/.exec(trimmed);
    if (fraction) return Rational.of(BigInt(fraction[1]!), BigInt(fraction[2]!));
    const decimal = /^(-?)(\d*)(?:\.(\d+))?$/.exec(trimmed);
    if (!decimal || (decimal[2] === '' && decimal[3] === undefined)) return undefined;
    const digits = `${decimal[2] || '0'}${decimal[3] ?? ''}`;
    const scale = 10n ** BigInt(decimal[3]?.length ?? 0);
    const value = Rational.of(BigInt(digits), scale);
    return decimal[1] === '-' ? value?.negate() : value;
  }

  private static bounded(numerator: bigint, denominator: bigint): Rational | undefined {
    const value = Rational.of(numerator, denominator);
    if (value === undefined) return undefined;
    if (
      bitLength(value.numerator) > RATIONAL_MAX_BITS ||
      bitLength(value.denominator) > RATIONAL_MAX_BITS
    )
      return undefined;
    return value;
  }

  add(other: Rational): Rational | undefined {
    return Rational.bounded(
      this.numerator * other.denominator + other.numerator * this.denominator,
      this.denominator * other.denominator,
    );
  }

  subtract(other: Rational): Rational | undefined {
    return Rational.bounded(
      this.numerator * other.denominator - other.numerator * this.denominator,
      this.denominator * other.denominator,
    );
  }

  multiply(other: Rational): Rational | undefined {
    return Rational.bounded(this.numerator * other.numerator, this.denominator * other.denominator);
  }

  /** `undefined` on division by zero. */
  divide(other: Rational): Rational | undefined {
    return Rational.bounded(this.numerator * other.denominator, this.denominator * other.numerator);
  }

  negate(): Rational {
    return new Rational(-this.numerator, this.denominator);
  }

  /** Integer powers only; `undefined` when the result would exceed the size bound. */
  pow(exponent: Rational): Rational | undefined {
    if (exponent.denominator !== 1n) return undefined;
    const e = exponent.numerator;
    if (e === 0n) return this.numerator === 0n ? undefined : Rational.fromInteger(1);
    const magnitude = e < 0n ? -e : e;
    // A b-bit base raised to e has at least (b - 1) * e + 1 bits: refuse before computing.
    const bits = Math.max(bitLength(this.numerator), bitLength(this.denominator));
    if (BigInt(bits - 1) * magnitude + 1n > BigInt(RATIONAL_MAX_BITS)) return undefined;
    const n = this.numerator ** magnitude;
    const d = this.denominator ** magnitude;
    return e < 0n ? Rational.bounded(d, n) : Rational.bounded(n, d);
  }

  equals(other: Rational): boolean {
    return this.numerator === other.numerator && this.denominator === other.denominator;
  }

  isInteger(): boolean {
    return this.denominator === 1n;
  }

  toNumber(): number {
    return Number(this.numerator) / Number(this.denominator);
  }

  /** `22`, `-3`, `7/4`. */
  toString(): string {
    return this.denominator === 1n
      ? this.numerator.toString()
      : `${this.numerator}/${this.denominator}`;
  }
}
