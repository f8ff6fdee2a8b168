import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '@hicra/spec';
import { expectHicraError } from '@hicra/spec/testing';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createPlanningClassifier,
  createStrategicGramsClassifier,
  LEXICON_SCHEMA,
  loadLexiconFile,
  paperLexicon,
  parseLexicon,
  serializeLexicon,
} from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'hicra-planning-lexicon-'));
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the paper lexicon shipped in the package', () => {
  it('is the 249 phrases of the shared data file, in order', () => {
    const shipped = JSON.parse(
      readFileSync(new URL('../data/strategic-grams.paper.json', import.meta.url), 'utf8'),
    ) as { grams: string[] };
    expect(paperLexicon.grams).toHaveLength(249);
    expect(paperLexicon.grams.map((g) => g.phrase)).toEqual(shipped.grams);
    expect(paperLexicon.source).toContain('2509.03646');
  });

  it('is frozen', () => {
    expect(Object.isFrozen(paperLexicon)).toBe(true);
    expect(Object.isFrozen(paperLexicon.grams)).toBe(true);
    expect(Object.isFrozen(paperLexicon.grams[0])).toBe(true);
  });
});

describe('lexicon inputs', () => {
  it('an array of phrases, an array of entries, an object, a file: same gram ids', () => {
    const grams = [{ phrase: 'let me check', classId: 1, score: 0.25 }, { phrase: 'wait' }];
    const fromObject = parseLexicon({ source: 'test', grams });
    expect(fromObject).toEqual({ source: 'test', grams });
    expect(parseLexicon(['let me check', 'wait']).grams).toEqual([
      { phrase: 'let me check' },
      { phrase: 'wait' },
    ]);
    const path = file(
      'mixed.json',
      JSON.stringify({ grams: ['let me check', { phrase: 'wait' }] }),
    );
    const c = createStrategicGramsClassifier({ lexicon: path });
    expect(c.findMatches('Wait, let me check').map((m) => m.gramId)).toEqual([1, 0]);
  });

  it('serialise then load round-trips, with the schema tag', () => {
    const lexicon = parseLexicon({
      source: 'mined',
      meta: { documents: 3 },
      grams: [
        { phrase: 'let me check', classId: 0, score: 0.5 },
        { phrase: 'try another way', classId: 1, score: 0.25 },
      ],
    });
    const text = serializeLexicon(lexicon);
    expect(JSON.parse(text).schema).toBe(LEXICON_SCHEMA);
    const loaded = loadLexiconFile(file('round-trip.json', text));
    expect(loaded).toEqual({ ...lexicon, schema: LEXICON_SCHEMA });
  });

  it('a config can name a lexicon file', () => {
    const path = file('config.json', JSON.stringify(['so far so good']));
    const c = createPlanningClassifier({ name: 'strategic-grams', lexicon: path });
    expect(c.findMatches('So far so good.')).toHaveLength(1);
  });
});

describe('bad lexicons are errors that name the entry', () => {
  it.each([
    ['an empty list', [], ['grams', 'is empty']],
    ['an empty grams list', { grams: [] }, ['grams', 'is empty']],
    ['a punctuation-only phrase', ['wait', '?!'], ['grams[1]', '"?!"', 'punctuation only']],
    ['a whitespace-only phrase', [' \n '], ['grams[0]', 'empty after normalisation']],
    ['an empty phrase', [''], ['grams[0]', 'empty after normalisation']],
    ['a repeated phrase', ['Wait', 'wait '], ['grams[1]', 'repeats grams[0]']],
    ['a repeat through curly quotes', ["let's", 'let’s'], ['grams[1]', 'repeats grams[0]']],
    ['a number as phrase', [42], ['grams[0]', 'expected a phrase string']],
    [
      'a negative classId',
      [{ phrase: 'wait', classId: -1 }],
      ['grams[0].classId', 'non-negative integer'],
    ],
    ['a fractional classId', [{ phrase: 'wait', classId: 0.5 }], ['grams[0].classId']],
    ['a NaN score', [{ phrase: 'wait', score: Number.NaN }], ['grams[0].score', 'finite number']],
    [
      'an unknown entry key',
      [{ phrase: 'wait', weight: 2 }],
      ['grams[0].weight', 'unknown phrase key'],
    ],
    [
      'an unknown top-level key',
      { grams: ['wait'], phrases: [] },
      ['phrases', 'unknown lexicon key'],
    ],
    ['a wrong schema', { schema: 'v2', grams: ['wait'] }, ['schema', LEXICON_SCHEMA]],
    ['no grams', { source: 'x' }, ['grams', 'is missing']],
    ['grams not an array', { grams: 'wait' }, ['grams', 'expected an array']],
    ['a number', 7, ['a lexicon must be an object']],
  ])('%s', (_, value, fragments) => {
    const error = expectHicraError(() => parseLexicon(value));
    expect(error.code).toBe(ErrorCode.InvalidConfig);
    for (const f of fragments) expect(error.message).toContain(f);
  });

  it('the classifier factory rejects them too', () => {
    expect(expectHicraError(() => createStrategicGramsClassifier({ lexicon: [] })).code).toBe(
      ErrorCode.InvalidConfig,
    );
    expect(
      expectHicraError(() => createStrategicGramsClassifier({ lexicon: ['...'] })).message,
    ).toContain('punctuation only');
  });
});

describe('bad lexicon files name the file and the problem', () => {
  it.each([
    [
      'a missing file',
      () => join(dir, 'nope.json'),
      ['nope.json', 'cannot be read', 'file not found'],
    ],
    [
      'invalid JSON',
      () => file('broken.json', '{"grams": ["wait",'),
      ['broken.json', 'not valid JSON'],
    ],
    [
      'an empty lexicon',
      () => file('empty.json', '{"grams": []}'),
      ['empty.json', 'grams', 'is empty'],
    ],
    [
      'a punctuation-only phrase',
      () => file('punct.json', '{"grams": ["wait", "--"]}'),
      ['punct.json', 'grams[1]', 'punctuation only'],
    ],
    [
      'a bad classId',
      () => file('class.json', '{"grams": [{"phrase": "wait", "classId": "a"}]}'),
      ['class.json', 'grams[0].classId'],
    ],
  ])('%s', (_, makePath, fragments) => {
    const path = makePath();
    for (const load of [
      () => loadLexiconFile(path),
      () => createStrategicGramsClassifier({ lexicon: path }),
    ]) {
      const error = expectHicraError(load);
      expect(error.code).toBe(ErrorCode.CorruptFile);
      for (const f of fragments) expect(error.message).toContain(f);
    }
  });

  it('an empty path is an invalid argument', () => {
    expect(expectHicraError(() => loadLexiconFile('')).code).toBe(ErrorCode.InvalidArgument);
  });
});
