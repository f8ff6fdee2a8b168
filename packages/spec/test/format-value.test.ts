import { describe, expect, it } from 'vitest';
import { formatValue } from '../src/index.js';

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
