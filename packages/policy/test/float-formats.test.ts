import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode } from '@hicra/spec';
import { expectHicraError } from '@hicra/spec/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bfloat16ToFloat32,
  float16ToFloat32,
  float32ToBfloat16,
  float32ToFloat16,
} from '../src/checkpoint/float-formats.js';

const PYTHON = '/usr/bin/python3';
const PEER = fileURLToPath(new URL('./peers/float16.py', import.meta.url));

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'hicra-float-formats-'));
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/** Every 16-bit pattern, 0 to 65535. */
const ALL16 = Uint16Array.from({ length: 65536 }, (_, i) => i);

const bitsOf = (values: Float32Array) =>
  new Uint32Array(values.buffer, values.byteOffset, values.length);
const f32FromBits = (bits: ArrayLike<number>) => new Float32Array(Uint32Array.from(bits).buffer);

const isF16NaN = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
const isBf16NaN = (h: number) => (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
const isF32NaN = (u: number) => (u & 0x7fffffff) > 0x7f800000;

/** A float16 pattern's value from the definition (float64 arithmetic). */
function float16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? Number.NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

interface Format {
  /** Significand bits including the implicit one. */
  readonly precision: number;
  /** Exponent of the smallest normal number. */
  readonly minExponent: number;
  /** Exponent of the largest finite number. */
  readonly maxExponent: number;
}
const BFLOAT16: Format = { precision: 8, minExponent: -126, maxExponent: 127 };
const FLOAT16: Format = { precision: 11, minExponent: -14, maxExponent: 15 };

/**
 * `x` rounded to the format, to nearest with ties to even, computed in float64 (exact here:
 * a float32 divided by a power of two is exact, and so is the fraction test): the reference
 * the bit-level conversions are checked against.
 */
function roundTo(format: Format, x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const magnitude = Math.abs(x);
  let exponent = Math.floor(Math.log2(magnitude));
  while (2 ** exponent > magnitude) exponent--;
  while (2 ** (exponent + 1) <= magnitude) exponent++;
  const quantum = 2 ** (Math.max(exponent, format.minExponent) - (format.precision - 1));
  const q = magnitude / quantum;
  let n = Math.floor(q);
  const rest = q - n;
  if (rest > 0.5 || (rest === 0.5 && n % 2 === 1)) n++;
  const rounded = n * quantum;
  return Math.sign(x) * (rounded >= 2 ** (format.maxExponent + 1) ? Infinity : rounded);
}

/** The bfloat16 bits of a value that bfloat16 holds exactly (its float32's top 16 bits). */
const bfloat16BitsOf = (value: number) => (bitsOf(new Float32Array([value]))[0] as number) >>> 16;

describe('float formats: widening to float32 is exact for all 65,536 patterns', () => {
  it('bfloat16 -> float32 is bits << 16, NaN payloads included', () => {
    const out = bitsOf(bfloat16ToFloat32(ALL16));
    expect(out.length).toBe(65536);
    for (let h = 0; h < 65536; h++)
      if (out[h] !== (h << 16) >>> 0) expect(out[h], `bf16 ${h}`).toBe((h << 16) >>> 0);
  });

  it('float16 -> float32 gives the value of the definition (subnormals, -0, infinities; NaN bits kept)', () => {
    const values = float16ToFloat32(ALL16);
    const bits = bitsOf(values);
    for (let h = 0; h < 65536; h++) {
      const expected = float16Value(h);
      const actual = values[h] as number;
      if (Number.isNaN(expected)) {
        const b = bits[h] as number;
        const ok = isF32NaN(b) && b >>> 31 === h >>> 15 && ((b >>> 13) & 0x3ff) === (h & 0x3ff);
        if (!ok) expect(b.toString(16), `f16 NaN ${h.toString(16)}`).toBe('sign and payload kept');
      } else if (!Object.is(actual, expected))
        expect(actual, `f16 ${h.toString(16)}`).toBe(expected);
    }
    expect(values[0x0001]).toBe(2 ** -24);
    expect(values[0x03ff]).toBe(1023 * 2 ** -24);
    expect(values[0x7bff]).toBe(65504);
    expect(Object.is(values[0x8000], -0)).toBe(true);
  });
});

describe('float formats: round trips through float32 are bit-exact for every non-NaN pattern', () => {
  it('bfloat16 -> float32 -> bfloat16 (NaNs stay NaNs of the same sign, made quiet)', () => {
    const back = float32ToBfloat16(bfloat16ToFloat32(ALL16));
    let nans = 0;
    for (let h = 0; h < 65536; h++) {
      const b = back[h] as number;
      if (isBf16NaN(h)) {
        nans++;
        expect(isBf16NaN(b) && (b & 0x40) !== 0 && b >>> 15 === h >>> 15, `bf16 ${h}`).toBe(true);
        if (h & 0x40) expect(b, 'a quiet NaN is unchanged').toBe(h);
      } else if (b !== h) expect(b, `bf16 ${h.toString(16)}`).toBe(h);
    }
    expect(nans).toBe(2 * 127);
  });

  it('float16 -> float32 -> float16 (NaNs stay NaNs of the same sign, made quiet)', () => {
    const back = float32ToFloat16(float16ToFloat32(ALL16));
    let nans = 0;
    for (let h = 0; h < 65536; h++) {
      const b = back[h] as number;
      if (isF16NaN(h)) {
        nans++;
        expect(isF16NaN(b) && (b & 0x200) !== 0 && b >>> 15 === h >>> 15, `f16 ${h}`).toBe(true);
        if (h & 0x200) expect(b, 'a quiet NaN is unchanged').toBe(h);
      } else if (b !== h) expect(b, `f16 ${h.toString(16)}`).toBe(h);
    }
    expect(nans).toBe(2 * 1023);
  });
});

/** Random float32 bit patterns: anything, plus values near the formats' edges. */
const float32Bits = fc.oneof(
  fc.integer({ min: 0, max: 0xffffffff }),
  fc.integer({ min: 0x33000000 - 4, max: 0x38800000 + 4 }), // float16 subnormal range
  fc.integer({ min: 0x477fe000 - 4, max: 0x477ff000 + 4 }), // float16 overflow edge
  fc.integer({ min: 0x7f7f0000, max: 0x7f800000 }), // bfloat16 overflow edge
  fc.integer({ min: 0, max: 0x00800000 }), // float32 subnormals
  fc.float().map((v) => bitsOf(new Float32Array([v]))[0] as number),
  // exact ties and their neighbours: the low 16 bits (bfloat16) or 13 bits (float16) at half
  fc
    .tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: -1, max: 1 }))
    .map(([high, step]) => ((high << 16) | (0x8000 + step)) >>> 0),
  fc
    .tuple(fc.integer({ min: 0, max: 0x7ffff }), fc.integer({ min: -1, max: 1 }))
    .map(([high, step]) => ((high << 13) | (0x1000 + step)) >>> 0),
);

describe('float formats: float32 -> 16 bits equals rounding computed in float64', () => {
  it('property: float32ToBfloat16 rounds to nearest, ties to even, overflowing to infinity', () => {
    fc.assert(
      fc.property(fc.array(float32Bits, { minLength: 1, maxLength: 64 }), (bits) => {
        const values = f32FromBits(bits);
        const out = float32ToBfloat16(values);
        for (let i = 0; i < bits.length; i++) {
          const u = bits[i] as number;
          const b = out[i] as number;
          if (isF32NaN(u)) expect(isBf16NaN(b) && b >>> 15 === u >>> 31).toBe(true);
          else
            expect(b, `0x${u.toString(16)}`).toBe(
              bfloat16BitsOf(roundTo(BFLOAT16, values[i] as number)),
            );
        }
      }),
      { numRuns: 500 },
    );
  });

  it('property: float32ToFloat16 rounds to nearest, ties to even, to subnormals and infinity', () => {
    fc.assert(
      fc.property(fc.array(float32Bits, { minLength: 1, maxLength: 64 }), (bits) => {
        const values = f32FromBits(bits);
        const out = float32ToFloat16(values);
        const widened = float16ToFloat32(out); // exact: checked against the definition above
        for (let i = 0; i < bits.length; i++) {
          const u = bits[i] as number;
          if (isF32NaN(u))
            expect(isF16NaN(out[i] as number) && (out[i] as number) >>> 15 === u >>> 31).toBe(true);
          else {
            const expected = roundTo(FLOAT16, values[i] as number);
            if (!Object.is(widened[i], expected))
              expect(widened[i], `0x${u.toString(16)}`).toBe(expected);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('the edges, by hand', () => {
    const f16 = (...values: number[]) => [...float32ToFloat16(new Float32Array(values))];
    expect(f16(65504, 65519.99, 65520, 1e6, Infinity, -65520, -Infinity)).toEqual([
      0x7bff, 0x7bff, 0x7c00, 0x7c00, 0x7c00, 0xfc00, 0xfc00,
    ]);
    // 2^-24 is the smallest subnormal; 2^-25 ties to 0 (even); just above it rounds up
    expect(f16(2 ** -24, 2 ** -25, 2 ** -25 * (1 + 2 ** -23), 3 * 2 ** -25, 2 ** -14, -0)).toEqual([
      0x0001, 0x0000, 0x0001, 0x0002, 0x0400, 0x8000,
    ]);
    // 1 + 2^-11 ties between 1 and 1 + 2^-10: even is 1; 1 + 3 * 2^-11 ties up to 1 + 2^-9
    expect(f16(1 + 2 ** -11, 1 + 3 * 2 ** -11)).toEqual([0x3c00, 0x3c02]);
    const bf16 = (...bits: number[]) => [...float32ToBfloat16(f32FromBits(bits))];
    expect(bf16(0x3f808000, 0x3f818000, 0x3f808001, 0x7f7fffff, 0xff7f8000, 0x7f800000)).toEqual([
      0x3f80, 0x3f82, 0x3f81, 0x7f80, 0xff80, 0x7f80,
    ]);
    // NaNs whose payload lies only in the low 16 bits stay NaNs
    expect(bf16(0x7f800001, 0xff800001, 0x7fc00000)).toEqual([0x7fc0, 0xffc0, 0x7fc0]);
    expect(f16(Number.NaN).map(isF16NaN)).toEqual([true]);
    expect([...float32ToFloat16(f32FromBits([0x7f800001]))]).toEqual([0x7e00]);
    expect(float32ToFloat16(new Float32Array(0))).toEqual(new Uint16Array(0));
  });

  it('checks its arguments', () => {
    const cases: [() => unknown, string][] = [
      [
        () => bfloat16ToFloat32(new Int16Array(2) as never),
        'bfloat16ToFloat32: bits must be a Uint16Array, got Int16Array',
      ],
      [
        () => float16ToFloat32([1] as never),
        'float16ToFloat32: bits must be a Uint16Array, got object',
      ],
      [
        () => float32ToBfloat16(new Float64Array(1) as never),
        'float32ToBfloat16: values must be a Float32Array, got Float64Array',
      ],
      [
        () => float32ToFloat16(null as never),
        'float32ToFloat16: values must be a Float32Array, got null',
      ],
    ];
    for (const [fn, message] of cases) {
      const error = expectHicraError(fn, { code: ErrorCode.InvalidArgument });
      expect(error.message).toBe(`@hicra/policy: ${message}`);
    }
  });
});

describe('float formats: numpy (an independent implementation) agrees on float16', () => {
  const numpy = () => {
    const check = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' });
    if (check.status !== 0)
      throw new Error(
        `${PYTHON} cannot import numpy (${check.error?.message ?? check.stderr.trim()}): install Debian's python3-numpy (apt-get install python3-numpy), which the project's test command sets up`,
      );
  };
  const peer = (mode: 'narrow' | 'widen', input: Uint8Array): Buffer => {
    const source = join(scratch, `${mode}.in`);
    const target = join(scratch, `${mode}.out`);
    writeFileSync(source, input);
    const run = spawnSync(PYTHON, [PEER, mode, source, target], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    return readFileSync(target);
  };

  it('float32 -> float16: every float16 value, every midpoint and its neighbours, random floats', () => {
    numpy();
    const inputs: number[] = [];
    const exact = bitsOf(float16ToFloat32(ALL16));
    for (let h = 0; h < 0x7c00; h++) {
      const low = float16Value(h);
      const high = h === 0x7bff ? 65536 : float16Value(h + 1);
      const mid = bitsOf(new Float32Array([(low + high) / 2]))[0] as number;
      for (const u of [exact[h] as number, mid - 1, mid, mid + 1])
        inputs.push(u, (u | 0x80000000) >>> 0);
    }
    const random = fc.sample(float32Bits, { numRuns: 100_000, seed: 20260 });
    inputs.push(...random, 0x7f800000, 0xff800000, 0x7f7fffff, 0x00000001);
    const values = f32FromBits(inputs);
    const ours = float32ToFloat16(values);
    const out = peer('narrow', new Uint8Array(values.buffer));
    const theirs = new Uint16Array(out.buffer, out.byteOffset, out.length / 2);
    expect(theirs.length).toBe(ours.length);
    let mismatches = 0;
    for (let i = 0; i < ours.length; i++) {
      const a = ours[i] as number;
      const b = theirs[i] as number;
      const same = isF32NaN(inputs[i] as number)
        ? isF16NaN(a) && isF16NaN(b) && a >>> 15 === b >>> 15
        : a === b;
      if (!same && mismatches++ < 5)
        expect(a.toString(16), `float32 0x${(inputs[i] as number).toString(16)}`).toBe(
          b.toString(16),
        );
    }
    expect(mismatches).toBe(0);
  });

  it('float16 -> float32 for all 65,536 patterns', () => {
    numpy();
    const ours = bitsOf(float16ToFloat32(ALL16));
    const out = peer('widen', new Uint8Array(ALL16.buffer));
    const theirs = new Uint32Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.length));
    expect(theirs.length).toBe(65536);
    for (let h = 0; h < 65536; h++) {
      const a = ours[h] as number;
      const b = theirs[h] as number;
      if (isF16NaN(h)) expect(isF32NaN(a) && isF32NaN(b)).toBe(true);
      else if (a !== b) expect(a.toString(16), `f16 ${h.toString(16)}`).toBe(b.toString(16));
    }
  });
});
