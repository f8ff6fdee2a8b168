import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '@hicra/spec';
import { expectHicraError, expectHicraRejection } from '@hicra/spec/testing';
import { SeededGenerator } from '@hicra/tensor/kernels';
import { afterAll, describe, expect, it } from 'vitest';
import {
  agglomerativeCosine,
  createHashedNgramEmbedder,
  createStrategicGramsClassifier,
  documentNgrams,
  hashedNgramEmbedder,
  kMeansPlusPlus,
  loadLexiconFile,
  mineStrategicGrams,
  readCorpusFile,
  writeLexiconFile,
} from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'hicra-planning-mining-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const STRONG = ['let us try another approach', 'wait that seems wrong here'];
const WEAK = [
  'purple elephants dance quietly',
  'seven blue cars arrived late',
  'cold soup tastes strange',
  'ancient maps show rivers',
  'loud drums wake sleeping cats',
  'green lamps light narrow streets',
];
const STOP_ONLY = 'it is in the';

/**
 * A synthetic corpus: sentences of random pseudo-words (which never repeat as n-grams), with
 * each strong phrase planted in about 60% of the documents, each weak phrase in about 5%, and a
 * stop-word-only phrase in 80%.
 */
function corpus(documents: number, seed: number): string[] {
  const g = new SeededGenerator(seed);
  const syllables = ['ka', 'lo', 'mi', 'nu', 'pe', 'ra', 'si', 'to', 'vu', 'ze', 'bo', 'du'];
  const vocabulary = Array.from({ length: 500 }, () =>
    Array.from({ length: 3 }, () => syllables[g.nextInt(syllables.length)]).join(''),
  );
  return Array.from({ length: documents }, () => {
    const sentences: string[] = [];
    for (let s = 0; s < 8; s++) {
      sentences.push(
        Array.from({ length: 8 }, () => vocabulary[g.nextInt(vocabulary.length)]).join(' '),
      );
    }
    const plant = (phrase: string) => sentences.splice(g.nextInt(sentences.length + 1), 0, phrase);
    for (const p of STRONG) if (g.nextFloat() < 0.6) plant(p);
    for (const p of WEAK) if (g.nextFloat() < 0.05) plant(p);
    if (g.nextFloat() < 0.8) plant(STOP_ONLY);
    return `${sentences.map((s) => s[0]!.toUpperCase() + s.slice(1)).join('. ')}.`;
  });
}

const documents = corpus(300, 11);
const ngramsOf = (phrase: string) => documentNgrams(phrase, 3, 5);

describe('n-gram extraction', () => {
  it('word n-grams of the normalised text, not across sentence punctuation', () => {
    expect([...documentNgrams('Wait, let’s try. Another  way\nnow', 2, 3)].sort()).toEqual(
      [
        'another way',
        'another way now',
        "let's try",
        "wait, let's",
        "wait, let's try",
        'way now',
      ].sort(),
    );
  });
});

describe('mining recovers planted phrases', () => {
  it('k-means++: every n-gram of the frequent phrases lands in the top clusters, for any seed', async () => {
    for (const seed of [0, 1, 2, 3, 4]) {
      // 3 clusters, the top half kept (2): the frequent phrases are recovered whatever the seed;
      // k-means may pull a few rare n-grams into their clusters.
      const { lexicon, clusters } = await mineStrategicGrams(documents, {
        minDocumentFrequency: 5,
        clusterCount: 3,
        topClusterFraction: 0.5,
        seed,
      });
      const phrases = new Set(lexicon.grams.map((g) => g.phrase));
      for (const strong of STRONG)
        for (const gram of ngramsOf(strong)) expect(phrases.has(gram)).toBe(true);
      expect([...phrases].some((p) => p.includes('it is in'))).toBe(false);
      // Class ids are cluster ranks; scores are cluster document-frequency shares, best first.
      const scores = lexicon.grams.map((g) => g.score!);
      expect([...scores].sort((a, b) => b - a)).toEqual(scores);
      expect(clusters.map((c) => c.classId)).toEqual([0, 1, undefined]);
      expect(scores[0]).toBeGreaterThan(0.5);
      expect(clusters[2]!.documentFrequency).toBeLessThan(60);
    }
  });

  it('agglomerative clustering at cosine 0.3 finds one cluster per planted phrase; the top 20% are the frequent ones', async () => {
    const { lexicon, clusters } = await mineStrategicGrams(documents, {
      minDocumentFrequency: 5,
      clustering: 'agglomerative',
      similarityThreshold: 0.3,
    });
    expect(clusters).toHaveLength(STRONG.length + WEAK.length);
    const expected = STRONG.flatMap((p) => [...ngramsOf(p)]);
    expect(lexicon.grams.map((g) => g.phrase).sort()).toEqual(expected.sort());
    expect(new Set(lexicon.grams.map((g) => g.classId))).toEqual(new Set([0, 1]));
    // The stop-word-only phrase (in 80% of the documents) never became a candidate.
    expect(clusters.flatMap((c) => c.phrases).some((p) => p.includes('it is in'))).toBe(false);
  });

  it('is deterministic for a seed, and the written lexicon drives the classifier', async () => {
    const settings = { minDocumentFrequency: 5, clusterCount: 8, seed: 4 };
    const a = await mineStrategicGrams(documents, settings);
    const b = await mineStrategicGrams(documents, settings);
    expect(b).toEqual(a);
    const path = join(dir, 'nested', 'mined.json');
    writeLexiconFile(path, a.lexicon);
    const loaded = loadLexiconFile(path);
    expect(loaded.grams).toEqual(a.lexicon.grams);
    expect(loaded.meta).toMatchObject({
      documents: 300,
      minDocumentFrequency: 5,
      clustering: 'kmeans',
    });
    const classifier = createStrategicGramsClassifier({ lexicon: path });
    const matches = classifier.findMatches('Hmm. Let us try another approach, please.');
    expect(matches.map((m) => m.gram)).toEqual(['let us try another approach']);
    expect(matches[0]!.classId).toBe(
      loaded.grams.find((g) => g.phrase === matches[0]!.gram)!.classId,
    );
  });

  it('minimum document frequency and numeric n-grams', async () => {
    const docs = ['we try step 42 now', 'we try step 42 now', 'we try step 42 now', 'a b c'];
    const kept = await mineStrategicGrams(docs, { minDocumentFrequency: 3, topClusterFraction: 1 });
    expect(kept.lexicon.grams.map((g) => g.phrase).sort()).toEqual(['we try step']);
    const withNumbers = await mineStrategicGrams(docs, {
      minDocumentFrequency: 3,
      topClusterFraction: 1,
      dropNumeric: false,
    });
    expect(withNumbers.lexicon.grams.map((g) => g.phrase)).toContain('step 42 now');
    const none = await expectHicraRejection(() =>
      mineStrategicGrams(docs, { minDocumentFrequency: 4 }),
    );
    expect(none.code).toBe(ErrorCode.InvalidValue);
    expect(none.message).toContain('minDocumentFrequency = 4 of the 4 documents');
  });

  it('a user embedder is used, checked and normalised', async () => {
    const calls: string[][] = [];
    const twoDimensional = {
      dimension: 2,
      embed(texts: readonly string[]) {
        calls.push([...texts]);
        return Float32Array.from(texts.flatMap((t) => (t.startsWith('let') ? [3, 0] : [0, 5])));
      },
    };
    const result = await mineStrategicGrams(documents, {
      minDocumentFrequency: 5,
      embedder: twoDimensional,
      clusterCount: 2,
      topClusterFraction: 0.5,
    });
    expect(calls).toHaveLength(1);
    expect(result.clusters).toHaveLength(2);
    const wrong = { dimension: 3, embed: () => new Float32Array(4) };
    const shape = await expectHicraRejection(() =>
      mineStrategicGrams(documents, { minDocumentFrequency: 5, embedder: wrong }),
    );
    expect(shape.code).toBe(ErrorCode.ShapeMismatch);
    expect(shape.message).toContain('expected a Float32Array of');
    const zeros = { dimension: 2, embed: (t: readonly string[]) => new Float32Array(2 * t.length) };
    const zero = await expectHicraRejection(() =>
      mineStrategicGrams(documents, { minDocumentFrequency: 5, embedder: zeros }),
    );
    expect(zero.message).toContain('is all zeros');
    const nan = {
      dimension: 1,
      embed: (t: readonly string[]) => new Float32Array(t.length).fill(Number.NaN),
    };
    const notFinite = await expectHicraRejection(() =>
      mineStrategicGrams(documents, { minDocumentFrequency: 5, embedder: nan }),
    );
    expect(notFinite.code).toBe(ErrorCode.InvalidValue);
    expect(notFinite.message).toContain('holds NaN');
  });

  it.each([
    [[], {}, ErrorCode.InvalidArgument, 'documents must be a non-empty array'],
    [['ok', 3], {}, ErrorCode.InvalidArgument, 'documents[1] must be a string'],
    [['ok'], { minN: 0 }, ErrorCode.InvalidConfig, 'config key minN'],
    [['ok'], { minN: 4, maxN: 3 }, ErrorCode.InvalidConfig, 'config key maxN'],
    [['ok'], { topClusterFraction: 0 }, ErrorCode.InvalidConfig, 'config key topClusterFraction'],
    [['ok'], { clustering: 'dbscan' }, ErrorCode.InvalidConfig, 'config key clustering'],
    [['ok'], { stopWords: 'the' }, ErrorCode.InvalidConfig, 'config key stopWords'],
    [['ok'], { embedder: {} }, ErrorCode.InvalidConfig, 'config key embedder'],
    [['ok'], { k: 3 }, ErrorCode.InvalidConfig, 'unknown setting'],
  ])('bad input %#', async (docs, settings, code, fragment) => {
    const error = await expectHicraRejection(() =>
      mineStrategicGrams(docs as never, settings as never),
    );
    expect(error.code).toBe(code);
    expect(error.message).toContain(fragment);
  });
});

describe('the hashed n-gram embedder', () => {
  it('gives unit vectors, deterministically; shared words mean higher cosine', () => {
    const texts = [
      'let us try another approach',
      'let us try another way',
      'cold soup tastes strange',
    ];
    const v = hashedNgramEmbedder.embed(texts);
    expect(v).toEqual(hashedNgramEmbedder.embed(texts));
    const d = hashedNgramEmbedder.dimension;
    const cos = (a: number, b: number) => {
      let s = 0;
      for (let k = 0; k < d; k++) s += v[a * d + k]! * v[b * d + k]!;
      return s;
    };
    for (let i = 0; i < 3; i++) expect(cos(i, i)).toBeCloseTo(1, 5);
    expect(cos(0, 1)).toBeGreaterThan(0.5);
    expect(cos(0, 2)).toBeLessThan(0.2);
  });

  it('case and curly quotes do not change the vector', () => {
    const e = createHashedNgramEmbedder({ dimension: 64 });
    const v = e.embed(["Let's TRY", 'let’s try']);
    expect(Array.from(v.subarray(0, 64))).toEqual(Array.from(v.subarray(64)));
  });

  it('rejects bad settings and texts', () => {
    expect(expectHicraError(() => createHashedNgramEmbedder({ dimension: 0 })).message).toContain(
      'config key dimension',
    );
    expect(
      expectHicraError(() => createHashedNgramEmbedder({ minN: 3, maxN: 2 })).message,
    ).toContain('config key maxN');
    expect(expectHicraError(() => hashedNgramEmbedder.embed(['a', 1 as never])).message).toContain(
      'texts[1] must be a string',
    );
  });
});

describe('clustering', () => {
  // Two tight groups on the unit circle: around 0° and around 90°.
  const angles = [0, 0.1, 1.5, 1.6, 0.05, 1.55];
  const vectors = Float32Array.from(angles.flatMap((a) => [Math.cos(a), Math.sin(a)]));

  it('k-means++ separates two groups; labels numbered by first member', () => {
    const { labels, clusterCount } = kMeansPlusPlus(vectors, 6, 2, 2, 0);
    expect(clusterCount).toBe(2);
    expect(Array.from(labels)).toEqual([0, 0, 1, 1, 0, 1]);
  });

  it('k-means++ with more clusters than distinct vectors gives fewer clusters', () => {
    const same = Float32Array.from([1, 0, 1, 0, 1, 0]);
    expect(kMeansPlusPlus(same, 3, 2, 3, 0).clusterCount).toBe(1);
  });

  it('agglomerative: merges above the threshold, stops below it', () => {
    expect(Array.from(agglomerativeCosine(vectors, 6, 2, 0.9).labels)).toEqual([0, 0, 1, 1, 0, 1]);
    expect(agglomerativeCosine(vectors, 6, 2, 0.9999).clusterCount).toBe(6);
    expect(agglomerativeCosine(vectors, 6, 2, -1).clusterCount).toBe(1);
  });

  it('agglomerative uses average linkage', () => {
    // a-b similar (0.9); c is 0.8 to a and 0.6 to b: average 0.7, so with threshold 0.75 c
    // stays alone (single linkage would merge it at 0.8).
    const cos = (x: number) => [x, Math.sqrt(1 - x * x)];
    const a = [1, 0, 0];
    const b = [...cos(0.9), 0];
    // c = (0.8, y, z) with b·c = 0.6.
    const y = (0.6 - 0.9 * 0.8) / Math.sqrt(1 - 0.81);
    const c = [0.8, y, Math.sqrt(1 - 0.64 - y * y)];
    const v = Float32Array.from([...a, ...b, ...c]);
    expect(Array.from(agglomerativeCosine(v, 3, 3, 0.75).labels)).toEqual([0, 0, 1]);
    expect(Array.from(agglomerativeCosine(v, 3, 3, 0.65).labels)).toEqual([0, 0, 0]);
  });
});

describe('reading a corpus file', () => {
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  it('strings, objects with text, rollout records with response and a reward filter', () => {
    const path = file(
      'corpus.jsonl',
      [
        JSON.stringify('first solution'),
        JSON.stringify({ text: 'second solution' }),
        '',
        JSON.stringify({ schema: 'hicra.rollout.v1', response: 'third', reward: 1 }),
        JSON.stringify({ schema: 'hicra.rollout.v1', response: 'failed', reward: 0 }),
        JSON.stringify({ schema: 'hicra.rollout.v1', response: 'unscored', reward: null }),
      ].join('\n'),
    );
    expect(readCorpusFile(path).length).toBe(5);
    expect(readCorpusFile(path, { minReward: 1 })).toEqual([
      'first solution',
      'second solution',
      'third',
    ]);
  });

  it.each([
    ['bad.jsonl', '"ok"\n{"text": 1}\n', ['bad.jsonl, line 2', 'field "text" must be a string']],
    ['broken.jsonl', '"ok"\n"ok"\n{oops\n', ['broken.jsonl, line 3', 'not valid JSON']],
    ['array.jsonl', '[1, 2]\n', ['array.jsonl, line 1', 'expected a JSON string or an object']],
  ])('%s names the file and the line', (name, content, fragments) => {
    const error = expectHicraError(() => readCorpusFile(file(name, content)));
    expect(error.code).toBe(ErrorCode.CorruptFile);
    for (const f of fragments) expect(error.message).toContain(f);
  });

  it('a missing file', () => {
    const error = expectHicraError(() => readCorpusFile(join(dir, 'missing.jsonl')));
    expect(error.code).toBe(ErrorCode.CorruptFile);
    expect(error.message).toContain('missing.jsonl: cannot be read');
  });
});
