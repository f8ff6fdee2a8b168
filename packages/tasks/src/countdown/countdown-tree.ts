import type { SeededGenerator } from '@hicra/tensor/kernels';
import {
  type CountdownExpression,
  type CountdownOperator,
  countdownNumber,
} from './countdown-expression.js';

/** A value with the expression that produced it, during tree construction. */
export interface TreeItem {
  readonly value: number;
  readonly expression: CountdownExpression;
}

const OPERATORS: readonly CountdownOperator[] = ['+', '-', '*', '/'];

/**
 * Combines two items with `operator` if the result is a positive integer no larger than
 * `maxValue` and the step is not an identity (`x * 1`, `x / 1`). `-` and `/` put the larger
 * value first; `+` and `*` keep the given order.
 */
export function combine(
  a: TreeItem,
  b: TreeItem,
  operator: CountdownOperator,
  maxValue: number,
): TreeItem | undefined {
  const [big, small] = a.value >= b.value ? [a, b] : [b, a];
  let value: number;
  let left = a;
  let right = b;
  switch (operator) {
    case '+':
      value = a.value + b.value;
      break;
    case '*':
      if (a.value === 1 || b.value === 1) return undefined;
      value = a.value * b.value;
      break;
    case '-':
      value = big.value - small.value;
      left = big;
      right = small;
      break;
    case '/':
      if (small.value === 1 || big.value % small.value !== 0) return undefined;
      value = big.value / small.value;
      left = big;
      right = small;
      break;
  }
  if (value < 1 || value > maxValue) return undefined;
  return {
    value,
    expression: { kind: 'operation', operator, left: left.expression, right: right.expression },
  };
}

/**
 * A random expression tree over `numbers` (all of them), combining random pairs with a random
 * valid operator, or `undefined` when it paints itself into a corner (the caller retries).
 */
export function randomTree(
  numbers: readonly number[],
  random: SeededGenerator,
  maxValue: number,
): TreeItem | undefined {
  const pool: TreeItem[] = numbers.map((value) => ({ value, expression: countdownNumber(value) }));
  while (pool.length > 1) {
    const i = random.nextInt(pool.length);
    let j = random.nextInt(pool.length - 1);
    if (j >= i) j++;
    const [a, b] = random.nextInt(2) === 0 ? [pool[i]!, pool[j]!] : [pool[j]!, pool[i]!];
    let combined: TreeItem | undefined;
    for (const operator of random.shuffle([...OPERATORS])) {
      combined = combine(a, b, operator, maxValue);
      if (combined) break;
    }
    if (!combined) return undefined;
    const [first, second] = i > j ? [i, j] : [j, i];
    pool.splice(first, 1);
    pool.splice(second, 1);
    pool.push(combined);
  }
  return pool[0];
}

/** Every tree over exactly `numbers` whose steps are valid (depth-first, lazily). */
export function* allTrees(numbers: readonly number[], maxValue: number): Generator<TreeItem> {
  const walk = function* (pool: TreeItem[]): Generator<TreeItem> {
    if (pool.length === 1) {
      yield pool[0]!;
      return;
    }
    for (let i = 0; i < pool.length; i++) {
      for (let j = 0; j < pool.length; j++) {
        if (i === j) continue;
        const rest = pool.filter((_, k) => k !== i && k !== j);
        for (const operator of OPERATORS) {
          // + and * are symmetric: visit each unordered pair once.
          if ((operator === '+' || operator === '*') && j < i) continue;
          if ((operator === '-' || operator === '/') && pool[i]!.value < pool[j]!.value) continue;
          const combined = combine(pool[i]!, pool[j]!, operator, maxValue);
          if (combined) yield* walk([...rest, combined]);
        }
      }
    }
  };
  yield* walk(numbers.map((value) => ({ value, expression: countdownNumber(value) })));
}
