import { describe, expect, it } from 'vitest';
import { decodeWithSpans, type TokenizerV1 } from '../src/index.js';

/**
 * Characters as tokens (id = code unit + 2), with a BOS (1) that decodes to nothing and a
 * "digraph" id (0) that decodes to two characters but that the encoder never produces.
 */
const chars: TokenizerV1 = {
  vocabSize: 200,
  specialTokens: { bos: 1 },
  encode(text) {
    const ids = Int32Array.from(text, (c) => c.charCodeAt(0) + 2);
    const spans = Int32Array.from({ length: ids.length * 2 }, (_, k) => (k + 1) >> 1);
    return { ids, spans };
  },
  decode(ids) {
    return Array.from(ids, (id) =>
      id === 1 ? '' : id === 0 ? 'xy' : String.fromCharCode(id - 2),
    ).join('');
  },
};
const ids = (text: string) => Array.from(chars.encode(text).ids);

describe('decodeWithSpans', () => {
  it("uses the encoder's spans when re-encoding gives the same ids", () => {
    const { text, spans } = decodeWithSpans(chars, ids('abc'));
    expect(text).toBe('abc');
    expect(Array.from(spans)).toEqual([0, 1, 1, 2, 2, 3]);
  });

  it('falls back to prefix growth when re-encoding differs: each span is what its token added', () => {
    const input = [1, ...ids('a'), 0, ...ids('b')];
    const { text, spans } = decodeWithSpans(chars, input);
    expect(text).toBe('axyb');
    // BOS adds nothing, 'a' one character, the digraph two, 'b' one.
    expect(Array.from(spans)).toEqual([0, 0, 0, 1, 1, 3, 3, 4]);
    for (let k = 0; k < input.length; k++) {
      const piece = text.slice(spans[2 * k]!, spans[2 * k + 1]!);
      expect(piece).toBe(chars.decode([input[k]!]));
    }
  });

  it('gives empty text and spans for no ids', () => {
    const { text, spans } = decodeWithSpans(chars, []);
    expect(text).toBe('');
    expect(spans).toHaveLength(0);
  });
});
