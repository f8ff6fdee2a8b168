import { type CountdownExpression, countdownNumber } from './countdown-expression.js';

/** Constraints of the search, as in the classic game: every intermediate value is a positive integer. */
export interface CountdownSolverOptions {
  /** Every number used exactly once (default true) or each at most once. */
  readonly useAllNumbers?: boolean;
  /** Largest intermediate value allowed (default: unbounded). */
  readonly maxValue?: number;
}

interface Item {
  readonly value: number;
  readonly expression: CountdownExpression;
}

/**
 * Finds one way to reach `target` from `numbers` with `+ - * /` where every intermediate value
 * is a positive integer no larger than `maxValue`, or returns `undefined` when there is none.
 * Exhaustive depth-first search over pairs, with visited pools memoised; fine up to 6 numbers.
 */
export function solveCountdown(
  numbers: readonly number[],
  target: number,
  options: CountdownSolverOptions = {},
): CountdownExpression | undefined {
  const useAll = options.useAllNumbers ?? true;
  const maxValue = options.maxValue ?? Number.POSITIVE_INFINITY;
  const visited = new Set<string>();

  const search = (pool: Item[]): CountdownExpression | undefined => {
    if (!useAll || pool.length === 1) {
      const hit = pool.find((item) => item.value === target);
      if (hit) return hit.expression;
    }
    if (pool.length < 2) return undefined;
    const key = pool
      .map((item) => item.value)
      .sort((a, b) => a - b)
      .join(',');
    if (visited.has(key)) return undefined;
    visited.add(key);
    for (let i = 0; i < pool.length; i++) {
      for (let j = i + 1; j < pool.length; j++) {
        const a = pool[i]!;
        const b = pool[j]!;
        const rest = pool.filter((_, k) => k !== i && k !== j);
        const [big, small] = a.value >= b.value ? [a, b] : [b, a];
        const candidates: Item[] = [
          {
            value: a.value + b.value,
            expression: {
              kind: 'operation',
              operator: '+',
              left: a.expression,
              right: b.expression,
            },
          },
          {
            value: a.value * b.value,
            expression: {
              kind: 'operation',
              operator: '*',
              left: a.expression,
              right: b.expression,
            },
          },
        ];
        if (big.value > small.value)
          candidates.push({
            value: big.value - small.value,
            expression: {
              kind: 'operation',
              operator: '-',
              left: big.expression,
              right: small.expression,
            },
          });
        if (big.value % small.value === 0)
          candidates.push({
            value: big.value / small.value,
            expression: {
              kind: 'operation',
              operator: '/',
              left: big.expression,
              right: small.expression,
            },
          });
        for (const candidate of candidates) {
          if (candidate.value > maxValue) continue;
          const found = search([...rest, candidate]);
          if (found) return found;
        }
      }
    }
    return undefined;
  };

  return search(numbers.map((value) => ({ value, expression: countdownNumber(value) })));
}
