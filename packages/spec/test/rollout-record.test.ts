import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  ErrorCode,
  parseRolloutRecord,
  ROLLOUT_SCHEMA_V1,
  type RolloutRecordV1,
  rolloutBatchFromRecords,
  rolloutRecordsFromBatch,
  type TokenizerV1,
  validateRolloutBatch,
} from '../src/index.js';
import { expectHicraError } from '../src/testing/index.js';
import { makeBatch } from './helpers.js';

const record = (extra: Partial<RolloutRecordV1> = {}): RolloutRecordV1 => ({
  schema: ROLLOUT_SCHEMA_V1,
  groupId: 'q1',
  prompt: 'make 24',
  response: 'Wait, 3 * 8 = 24',
  reward: 1,
  tokenIds: [1, 2, 3],
  tokenSpans: [
    [0, 5],
    [5, 12],
    [12, 16],
  ],
  logProbs: [-0.1, -0.2, -0.3],
  ...extra,
});

/** Splits on spaces; spans are exact. */
const spaceTokenizer: TokenizerV1 = {
  vocabSize: 1000,
  specialTokens: {},
  encode(text) {
    const ids: number[] = [];
    const spans: number[] = [];
    for (const match of text.matchAll(/\S+/g)) {
      ids.push(match[0].length);
      spans.push(match.index, match.index + match[0].length);
    }
    return { ids: Int32Array.from(ids), spans: Int32Array.from(spans) };
  },
  decode: () => '',
};

describe('parseRolloutRecord', () => {
  it('accepts a full record', () => {
    expect(parseRolloutRecord(record())).toEqual(record());
  });

  it('prints a non-finite reward or log-prob as such, not as null', () => {
    expect(() => parseRolloutRecord({ ...record(), reward: Number.POSITIVE_INFINITY })).toThrow(
      'expected a finite number or null, got Infinity',
    );
    expect(() => parseRolloutRecord({ ...record(), reward: Number.NaN })).toThrow(
      'expected a finite number or null, got NaN',
    );
    expect(() =>
      parseRolloutRecord(record({ logProbs: [0, Number.NEGATIVE_INFINITY, 0] })),
    ).toThrow(/logProbs\[1\].*expected a finite number, got -Infinity/);
  });

  it.each([
    ['not an object', 5, ''],
    ['wrong schema', { ...record(), schema: 'v0' }, 'schema'],
    ['bad group id', { ...record(), groupId: {} }, 'groupId'],
    ['prompt missing', { ...record(), prompt: undefined }, 'prompt'],
    ['NaN reward', { ...record(), reward: Number.NaN }, 'reward'],
    ['null reward without reason', { ...record(), reward: null }, 'unscorableReason'],
    ['fractional token id', record({ tokenIds: [1, 2.5, 3] }), 'tokenIds[1]'],
    ['log-probs of another length', record({ logProbs: [0] }), 'logProbs'],
    ['planning mask value 2', record({ planningMask: [0, 2, 0] }), 'planningMask[1]'],
    [
      'span past the text',
      record({
        tokenSpans: [
          [0, 5],
          [5, 12],
          [12, 99],
        ],
      }),
      'tokenSpans[2]',
    ],
    ['meta as array', record({ meta: [] as never }), 'meta'],
  ])('rejects %s, naming the key and the line', (_name, value, key) => {
    const error = expectHicraError(() => parseRolloutRecord(value, 'rollouts.jsonl line 4'), {
      errorClass: ConfigError,
      message: 'rollouts.jsonl line 4',
    });
    expect(error.path).toBe(key);
  });
});

describe('rolloutBatchFromRecords', () => {
  it('packs records into a valid padded batch, mapping group keys in order', () => {
    const records = [
      record(),
      record({
        groupId: 'q2',
        prompt: 'p2',
        response: 'ok',
        tokenIds: [4],
        tokenSpans: [[0, 2]],
        logProbs: [-1],
        reward: 0,
      }),
      record({ reward: 0.5 }),
    ];
    const { batch, groupKeys, recordIndex } = rolloutBatchFromRecords(records);
    validateRolloutBatch(batch);
    expect(batch.batchSize).toBe(3);
    expect(batch.seqLen).toBe(3);
    expect(groupKeys).toEqual(['q1', 'q2']);
    expect(Array.from(batch.groupIds)).toEqual([0, 1, 0]);
    expect(Array.from(batch.responseMask)).toEqual([1, 1, 1, 1, 0, 0, 1, 1, 1]);
    expect(Array.from(batch.oldLogProbs!)).toEqual(
      Array.from(Float32Array.from([-0.1, -0.2, -0.3, -1, 0, 0, -0.1, -0.2, -0.3])),
    );
    expect(Array.from(batch.tokenSpans!.subarray(6, 12))).toEqual([0, 2, -1, -1, -1, -1]);
    expect(Array.from(recordIndex)).toEqual([0, 1, 2]);
  });

  it('tokenises records without token ids when given a tokenizer, and fails clearly without one', () => {
    const bare = { ...record() };
    delete (bare as { tokenIds?: unknown }).tokenIds;
    delete (bare as { tokenSpans?: unknown }).tokenSpans;
    delete (bare as { logProbs?: unknown }).logProbs;
    const { batch } = rolloutBatchFromRecords([bare], { tokenizer: spaceTokenizer });
    validateRolloutBatch(batch);
    expect(batch.seqLen).toBe(6);
    expect(Array.from(batch.tokenSpans!)).toEqual([0, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16]);
    expect(() => rolloutBatchFromRecords([bare], { describe: (i) => `line ${i + 1}` })).toThrow(
      /line 1 has no tokenIds and no tokenizer/,
    );
  });

  it('rejects or drops unscorable responses', () => {
    const records = [record(), record({ reward: null, unscorableReason: 'no answer found' })];
    expectHicraError(() => rolloutBatchFromRecords(records), {
      code: ErrorCode.InvalidValue,
      message: 'record 1 has a null reward (no answer found)',
    });
    const { batch, dropped } = rolloutBatchFromRecords(records, { unscorable: 'drop' });
    expect(batch.batchSize).toBe(1);
    expect(dropped).toEqual([1]);
  });

  it('rejects one group with two prompts', () => {
    expect(() => rolloutBatchFromRecords([record(), record({ prompt: 'other' })])).toThrow(
      /different prompt/,
    );
  });
});

describe('rolloutRecordsFromBatch', () => {
  it('round-trips a batch through records', () => {
    const batch = makeBatch();
    const records = rolloutRecordsFromBatch(batch, { step: 3 });
    for (const r of records) parseRolloutRecord(JSON.parse(JSON.stringify(r)));
    expect(records[1]).toMatchObject({
      groupId: 7,
      prompt: 'make 24',
      response: 'ok 24',
      step: 3,
      tokenIds: [9, 10],
    });
    const { batch: back } = rolloutBatchFromRecords(records);
    expect(back.seqLen).toBe(4);
    expect(Array.from(back.tokenIds)).toEqual(Array.from(batch.tokenIds));
    expect(Array.from(back.entropies!)).toEqual(Array.from(batch.entropies!));
    expect(Array.from(back.tokenSpans!)).toEqual(Array.from(batch.tokenSpans!));
  });

  it('round-trips arbitrary records (property)', () => {
    const arbRecord = fc
      .record({
        group: fc.integer({ min: 0, max: 3 }),
        words: fc.array(fc.stringMatching(/^[a-z]{1,4}$/), { minLength: 1, maxLength: 6 }),
        reward: fc.float({ noNaN: true, noDefaultInfinity: true, min: -10, max: 10 }),
      })
      .map(({ group, words, reward }) => {
        const response = words.join(' ');
        const encoding = spaceTokenizer.encode(response);
        const spans: [number, number][] = [];
        for (let k = 0; k < encoding.ids.length; k++)
          spans.push([encoding.spans[2 * k]!, encoding.spans[2 * k + 1]!]);
        return record({
          groupId: group,
          prompt: `prompt ${group}`,
          response,
          reward: Math.fround(reward),
          tokenIds: Array.from(encoding.ids),
          tokenSpans: spans,
          logProbs: Array.from(encoding.ids, (id) => Math.fround(-id / 10)),
        });
      });
    fc.assert(
      fc.property(fc.array(arbRecord, { minLength: 1, maxLength: 8 }), (records) => {
        const { batch, groupKeys } = rolloutBatchFromRecords(records);
        validateRolloutBatch(batch);
        const back = rolloutRecordsFromBatch(batch, { groupKeys });
        // Every record written states its span unit.
        expect(back).toEqual(records.map((r) => ({ ...r, spanUnit: 'utf16' })));
      }),
      { numRuns: 100 },
    );
  });
});
