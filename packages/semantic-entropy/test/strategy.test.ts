import { ErrorCode, type PlanningMatchV1, TRAIN_METRIC_KEYS } from '@hicra/spec';
import { expectHicraError } from '@hicra/spec/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  clusteredStrategySemanticEntropy,
  conditionalProceduralEntropy,
  entropyFromCounts,
  StrategyAccumulator,
  splitWords,
  strategySemanticEntropy,
} from '../src/index.js';
import { batchArbitrary, buildBatch, CLASS_OF, LEXICON, SOURCE } from './helpers.js';

const match = (text: string, gram: string, from = 0, gramId = 0): PlanningMatchV1 => {
  const start = text.toLowerCase().indexOf(gram, from);
  if (start < 0) throw new Error(`"${gram}" not in "${text}"`);
  return { start, end: start + gram.length, gram, gramId };
};

// Three responses, hand-annotated. Occurrences: wait x4, let me check x2.
const TEXT_0 = 'Wait, 3 * 8 = 24. Wait, 24 / 8 = 3.';
const TEXT_1 = 'Let me check: 2 + 2. Wait, 2 + 2 = 4';
const TEXT_2 = 'Wait let me check';
const TEXTS = [TEXT_0, TEXT_1, TEXT_2];
const MATCHES: PlanningMatchV1[][] = [
  [match(TEXT_0, 'wait'), match(TEXT_0, 'wait', 5)],
  [match(TEXT_1, 'let me check', 0, 1), match(TEXT_1, 'wait')],
  [match(TEXT_2, 'wait'), match(TEXT_2, 'let me check', 0, 1)],
];

describe('words', () => {
  it('are lower-cased letter/digit runs and single symbols', () => {
    expect(splitWords('Wait, 3*8 = 24.')).toEqual(['wait', ',', '3', '*', '8', '=', '24', '.']);
    expect(splitWords('  x_1 -(y/2)+Z  ')).toEqual([
      'x',
      '_',
      '1',
      '-',
      '(',
      'y',
      '/',
      '2',
      ')',
      '+',
      'z',
    ]);
    expect(splitWords('Café naïve ÉTÉ 𝔸b')).toEqual(['café', 'naïve', 'été', '𝔸b']);
    expect(splitWords('e\u0301t\u00e9')).toEqual(['e\u0301té']);
    expect(splitWords('a\tb\nc\u00a0d')).toEqual(['a', 'b', 'c', 'd']);
    expect(splitWords('')).toEqual([]);
    expect(splitWords(' \n ')).toEqual([]);
  });

  it('rejects a non-string', () => {
    expectHicraError(() => splitWords(3 as unknown as string), {
      code: ErrorCode.InvalidArgument,
      source: SOURCE,
      message: ['splitWords: text must be a string', 'number'],
    });
  });
});

describe('strategy semantic entropy', () => {
  it('is the entropy of the phrase counts (hand-computed)', () => {
    // wait: 4, let me check: 2 -> p = 2/3, 1/3
    const expected = -((2 / 3) * Math.log(2 / 3) + (1 / 3) * Math.log(1 / 3));
    expect(strategySemanticEntropy(MATCHES)).toBeCloseTo(expected, 15);
    expect(strategySemanticEntropy(MATCHES, { base: 2 })).toBeCloseTo(expected / Math.LN2, 15);
    const acc = new StrategyAccumulator({ classOf: CLASS_OF }).add({ planningMatches: MATCHES });
    expect(Object.fromEntries(acc.grams.entries())).toEqual({ wait: 4, 'let me check': 2 });
    expect(Object.fromEntries(acc.classes.entries())).toEqual({ 0: 6 });
    acc.grams.add('wait', 10); // a copy: the accumulator does not change
    expect(acc.semanticEntropy()).toBeCloseTo(expected, 15);
  });

  it('is 0 with no matches or one distinct phrase, ln n for n distinct phrases once each', () => {
    expect(strategySemanticEntropy([])).toBe(0);
    expect(strategySemanticEntropy([[], []])).toBe(0);
    expect(strategySemanticEntropy([[match(TEXT_0, 'wait')], [match(TEXT_1, 'wait')]])).toBe(0);
    const four = LEXICON.map((gram, i) => [{ start: 0, end: gram.length, gram, gramId: i }]);
    expect(strategySemanticEntropy(four)).toBe(Math.log(4));
  });

  it('clustered: counts classes through classOf, or the matches’ classId', () => {
    // classes: wait -> 0, let me check -> 0: a single class
    expect(clusteredStrategySemanticEntropy(MATCHES, { classOf: CLASS_OF })).toBe(0);
    const classOf = new Map([
      ['wait', 5],
      ['let me check', 9],
    ]);
    expect(clusteredStrategySemanticEntropy(MATCHES, { classOf })).toBe(
      strategySemanticEntropy(MATCHES),
    );
    const withIds = MATCHES.map((list) =>
      list.map((m) => ({ ...m, classId: m.gram === 'wait' ? 1 : 2 })),
    );
    expect(clusteredStrategySemanticEntropy(withIds)).toBe(entropyFromCounts([4, 2]));
    // classOf wins over the matches' own classId
    expect(clusteredStrategySemanticEntropy(withIds, { classOf: CLASS_OF })).toBe(0);
  });
});

describe('conditional procedural entropy', () => {
  it('is Σ_g w_g H(next n words | g) (hand-computed, n = 3)', () => {
    // wait: ", 3 *" ", 24 /" ", 2 +"; the wait of TEXT_2 is followed directly by a match (left out)
    // let me check: ": 2 +"; the one at the end of TEXT_2 has no following word (left out)
    // -> H_wait = ln 3 over 3 occurrences, H_check = 0 over 1: (3/4) ln 3
    expect(conditionalProceduralEntropy(MATCHES, TEXTS)).toBeCloseTo(0.75 * Math.log(3), 15);
    const acc = new StrategyAccumulator().add({ planningMatches: MATCHES, responseTexts: TEXTS });
    expect(acc.proceduralEntropyByGram()).toEqual(
      new Map([
        ['wait', { occurrences: 3, entropy: Math.log(3) }],
        ['let me check', { occurrences: 1, entropy: 0 }],
      ]),
    );
    expect(acc.continuationsOf('wait').get(', 3 *')).toBe(1);
    expect(acc.continuationsOf('wait').get(', 24 /')).toBe(1);
    expect(acc.continuationsOf('let me check')).toEqual(new Map([[': 2 +', 1]]));
    expect(acc.continuationsOf('hmm').size).toBe(0);
  });

  it('follows continuationLength and keeps continuations cut short by the end of the text', () => {
    // n = 1: every wait is followed by "," and let me check by ":" -> 0
    expect(conditionalProceduralEntropy(MATCHES, TEXTS, { continuationLength: 1 })).toBe(0);
    // n = 2: ", 3" ", 24" ", 2" for wait -> (3/4) ln 3 again
    expect(conditionalProceduralEntropy(MATCHES, TEXTS, { continuationLength: 2 })).toBeCloseTo(
      0.75 * Math.log(3),
      15,
    );
    const text = 'Wait, ok. Wait, ok';
    const matches = [[match(text, 'wait'), match(text, 'wait', 1)]];
    // ", ok ." and ", ok" are different continuations
    expect(conditionalProceduralEntropy(matches, [text])).toBe(Math.log(2));
    expect(conditionalProceduralEntropy(matches, [text], { base: 2 })).toBe(1);
  });

  it('counts one continuation once, however the text spaces, cases or encodes it', () => {
    // Each text continues "wait" with ", 3 *" or "été x", in canonical spacing or not, ASCII or not.
    const texts = [
      'Wait, 3 * 8',
      'WAIT,3*8',
      'wait ,  3\n*',
      'Wait \u00c9T\u00c9 x',
      'wait \u00e9t\u00e9 X',
      'Wait\u00a0, 3 *',
    ];
    const matches = texts.map(() => [{ start: 0, end: 4, gram: 'wait', gramId: 0 }]);
    const acc = new StrategyAccumulator().add({ planningMatches: matches, responseTexts: texts });
    expect(acc.continuationsOf('wait')).toEqual(
      new Map([
        [', 3 *', 4],
        ['\u00e9t\u00e9 x', 2],
      ]),
    );
    // Counts read back from JSON (keys, not text) land on the same entries as counts from text.
    const merged = StrategyAccumulator.fromJSON(JSON.parse(JSON.stringify(acc))).add({
      planningMatches: matches,
      responseTexts: texts,
    });
    expect(merged.continuationsOf('wait')).toEqual(
      new Map([
        [', 3 *', 8],
        ['\u00e9t\u00e9 x', 4],
      ]),
    );
    // every count doubled: the same distribution
    expect(merged.conditionalProceduralEntropy()).toBeCloseTo(
      acc.conditionalProceduralEntropy(),
      14,
    );
  });

  it('keeps thousands of distinct continuations apart through growth, merges and JSON', () => {
    const texts = Array.from({ length: 3000 }, (_, i) => `wait w${i} = ${i % 7}`);
    const matches = texts.map(() => [{ start: 0, end: 4, gram: 'wait', gramId: 0 }]);
    const batch = { planningMatches: matches, responseTexts: texts };
    const once = new StrategyAccumulator().add(batch);
    expect(once.continuationsOf('wait').size).toBe(3000);
    expect(once.conditionalProceduralEntropy()).toBe(Math.log(3000));
    // merging inserts key by key (no reservation): the table grows and rehashes on the way
    const merged = new StrategyAccumulator()
      .merge(once)
      .merge(StrategyAccumulator.fromJSON(once.toJSON()));
    const twice = new StrategyAccumulator().add(batch).add(batch);
    for (const acc of [merged, twice]) {
      const counts = acc.continuationsOf('wait');
      expect(counts.size).toBe(3000);
      expect(counts.get('w2999 = 3')).toBe(2);
    }
    expect(merged.conditionalProceduralEntropy()).toBe(twice.conditionalProceduralEntropy());
    expect(twice.conditionalProceduralEntropy()).toBeCloseTo(Math.log(3000), 12);
  });

  it('property: counting from text equals counting the split words', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.constantFrom('Wait', 'wait', 'x', 'X', '=', '3', '*', 'été', 'É', ',', '_'),
            fc.constantFrom(' ', '  ', '\n', '\u00a0', ''),
          ),
          { maxLength: 16 },
        ),
        fc.integer({ min: 1, max: 4 }),
        (parts, n) => {
          const text = `wait ${parts.join('')}`;
          const acc = new StrategyAccumulator({ continuationLength: n }).add({
            planningMatches: [[{ start: 0, end: 4, gram: 'wait', gramId: 0 }]],
            responseTexts: [text],
          });
          const words = splitWords(text.slice(4)).slice(0, n).join(' ');
          expect(acc.continuationsOf('wait')).toEqual(
            words === '' ? new Map() : new Map([[words, 1]]),
          );
        },
      ),
    );
  });

  it('stops at the next match even when it overlaps, and is 0 with nothing to count', () => {
    const text = 'we can use the fact that x';
    const overlapping = [
      [
        { start: 0, end: 10, gram: 'we can use', gramId: 0 },
        { start: 3, end: 24, gram: 'can use the fact that', gramId: 1 },
      ],
    ];
    const acc = new StrategyAccumulator().add({
      planningMatches: overlapping,
      responseTexts: [text],
    });
    expect(acc.continuedMatches).toBe(1); // only the second is followed by a word ("x")
    expect(acc.conditionalProceduralEntropy()).toBe(0);
    expect(conditionalProceduralEntropy([], [])).toBe(0);
  });

  it('is H(G, X) - H(G) over the occurrences that have a continuation', () => {
    fc.assert(
      fc.property(batchArbitrary, fc.integer({ min: 1, max: 4 }), (batch, n) => {
        const { texts, matches } = buildBatch(batch);
        const acc = new StrategyAccumulator({ continuationLength: n }).add({
          planningMatches: matches,
          responseTexts: texts,
        });
        const jointCounts: number[] = [];
        const marginalCounts: number[] = [];
        for (const [gram, { occurrences }] of acc.proceduralEntropyByGram()) {
          jointCounts.push(...acc.continuationsOf(gram).values());
          marginalCounts.push(occurrences);
        }
        const joint = entropyFromCounts(jointCounts);
        const marginal = entropyFromCounts(marginalCounts);
        expect(acc.conditionalProceduralEntropy()).toBeCloseTo(Math.max(0, joint - marginal), 12);
        // and the weighted per-phrase form
        const total = acc.continuedMatches;
        let weighted = 0;
        for (const { occurrences, entropy } of acc.proceduralEntropyByGram().values())
          weighted += (occurrences / total) * entropy;
        expect(acc.conditionalProceduralEntropy()).toBeCloseTo(weighted, 12);
      }),
    );
  });
});

describe('StrategyAccumulator', () => {
  it('gives the per-step record under the spec keys', () => {
    const acc = new StrategyAccumulator({ classOf: CLASS_OF }).add({
      planningMatches: MATCHES,
      responseTexts: TEXTS,
    });
    expect(acc.metrics()).toEqual({
      [TRAIN_METRIC_KEYS.planningMatchesPerResponse]: 2,
      [TRAIN_METRIC_KEYS.strategySemanticEntropy]: strategySemanticEntropy(MATCHES),
      [TRAIN_METRIC_KEYS.strategySemanticEntropyClustered]: 0,
      [TRAIN_METRIC_KEYS.conditionalProceduralEntropy]: conditionalProceduralEntropy(
        MATCHES,
        TEXTS,
      ),
    });
  });

  it('omits what is undefined: no response, no match, no class, no text', () => {
    expect(new StrategyAccumulator().metrics()).toEqual({});
    expect(new StrategyAccumulator().add({ planningMatches: [[], []] }).metrics()).toEqual({
      [TRAIN_METRIC_KEYS.planningMatchesPerResponse]: 0,
    });
    expect(
      Object.keys(new StrategyAccumulator().add({ planningMatches: MATCHES }).metrics()).sort(),
    ).toEqual(
      [
        TRAIN_METRIC_KEYS.planningMatchesPerResponse,
        TRAIN_METRIC_KEYS.strategySemanticEntropy,
      ].sort(),
    );
    // texts given, but no phrase is followed by a word
    const text = 'wait';
    expect(
      new StrategyAccumulator()
        .add({ planningMatches: [[match(text, 'wait')]], responseTexts: [text] })
        .metrics()[TRAIN_METRIC_KEYS.conditionalProceduralEntropy],
    ).toBeUndefined();
  });

  it('property: the order of the responses changes nothing', () => {
    fc.assert(
      fc.property(
        batchArbitrary.chain((batch) =>
          fc.tuple(fc.constant(batch), fc.shuffledSubarray(batch, { minLength: batch.length })),
        ),
        ([batch, shuffled]) => {
          const metrics = (pieces: typeof batch) => {
            const { texts, matches } = buildBatch(pieces);
            return new StrategyAccumulator({ classOf: CLASS_OF })
              .add({ planningMatches: matches, responseTexts: texts })
              .metrics();
          };
          expect(metrics(shuffled)).toEqual(metrics(batch));
        },
      ),
    );
  });

  it('property: 0 for a single phrase, ln n for n distinct phrases once each', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: LEXICON.length - 1 }),
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 8 }),
        (gram, repeats) => {
          const batch = repeats.map((r) => Array.from({ length: r }, () => ({ gram })));
          const { matches } = buildBatch(batch);
          expect(strategySemanticEntropy(matches)).toBe(0);
        },
      ),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), (n) => {
        const matches = Array.from({ length: n }, (_, i) => [
          { start: 0, end: 3, gram: `g${i}`, gramId: i },
        ]);
        expect(strategySemanticEntropy(matches)).toBe(Math.log(n));
        expect(
          clusteredStrategySemanticEntropy(matches, {
            classOf: Object.fromEntries(matches.map((_, i) => [`g${i}`, i])),
          }),
        ).toBe(Math.log(n));
      }),
    );
  });

  it('property: merging micro-batches in any grouping equals the one-shot result exactly', () => {
    fc.assert(
      fc.property(
        batchArbitrary,
        fc.array(fc.nat(), { minLength: 2, maxLength: 2 }),
        (batch, cuts) => {
          const [a, b] = cuts
            .map((c) => (batch.length === 0 ? 0 : c % (batch.length + 1)))
            .sort((x, y) => x - y) as [number, number];
          const parts = [batch.slice(0, a), batch.slice(a, b), batch.slice(b)];
          const accOf = (pieces: typeof batch) => {
            const { texts, matches } = buildBatch(pieces);
            return new StrategyAccumulator({ classOf: CLASS_OF }).add({
              planningMatches: matches,
              responseTexts: texts,
            });
          };
          const [x, y, z] = parts.map(accOf) as [
            StrategyAccumulator,
            StrategyAccumulator,
            StrategyAccumulator,
          ];
          const once = accOf(batch).metrics();
          const left = x.clone().merge(y).merge(z).metrics();
          const right = x.clone().merge(y.clone().merge(z)).metrics();
          const reversed = z.clone().merge(y).merge(x).metrics();
          // through JSON, as between workers
          const viaJson = StrategyAccumulator.fromJSON(JSON.parse(JSON.stringify(x)))
            .merge(StrategyAccumulator.fromJSON(JSON.parse(JSON.stringify(y))))
            .merge(StrategyAccumulator.fromJSON(JSON.parse(JSON.stringify(z))))
            .metrics();
          for (const merged of [left, right, reversed, viaJson]) expect(merged).toEqual(once);
          // a stream of adds is the same as one add
          const { texts, matches } = buildBatch(batch);
          const streamed = new StrategyAccumulator({ classOf: CLASS_OF });
          for (let i = 0; i < batch.length; i++)
            streamed.add({ planningMatches: [matches[i]!], responseTexts: [texts[i]!] });
          expect(streamed.metrics()).toEqual(once);
        },
      ),
    );
  });
});

describe('strategy bad input', () => {
  const text = 'wait, 3';
  const ok: PlanningMatchV1 = { start: 0, end: 4, gram: 'wait', gramId: 0 };

  it.each([
    [
      'matches not an array',
      () => strategySemanticEntropy({} as never),
      ErrorCode.InvalidArgument,
      ['planningMatches must be an array', 'got Object'],
    ],
    [
      'a response that is not a list',
      () => strategySemanticEntropy([[ok], null as never]),
      ErrorCode.InvalidArgument,
      ['planningMatches[1] must be an array', 'null'],
    ],
    [
      'a match that is not an object',
      () => strategySemanticEntropy([[ok, 3 as never]]),
      ErrorCode.InvalidArgument,
      ['planningMatches[0][1] must be a match object'],
    ],
    [
      'a negative start',
      () => strategySemanticEntropy([[{ ...ok, start: -1 }]]),
      ErrorCode.InvalidValue,
      ['planningMatches[0][0]', 'start -1', '0 <= start <= end'],
    ],
    [
      'end before start',
      () => strategySemanticEntropy([[{ ...ok, start: 3, end: 2 }]]),
      ErrorCode.InvalidValue,
      ['start 3 and end 2'],
    ],
    [
      'fractional offsets',
      () => strategySemanticEntropy([[{ ...ok, end: 2.5 }]]),
      ErrorCode.InvalidValue,
      ['end 2.5'],
    ],
    [
      'unsorted matches',
      () => strategySemanticEntropy([[{ ...ok, start: 5, end: 6 }, ok]]),
      ErrorCode.InvalidValue,
      ['planningMatches[0] is not sorted by start', 'match 1 starts at 0, before 5'],
    ],
    [
      'an empty gram',
      () => strategySemanticEntropy([[{ ...ok, gram: '' }]]),
      ErrorCode.InvalidValue,
      ['planningMatches[0][0].gram must be a non-empty string'],
    ],
    [
      'a gram that is not a string',
      () => strategySemanticEntropy([[{ ...ok, gram: 7 as never }]]),
      ErrorCode.InvalidValue,
      ['.gram must be a non-empty string', 'number'],
    ],
    [
      'a gram missing from classOf',
      () =>
        clusteredStrategySemanticEntropy([[ok, { ...ok, gram: 'hmm' }]], { classOf: { wait: 0 } }),
      ErrorCode.MissingInput,
      ['planningMatches[0][1].gram "hmm" has no class in classOf'],
    ],
    [
      'matches without any class',
      () => clusteredStrategySemanticEntropy([[ok, { ...ok, classId: 1 }]]),
      ErrorCode.MissingInput,
      ['1 of 2 phrase occurrences have no class', 'classOf'],
    ],
    [
      'a fractional classId',
      () => clusteredStrategySemanticEntropy([[{ ...ok, classId: 0.5 }]]),
      ErrorCode.InvalidValue,
      ['classId must be an integer', '0.5'],
    ],
    [
      'a classOf with a bad class id',
      () => new StrategyAccumulator({ classOf: { wait: Number.NaN } }),
      ErrorCode.InvalidValue,
      ['classOf["wait"] must be an integer class id', 'NaN'],
    ],
    [
      'a classOf that is not a map',
      () => new StrategyAccumulator({ classOf: 'wait' as never }),
      ErrorCode.InvalidArgument,
      ['classOf must be a Map or a record', 'string'],
    ],
    [
      'texts of the wrong length',
      () => conditionalProceduralEntropy([[ok], []], [text]),
      ErrorCode.ShapeMismatch,
      ['responseTexts has length 1, expected 2'],
    ],
    [
      'a text that is not a string',
      () => conditionalProceduralEntropy([[ok]], [null as never]),
      ErrorCode.InvalidArgument,
      ['responseTexts[0] must be a string', 'null'],
    ],
    [
      'a match past the end of its text',
      () => conditionalProceduralEntropy([[{ ...ok, end: 40 }]], [text]),
      ErrorCode.ShapeMismatch,
      ['planningMatches[0][0] ends at 40, past the end of responseTexts[0] (length 7)'],
    ],
    [
      'a bad continuationLength',
      () => conditionalProceduralEntropy([[ok]], [text], { continuationLength: 0 }),
      ErrorCode.InvalidValue,
      ['continuationLength must be a positive integer, got 0'],
    ],
    [
      'settings that are not an object',
      () => new StrategyAccumulator(null as never),
      ErrorCode.InvalidArgument,
      ['settings must be an object'],
    ],
  ] as const)('%s', (_name, fn, code, fragments) => {
    expectHicraError(fn, { code: code, source: SOURCE, message: fragments });
  });

  it('a failed add changes no count', () => {
    const acc = new StrategyAccumulator().add({ planningMatches: [[ok]] });
    expect(() => acc.add({ planningMatches: [[ok], [{ ...ok, start: -1 }]] })).toThrow();
    expect(acc.matches).toBe(1);
    expect(acc.responses).toBe(1);
  });

  it('a failed add with texts changes nothing, the continuations staged before the error included', () => {
    const texts = ['Wait, 3 * 8', 'Wait, 2 + 2', 'Wait, x'];
    const good = texts.map((t) => [match(t, 'wait')]);
    const acc = new StrategyAccumulator().add({ planningMatches: good, responseTexts: texts });
    const before = JSON.stringify(acc.toJSON());
    // The third response's match ends past its text: found after two continuations were staged.
    const bad = [...good.slice(0, 2), [{ ...good[2]![0]!, end: 99 }]];
    expectHicraError(() => acc.add({ planningMatches: bad, responseTexts: texts }), {
      code: ErrorCode.ShapeMismatch,
      source: SOURCE,
      message: ['planningMatches[2][0] ends at 99, past the end of responseTexts[2]'],
    });
    expect(JSON.stringify(acc.toJSON())).toBe(before);
    // And the next batch counts as if the failed one had never been seen.
    acc.add({ planningMatches: good, responseTexts: texts });
    const twice = new StrategyAccumulator()
      .add({ planningMatches: good, responseTexts: texts })
      .add({ planningMatches: good, responseTexts: texts });
    expect(acc.toJSON()).toEqual(twice.toJSON());
  });

  it('counts by gram whatever the gramId says (it is only a shortcut)', () => {
    const text = 'Wait, 1. Hmm, 2. Wait, 3. Hmm, 4.';
    const at = (gram: string, from: number, gramId: number): PlanningMatchV1 => ({
      ...match(text, gram, from),
      gramId,
    });
    const ids = [0, 0, 1, 1];
    const batch = {
      planningMatches: [[at('wait', 0, 0), at('hmm', 0, 1), at('wait', 10, 0), at('hmm', 10, 1)]],
      responseTexts: [text],
    };
    const reference = new StrategyAccumulator().add(batch).add(batch).add(batch);
    // The same gramId for different grams, ids that change from batch to batch, -1, a
    // fraction, a huge id, and none that is a number at all.
    for (const gramIds of [
      [7, 7, 7, 7],
      [-1, -1, -1, -1],
      [0.5, 2 ** 40, 3, Number.NaN],
      [1, 0, 1, 0],
      ids,
    ]) {
      const acc = new StrategyAccumulator({ classOf: { wait: 0, hmm: 1 } });
      for (const batchIds of [ids, gramIds, gramIds]) {
        acc.add({
          planningMatches: [
            [
              at('wait', 0, batchIds[0]!),
              at('hmm', 0, batchIds[1]!),
              at('wait', 10, batchIds[2]!),
              at('hmm', 10, batchIds[3]! as number),
            ],
          ],
          responseTexts: [text],
        });
      }
      expect(acc.grams.toJSON()).toEqual([
        ['wait', 6],
        ['hmm', 6],
      ]);
      expect(acc.continuationsOf('wait')).toEqual(
        new Map([
          [', 1 .', 3],
          [', 3 .', 3],
        ]),
      );
      expect(acc.semanticEntropy()).toBe(reference.semanticEntropy());
      expect(acc.clusteredSemanticEntropy()).toBeCloseTo(Math.log(2), 15);
    }
    // A gram missing from classOf is still caught when its gramId is one a known gram used.
    const acc = new StrategyAccumulator({ classOf: { wait: 0 } }).add({
      planningMatches: [[at('wait', 0, 5)]],
    });
    expectHicraError(() => acc.add({ planningMatches: [[at('hmm', 0, 5)]] }), {
      code: ErrorCode.MissingInput,
      source: SOURCE,
      message: ['planningMatches[0][0].gram "hmm" has no class in classOf'],
    });
  });

  it('texts given for some batches only is an error, not a partial metric', () => {
    const acc = new StrategyAccumulator()
      .add({ planningMatches: [[ok]], responseTexts: [text] })
      .add({ planningMatches: [[ok]] });
    expectHicraError(() => acc.metrics(), {
      code: ErrorCode.MissingInput,
      source: SOURCE,
      message: ['responseTexts were given for 1 of 2 responses'],
    });
  });

  it('merging different settings or malformed JSON is an error', () => {
    expectHicraError(
      () => new StrategyAccumulator().merge(new StrategyAccumulator({ continuationLength: 2 })),
      {
        code: ErrorCode.InvalidArgument,
        source: SOURCE,
        message: ['continuationLength differs (3 vs 2)'],
      },
    );
    expectHicraError(() => new StrategyAccumulator().merge({} as never), {
      code: ErrorCode.InvalidArgument,
      source: SOURCE,
      message: ['other must be a StrategyAccumulator'],
    });
    const json = new StrategyAccumulator().add({ planningMatches: [[ok]] }).toJSON();
    expectHicraError(() => StrategyAccumulator.fromJSON({ ...json, matches: -1 }), {
      code: ErrorCode.InvalidValue,
      source: SOURCE,
      message: ['matches must be a non-negative integer count, got -1'],
    });
    expectHicraError(() => StrategyAccumulator.fromJSON({ ...json, grams: [['wait', 1.5]] }), {
      code: ErrorCode.InvalidValue,
      source: SOURCE,
      message: ['grams["wait"]', '1.5'],
    });
    expectHicraError(() => StrategyAccumulator.fromJSON({ ...json, matches: 2 }), {
      code: ErrorCode.InvalidValue,
      source: SOURCE,
      message: ['the counts are inconsistent', 'grams total 1 vs matches 2'],
    });
    expectHicraError(() => StrategyAccumulator.fromJSON({ version: 2 } as never), {
      code: ErrorCode.InvalidArgument,
      source: SOURCE,
      message: ['expected an object with version 1'],
    });
  });
});
