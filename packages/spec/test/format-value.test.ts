import { describe, expect, it } from 'vitest';
import * as spec from '../src/index.js';
import { describeValue, formatValue } from '../src/index.js';

describe('formatValue', () => {
  it('prints non-finite numbers as such, at any depth (JSON.stringify prints null)', () => {
    expect(formatValue(Number.NaN)).toBe('NaN');
    expect(formatValue(Number.POSITIVE_INFINITY)).toBe('Infinity');
    expect(formatValue(Number.NEGATIVE_INFINITY)).toBe('-Infinity');
    expect(formatValue([1, Number.NaN, Number.NEGATIVE_INFINITY])).toBe('[1,NaN,-Infinity]');
    expect(formatValue({ reward: Number.POSITIVE_INFINITY, text: 'a' })).toBe(
      '{"reward":Infinity,"text":"a"}',
    );
  });

  it('prints finite values exactly as JSON and names what JSON cannot print', () => {
    for (const value of [0, -1.5, 1e-6, 'x "y"', true, null, [1, 2], { a: [3] }])
      expect(formatValue(value)).toBe(JSON.stringify(value));
    expect(formatValue(undefined)).toBe('undefined');
    expect(formatValue(12n)).toBe('12n');
    expect(formatValue(new Float32Array(3))).toBe('Float32Array(3)');
    expect(formatValue(() => 1)).toBe('a function');
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(formatValue(cycle)).toBe('Object');
  });
});

describe('describeValue', () => {
  it("names a value's type, with the length of arrays and the value of numbers", () => {
    expect(describeValue(null)).toBe('null');
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue(new Float64Array(12))).toBe('Float64Array(12)');
    expect(describeValue(new DataView(new ArrayBuffer(5)))).toBe('DataView(5)');
    expect(describeValue([1, 2, 3])).toBe('Array(3)');
    expect(describeValue(-1.5)).toBe('number -1.5');
    expect(describeValue(new Map())).toBe('Map');
    expect(describeValue({ a: 1 })).toBe('Object');
    expect(describeValue(Object.create(null))).toBe('object');
    expect(describeValue('a long string')).toBe('string');
    expect(describeValue(() => 1)).toBe('function');
    expect(describeValue(3n)).toBe('bigint');
  });

  it('prints typed arrays and numbers as formatValue does (NaN, Infinity)', () => {
    for (const value of [new Int32Array(4), new Uint8Array(0)])
      expect(describeValue(value)).toBe(formatValue(value));
    for (const value of [0, 7, Number.NaN, Number.NEGATIVE_INFINITY])
      expect(describeValue(value)).toBe(`number ${formatValue(value)}`);
  });

  it('is still exported as the deprecated describe, the same function', () => {
    expect(spec.describe).toBe(describeValue);
  });
});
