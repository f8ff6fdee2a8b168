import { ErrorCode } from '@hicra/spec';
import { expectHicraError } from '@hicra/spec/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createWordTokenizer,
  normalizeWords,
  WORD_SPECIAL_TOKENS,
  WordTokenizer,
} from '../src/tokenizers/index.js';

const spansOf = (spans: Int32Array) =>
  Array.from({ length: spans.length / 2 }, (_, i) => [spans[2 * i], spans[2 * i + 1]]);

describe('WordTokenizer: hand-computed cases', () => {
  const tokenizer = new WordTokenizer({
    vocabulary: ['wait', ',', '3', '*', '8', '=', '24', '.'],
  });

  it('has the special tokens at ids 0..3 and the vocabulary after them', () => {
    expect(WORD_SPECIAL_TOKENS).toEqual(['<pad>', '<bos>', '<eos>', '<unk>']);
    expect(tokenizer.specialTokens).toEqual({ pad: 0, bos: 1, eos: 2, unk: 3 });
    expect(tokenizer.vocabSize).toBe(12);
    expect(tokenizer.tokens.slice(0, 5)).toEqual(['<pad>', '<bos>', '<eos>', '<unk>', 'wait']);
    expect(tokenizer.tokenToId('24')).toBe(10);
    expect(tokenizer.tokenToId('nope')).toBeUndefined();
    expect(tokenizer.idToToken(11)).toBe('.');
    expect(tokenizer.idToToken(12)).toBeUndefined();
    expect(tokenizer.idToToken(1.5)).toBeUndefined();
  });

  it('encodes words, numbers and symbols with exact UTF-16 spans', () => {
    const text = 'Wait, 3 * 8 = 24.';
    const { ids, spans } = tokenizer.encode(text);
    expect(ids).toBeInstanceOf(Int32Array);
    expect(spans).toBeInstanceOf(Int32Array);
    expect([...ids]).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);
    expect(spansOf(spans)).toEqual([
      [0, 4],
      [4, 5],
      [6, 7],
      [8, 9],
      [10, 11],
      [12, 13],
      [14, 16],
      [16, 17],
    ]);
  });

  it('adds <bos> and <eos> with (-1, -1) spans on request', () => {
    const { ids, spans } = tokenizer.encode('3 = 3', { addSpecialTokens: true });
    expect([...ids]).toEqual([1, 6, 9, 6, 2]);
    expect([...spans]).toEqual([-1, -1, 0, 1, 2, 3, 4, 5, -1, -1]);
    expect(tokenizer.encode('', { addSpecialTokens: true }).ids).toEqual(new Int32Array([1, 2]));
    expect(tokenizer.encode('   ').ids.length).toBe(0);
  });

  it('maps unknown words to <unk> and keeps their spans', () => {
    const { ids, spans } = tokenizer.encode('wait, 3 + 8');
    expect([...ids]).toEqual([4, 5, 6, 3, 8]);
    expect(spansOf(spans)[3]).toEqual([8, 9]);
  });

  it('decodes with the spacing rule and skips special tokens by default', () => {
    expect(tokenizer.decode([4, 5, 6, 7, 8, 9, 10, 11])).toBe('wait, 3 * 8 = 24.');
    expect(tokenizer.decode(new Int32Array([1, 4, 3, 11, 2, 0]))).toBe('wait.');
    expect(tokenizer.decode([1, 4, 3, 11, 2, 0], { skipSpecialTokens: false })).toBe(
      '<bos> wait <unk>. <eos> <pad>',
    );
    expect(tokenizer.decode([])).toBe('');
  });

  it('splits the token classes as documented', () => {
    const t = WordTokenizer.fromCorpus(['']);
    const split = (text: string) => {
      const { spans } = t.encode(text);
      return spansOf(spans).map(([s, e]) => text.slice(s, e));
    };
    expect(split("Let's see: 3.14 + 2. x2 2x (a-b)/c!?")).toEqual([
      "Let's",
      'see',
      ':',
      '3.14',
      '+',
      '2',
      '.',
      'x2',
      '2',
      'x',
      '(',
      'a',
      '-',
      'b',
      ')',
      '/',
      'c',
      '!',
      '?',
    ]);
    expect(split('café 中文 😀👍')).toEqual(['café', '中文', '😀', '👍']);
    expect(split("1.2.3 dogs' 50%")).toEqual(['1.2', '.', '3', 'dogs', "'", '50', '%']);
  });

  it('normalises: lower case, one space between tokens, none before closing or after opening punctuation', () => {
    expect(normalizeWords('  Wait ,3*8=24 .\n( A / B ) ')).toBe('wait, 3 * 8 = 24. (a / b)');
    expect(normalizeWords('Wait ,3', { lowercase: false })).toBe('Wait, 3');
    expect(tokenizer.normalize('WAIT,3')).toBe('wait, 3');
    expect(normalizeWords('Use 3, 8, 2 to make 24.')).toBe('use 3, 8, 2 to make 24.');
    expect(normalizeWords('[1, 2]; {x: 50%}')).toBe('[1, 2]; {x: 50%}');
  });

  it('case-preserving tokenizers keep case in tokens and spans', () => {
    const cased = new WordTokenizer({ vocabulary: ['Wait', 'wait'], lowercase: false });
    expect([...cased.encode('Wait wait WAIT').ids]).toEqual([4, 5, 3]);
    expect(cased.decode([4, 5])).toBe('Wait wait');
  });

  it('spans index the original text when lower-casing changes its length', () => {
    const t = WordTokenizer.fromCorpus(['İstanbul']);
    const text = 'x İstanbul y';
    const { ids, spans } = t.encode(text);
    expect(t.idToToken(ids[1] as number)).toBe('İstanbul'.toLowerCase());
    expect(spansOf(spans)).toEqual([
      [0, 1],
      [2, 10],
      [11, 12],
    ]);
  });

  it('createWordTokenizer is the factory form', () => {
    const t = createWordTokenizer({ vocabulary: ['a'] });
    expect(t).toBeInstanceOf(WordTokenizer);
    expect(t.vocabSize).toBe(5);
  });
});

describe('WordTokenizer: the example of docs/tokenizers-and-checkpoints.md', () => {
  it('gives the tokens, spans and texts the documentation shows', () => {
    const tokenizer = WordTokenizer.fromCorpus(['Use 3, 8, 2 to make 24.', 'Wait, 3 * 8 = 24.']);
    const { ids, spans } = tokenizer.encode('Wait, 3 * 8 = 24.');
    expect([...ids].map((id) => tokenizer.idToToken(id))).toEqual([
      'wait',
      ',',
      '3',
      '*',
      '8',
      '=',
      '24',
      '.',
    ]);
    expect(spansOf(spans)).toEqual([
      [0, 4],
      [4, 5],
      [6, 7],
      [8, 9],
      [10, 11],
      [12, 13],
      [14, 16],
      [16, 17],
    ]);
    expect(tokenizer.decode(ids)).toBe('wait, 3 * 8 = 24.');
    expect(tokenizer.normalize('WAIT ,3*8=24 .')).toBe('wait, 3 * 8 = 24.');
    const again = WordTokenizer.fromJSON(JSON.stringify(tokenizer));
    expect(again.tokens).toEqual(tokenizer.tokens);
  });
});

describe('WordTokenizer.fromCorpus', () => {
  it('orders by count, then by token, and drops tokens below minCount', () => {
    const texts = ['b a c a', 'c a b', 'd'];
    expect(WordTokenizer.fromCorpus(texts).tokens.slice(4)).toEqual(['a', 'b', 'c', 'd']);
    expect(WordTokenizer.fromCorpus(texts, { minCount: 2 }).tokens.slice(4)).toEqual([
      'a',
      'b',
      'c',
    ]);
    expect(WordTokenizer.fromCorpus([...texts].reverse()).tokens).toEqual(
      WordTokenizer.fromCorpus(texts).tokens,
    );
    expect(WordTokenizer.fromCorpus(['A a'], { lowercase: false }).tokens.slice(4)).toEqual([
      'A',
      'a',
    ]);
  });

  it('rejects bad arguments', () => {
    expectHicraError(() => WordTokenizer.fromCorpus(['a'], { minCount: 0 }), {
      code: ErrorCode.InvalidValue,
      message: ['minCount', '0'],
    });
    expectHicraError(() => WordTokenizer.fromCorpus(['a'], { minCount: 1.5 }), {
      code: ErrorCode.InvalidValue,
      message: ['minCount'],
    });
    expectHicraError(() => WordTokenizer.fromCorpus(['a', 7 as never]), {
      code: ErrorCode.InvalidArgument,
      message: ['texts[1]', 'number'],
    });
    expectHicraError(() => WordTokenizer.fromCorpus('a b' as never), {
      code: ErrorCode.InvalidArgument,
      message: ['texts must be an array'],
    });
  });
});

describe('WordTokenizer JSON', () => {
  const tokenizer = WordTokenizer.fromCorpus(['Wait, 3 * 8 = 24.'], { onUnknown: 'error' });

  it('round-trips through toJSON / fromJSON, as an object or as text', () => {
    const json = tokenizer.toJSON();
    expect(json).toEqual({
      schema: 'hicra.word-tokenizer.v1',
      lowercase: true,
      onUnknown: 'error',
      newlines: false,
      specialTokens: ['<pad>', '<bos>', '<eos>', '<unk>'],
      vocabulary: tokenizer.tokens.slice(4),
    });
    for (const input of [json, JSON.stringify(tokenizer), JSON.parse(JSON.stringify(json))]) {
      const back = WordTokenizer.fromJSON(input);
      expect(back.tokens).toEqual(tokenizer.tokens);
      expect(back.lowercase).toBe(true);
      expect(back.onUnknown).toBe('error');
    }
  });

  it('names what is wrong in malformed JSON', () => {
    const good = tokenizer.toJSON();
    const cases: [unknown, string, string[]][] = [
      ['{"schema": ', '', ['not valid JSON']],
      [[1, 2], '', ['expected an object', 'an array']],
      [null, '', ['expected an object', 'null']],
      [{ ...good, extra: 1 }, 'extra', ['unknown key']],
      [{ ...good, schema: 'v0' }, 'schema', ['"hicra.word-tokenizer.v1"', '"v0"']],
      [{ ...good, lowercase: 'yes' }, 'lowercase', ['boolean', '"yes"']],
      [{ ...good, onUnknown: 'skip' }, 'onUnknown', ['"skip"']],
      [{ ...good, specialTokens: ['<pad>'] }, 'specialTokens', ['["<pad>"]']],
      [{ ...good, vocabulary: 'a b' }, 'vocabulary', ['array']],
      [{ ...good, vocabulary: ['a', 2] }, 'vocabulary[1]', ['must be a string']],
      [{ ...good, vocabulary: ['a', 'b', 'a'] }, 'vocabulary[2]', ['repeats vocabulary[0]']],
      [{ ...good, vocabulary: ['a b'] }, 'vocabulary[0]', ['2 tokens']],
      [{ ...good, vocabulary: ['Wait'] }, 'vocabulary[0]', ['not in normal form', '"wait"']],
      [{ ...good, vocabulary: ['<pad>'] }, 'vocabulary[0]', ['3 tokens']],
    ];
    for (const [input, path, fragments] of cases) {
      const error = expectHicraError(() => WordTokenizer.fromJSON(input), {
        code: ErrorCode.InvalidConfig,
        message: [...fragments],
      });
      expect(error.details['path']).toBe(path);
      if (path) expect(error.message).toContain(`config key ${path}:`);
    }
  });
});

describe('WordTokenizer: bad input', () => {
  const tokenizer = new WordTokenizer({ vocabulary: ['a', 'b'] });

  it('rejects bad settings', () => {
    expectHicraError(() => new WordTokenizer(null as never), {
      code: ErrorCode.InvalidArgument,
      message: ['settings'],
    });
    expectHicraError(() => new WordTokenizer({ vocabulary: 'ab' as never }), {
      code: ErrorCode.InvalidArgument,
      message: ['vocabulary must be an array'],
    });
    expectHicraError(() => new WordTokenizer({ vocabulary: ['a'], lowercase: 1 as never }), {
      code: ErrorCode.InvalidArgument,
      message: ['lowercase'],
    });
    expectHicraError(() => new WordTokenizer({ vocabulary: ['a'], onUnknown: 'drop' as never }), {
      code: ErrorCode.InvalidArgument,
      message: ['onUnknown', '"drop"'],
    });
    expectHicraError(() => new WordTokenizer({ vocabulary: ['a', ''] }), {
      code: ErrorCode.InvalidValue,
      message: ['vocabulary[1]', '0 tokens'],
    });
    expectHicraError(() => new WordTokenizer({ vocabulary: [' a'] }), {
      code: ErrorCode.InvalidValue,
      message: ['vocabulary[0]', 'not in normal form'],
    });
  });

  it('throws on unknown words with onUnknown: error, naming the word and its span', () => {
    const strict = new WordTokenizer({ vocabulary: ['a'], onUnknown: 'error' });
    expectHicraError(() => strict.encode('a zorb'), {
      code: ErrorCode.InvalidValue,
      message: ['"zorb"', '[2, 6)'],
    });
  });

  it('decode rejects ids out of range, non-integers and non-arrays', () => {
    expectHicraError(() => tokenizer.decode([4, 6]), {
      code: ErrorCode.InvalidValue,
      message: ['ids[1] = 6', '[0, 6)'],
    });
    expectHicraError(() => tokenizer.decode([-1]), {
      code: ErrorCode.InvalidValue,
      message: ['ids[0] = -1'],
    });
    expectHicraError(() => tokenizer.decode([0.5]), {
      code: ErrorCode.InvalidValue,
      message: ['ids[0] = 0.5'],
    });
    expectHicraError(() => tokenizer.decode([Number.NaN]), {
      code: ErrorCode.InvalidValue,
      message: ['NaN'],
    });
    expectHicraError(() => tokenizer.decode(7 as never), {
      code: ErrorCode.InvalidArgument,
      message: ['ids'],
    });
  });

  it('encode and normalizeWords reject non-strings', () => {
    expectHicraError(() => tokenizer.encode(3 as never), {
      code: ErrorCode.InvalidArgument,
      message: ['text', 'number'],
    });
    expectHicraError(() => normalizeWords(null as never), {
      code: ErrorCode.InvalidArgument,
      message: ['text'],
    });
  });
});

describe('WordTokenizer: properties', () => {
  const texts = fc.oneof(
    fc.string({
      unit: fc.constantFrom(
        'a',
        'B',
        'é',
        '中',
        '3',
        '.',
        ',',
        '(',
        ')',
        '*',
        "'",
        ' ',
        '\n',
        '😀',
        '-',
        '%',
      ),
    }),
    fc.string({ unit: 'grapheme' }),
    fc.string({ unit: 'binary' }),
    fc.string({ unit: 'grapheme-ascii' }),
  );

  it('decode(encode(t)) === t for t in normal form; normalize is idempotent and keeps the tokens', () => {
    fc.assert(
      fc.property(texts, fc.boolean(), (text, lowercase) => {
        const t = WordTokenizer.fromCorpus([text], { lowercase });
        const normal = t.normalize(text);
        expect(t.decode(t.encode(normal).ids)).toBe(normal);
        expect(t.normalize(normal)).toBe(normal);
        expect(t.encode(normal).ids).toEqual(t.encode(text).ids);
      }),
      { numRuns: 400 },
    );
  });

  it('spans cover each token exactly, in order, with only whitespace between them', () => {
    fc.assert(
      fc.property(texts, fc.boolean(), (text, lowercase) => {
        const t = WordTokenizer.fromCorpus([text], { lowercase });
        const { ids, spans } = t.encode(text);
        let last = 0;
        for (let i = 0; i < ids.length; i++) {
          const [start, end] = [spans[2 * i] as number, spans[2 * i + 1] as number];
          expect(start).toBeGreaterThanOrEqual(last);
          expect(end).toBeGreaterThan(start);
          expect(text.slice(last, start).trim()).toBe('');
          const piece = text.slice(start, end);
          expect(t.idToToken(ids[i] as number)).toBe(lowercase ? piece.toLowerCase() : piece);
          last = end;
        }
        expect(text.slice(last).trim()).toBe('');
      }),
      { numRuns: 400 },
    );
  });
});

describe('WordTokenizer with newlines', () => {
  it('keeps line breaks as tokens with exact spans, and decodes the layout back', () => {
    const text = 'maybe 5 * 12 = 60\nthe next step is 60 - 9 = 51\r\nAnswer: 5 * 12 - 9';
    const tokenizer = WordTokenizer.fromCorpus([text], { lowercase: false, newlines: true });
    const { ids, spans } = tokenizer.encode(text);
    const newline = tokenizer.tokenToId('\n')!;
    const breaks = Array.from(ids).flatMap((id, k) =>
      id === newline ? [[spans[2 * k], spans[2 * k + 1]]] : [],
    );
    expect(breaks).toEqual([
      [17, 18],
      [46, 48],
    ]);
    expect(tokenizer.decode(ids)).toBe(
      'maybe 5 * 12 = 60\nthe next step is 60 - 9 = 51\nAnswer: 5 * 12 - 9',
    );
    const again = WordTokenizer.fromJSON(JSON.stringify(tokenizer));
    expect(again.newlines).toBe(true);
    expect(again.encode(text).ids).toEqual(ids);
    // without the option, line breaks only separate
    const flat = WordTokenizer.fromCorpus([text], { lowercase: false });
    expect(flat.decode(flat.encode(text).ids)).toBe(
      'maybe 5 * 12 = 60 the next step is 60 - 9 = 51 Answer: 5 * 12 - 9',
    );
    expect(() => WordTokenizer.fromCorpus([text], { newlines: 'yes' as never })).toThrow(
      /newlines must be a boolean/,
    );
  });
});
