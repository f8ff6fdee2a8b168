import type { PlanningMatchV1 } from '@hicra/spec';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createStrategicGramsClassifier, normalizePhrase, normalizeText } from '../src/index.js';
import { NormalizationBuffers, normalizeInto } from '../src/normalize-text.js';
import { OccurrenceBuffer, PhraseAutomaton } from '../src/phrase-automaton.js';
import { batchOf, charTokenizer, type SpanTokenizer, wordTokenizer } from './helpers.js';

const isWord = (ch: string | undefined) => ch !== undefined && /[\p{L}\p{N}\p{M}]/u.test(ch);

/** The matching rule written the slow, obvious way: every phrase at every position. */
function naiveOccurrences(text: string, phrases: readonly string[]): [number, number, number][] {
  const { text: norm, starts, ends } = normalizeText(text);
  const out: [number, number, number][] = [];
  phrases.forEach((raw, gramId) => {
    const p = normalizePhrase(raw);
    for (let at = norm.indexOf(p); at >= 0; at = norm.indexOf(p, at + 1)) {
      const end = at + p.length;
      if (isWord(p[0]) && isWord(norm[at - 1])) continue;
      if (isWord(p[p.length - 1]) && isWord(norm[end])) continue;
      out.push([starts[at]!, ends[end - 1]!, gramId]);
    }
  });
  return out.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
}

/** Longest-then-leftmost non-overlapping selection, the slow way. */
function naiveMatches(occurrences: [number, number, number][], phrases: readonly string[]) {
  const lengths = phrases.map((p) => normalizePhrase(p).length);
  const byPriority = [...occurrences].sort(
    (a, b) => lengths[b[2]]! - lengths[a[2]]! || a[0] - b[0],
  );
  const kept: [number, number, number][] = [];
  for (const o of byPriority) if (kept.every((k) => o[1] <= k[0] || k[1] <= o[0])) kept.push(o);
  return kept.sort((a, b) => a[0] - b[0]);
}

const pieces = [
  'wait',
  'Wait',
  'WAIT',
  'but',
  'butter',
  'but wait',
  'no',
  ',',
  '.',
  ' ',
  '  ',
  '\n',
  'let me',
  'check',
  "let's",
  'let’s',
  'hmm,',
  'Hmm',
  '?',
  'is it',
  'ﬁne',
  'e\u0301',
  'é',
  '#',
  'x',
  '42',
];
const textArbitrary = fc
  .array(fc.constantFrom(...pieces), { maxLength: 40 })
  .map((p) => p.join(''));
const phraseArbitrary = fc.constantFrom(
  'wait',
  'but',
  'but wait',
  'wait, no',
  'let me check',
  "let's",
  'hmm,',
  'is it?',
  'fine',
  'é',
  '# x',
  'no',
  'it',
  'e',
  't, n',
);
const lexiconArbitrary = fc.uniqueArray(phraseArbitrary, { minLength: 1, maxLength: 8 });

const triplets = (ms: readonly PlanningMatchV1[]) => ms.map((m) => [m.start, m.end, m.gramId]);

describe('the automaton agrees with the naive matcher', () => {
  it('same occurrences and same counting matches on random texts and lexicons', () => {
    fc.assert(
      fc.property(textArbitrary, lexiconArbitrary, (text, phrases) => {
        const c = createStrategicGramsClassifier({ lexicon: phrases });
        const expected = naiveOccurrences(text, phrases);
        expect(triplets(c.findOccurrences(text))).toEqual(expected);
        expect(triplets(c.findMatches(text))).toEqual(naiveMatches(expected, phrases));
      }),
      { numRuns: 400 },
    );
  });

  it('dense and sparse transition tables find the same occurrences', () => {
    fc.assert(
      fc.property(textArbitrary, lexiconArbitrary, (text, phrases) => {
        const normalized = phrases.map(normalizePhrase);
        const dense = new PhraseAutomaton(normalized);
        const sparse = new PhraseAutomaton(normalized, { maxDenseEntries: 0 });
        expect(dense.dense).toBe(true);
        expect(sparse.dense).toBe(false);
        const buffers = new NormalizationBuffers();
        const n = normalizeInto(text, buffers);
        const a = new OccurrenceBuffer();
        const b = new OccurrenceBuffer();
        expect(sparse.scan(buffers.units, n, b)).toBe(dense.scan(buffers.units, n, a));
        expect(Array.from(b.data.subarray(0, 3 * b.count))).toEqual(
          Array.from(a.data.subarray(0, 3 * a.count)),
        );
      }),
      { numRuns: 300 },
    );
  });
});

const asciiPieces = pieces
  .filter((p) => [...p].every((ch) => ch.charCodeAt(0) < 128))
  .concat(['\t', '\r\n', ' \n ']);
const asciiTextArbitrary = fc
  .array(fc.constantFrom(...asciiPieces), { maxLength: 60 })
  .map((p) => p.join(''));

describe('the ASCII fast path', () => {
  it('finds what the normalising path finds, whitespace runs included', () => {
    fc.assert(
      fc.property(asciiTextArbitrary, lexiconArbitrary, (text, phrases) => {
        const automaton = new PhraseAutomaton(phrases.map(normalizePhrase));
        const fast = new OccurrenceBuffer();
        const count = automaton.scanAscii(text, fast);
        expect(count).toBe(fast.count);
        const buffers = new NormalizationBuffers();
        const n = normalizeInto(text, buffers);
        const slow = new OccurrenceBuffer();
        automaton.scan(buffers.units, n, slow);
        const slowTriplets: number[] = [];
        for (let q = 0; q < slow.count; q++) {
          slowTriplets.push(
            buffers.starts[slow.data[3 * q]!]!,
            buffers.ends[slow.data[3 * q + 1]! - 1]!,
            slow.data[3 * q + 2]!,
          );
        }
        expect(Array.from(fast.data.subarray(0, 3 * count))).toEqual(slowTriplets);
      }),
      { numRuns: 400 },
    );
  });

  it('hands non-ASCII text to the normalising path (-1), even when only the next character is', () => {
    const automaton = new PhraseAutomaton(['wait']);
    const out = new OccurrenceBuffer();
    expect(automaton.scanAscii('wait, ok', out)).toBe(1);
    expect(automaton.scanAscii('ok wait́', out)).toBe(-1);
    expect(automaton.scanAscii('café', out)).toBe(-1);
    expect(new PhraseAutomaton(['wait'], { maxDenseEntries: 0 }).scanAscii('wait', out)).toBe(-1);
  });

  it('the classifier agrees with the naive matcher on ASCII texts and on long repetitive ones', () => {
    const repetitive = fc
      .tuple(
        fc.array(fc.constantFrom('but wait, ', 'but ', 'wait, no ', 'wait, but '), {
          minLength: 10,
          maxLength: 60,
        }),
        fc.constantFrom('', 'x', 'no.'),
      )
      .map(([parts, tail]) => parts.join('') + tail);
    fc.assert(
      fc.property(fc.oneof(asciiTextArbitrary, repetitive), lexiconArbitrary, (text, phrases) => {
        const all = [...new Set([...phrases, 'wait, but', 'but wait'])];
        const c = createStrategicGramsClassifier({ lexicon: all });
        const expected = naiveOccurrences(text, all);
        expect(triplets(c.findOccurrences(text))).toEqual(expected);
        expect(triplets(c.findMatches(text))).toEqual(naiveMatches(expected, all));
      }),
      { numRuns: 300 },
    );
  });
});

describe('mask and matches', () => {
  it('the mask is a subset of the response mask and a superset of the tokens the matches cover; every planning token overlaps an occurrence', () => {
    const tokenizers: SpanTokenizer[] = [wordTokenizer, charTokenizer];
    fc.assert(
      fc.property(
        fc.array(textArbitrary, { minLength: 1, maxLength: 4 }),
        lexiconArbitrary,
        fc.constantFrom(0, 1),
        fc.array(fc.boolean(), { maxLength: 200 }),
        (texts, phrases, which, holes) => {
          const c = createStrategicGramsClassifier({ lexicon: phrases });
          const base = batchOf(texts, tokenizers[which]!);
          // Punch holes into the response mask (masked tool output, say).
          const responseMask = Uint8Array.from(base.responseMask, (m, k) => (holes[k] ? 0 : m));
          const input = { ...base, responseMask };
          const result = c.classify(input);
          for (let i = 0; i < input.batchSize; i++) {
            const occurrences = c.findOccurrences(texts[i]!);
            const matches = result.matches[i]!;
            expect(triplets(matches)).toEqual(triplets(c.findMatches(texts[i]!)));
            for (let t = 0; t < input.seqLen; t++) {
              const k = i * input.seqLen + t;
              const s = input.tokenSpans[2 * k]!;
              const e = input.tokenSpans[2 * k + 1]!;
              const overlaps = (m: PlanningMatchV1) => s < e && m.start < e && s < m.end;
              if (responseMask[k] === 0) {
                expect(result.mask[k]).toBe(0);
                continue;
              }
              if (matches.some(overlaps)) expect(result.mask[k]).toBe(1);
              expect(result.mask[k]).toBe(occurrences.some(overlaps) ? 1 : 0);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('the same text under a character tokenizer and a word tokenizer yields the same character spans', () => {
    fc.assert(
      fc.property(textArbitrary, lexiconArbitrary, (text, phrases) => {
        const c = createStrategicGramsClassifier({ lexicon: phrases });
        const byChar = c.classify(batchOf([text], charTokenizer));
        const byWord = c.classify(batchOf([text], wordTokenizer));
        expect(byWord.matches).toEqual(byChar.matches);
        // Characters marked by the character tokenizer = characters of occurrences; every word
        // token containing one is planning, and every planning word token contains one.
        const words = wordTokenizer(text);
        words.forEach(([s, e], t) => {
          let hasPlanningChar = false;
          for (let x = s; x < e; x++) if (byChar.mask[x] === 1) hasPlanningChar = true;
          expect(byWord.mask[t]).toBe(hasPlanningChar ? 1 : 0);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('match offsets point at original text that normalises to the phrase', () => {
    fc.assert(
      fc.property(textArbitrary, lexiconArbitrary, (text, phrases) => {
        const c = createStrategicGramsClassifier({ lexicon: phrases });
        for (const m of c.findOccurrences(text)) {
          expect(normalizePhrase(text.slice(m.start, m.end))).toBe(normalizePhrase(m.gram));
        }
      }),
      { numRuns: 300 },
    );
  });
});
