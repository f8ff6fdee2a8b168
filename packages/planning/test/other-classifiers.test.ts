import {
  definePlugin,
  defineSettings,
  ErrorCode,
  PLANNING_CLASSIFIER_NAMES,
  UnknownNameError,
} from '@hicra/spec';
import { expectHicraError } from '@hicra/spec/testing';
import { topQMask } from '@hicra/tensor/kernels';
import { describe, expect, it } from 'vitest';
import {
  builtinClassifiers,
  createEntropyForksClassifier,
  createPlanningClassifier,
  createPlanningClassifierRegistry,
  createStrategicGramsClassifier,
  entropyForks,
  intersectClassifiers,
  planningClassifierRegistry,
  unionClassifiers,
  wordSpans,
} from '../src/index.js';
import { batchOf, maskOf, whitespaceTokenizer } from './helpers.js';

describe('entropy forks', () => {
  // T = 5: response 0 has 5 tokens, response 1 has 3 (+2 padding).
  const input = batchOf(['a b c d e', 'f g h'], whitespaceTokenizer);

  it('marks the top 30% of valid tokens of the batch by default (the kernel of @hicra/tensor)', () => {
    const entropies = Float32Array.from([0.1, 0.9, 0.5, 0.7, 0.3, 2, 0.2, 0.4, 0, 0]);
    const batch = { ...input, entropies };
    const result = entropyForks.classify(batch);
    // Valid values 0.1 0.9 0.5 0.7 0.3 2 0.2 0.4: the 0.7 quantile at position 4.9 is
    // 0.5 + 0.9·(0.7 - 0.5) = 0.68, so 0.7, 0.9 and 2 are selected.
    expect(maskOf(result, 0, 5)).toBe('01010');
    expect(maskOf(result, 1, 5)).toBe('10000');
    expect(result.mask).toEqual(
      topQMask({ values: entropies, mask: batch.responseMask, batchSize: 2, seqLen: 5, q: 0.3 }),
    );
    expect(result.matches).toEqual([[], []]);
  });

  it('scope "sequence" draws one threshold per response', () => {
    const entropies = Float32Array.from([0.1, 0.9, 0.5, 0.7, 0.3, 2, 0.2, 0.4, 0, 0]);
    const c = createEntropyForksClassifier({ q: 0.5, scope: 'sequence' });
    const result = c.classify({ ...input, entropies });
    // Response 0: median 0.5, kept 0.5 0.7 0.9. Response 1: median 0.4, kept 2 and 0.4.
    expect(maskOf(result, 0, 5)).toBe('01110');
    expect(maskOf(result, 1, 5)).toBe('10100');
  });

  it('needs entropies, finite at valid tokens (padding may hold anything)', () => {
    const { entropies: _, ...noEntropies } = input;
    const missing = expectHicraError(() => entropyForks.classify(noEntropies));
    expect(missing.code).toBe(ErrorCode.MissingInput);
    expect(missing.message).toContain('entropies are required');
    const nan = Float32Array.from([0.1, Number.NaN, 0.5, 0.7, 0.3, 2, 0.2, 0.4, 0, 0]);
    const error = expectHicraError(() => entropyForks.classify({ ...input, entropies: nan }));
    expect(error.code).toBe(ErrorCode.InvalidValue);
    expect(error.message).toContain('entropies is NaN at response 0, token 1');
    const paddingNan = Float32Array.from([0.1, 0.9, 0.5, 0.7, 0.3, 2, 0.2, 0.4, Number.NaN, 0]);
    expect(() => entropyForks.classify({ ...input, entropies: paddingNan })).not.toThrow();
  });

  it.each([
    [{ q: 0 }, 'q', 'a number > 0'],
    [{ q: 1.5 }, 'q', 'a number <= 1'],
    [{ q: '0.3' }, 'q', 'a finite number'],
    [{ q: Number.POSITIVE_INFINITY }, 'q', 'expected a finite number, got Infinity'],
    [{ q: Number.NaN }, 'q', 'expected a finite number, got NaN'],
    [{ scope: 'token' }, 'scope', '"batch", "sequence"'],
    [{ topQ: 0.3 }, 'topQ', 'unknown setting; valid settings: q'],
  ])('bad settings %j', (settings, path, fragment) => {
    const error = expectHicraError(() => createEntropyForksClassifier(settings as never));
    expect(error.code).toBe(ErrorCode.InvalidConfig);
    expect(error.message).toContain(`config key ${path}`);
    expect(error.message).toContain(fragment);
  });
});

describe('wordSpans', () => {
  it('finds runs of letters and digits with inner apostrophes or hyphens', () => {
    const text = "Let's re-check: 3 * 8 = 24.";
    const spans = wordSpans(text);
    const words = [];
    for (let w = 0; w < spans.length; w += 2) words.push(text.slice(spans[w], spans[w + 1]));
    expect(words).toEqual(["Let's", 're-check', '3', '8', '24']);
  });
});

describe('combinators', () => {
  // T = 6; response 0 has 5 tokens (+1 padding), response 1 has 6.
  const input = batchOf(['but wait x y z', 'a b let me check c'], whitespaceTokenizer);
  const entropies = Float32Array.from([0.1, 2, 1.9, 0.2, 0.3, 0, 0.1, 0.2, 1.5, 0.1, 1.8, 0.1]);
  const batch = { ...input, entropies };
  const sg = createStrategicGramsClassifier({ lexicon: ['but wait', 'let me check', 'x y'] });
  const forks = createEntropyForksClassifier({ q: 0.4 });

  it('union: OR of the masks, merged matches sorted by start', () => {
    const union = unionClassifiers([sg, forks]);
    const a = sg.classify(batch);
    const b = forks.classify(batch);
    const result = union.classify(batch);
    expect(union.name).toBe('union');
    expect(Array.from(result.mask)).toEqual(Array.from(a.mask, (m, k) => m | b.mask[k]!));
    expect(result.matches).toEqual(a.matches);
  });

  it('intersection: AND of the masks; matches that touch a planning token of the result', () => {
    const intersection = intersectClassifiers([sg, forks]);
    const result = intersection.classify(batch);
    // Forks (top 40% of 11 valid tokens): 2, 1.9, 1.5, 1.8 and the 0.3 at the 0.6 quantile.
    expect(maskOf(forks.classify(batch), 0, 6)).toBe('011010');
    expect(maskOf(forks.classify(batch), 1, 6)).toBe('001010');
    expect(maskOf(sg.classify(batch), 0, 6)).toBe('111100');
    expect(maskOf(sg.classify(batch), 1, 6)).toBe('001110');
    expect(maskOf(result, 0, 6)).toBe('011000');
    expect(maskOf(result, 1, 6)).toBe('001010');
    expect(result.matches.map((row) => row.map((m) => m.gram))).toEqual([
      ['but wait', 'x y'],
      ['let me check'],
    ]);
    // A match whose tokens all leave the intersection is dropped.
    const onlyTop = createEntropyForksClassifier({ q: 0.05 });
    const dropped = intersectClassifiers([sg, onlyTop]).classify(batch);
    expect(maskOf(dropped, 0, 6)).toBe('010000');
    expect(dropped.matches.map((row) => row.map((m) => m.gram))).toEqual([['but wait'], []]);
  });

  it('the union of the same classifier twice keeps each match once', () => {
    const result = unionClassifiers([sg, sg]).classify(batch);
    expect(result).toEqual(sg.classify(batch));
  });

  it('rejects bad parts and bad part results', () => {
    expect(expectHicraError(() => unionClassifiers([])).code).toBe(ErrorCode.InvalidArgument);
    const notAClassifier = expectHicraError(() => intersectClassifiers([sg, {} as never]));
    expect(notAClassifier.message).toContain('classifiers[1] is not a planning classifier');
    const broken = { name: 'broken', classify: () => ({ mask: new Uint8Array(3), matches: [] }) };
    const error = expectHicraError(() => unionClassifiers([sg, broken]).classify(batch));
    expect(error.code).toBe(ErrorCode.ShapeMismatch);
    expect(error.message).toContain('classifiers[1] (broken) returned a mask of Uint8Array(3)');
  });
});

describe('registry', () => {
  it('creates every built-in by name from a config object', () => {
    for (const name of PLANNING_CLASSIFIER_NAMES) {
      expect(createPlanningClassifier({ name }).name).toBe(name);
    }
    const forks = createPlanningClassifier({ name: 'entropy-forks', q: 0.2, scope: 'sequence' });
    expect([forks.q, forks.scope]).toEqual([0.2, 'sequence']);
    expect(createPlanningClassifier({ name: 'placebo-ngrams', seed: 3 }).seed).toBe(3);
  });

  it('an unknown name lists the known names', () => {
    const error = expectHicraError(() => createPlanningClassifier({ name: 'strategic-gram' }));
    expect(error.code).toBe(ErrorCode.UnknownName);
    expect(error.message).toContain(
      'unknown planning classifier "strategic-gram"; known planning classifiers: "entropy-forks", "placebo-ngrams", "strategic-grams"',
    );
    expectHicraError(() => createPlanningClassifier({ name: 'nope' }), {
      errorClass: UnknownNameError,
    });
  });

  it('settings errors name the key; a missing name is a config error', () => {
    const error = expectHicraError(() => createPlanningClassifier({ name: 'entropy-forks', q: 2 }));
    expect(error.code).toBe(ErrorCode.InvalidConfig);
    expect(error.message).toContain('config key q: entropy-forks: expected a number <= 1, got 2');
    expect(expectHicraError(() => createPlanningClassifier({} as never)).message).toContain(
      'config key name',
    );
    expect(expectHicraError(() => createPlanningClassifier(null as never)).code).toBe(
      ErrorCode.InvalidConfig,
    );
  });

  it('a user registry accepts new kebab-case names and still refuses unknown ones', () => {
    const registry = createPlanningClassifierRegistry();
    const everything = {
      name: 'everything',
      classify: (input: { batchSize: number; seqLen: number }) => ({
        mask: new Uint8Array(input.batchSize * input.seqLen).fill(1),
        matches: Array.from({ length: input.batchSize }, () => []),
      }),
    };
    registry.register('everything', () => everything);
    expect(registry.names).toEqual([
      'entropy-forks',
      'everything',
      'placebo-ngrams',
      'strategic-grams',
    ]);
    expect(registry.create({ name: 'everything' })).toBe(everything);
    expect(registry.has('everything')).toBe(true);
    expect(createPlanningClassifierRegistry().has('everything')).toBe(false);
    expect(
      expectHicraError(() => registry.register('Everything', () => everything)).message,
    ).toContain('kebab-case');
    expect(
      expectHicraError(() => registry.register('everything', () => everything)).message,
    ).toContain('already registered');
    expect(expectHicraError(() => registry.register('x-y', 3 as never)).message).toContain(
      'must be a function',
    );
    expect(expectHicraError(() => registry.create({ name: 'other' })).message).toContain(
      '"everything"',
    );
  });

  it('takes the one registration shape, with its settings validated by the schema', () => {
    const registry = createPlanningClassifierRegistry();
    const firstTokens = definePlugin({
      kind: 'classifier',
      name: 'first-tokens',
      description: 'the first n tokens of each response',
      settings: defineSettings({
        n: { type: 'number', integer: true, min: 1, default: 1, description: 'tokens to mark' },
      }),
      create: ({ n }) => ({
        name: 'first-tokens',
        classify: (input: { batchSize: number; seqLen: number }) => ({
          mask: Uint8Array.from({ length: input.batchSize * input.seqLen }, (_, k) =>
            k % input.seqLen < n ? 1 : 0,
          ),
          matches: Array.from({ length: input.batchSize }, () => []),
        }),
      }),
    });
    registry.register(firstTokens);
    const input = batchOf(['a b c', 'd e'], whitespaceTokenizer);
    expect([...registry.create({ name: 'first-tokens', n: 2 }).classify(input).mask]).toEqual([
      1, 1, 0, 1, 1, 0,
    ]);
    expectHicraError(() => registry.create({ name: 'first-tokens', n: 0 }), {
      code: ErrorCode.InvalidConfig,
      message: ['config key n', 'first-tokens', 'a number >= 1, got 0'],
    });
    expect(registry.plugins.get('classifier', 'first-tokens').description).toContain('first n');
  });

  it('the default registry holds the built-ins, under the names of @hicra/spec, and cannot change', () => {
    expect(builtinClassifiers.map((r) => r.name).sort()).toEqual(
      [...PLANNING_CLASSIFIER_NAMES].sort(),
    );
    expect(planningClassifierRegistry.names).toEqual([...PLANNING_CLASSIFIER_NAMES].sort());
    expectHicraError(() => planningClassifierRegistry.register(builtinClassifiers[0]!), {
      message: 'cannot change',
    });
    expectHicraError(() => planningClassifierRegistry.register('x', () => entropyForks), {
      message: 'cannot change',
    });
  });
});
