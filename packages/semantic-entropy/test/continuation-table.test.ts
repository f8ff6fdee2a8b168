import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ContinuationTable } from '../src/continuation-table.js';
import { leadingWords } from '../src/split-words.js';

/** What the table must hold: counts per (gram, canonical continuation), in insertion order. */
function reference(
  adds: readonly (readonly [number, string])[],
  n: number,
): [number, string, number][] {
  const out = new Map<string, [number, string, number]>();
  for (const [gram, text] of adds) {
    const key = leadingWords(text, 0, text.length, n);
    if (key === '') continue;
    const entry = out.get(`${gram}\u0000${key}`);
    if (entry) entry[2]++;
    else out.set(`${gram}\u0000${key}`, [gram, key, 1]);
  }
  return [...out.values()];
}

const word = fc.constantFrom('a', 'B', 'so', 'Then', '24', '=', ',', 'é', 'x1', 'WAIT', '.');
const text = fc
  .array(fc.tuple(word, fc.constantFrom(' ', '  ', '', '\n', ' ')), { maxLength: 6 })
  .map((parts) => parts.map(([w, s]) => w + s).join(''));

describe('ContinuationTable', () => {
  it('counts texts (arena keys) and string keys alike, through growth and rehashing', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(3), text), { maxLength: 400 }),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        (adds, n, reserve) => {
          const table = new ContinuationTable();
          if (reserve) table.reserve(adds.length);
          // Every other occurrence through the string path, as merge and fromJSON add them.
          adds.forEach(([gram, t], i) => {
            if (i % 2 === 0) table.addFromText(gram, t, 0, t.length, n);
            else {
              const key = leadingWords(t, 0, t.length, n);
              if (key !== '') table.add(gram, key, 1);
            }
          });
          const seen: [number, string, number][] = [];
          table.forEach((gram, key, count) => {
            seen.push([gram, key, count]);
          });
          expect(seen).toEqual(reference(adds, n));
          const counts: [number, number][] = [];
          table.forEachCount((gram, count) => {
            counts.push([gram, count]);
          });
          expect(counts).toEqual(seen.map(([gram, , count]) => [gram, count]));
          expect(table.size).toBe(seen.length);
        },
      ),
    );
  });
});
