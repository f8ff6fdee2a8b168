import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RATIONAL_MAX_BITS, Rational } from '../src/index.js';

const r = (text: string) => {
  const value = Rational.parse(text);
  if (!value) throw new Error(`not a rational: ${text}`);
  return value;
};

describe('Rational', () => {
  it('parses integers, decimals and fractions into lowest terms', () => {
    expect(r('12').toString()).toBe('12');
    expect(r('-3').toString()).toBe('-3');
    expect(r('0.25').toString()).toBe('1/4');
    expect(r('.5').toString()).toBe('1/2');
    expect(r('6/4').toString()).toBe('3/2');
    expect(r('-6/4').toString()).toBe('-3/2');
    for (const bad of ['', '1.', 'x', '1/0', '1e3', '--1'])
      expect(Rational.parse(bad)).toBeUndefined();
  });

  it('computes exactly: (1/3) * 3 = 1 and 0.1 + 0.2 = 0.3', () => {
    expect(r('1/3').multiply(r('3'))!.equals(r('1'))).toBe(true);
    expect(r('0.1').add(r('0.2'))!.equals(r('0.3'))).toBe(true);
    expect(r('1').divide(r('0'))).toBeUndefined();
    expect(r('2/3').pow(r('-2'))!.toString()).toBe('9/4');
    expect(r('2').pow(r('1/2'))).toBeUndefined();
    expect(r('0').pow(r('0'))).toBeUndefined();
  });

  it('refuses results beyond the size bound instead of computing them', () => {
    expect(r('2').pow(r(String(RATIONAL_MAX_BITS - 1)))).toBeDefined();
    expect(r('2').pow(r(String(10 ** 9)))).toBeUndefined();
    expect(r('10').pow(r('10000'))).toBeUndefined();
  });

  it('field laws hold on random fractions (property)', () => {
    const frac = fc
      .tuple(fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 1, max: 1000 }))
      .map(([n, d]) => Rational.of(BigInt(n), BigInt(d))!);
    fc.assert(
      fc.property(frac, frac, frac, (a, b, c) => {
        expect(a.add(b)!.equals(b.add(a)!)).toBe(true);
        expect(a.multiply(b.add(c)!)!.equals(a.multiply(b)!.add(a.multiply(c)!)!)).toBe(true);
        expect(a.subtract(b)!.add(b)!.equals(a)).toBe(true);
        if (b.numerator !== 0n) expect(a.divide(b)!.multiply(b)!.equals(a)).toBe(true);
      }),
    );
  });
});
