/**
 * Conversions between float32 and the 16-bit float formats of model checkpoints, on raw bits
 * (Node 20 has no `Float16Array`; safetensors' `F16` and `BF16` are carried as `Uint16Array`):
 *
 * - bfloat16: the top 16 bits of a float32 (sign, 8 exponent bits, 7 fraction bits).
 * - float16 (IEEE 754 binary16): sign, 5 exponent bits (bias 15), 10 fraction bits.
 *
 * Widening to float32 is exact for every bit pattern. Narrowing rounds to nearest, ties to
 * even, as PyTorch and numpy do. All work is done on the bits through `Uint32Array` views:
 * reading a NaN into a JavaScript number may change its payload, so no element is ever
 * read as a float.
 */
import { InvalidArgumentError } from '@hicra/spec';

const SOURCE = '@hicra/policy';

function checkArray(
  fn: string,
  argument: 'bits' | 'values',
  value: unknown,
  expected: typeof Uint16Array | typeof Float32Array,
): void {
  if (value instanceof expected) return;
  const actual = ArrayBuffer.isView(value)
    ? (value as unknown as { [Symbol.toStringTag]: string })[Symbol.toStringTag]
    : value === null
      ? 'null'
      : typeof value;
  throw new InvalidArgumentError(`${fn}: ${argument} must be a ${expected.name}, got ${actual}`, {
    source: SOURCE,
    details: { argument, expected: expected.name, actual },
  });
}

/** The bits of a `Float32Array`, as a view (no copy). */
const bitsOf = (values: Float32Array) =>
  new Uint32Array(values.buffer, values.byteOffset, values.length);

/** bfloat16 bits to float32 values, exactly (`bits << 16`); NaN payloads are kept. */
export function bfloat16ToFloat32(bits: Uint16Array): Float32Array {
  checkArray('bfloat16ToFloat32', 'bits', bits, Uint16Array);
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = (bits[i] as number) << 16;
  return new Float32Array(out.buffer);
}

/**
 * float32 values to bfloat16 bits, rounded to nearest, ties to even. Values beyond the largest
 * bfloat16 round to ±Infinity as IEEE rounding says; infinities stay; a NaN stays a NaN with its
 * sign and the top of its payload, made quiet (a payload in the low 16 bits only would
 * otherwise truncate to an infinity).
 */
export function float32ToBfloat16(values: Float32Array): Uint16Array {
  checkArray('float32ToBfloat16', 'values', values, Float32Array);
  const input = bitsOf(values);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < input.length; i++) {
    const u = input[i] as number;
    if ((u & 0x7fffffff) > 0x7f800000) out[i] = (u >>> 16) | 0x0040;
    // adding 0x7fff plus the lowest kept bit rounds half to even; a carry moves into the
    // exponent, which is the right result (up to infinity). Without NaNs the sum stays below
    // 2^32 (at most 0xff808000), so `>>> 16` does not wrap.
    else out[i] = (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
  }
  return out;
}

let float16Table: Uint32Array | undefined;

/** float32 bits of each of the 65,536 float16 patterns (256 KiB, built on first use). */
function float16Bits(): Uint32Array {
  if (float16Table) return float16Table;
  const table = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exponent = (h >>> 10) & 0x1f;
    const fraction = h & 0x3ff;
    if (exponent === 0x1f) table[h] = sign | 0x7f800000 | (fraction << 13);
    else if (exponent !== 0) table[h] = sign | ((exponent + 112) << 23) | (fraction << 13);
    else if (fraction === 0) table[h] = sign;
    else {
      // subnormal: fraction × 2^-24; shift the leading 1 into the implicit bit
      let e = 113; // float32 exponent field of 2^-14
      let f = fraction;
      while ((f & 0x400) === 0) {
        f <<= 1;
        e--;
      }
      table[h] = sign | (e << 23) | ((f & 0x3ff) << 13);
    }
  }
  float16Table = table;
  return table;
}

/** float16 bits to float32 values, exactly (subnormals, ±0, infinities; NaN payloads kept). */
export function float16ToFloat32(bits: Uint16Array): Float32Array {
  checkArray('float16ToFloat32', 'bits', bits, Uint16Array);
  const table = float16Bits();
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i] as number] as number;
  return new Float32Array(out.buffer);
}

/**
 * float32 values to float16 bits, rounded to nearest, ties to even: magnitudes from 65520 up
 * (the midpoint between 65504, the largest float16, and 2^16) become ±Infinity; small values
 * become float16 subnormals or ±0. A NaN stays a quiet NaN with its sign and the top of its
 * payload.
 */
export function float32ToFloat16(values: Float32Array): Uint16Array {
  checkArray('float32ToFloat16', 'values', values, Float32Array);
  const input = bitsOf(values);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < input.length; i++) {
    const u = input[i] as number;
    const sign = (u >>> 16) & 0x8000;
    const a = u & 0x7fffffff;
    if (a > 0x7f800000) out[i] = sign | 0x7e00 | ((a >>> 13) & 0x3ff);
    else if (a >= 0x477ff000) out[i] = sign | 0x7c00;
    else if (a >= 0x38800000) {
      // normal: rebias the exponent (127 -> 15) and drop 13 fraction bits, rounding half to even
      const h = (a - 0x38000000) >>> 13;
      const rest = a & 0x1fff;
      out[i] = sign | (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1) ? h + 1 : h);
    } else {
      // subnormal or zero: the value in units of 2^-24 is mantissa >> (126 - exponent)
      const shift = 126 - (a >>> 23);
      if (shift > 24)
        out[i] = sign; // below 2^-25: rounds to zero (2^-25 itself ties to 0)
      else {
        const mantissa = (a & 0x7fffff) | 0x800000;
        const h = mantissa >>> shift;
        const rest = mantissa & ((1 << shift) - 1);
        const half = 1 << (shift - 1);
        out[i] = sign | (rest > half || (rest === half && (h & 1) === 1) ? h + 1 : h);
      }
    }
  }
  return out;
}
