import { describe, expect, it } from 'vitest';
import { createStrategicGramsClassifier, paperLexicon, strategicGrams } from '../src/index.js';
import { batchOf, maskOf, planningTokens, single, wordTokenizer } from './helpers.js';

const lexicon = [
  'wait',
  'but wait',
  'wait, no',
  "wait, that's not right",
  'hmm,',
  'but',
  'not right',
  '## step',
  'does this hold true?',
  'alternatively',
  'we can',
  'café',
  'find out how many',
];
const sg = createStrategicGramsClassifier({ lexicon });
const id = (phrase: string) => lexicon.indexOf(phrase);

/** Matches of one text as [original slice, gram] pairs. */
const matched = (text: string) =>
  sg.findMatches(text).map((m) => [text.slice(m.start, m.end), m.gram]);

describe('spellings of "wait"', () => {
  it('"Wait," marks the word and not the comma', () => {
    const input = batchOf(['Wait, 3 * 8 = 24']); // Wait | , | ␣3 | ␣* | ␣8 | ␣= | ␣24
    const result = sg.classify(input);
    expect(maskOf(result)).toBe('1000000');
    expect(result.matches[0]).toEqual([{ start: 0, end: 4, gram: 'wait', gramId: id('wait') }]);
  });

  it('" wait" with a leading-space token: the token is planning, the match excludes the space', () => {
    const input = batchOf(['so wait']); // so | ␣wait
    const result = sg.classify(input);
    expect(maskOf(result)).toBe('01');
    expect(result.matches[0]).toEqual([{ start: 3, end: 7, gram: 'wait', gramId: id('wait') }]);
  });

  it('" Wait" as the first token, "WAIT" in capitals, full-width "ＷＡＩＴ"', () => {
    expect(matched(' Wait')).toEqual([['Wait', 'wait']]);
    expect(sg.findMatches(' Wait')[0]).toMatchObject({ start: 1, end: 5 });
    expect(matched('WAIT!')).toEqual([['WAIT', 'wait']]);
    expect(matched('ＷＡＩＴ.')).toEqual([['ＷＡＩＴ', 'wait']]);
  });

  it('word boundaries at alphanumeric edges: no match inside "awaiting", "waits" or "wait2"', () => {
    expect(matched('awaiting waits wait2 2wait')).toEqual([]);
    // An underscore is not a letter or digit, so it is a boundary.
    expect(matched('_wait_')).toEqual([['wait', 'wait']]);
  });
});

describe('phrases and tokens', () => {
  it('a phrase split across subword tokens marks every piece', () => {
    const text = 'Alternatively, we can';
    const input = single(text, [
      [0, 6], // Altern
      [6, 13], // atively
      [13, 14], // ,
      [14, 17], // ␣we
      [17, 21], // ␣can
    ]);
    const result = sg.classify(input);
    expect(maskOf(result)).toBe('11011');
    expect(result.matches[0]!.map((m) => [m.start, m.end, m.gram])).toEqual([
      [0, 13, 'alternatively'],
      [15, 21, 'we can'],
    ]);
  });

  it("byte-level tokens that share one character's span are both planning", () => {
    // "é" split into two byte tokens, both with span [3, 4).
    const result = sg.classify(
      single('café ok', [
        [0, 3],
        [3, 4],
        [3, 4],
        [4, 7],
      ]),
    );
    expect(maskOf(result)).toBe('1110');
  });

  it('a decomposed accent (e + U+0301) matches the composed phrase; offsets stay original', () => {
    const text = 'cafe\u0301 ok';
    expect(sg.findMatches(text)).toEqual([{ start: 0, end: 5, gram: 'café', gramId: id('café') }]);
    const result = sg.classify(batchOf([text], (t) => Array.from(t, (_, i) => [i, i + 1])));
    expect(maskOf(result)).toBe('11111000');
  });

  it('a ligature that NFKC expands maps back to its one original character', () => {
    const text = 'So ﬁnd out how many.';
    expect(sg.findMatches(text)).toEqual([
      { start: 3, end: 19, gram: 'find out how many', gramId: id('find out how many') },
    ]);
  });

  it('long NFKC expansions grow the buffers and keep offsets (U+FDFA expands to 18 characters)', () => {
    const text = `${'\ufdfa'.repeat(300)} Wait`;
    expect(sg.findMatches(text)).toEqual([
      { start: 301, end: 305, gram: 'wait', gramId: id('wait') },
    ]);
  });

  it('empty spans and padding are never planning', () => {
    const input = {
      batchSize: 1,
      seqLen: 4,
      texts: ['wait'],
      tokenSpans: Int32Array.from([0, 0, 0, 4, 4, 4, -1, -1]),
    };
    expect(maskOf(sg.classify(input))).toBe('0100');
  });

  it('tokens outside the response mask are never planning, even with a span', () => {
    const input = {
      ...single('wait wait', [
        [0, 4],
        [4, 9],
      ]),
      responseMask: Uint8Array.from([0, 1]),
    };
    const result = sg.classify(input);
    expect(maskOf(result)).toBe('01');
    // Matches come from the text: both occurrences are counted.
    expect(result.matches[0]).toHaveLength(2);
  });
});

describe('overlapping phrases', () => {
  it('"but wait, no": the mask takes every occurrence; the matches keep the longest, then leftmost', () => {
    const input = batchOf(['but wait, no']); // but | ␣wait | , | ␣no
    const result = sg.classify(input);
    expect(maskOf(result)).toBe('1111');
    // "but wait" and "wait, no" are both 8 characters: the leftmost wins and drops the other.
    expect(result.matches[0]).toEqual([
      { start: 0, end: 8, gram: 'but wait', gramId: id('but wait') },
    ]);
    expect(sg.findOccurrences('but wait, no').map((m) => m.gram)).toEqual([
      'but',
      'but wait',
      'wait',
      'wait, no',
    ]);
  });

  it('the longest occurrence wins over shorter ones inside or across it', () => {
    expect(matched("Wait, that's not right.")).toEqual([
      ["Wait, that's not right", "wait, that's not right"],
    ]);
    const input = batchOf(["Wait, that's not right."]); // Wait | , | ␣that's | ␣not | ␣right | .
    expect(maskOf(sg.classify(input))).toBe('111110');
  });

  it('a dropped overlap does not hide a later non-overlapping occurrence', () => {
    expect(matched('but wait, no, but wait')).toEqual([
      ['but wait', 'but wait'],
      ['but wait', 'but wait'],
    ]);
  });
});

describe('punctuation, quotes and whitespace', () => {
  it('punctuation inside a phrase must match literally', () => {
    expect(matched("wait that's not right")).toEqual([
      ['wait', 'wait'],
      ['not right', 'not right'],
    ]);
    expect(matched("WAIT , that's not right")).toEqual([
      ['WAIT', 'wait'],
      ['not right', 'not right'],
    ]);
  });

  it('curly apostrophes and quotes are folded', () => {
    expect(matched('Wait, that’s not right')).toEqual([
      ['Wait, that’s not right', "wait, that's not right"],
    ]);
    expect(matched('Wait, that‘s not right')[0]![1]).toBe("wait, that's not right");
  });

  it('phrases ending or starting with punctuation: "hmm,", "## step", "does this hold true?"', () => {
    expect(matched('Hmm, ok')).toEqual([['Hmm,', 'hmm,']]);
    expect(matched('Hmm ok')).toEqual([]);
    expect(matched('## Step 2')).toEqual([['## Step', '## step']]);
    expect(matched('## Steps')).toEqual([]);
    // No boundary is required at a punctuation edge.
    expect(matched('### step')).toEqual([['## step', '## step']]);
    expect(matched('Does this hold true?')).toEqual([
      ['Does this hold true?', 'does this hold true?'],
    ]);
    expect(matched('Does this hold true')).toEqual([]);
  });

  it('a phrase across a line break, a run of spaces, a tab or a no-break space', () => {
    for (const text of [
      'But\nwait',
      'But \n\t wait',
      'but\r\nwait',
      'but\u00a0wait',
      'but\u2003\u2003wait',
    ]) {
      expect(matched(text)).toEqual([[text, 'but wait']]);
    }
    const input = batchOf(['ok but\n\nwait']); // ok | ␣but | \n | \n | wait
    expect(maskOf(sg.classify(input))).toBe('01111');
  });

  it('"but" inside "butter" is no match', () => {
    expect(matched('the butter is but')).toEqual([['but', 'but']]);
    expect(sg.findMatches('the butter is but')[0]).toMatchObject({ start: 14, end: 17 });
    expect(matched('Butter, rebuttal')).toEqual([]);
  });

  it('lexicon phrases are normalised too: case, extra spaces and curly quotes in the lexicon', () => {
    const c = createStrategicGramsClassifier({ lexicon: ['  But   WAIT ', 'that’s it'] });
    expect(c.findMatches("but wait, that's it")).toEqual([
      { start: 0, end: 8, gram: '  But   WAIT ', gramId: 0 },
      { start: 10, end: 19, gram: 'that’s it', gramId: 1 },
    ]);
  });
});

describe('lexicons with classes and the default lexicon', () => {
  it('matches carry the classId of their phrase', () => {
    const c = createStrategicGramsClassifier({
      lexicon: {
        grams: [
          { phrase: 'let me check', classId: 2, score: 0.5 },
          { phrase: 'so', classId: 0 },
          { phrase: 'maybe' },
        ],
      },
    });
    expect(c.findMatches('So, let me check. Maybe.')).toEqual([
      { start: 0, end: 2, gram: 'so', gramId: 1, classId: 0 },
      { start: 4, end: 16, gram: 'let me check', gramId: 0, classId: 2 },
      { start: 18, end: 23, gram: 'maybe', gramId: 2 },
    ]);
  });

  it('the default classifier uses the paper lexicon, and gramId indexes it', () => {
    expect(strategicGrams.lexicon).toBe(paperLexicon);
    const matches = strategicGrams.findMatches("Let's try a different angle. Wait, no.");
    expect(matches.map((m) => m.gram)).toEqual(["let's try a different angle", 'wait, no']);
    for (const m of matches) expect(paperLexicon.grams[m.gramId]!.phrase).toBe(m.gram);
  });

  it('every phrase of the paper lexicon matches itself in capitals inside a sentence', () => {
    for (const [gramId, { phrase }] of paperLexicon.grams.entries()) {
      const text = `Then ${phrase.toUpperCase()} .`;
      const occurrences = strategicGrams.findOccurrences(text);
      expect(occurrences.some((m) => m.gramId === gramId && m.start === 5)).toBe(true);
    }
  });

  it('classify on a batch: one match list per response, in order, sorted by start', () => {
    const texts = ['Wait, no.', 'Nothing here.', '', 'Hmm, but wait. Alternatively: ## step'];
    const input = batchOf(texts, wordTokenizer);
    const result = sg.classify(input);
    expect(result.matches.map((row) => row.map((m) => m.gram))).toEqual([
      ['wait, no'],
      [],
      [],
      ['hmm,', 'but wait', 'alternatively', '## step'],
    ]);
    for (const row of result.matches)
      for (let j = 1; j < row.length; j++)
        expect(row[j]!.start).toBeGreaterThanOrEqual(row[j - 1]!.end);
    expect(planningTokens(input, result, 3)).toEqual([
      'Hmm',
      ',',
      ' but',
      ' wait',
      ' Alternatively',
      ' #',
      '#',
      ' step',
    ]);
  });
});
