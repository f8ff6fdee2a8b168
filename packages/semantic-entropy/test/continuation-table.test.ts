import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ContinuationTable } from '../src/continuation-table.js';
import { CountLogCountSum, sumCountLogCount } from '../src/entropy-from-counts.js';
import { leadingWords } from '../src/split-words.js';

/** One step of a table's life: a batch of texts (staged, then committed) or string keys added one by one. */
type Step =
  | { readonly kind: 'batch'; readonly items: readonly (readonly [number, string])[] }
  | { readonly kind: 'add'; readonly items: readonly (readonly [number, string, number])[] };

/**
 * What the table must hold: counts per (gram, canonical continuation), in the order the keys
 * first occurred. `add` counts at once; a batch's occurrences count, in text order, at its commit.
 */
function reference(steps: readonly Step[], n: number): [number, string, number][] {
  const out = new Map<string, [number, string, number]>();
  const count = (gram: number, key: string, times: number) => {
    const entry = out.get(`${gram}\u0000${key}`);
    if (entry) entry[2] += times;
    else out.set(`${gram}\u0000${key}`, [gram, key, times]);
  };
  for (const step of steps) {
    if (step.kind === 'add') for (const [gram, key, times] of step.items) count(gram, key, times);
    else {
      for (const [gram, text] of step.items) {
        const key = leadingWords(text, 0, text.length, n);
        if (key !== '') count(gram, key, 1);
      }
    }
  }
  return [...out.values()];
}

function run(steps: readonly Step[], n: number, reserve: number): ContinuationTable {
  const table = new ContinuationTable();
  if (reserve > 0) table.reserve(reserve);
  for (const step of steps) {
    if (step.kind === 'add')
      for (const [gram, key, times] of step.items) table.add(gram, key, times);
    else {
      table.beginBatch(step.items.length);
      for (const [gram, text] of step.items) {
        const staged = table.stage(gram, text, 0, text.length, n);
        expect(staged).toBe(leadingWords(text, 0, text.length, n) !== '');
      }
      table.commitBatch();
    }
  }
  return table;
}

function contents(table: ContinuationTable): [number, string, number][] {
  const seen: [number, string, number][] = [];
  table.forEach((gram, key, count) => {
    seen.push([gram, key, count]);
  });
  return seen;
}

// Two continuations whose FNV-1a hashes are equal (found by search): a full hash collision.
const COLLIDING = ['w673879 = x', 'w1180600 = x'] as const;

const word = fc.constantFrom(
  'a',
  'B',
  'so',
  'Then',
  '24',
  '=',
  ',',
  'é',
  'x1',
  'WAIT',
  '.',
  '\u{1d400}',
  'ab\u0301c',
  COLLIDING[0],
  COLLIDING[1],
);
const space = fc.constantFrom(' ', '  ', '', '\n', ' ', '\t', '\u00a0');
const text = fc
  .array(fc.tuple(word, space), { maxLength: 6 })
  .map((parts) => parts.map(([w, s]) => w + s).join(''));
const canonicalKey = fc
  .array(word, { minLength: 1, maxLength: 3 })
  .map((words) => leadingWords(words.join(' '), 0, words.join(' ').length, 3))
  .filter((key) => key !== '');
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('batch' as const),
    items: fc.array(fc.tuple(fc.nat(3), text), { maxLength: 300 }),
  }),
  fc.record({
    kind: fc.constant('add' as const),
    items: fc.array(fc.tuple(fc.nat(3), canonicalKey, fc.integer({ min: 1, max: 3 })), {
      maxLength: 50,
    }),
  }),
);

describe('ContinuationTable', () => {
  it('counts batches of texts and string keys alike, through growth, rehashing and repeats', () => {
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.constantFrom(0, 10, 5000),
        (steps, n, reserve) => {
          const table = run(steps, n, reserve);
          const seen = contents(table);
          expect(seen).toEqual(reference(steps, n));
          const counts: [number, number][] = [];
          table.forEachCount((gram, count) => {
            counts.push([gram, count]);
          });
          // forEachCount visits the same pairs, in no particular order.
          const byPair = (a: [number, number], b: [number, number]) => a[0] - b[0] || a[1] - b[1];
          expect(counts.sort(byPair)).toEqual(
            seen.map(([gram, , count]): [number, number] => [gram, count]).sort(byPair),
          );
          expect(table.size).toBe(seen.length);
          expect(table.total).toBe(seen.reduce((sum, [, , count]) => sum + count, 0));
          // sumCounts: the same counts, by gram.
          const perGram = new Float64Array(4);
          const joint = new CountLogCountSum();
          table.sumCounts(joint, perGram);
          const expectedPerGram = new Float64Array(4);
          for (const [gram, , count] of seen) expectedPerGram[gram]! += count;
          expect(perGram).toEqual(expectedPerGram);
          expect(joint.value).toBe(sumCountLogCount(seen.map(([, , count]) => count)));
        },
      ),
    );
  });

  it('keeps keys with equal hashes apart, in a batch and across batches', () => {
    const [a, b] = COLLIDING;
    // n = 3: "b y" continues with b too.
    const texts = [a, b, a, `${b} y`, b, a.toUpperCase()];
    const steps: Step[] = [
      { kind: 'batch', items: texts.map((t) => [0, t] as const) },
      { kind: 'add', items: [[0, b, 5]] },
      { kind: 'batch', items: texts.map((t) => [0, t] as const) },
    ];
    const table = run(steps, 3, 0);
    expect(contents(table)).toEqual([
      [0, a, 6],
      [0, b, 11],
    ]);
  });

  it('counts thousands of keys in one batch, and very long words, and empty texts', () => {
    const long = 'x'.repeat(100_000);
    const items: [number, string][] = [];
    for (let i = 0; i < 20_000; i++) items.push([i % 7, `w${i % 5000} = ${i % 3}`]);
    items.push([0, ''], [0, '   '], [1, long], [1, `${long.toUpperCase()} !`]);
    const steps: Step[] = [
      { kind: 'batch', items },
      { kind: 'batch', items },
    ];
    const table = run(steps, 3, 0);
    expect(contents(table)).toEqual(reference(steps, 3));
  });

  it('reclaims the arena space of repeated keys', () => {
    const items: [number, string][] = Array.from({ length: 2000 }, (_, i) => [0, `k${i % 10}`]);
    const table = run(
      Array.from({ length: 50 }, (): Step => ({ kind: 'batch', items })),
      3,
      0,
    );
    expect(contents(table)).toEqual(Array.from({ length: 10 }, (_, i) => [0, `k${i}`, 10_000]));
  });

  it('leaves the table as it was when a batch is begun again before its commit', () => {
    const table = run([{ kind: 'batch', items: [[0, 'a b']] }], 3, 0);
    table.beginBatch(1);
    table.stage(0, 'c d', 0, 3, 3);
    table.beginBatch(1);
    table.stage(1, 'e', 0, 1, 3);
    table.commitBatch();
    expect(contents(table)).toEqual([
      [0, 'a b', 1],
      [1, 'e', 1],
    ]);
    expect(() => table.commitBatch()).toThrow(/no batch begun/);
  });
});
