/**
 * Span units (issue 18): records may count span offsets in UTF-16 code units (JavaScript) or
 * code points (Python, Hugging Face); the batch always holds UTF-16. Emoji and CJK text make
 * the two differ (an emoji outside the BMP is 2 code units, 1 code point).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkSpanUnit,
  convertSpans,
  parseRolloutRecord,
  ROLLOUT_SCHEMA_V1,
  type RolloutRecordV1,
  rolloutBatchFromRecords,
  rolloutRecordsFromBatch,
  type TokenizerV1,
  textLength,
} from '../src/index.js';

/** One token per code point; id = code point + 1; spans in UTF-16, as every TokenizerV1's. */
const codePoints: TokenizerV1 = {
  vocabSize: 0x110001,
  specialTokens: {},
  encode(text) {
    const ids: number[] = [];
    const spans: number[] = [];
    let u = 0;
    for (const c of text) {
      ids.push(c.codePointAt(0)! + 1);
      spans.push(u, u + c.length);
      u += c.length;
    }
    return { ids: Int32Array.from(ids), spans: Int32Array.from(spans) };
  },
  decode: (ids) => Array.from(ids, (id) => String.fromCodePoint(id - 1)).join(''),
};

/** Slices by code points, as Python's `str` does. */
const pythonSlice = (text: string, start: number, end: number) =>
  Array.from(text).slice(start, end).join('');

const base = (extra: Partial<RolloutRecordV1>): RolloutRecordV1 => ({
  schema: ROLLOUT_SCHEMA_V1,
  groupId: 'g',
  prompt: 'p',
  response: '',
  reward: 1,
  ...extra,
});

const TEXT = 'ok 😀 等等, wait 🤔!';

describe('convertSpans', () => {
  it('maps UTF-16 offsets to code points and back around emoji and CJK', () => {
    // UTF-16: "ok" 0-2, 😀 3-5, 等等 6-8, 🤔 15-17; in code points 😀 is 3-4 and all after it shift.
    expect(textLength(TEXT, 'utf16')).toBe(TEXT.length);
    expect(textLength(TEXT, 'codepoint')).toBe(Array.from(TEXT).length);
    expect(TEXT.length - Array.from(TEXT).length).toBe(2);
    const utf16 = Int32Array.of(0, 2, 3, 5, 6, 8, 15, 17);
    const cp = convertSpans(TEXT, utf16, 'utf16', 'codepoint');
    expect(Array.from(cp)).toEqual([0, 2, 3, 4, 5, 7, 14, 15]);
    for (let i = 0; i < utf16.length; i += 2)
      expect(pythonSlice(TEXT, cp[i]!, cp[i + 1]!)).toBe(TEXT.slice(utf16[i]!, utf16[i + 1]!));
    expect(Array.from(convertSpans(TEXT, cp, 'codepoint', 'utf16'))).toEqual(Array.from(utf16));
  });

  it('keeps (-1, -1), maps an offset inside a surrogate pair to that code point, refuses offsets past the end', () => {
    expect(Array.from(convertSpans('a😀', [-1, -1, 1, 2, 2, 3], 'utf16', 'codepoint'))).toEqual([
      -1, -1, 1, 1, 1, 2,
    ]);
    expect(() => convertSpans('a😀', [0, 3], 'codepoint', 'utf16')).toThrow(
      'span 0 [0, 3) is not within the text',
    );
    expect(() => convertSpans('a😀', [2, 1], 'utf16', 'codepoint')).toThrow('span 0');
  });

  it('round-trips spans on code-point boundaries of any text (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme' }), { maxLength: 8 }), (pieces) => {
        const text = pieces.join('');
        const utf16: number[] = [];
        let u = 0;
        for (const piece of pieces) {
          utf16.push(u, u + piece.length);
          u += piece.length;
        }
        const cp = convertSpans(text, utf16, 'utf16', 'codepoint');
        pieces.forEach((piece, i) => {
          expect(pythonSlice(text, cp[2 * i]!, cp[2 * i + 1]!)).toBe(piece);
        });
        expect(Array.from(convertSpans(text, cp, 'codepoint', 'utf16'))).toEqual(utf16);
      }),
      { numRuns: 200 },
    );
  });

  it('checkSpanUnit names the setting', () => {
    expect(checkSpanUnit('codepoint', '--span-unit')).toBe('codepoint');
    expect(() => checkSpanUnit('bytes', '--span-unit')).toThrow(
      '--span-unit must be one of "utf16", "codepoint", got "bytes"',
    );
  });
});

describe('records with either span unit', () => {
  const ids = Array.from(codePoints.encode(TEXT).ids);
  const utf16Spans = Array.from({ length: ids.length }, (_, k) => {
    const s = codePoints.encode(TEXT).spans;
    return [s[2 * k]!, s[2 * k + 1]!] as [number, number];
  });
  const cpSpans = Array.from({ length: ids.length }, (_, k) => [k, k + 1] as [number, number]);

  it('a record without spanUnit is read as UTF-16; a code-point record is checked against the code-point length', () => {
    expect(() =>
      parseRolloutRecord(base({ response: TEXT, tokenIds: ids, tokenSpans: cpSpans })),
    ).not.toThrow();
    // The last UTF-16 span ends past the text's code-point length.
    expect(() =>
      parseRolloutRecord(
        base({ response: TEXT, tokenIds: ids, tokenSpans: utf16Spans, spanUnit: 'codepoint' }),
        'line 3',
      ),
    ).toThrow(/tokenSpans\[\d+\]: line 3: .*in code points/);
    expect(() =>
      parseRolloutRecord({ ...base({ response: TEXT }), spanUnit: 'bytes' }, 'line 4'),
    ).toThrow('line 4: expected "utf16" or "codepoint", got "bytes"');
  });

  it('both units give the same batch', () => {
    const a = rolloutBatchFromRecords([
      base({ response: TEXT, tokenIds: ids, tokenSpans: utf16Spans }),
    ]);
    const b = rolloutBatchFromRecords([
      base({ response: TEXT, tokenIds: ids, tokenSpans: cpSpans, spanUnit: 'codepoint' }),
    ]);
    expect(b.batch.tokenSpans).toEqual(a.batch.tokenSpans);
  });

  it('writes code points for Python readers: each span slices out its token, and reads back the same', () => {
    const { batch, groupKeys } = rolloutBatchFromRecords([
      base({ response: TEXT, tokenIds: ids, tokenSpans: utf16Spans }),
    ]);
    const matches = [{ start: 3, end: 5, gram: '😀', gramId: 0 }];
    const [written] = rolloutRecordsFromBatch(batch, {
      groupKeys,
      spanUnit: 'codepoint',
      planning: { mask: new Uint8Array(batch.batchSize * batch.seqLen), matches: [matches] },
    });
    expect(written!.spanUnit).toBe('codepoint');
    expect(written!.tokenSpans).toEqual(cpSpans);
    written!.tokenSpans!.forEach(([s, e], k) => {
      expect(pythonSlice(TEXT, s, e)).toBe(codePoints.decode([ids[k]!]));
    });
    expect(written!.planningMatches).toEqual([{ start: 3, end: 4, gram: '😀', gramId: 0 }]);
    const again = rolloutBatchFromRecords([parseRolloutRecord(written)]);
    expect(again.batch.tokenSpans).toEqual(batch.tokenSpans);
  });
});

describe('token ids from other systems', () => {
  const ids = Array.from(codePoints.encode(TEXT).ids);

  it('ids without spans: spans come from decoding the ids, and must reproduce the response', () => {
    const { batch } = rolloutBatchFromRecords([base({ response: TEXT, tokenIds: ids })], {
      tokenizer: codePoints,
    });
    expect(Array.from(batch.tokenSpans!)).toEqual(Array.from(codePoints.encode(TEXT).spans));
    expect(() =>
      rolloutBatchFromRecords([base({ response: 'ok 😀 等等, wait 🤔?', tokenIds: ids })], {
        tokenizer: codePoints,
        describe: (i) => `dump.jsonl line ${i + 1}`,
      }),
    ).toThrow(
      'dump.jsonl line 1: its tokenIds decode to a different text than its response (first difference at character 17: "!" vs "?")',
    );
  });

  it('ids outside the vocabulary are refused: negative ones always, too large ones with a tokenizer', () => {
    expect(() =>
      parseRolloutRecord(base({ response: 'x', tokenIds: [-5] }), 'rollouts.jsonl line 2'),
    ).toThrow('rollouts.jsonl line 2: token ids are >= 0, got -5');
    const small: TokenizerV1 = { ...codePoints, vocabSize: 1000 };
    expect(() =>
      rolloutBatchFromRecords([base({ response: TEXT, tokenIds: [5, 99999999] })], {
        tokenizer: small,
        describe: () => 'line 7',
      }),
    ).toThrow("line 7: tokenIds[1] = 99999999 is outside the tokenizer's vocabulary [0, 1000)");
  });
});

describe('groups of a multi-step log', () => {
  it('group ids restart every step: (step, groupId) is the group', () => {
    const records = [0, 1].flatMap((step) =>
      [0, 1].map((j) =>
        base({ step, groupId: 0, prompt: `prompt of step ${step}`, response: `r${j}`, reward: j }),
      ),
    );
    const { batch, groupKeys } = rolloutBatchFromRecords(records, { tokenizer: codePoints });
    expect(Array.from(batch.groupIds)).toEqual([0, 0, 1, 1]);
    expect(groupKeys).toEqual([0, 0]);
    expect(batch.prompts.texts).toEqual(['prompt of step 0', 'prompt of step 1']);
    // Within one step, one group id still means one prompt.
    expect(() =>
      rolloutBatchFromRecords(
        [base({ step: 3, groupId: 0, prompt: 'a' }), base({ step: 3, groupId: 0, prompt: 'b' })],
        { tokenizer: codePoints },
      ),
    ).toThrow('record 1 has group 0 of step 3 but a different prompt');
  });
});
