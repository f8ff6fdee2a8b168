import { ErrorCode, type PlanningInputV1, type PlanningResultV1 } from '@hicra/spec';
import { expectHicraError } from '@hicra/spec/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createPlaceboNgramsClassifier,
  createPlanningClassifier,
  createStrategicGramsClassifier,
  normalizePhrase,
  placeboNgrams,
  strategicGrams,
} from '../src/index.js';
import {
  batchOf,
  charTokenizer,
  maskOf,
  type SpanTokenizer,
  single,
  whitespaceTokenizer,
  wordTokenizer,
} from './helpers.js';

/** A long synthetic response mixing planning phrases and filler (the earlier placebo tests). */
function response(seed: number): string {
  const phrases = ['but wait', 'let me check', 'alternatively', 'we can', 'hmm, maybe', 'so'];
  const filler = 'the sum of x and y is equal to twelve over three minus one'.split(' ');
  const words: string[] = [];
  let s = seed;
  for (let w = 0; w < 200; w++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    words.push(s % 7 === 0 ? phrases[s % phrases.length]! : filler[s % filler.length]!);
  }
  return words.join(' ');
}

/**
 * A Countdown-like trace: arithmetic steps on their own lines, most opened by a one-word
 * planning phrase ("maybe", "next", "so", "wait", "alternatively", "let's check"), dead ends,
 * and a final `Answer:` line, as the built-in task writes them.
 */
function countdownTrace(seed: number): string {
  const open = ['maybe', 'perhaps', 'what if we try', "let's check"];
  const next = ['next', 'now', 'so', ''];
  const deadEnd = ['wait', 'but wait', 'hold on', "that can't be right"];
  const retry = ['alternatively', 'another approach', "let's check"];
  let s = seed + 17;
  const pick = <T>(list: readonly T[]): T => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return list[Math.floor(s / 65536) % list.length]!;
  };
  const step = () => {
    const a = Number(pick([2, 3, 4, 6, 7, 8, 9, 12, 25, 50]));
    const b = Number(pick([1, 2, 3, 5, 8, 10]));
    const op = pick(['+', '-', '*']);
    const value = op === '+' ? a + b : op === '-' ? a - b : a * b;
    return `${a} ${op} ${b} = ${value}`;
  };
  const lines: string[] = [];
  const attempts = 1 + Number(pick([0, 1, 1, 2]));
  for (let attempt = 0; attempt < attempts; attempt++) {
    lines.push(`${attempt === 0 ? pick(open) : pick(retry)} ${step()}`);
    const steps = Number(pick([1, 2, 3]));
    for (let k = 0; k < steps; k++) lines.push(`${pick(next)} ${step()}`.trim());
    if (attempt + 1 < attempts) lines.push(pick(deadEnd));
  }
  lines.push(`Answer: ${step().split(' =')[0]}`);
  return lines.join('\n');
}

const rows = (input: PlanningInputV1) => Array.from({ length: input.batchSize }, (_, i) => i);

function countRow(result: PlanningResultV1, input: PlanningInputV1, row: number): number {
  let n = 0;
  for (let t = 0; t < input.seqLen; t++) n += result.mask[row * input.seqLen + t]!;
  return n;
}

/** Valid tokens with a non-empty span that overlap `[start, end)`: the SG mask's rule. */
function tokensOf(input: PlanningInputV1, row: number, start: number, end: number): number[] {
  const out: number[] = [];
  for (let t = 0; t < input.seqLen; t++) {
    const k = row * input.seqLen + t;
    const s = input.tokenSpans[2 * k]!;
    const e = input.tokenSpans[2 * k + 1]!;
    const valid = input.responseMask ? input.responseMask[k] === 1 : !(s === -1 && e === -1);
    if (valid && s < e && s < end && start < e) out.push(t);
  }
  return out;
}

const sgLengths = (input: PlanningInputV1, sg: PlanningResultV1, row: number) =>
  sg.matches[row]!.map((m) => tokensOf(input, row, m.start, m.end).length).filter((n) => n > 0);

/**
 * Checks the placebo's invariants on one response: its matches are disjoint, in order, carry
 * gramId -1 and the normalised covered text; the mask is exactly the tokens they overlap;
 * and it returns the span lengths in tokens.
 */
function checkRow(input: PlanningInputV1, placebo: PlanningResultV1, row: number): number[] {
  const text = input.texts[row]!;
  const matches = placebo.matches[row]!;
  const lengths: number[] = [];
  const seen = new Set<number>();
  matches.forEach((m, j) => {
    if (j > 0) expect(m.start).toBeGreaterThanOrEqual(matches[j - 1]!.end);
    expect(m.gramId).toBe(-1);
    expect(m.gram).toBe(normalizePhrase(text.slice(m.start, m.end)));
    const tokens = tokensOf(input, row, m.start, m.end);
    for (const t of tokens) {
      expect(seen.has(t)).toBe(false);
      seen.add(t);
    }
    lengths.push(tokens.length);
  });
  for (let t = 0; t < input.seqLen; t++)
    expect(placebo.mask[row * input.seqLen + t]).toBe(seen.has(t) ? 1 : 0);
  return lengths;
}

const sorted = (values: readonly number[]) => [...values].sort((a, b) => a - b);

/** Every span length is an SG match length, except at most one, which is shorter than one. */
function expectLengthsFromSg(lengths: readonly number[], sgLengths: readonly number[]): void {
  const odd = lengths.filter((l) => !sgLengths.includes(l));
  expect(odd.length).toBeLessThanOrEqual(1);
  for (const l of odd) expect(l).toBeLessThan(Math.max(...sgLengths));
}

const batches: [string, ReturnType<typeof batchOf>][] = [
  [
    'synthetic, whitespace tokens',
    batchOf(
      Array.from({ length: 12 }, (_, i) => response(i + 1)),
      whitespaceTokenizer,
    ),
  ],
  [
    'synthetic, word tokens',
    batchOf(
      Array.from({ length: 12 }, (_, i) => response(i + 40)),
      wordTokenizer,
    ),
  ],
  [
    'Countdown traces, word tokens',
    batchOf(
      Array.from({ length: 64 }, (_, i) => countdownTrace(i)),
      wordTokenizer,
    ),
  ],
  [
    'Countdown traces, character tokens',
    batchOf(
      Array.from({ length: 16 }, (_, i) => countdownTrace(i + 100)),
      charTokenizer,
    ),
  ],
];

describe('placebo: token coverage', () => {
  it.each(batches)(
    '%s: marks exactly as many tokens as the Strategic-Gram classifier in every response',
    (_, input) => {
      const sg = strategicGrams.classify(input);
      for (const seed of [0, 1, 7]) {
        for (const step of [0, 1, 2, 1000]) {
          const placebo = createPlaceboNgramsClassifier({ seed }).classify({ ...input, step });
          for (const i of rows(input))
            expect(countRow(placebo, input, i)).toBe(countRow(sg, input, i));
        }
      }
    },
  );

  it.each(batches)(
    '%s: spans are disjoint, cover exactly the marked tokens, and take the SG matches’ lengths',
    (_, input) => {
      const sg = strategicGrams.classify(input);
      let sameMultiset = 0;
      for (const step of [0, 3, 9]) {
        const placebo = placeboNgrams.classify({ ...input, step });
        for (const i of rows(input)) {
          const lengths = checkRow(input, placebo, i);
          const reference = sgLengths(input, sg, i);
          expectLengthsFromSg(lengths, reference);
          // When the SG matches mark disjoint tokens and nothing else, the placebo's spans
          // are the SG spans' lengths exactly, one each.
          if (reference.reduce((a, b) => a + b, 0) === countRow(sg, input, i)) {
            expect(sorted(lengths)).toEqual(sorted(reference));
            sameMultiset++;
          }
        }
      }
      expect(sameMultiset).toBeGreaterThan(0);
    },
  );

  it('Countdown traces: most SG matches are one word, and so are most placebo spans', () => {
    const input = batches[2]![1];
    const sg = strategicGrams.classify(input);
    const placebo = placeboNgrams.classify({ ...input, step: 5 });
    const sgOne = rows(input)
      .flatMap((i) => sgLengths(input, sg, i))
      .filter((l) => l === 1).length;
    const all = rows(input).flatMap((i) => sgLengths(input, sg, i)).length;
    const placeboLengths = rows(input).flatMap((i) => checkRow(input, placebo, i));
    expect(sgOne / all).toBeGreaterThan(0.5);
    expect(placeboLengths.filter((l) => l === 1).length).toBe(sgOne);
    expect(placeboLengths).toHaveLength(all);
  });

  it('a response without Strategic-Gram tokens gets no placebo tokens; a one-token response gets that token', () => {
    const small = batchOf(['nothing to see here', 'Wait.', ''], whitespaceTokenizer);
    for (const step of [0, 1, 2]) {
      const placebo = placeboNgrams.classify({ ...small, step });
      expect(placebo.matches[0]).toEqual([]);
      expect(placebo.matches[1]).toEqual([{ start: 0, end: 5, gram: 'wait.', gramId: -1 }]);
      expect(placebo.matches[2]).toEqual([]);
      expect(maskOf(placebo, 0, small.seqLen)).toBe('0000');
      expect(maskOf(placebo, 1, small.seqLen)).toBe('1000');
    }
  });

  it('a response whose every token is a Strategic-Gram token is marked whole, one span per match', () => {
    const input = batchOf(['wait so maybe wait'], whitespaceTokenizer);
    const placebo = placeboNgrams.classify({ ...input, step: 4 });
    expect(maskOf(placebo)).toBe('1111');
    expect(placebo.matches[0]!.map((m) => m.gram)).toEqual(['wait', 'so', 'maybe', 'wait']);
  });

  it('SG matches that share a token: the count stays exact and the span is trimmed', () => {
    // One token "ab cd" holds both matches: SG marks 1 token, its matches are 1 token each.
    const c = createPlaceboNgramsClassifier({ lexicon: ['ab', 'cd'] });
    const input = single('ab cd and more words', [
      [0, 5],
      [6, 9],
      [10, 14],
      [15, 20],
    ]);
    expect(
      createStrategicGramsClassifier({ lexicon: ['ab', 'cd'] }).findMatches(input.texts[0]!),
    ).toHaveLength(2);
    for (let step = 0; step < 20; step++) {
      const placebo = c.classify({ ...input, step });
      expect(countRow(placebo, input, 0)).toBe(1);
      expect(checkRow(input, placebo, 0)).toEqual([1]);
    }
  });

  it('an SG mask larger than its matches (overlapping occurrences): extra spans from the same lengths, one trimmed', () => {
    // "but wait" and "wait a minute" overlap: the match is "wait a minute" (3 tokens), the
    // mask is 4 tokens, so the placebo draws 3 and then 3 trimmed to 1.
    const lexicon = ['but wait', 'wait a minute'];
    const input = batchOf(
      ['but wait a minute ok then x y z and some more words here'],
      whitespaceTokenizer,
    );
    const sg = createStrategicGramsClassifier({ lexicon }).classify(input);
    expect(countRow(sg, input, 0)).toBe(4);
    expect(sgLengths(input, sg, 0)).toEqual([3]);
    const c = createPlaceboNgramsClassifier({ lexicon });
    for (let step = 0; step < 20; step++) {
      const placebo = c.classify({ ...input, step });
      expect(countRow(placebo, input, 0)).toBe(4);
      expect(sorted(checkRow(input, placebo, 0))).toEqual([1, 3]);
    }
  });

  it('its counts follow the lexicon it is given', () => {
    const c = createPlaceboNgramsClassifier({ lexicon: ['twelve'] });
    const input = batchOf(['twelve and twelve and one'], whitespaceTokenizer);
    const result = c.classify(input);
    expect(countRow(result, input, 0)).toBe(2);
    expect(checkRow(input, result, 0)).toEqual([1, 1]);
  });
});

describe('placebo: a target that cannot be met exactly (tokens that share characters)', () => {
  // "𓀀" is one character split over three byte-level tokens that all carry its span
  // (decision 0041). A span marks all three or none, so a one-token target next to such
  // groups is met or missed by one: at most half the largest group, rounded down.
  const text = '𓀀 wait 𓀀';
  const input = single(text, [
    [0, 2],
    [0, 2],
    [0, 2],
    [2, 7],
    [8, 10],
    [8, 10],
    [8, 10],
  ]);

  it('stays within ⌊3 / 2⌋ = 1 token of the target, marks split characters whole, and keeps the mask consistent', () => {
    const counts = new Set<number>();
    for (let step = 0; step < 60; step++) {
      const placebo = placeboNgrams.classify({ ...input, step });
      const count = countRow(placebo, input, 0);
      counts.add(count);
      expect(Math.abs(count - 1)).toBeLessThanOrEqual(1);
      checkRow(input, placebo, 0);
      const m = maskOf(placebo);
      expect(['000', '111']).toContain(m.slice(0, 3));
      expect(['000', '111']).toContain(m.slice(4, 7));
    }
    // The one-token span is placed on a token. Inside the first "𓀀" it is carried to the
    // next whole token ("wait"); inside the last one nothing follows, so it is dropped.
    expect([...counts].sort()).toEqual([0, 1]);
  });
});

describe('placebo: positions change with the step, reproducibly', () => {
  const input = batches[2]![1];

  it('the same seed and step give the same result; no step is step 0', () => {
    const a = createPlaceboNgramsClassifier({ seed: 7 }).classify({ ...input, step: 12 });
    expect(createPlaceboNgramsClassifier({ seed: 7 }).classify({ ...input, step: 12 })).toEqual(a);
    expect(placeboNgrams.classify({ ...input, step: 0 })).toEqual(placeboNgrams.classify(input));
    expect(
      createPlaceboNgramsClassifier({ seed: 8 }).classify({ ...input, step: 12 }).mask,
    ).not.toEqual(a.mask);
  });

  it('over many steps every response takes many placements, none stuck on one span', () => {
    const sg = strategicGrams.classify(input);
    const steps = 60;
    const placements = rows(input).map(() => new Set<string>());
    const timesMarked = new Uint16Array(input.batchSize * input.seqLen);
    for (let step = 0; step < steps; step++) {
      const placebo = placeboNgrams.classify({ ...input, step });
      for (const i of rows(input)) placements[i]!.add(maskOf(placebo, i, input.seqLen));
      for (let k = 0; k < timesMarked.length; k++) timesMarked[k]! += placebo.mask[k]!;
    }
    for (const i of rows(input)) {
      const target = countRow(sg, input, i);
      if (target === 0) continue;
      const tokens = input.responseMask.subarray(i * input.seqLen, (i + 1) * input.seqLen);
      const n = tokens.reduce((a, b) => a + b, 0);
      // A one-token target has n placements; longer ones have many more.
      expect(placements[i]!.size).toBeGreaterThanOrEqual(Math.min(steps * 0.75, n * 0.8));
      // No token is stuck: each is marked about target / n of the time (the `Answer:` line
      // used to be marked at every step).
      for (let t = 0; t < input.seqLen; t++)
        expect(timesMarked[i * input.seqLen + t]).toBeLessThan(steps * (target / n + 0.35));
    }
  });

  it('responses of the same length and SG count get different spans in one call', () => {
    const same = batchOf(
      Array.from({ length: 6 }, () => countdownTrace(3)),
      wordTokenizer,
    );
    const placebo = placeboNgrams.classify({ ...same, step: 2 });
    const masks = new Set(rows(same).map((i) => maskOf(placebo, i, same.seqLen)));
    expect(masks.size).toBe(6);
  });

  it('lands on Strategic-Gram tokens at chance rate across steps', () => {
    // Placement ignores where the phrases are, so the share of placebo tokens that are SG
    // tokens matches the share of SG tokens among all tokens.
    const synthetic = batches[0]![1];
    const sg = strategicGrams.classify(synthetic);
    let sgTokens = 0;
    let tokens = 0;
    for (let k = 0; k < sg.mask.length; k++) {
      tokens += synthetic.responseMask[k]!;
      sgTokens += sg.mask[k]!;
    }
    const chance = sgTokens / tokens;
    let placeboTokens = 0;
    let placeboOnSg = 0;
    for (let step = 0; step < 40; step++) {
      const placebo = placeboNgrams.classify({ ...synthetic, step });
      for (let k = 0; k < placebo.mask.length; k++) {
        placeboTokens += placebo.mask[k]!;
        placeboOnSg += placebo.mask[k]! & sg.mask[k]!;
      }
    }
    expect(chance).toBeGreaterThan(0.1);
    expect(Math.abs(placeboOnSg / placeboTokens - chance)).toBeLessThan(0.03);
  });
});

const pieces = [
  'wait',
  'Wait,',
  'alternatively',
  "let's check",
  'but wait',
  'so',
  'maybe',
  'hmm,',
  '3 * 8 = 24',
  '\n',
  'Answer:',
  'the',
  'x',
  '42',
  '.',
];
const textArbitrary = fc
  .array(fc.constantFrom(...pieces), { maxLength: 40 })
  .map((p) => p.join(' '));
const tokenizers: Record<string, SpanTokenizer> = {
  word: wordTokenizer,
  whitespace: whitespaceTokenizer,
  char: charTokenizer,
};

describe('placebo: properties', () => {
  it('exact token count, disjoint spans with SG lengths, a consistent mask, reproducible', () => {
    fc.assert(
      fc.property(
        fc.array(textArbitrary, { minLength: 1, maxLength: 4 }),
        fc.constantFrom('word', 'whitespace', 'char'),
        fc.nat({ max: 1000 }),
        fc.nat({ max: 2 ** 40 }),
        (texts, tokenizer, seed, step) => {
          const input = { ...batchOf(texts, tokenizers[tokenizer]), step };
          const sg = strategicGrams.classify(input);
          const c = createPlaceboNgramsClassifier({ seed });
          const placebo = c.classify(input);
          for (const i of rows(input)) {
            expect(countRow(placebo, input, i)).toBe(countRow(sg, input, i));
            expectLengthsFromSg(checkRow(input, placebo, i), sgLengths(input, sg, i));
          }
          expect(c.classify(input)).toEqual(placebo);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('with tokens that share characters: within half the largest shared group of the target', () => {
    // Splits random word tokens into several tokens that carry the same span.
    const split =
      (copies: readonly number[]): SpanTokenizer =>
      (text) =>
        wordTokenizer(text).flatMap((span, t) =>
          Array.from({ length: copies[t % copies.length]! }, () => span),
        );
    fc.assert(
      fc.property(
        textArbitrary,
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 7 }),
        fc.nat({ max: 10_000 }),
        (text, copies, step) => {
          const input = { ...batchOf([text], split(copies)), step };
          const sg = strategicGrams.classify(input);
          const placebo = placeboNgrams.classify(input);
          const target = countRow(sg, input, 0);
          const bound = target === 0 ? 0 : Math.floor(Math.max(...copies) / 2);
          expect(Math.abs(countRow(placebo, input, 0) - target)).toBeLessThanOrEqual(bound);
          checkRow(input, placebo, 0);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('placebo: settings', () => {
  const input = batches[0]![1];

  it('minN and maxN are deprecated: still accepted and checked, and ignored', () => {
    const c = createPlaceboNgramsClassifier({ minN: 1, maxN: 2 });
    expect([c.minN, c.maxN]).toEqual([1, 2]);
    expect(c.classify({ ...input, step: 3 })).toEqual(
      placeboNgrams.classify({ ...input, step: 3 }),
    );
    const fromConfig = createPlanningClassifier({
      name: 'placebo-ngrams',
      seed: 3,
      minN: 3,
      maxN: 5,
    });
    expect(fromConfig.seed).toBe(3);
  });

  it.each([
    [{ seed: -1 }, 'seed', 'a number >= 0'],
    [{ seed: 1.5 }, 'seed', 'an integer'],
    [{ minN: 0 }, 'minN', 'a number >= 1'],
    [{ minN: 4, maxN: 3 }, 'maxN', 'maxN (3) must be >= minN (4)'],
    [{ lexicon: [] }, 'grams', 'is empty'],
    [{ n: 3 }, 'n', 'unknown setting'],
  ])('bad settings %j', (settings, path, fragment) => {
    const error = expectHicraError(() => createPlaceboNgramsClassifier(settings as never));
    expect(error.code).toBe(ErrorCode.InvalidConfig);
    expect(error.message).toContain(`config key ${path}`);
    expect(error.message).toContain(fragment);
  });
});
