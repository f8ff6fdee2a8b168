import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as zstd from '@bokuweb/zstd-wasm';
import { DuckDBInstance } from '@duckdb/node-api';
import { ErrorCode } from '@hicra/spec';
import { expectHicraRejection } from '@hicra/spec/testing';
import fc from 'fast-check';
import { parquetMetadata } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  loadVerlDataset,
  mathVerifier,
  readParquetInfo,
  readParquetRowGroups,
  readParquetRows,
  VERL_DATASET_COLUMNS,
  VERL_DATASET_PARQUET_SCHEMA,
  type VerlProblem,
} from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'hicra-parquet-'));

/** A row as verl's examples/data_preprocess/gsm8k.py writes it (PROTOCOLS.md, part 3). */
type VerlRow = {
  data_source: string;
  prompt: { role: string; content: string }[];
  ability: string;
  reward_model: { style: string; ground_truth: string };
  extra_info: { split: string; index: bigint; answer: string; question: string };
};

const INSTRUCTION = 'Let\'s think step by step and output the final answer after "####".';

function gsm8kRow(index: number, question: string, solution: string): VerlRow {
  const marker = solution.lastIndexOf('####');
  return {
    data_source: 'openai/gsm8k',
    prompt: [{ role: 'user', content: `${question} ${INSTRUCTION}` }],
    ability: 'math',
    reward_model: { style: 'rule', ground_truth: solution.slice(marker + 4).trim() },
    extra_info: { split: 'train', index: BigInt(index), answer: solution, question },
  };
}

const QUESTIONS: [string, string][] = [
  [
    'Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?',
    'Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72',
  ],
  [
    'Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How much did she earn?',
    'Weng earns 12/60 = $<<12/60=0.2>>0.2 per minute.\nWorking 50 minutes, she earned 0.2 x 50 = $<<0.2*50=10>>10.\n#### 10',
  ],
  ['Ünïcode 🐑 and 终 count: 3 + 4 = ?', 'It is 7.\n#### 7'],
];

/** pyarrow's layout for such rows: three-level lists, nullable structs, int64 index. */
const VERL_SCHEMA = VERL_DATASET_PARQUET_SCHEMA;
const COLUMNS = VERL_DATASET_COLUMNS;

type Codec = 'SNAPPY' | 'ZSTD' | 'GZIP' | 'UNCOMPRESSED';

function writeVerl(
  name: string,
  rows: readonly Record<string, unknown>[],
  options: {
    codec?: Codec;
    rowGroupSize?: number;
    schema?: readonly object[];
    columns?: readonly string[];
  } = {},
): string {
  const path = join(dir, name);
  const columns = options.columns ?? COLUMNS;
  const buffer = parquetWriteBuffer({
    columnData: columns.map((c) => ({ name: c, data: rows.map((r) => r[c]) })),
    schema: (options.schema ?? VERL_SCHEMA) as never,
    codec: options.codec ?? 'SNAPPY',
    compressors: {
      ZSTD: (bytes: Uint8Array) => zstd.compress(bytes, 3),
      GZIP: (bytes: Uint8Array) => new Uint8Array(gzipSync(bytes)),
    },
    rowGroupSize: options.rowGroupSize ?? 1000,
  });
  writeFileSync(path, new Uint8Array(buffer));
  return path;
}

function expectedProblem(row: VerlRow): VerlProblem {
  return {
    id: String(row.extra_info.index),
    problem: row.prompt.at(-1)!.content,
    answer: row.reward_model.ground_truth,
    messages: row.prompt,
    dataSource: row.data_source,
    ability: row.ability,
    rewardStyle: row.reward_model.style,
    extraInfo: { ...row.extra_info, index: Number(row.extra_info.index) },
  };
}

async function collect<T>(reader: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of reader) out.push(item);
  return out;
}

/** Many rows, for several row groups. */
const manyRows = Array.from({ length: 250 }, (_, i) => {
  const [question, solution] = QUESTIONS[i % QUESTIONS.length]!;
  return gsm8kRow(i, `${question} (#${i})`, solution);
});

beforeAll(async () => {
  await zstd.init();
});

describe('loadVerlDataset', () => {
  it('reads a file shaped like verl GSM8K preprocessing output into records the math verifier scores', async () => {
    const rows = QUESTIONS.map(([q, s], i) => gsm8kRow(i, q, s));
    const path = writeVerl('gsm8k.parquet', rows);
    const info = await readParquetInfo(path);
    expect(info.columns).toEqual([
      { name: 'data_source', type: 'string' },
      { name: 'prompt', type: 'list<struct<content: string, role: string>>' },
      { name: 'ability', type: 'string' },
      { name: 'reward_model', type: 'struct<ground_truth: string, style: string>' },
      {
        name: 'extra_info',
        type: 'struct<answer: string, index: int64, question: string, split: string>',
      },
    ]);
    const dataset = loadVerlDataset(path);
    const records = await collect(dataset);
    expect(records.map((r) => r.value)).toEqual(rows.map(expectedProblem));
    expect(records.map((r) => r.row)).toEqual([0, 1, 2]);
    expect(dataset.report).toEqual({ rows: 3, records: 3, rowGroups: 1, badRows: [] });
    // The reference answer scores a response with the math verifier: the solution's own final
    // answer (after "####") in a box is correct, a different number is not.
    for (const { value } of records) {
      const solution = String(value.extraInfo.answer);
      const final = solution.slice(solution.lastIndexOf('####') + 4).trim();
      expect(mathVerifier.verify(`So it is \\boxed{${final}}.`, value.answer)).toMatchObject({
        status: 'checked',
        correct: true,
      });
      expect(mathVerifier.verify(`So it is \\boxed{${final}1}.`, value.answer)).toMatchObject({
        status: 'checked',
        correct: false,
      });
    }
  });

  for (const codec of ['SNAPPY', 'ZSTD', 'GZIP'] as const) {
    it(`streams ${codec} row groups in order with their row numbers`, async () => {
      const path = writeVerl(`many-${codec}.parquet`, manyRows, { codec, rowGroupSize: 64 });
      const metadata = parquetMetadata(readFileSync(path).buffer);
      expect(
        new Set(metadata.row_groups.flatMap((g) => g.columns.map((c) => c.meta_data?.codec))),
      ).toEqual(new Set([codec]));
      const dataset = loadVerlDataset(path);
      const records = await collect(dataset);
      expect(records.map((r) => r.value)).toEqual(manyRows.map(expectedProblem));
      expect(records.map((r) => r.row)).toEqual(manyRows.map((_, i) => i));
      expect(records.map((r) => r.rowGroup)).toEqual(manyRows.map((_, i) => Math.floor(i / 64)));
      expect(dataset.report.rowGroups).toBe(4);
    });
  }

  it('uses the row number as id without extra_info, and keeps every chat message', async () => {
    const schema = VERL_SCHEMA.slice(0, 11).map((e, i) =>
      i === 0 ? { ...e, num_children: 4 } : e,
    );
    const rows = [
      {
        ...gsm8kRow(0, 'What is 2+2?', '#### 4'),
        prompt: [
          { role: 'system', content: 'You are careful.' },
          { role: 'user', content: 'What is 2+2?' },
          { role: 'assistant', content: '5?' },
          { role: 'user', content: 'Check again: what is 2+2?' },
        ],
      },
    ];
    const path = writeVerl('no-extra.parquet', rows, { schema, columns: COLUMNS.slice(0, 4) });
    const [record] = await collect(loadVerlDataset(path));
    expect(record!.value.id).toBe('0');
    expect(record!.value.problem).toBe('Check again: what is 2+2?');
    expect(record!.value.messages).toHaveLength(4);
    expect(record!.value.extraInfo).toEqual({});
  });

  it('reports bad rows with row, row group and column (skip), or stops at the first (throw)', async () => {
    const good = (i: number) => gsm8kRow(i, `Question ${i}?`, `#### ${i}`);
    const rows: Record<string, unknown>[] = [
      good(0),
      { ...good(1), prompt: [] },
      { ...good(2), reward_model: { style: 'rule', ground_truth: null } },
      { ...good(3), prompt: [{ role: 'system', content: 'no user here' }] },
      { ...good(4), data_source: null },
      good(5),
    ];
    const path = writeVerl('bad-rows.parquet', rows, { rowGroupSize: 4 });
    const dataset = loadVerlDataset(path);
    const records = await collect(dataset);
    expect(records.map((r) => r.row)).toEqual([0, 5]);
    expect(
      dataset.report.badRows.map(({ row, rowGroup, column }) => ({ row, rowGroup, column })),
    ).toEqual([
      { row: 1, rowGroup: 0, column: 'prompt' },
      { row: 2, rowGroup: 0, column: 'reward_model' },
      { row: 3, rowGroup: 0, column: 'prompt' },
      { row: 4, rowGroup: 1, column: 'data_source' },
    ]);
    expect(dataset.report.badRows[1]!.reason).toContain('ground_truth');
    const error = await expectHicraRejection(
      collect(loadVerlDataset(path, { onBadRow: 'throw', sourceName: 'train.parquet' })),
    );
    expect(error.code).toBe(ErrorCode.CorruptFile);
    expect(error.message).toMatch(/: train\.parquet: row 1 \(row group 0\), column "prompt": /);
    expect(error.details).toMatchObject({ file: 'train.parquet', row: 1, column: 'prompt' });
  });

  it('names a missing required column and the columns the file has', async () => {
    const schema = [{ name: 'root', num_children: 2 }, ...VERL_SCHEMA.slice(1, 7)];
    const path = writeVerl('missing.parquet', [gsm8kRow(0, 'q', '#### 1')], {
      schema,
      columns: ['data_source', 'prompt'],
    });
    const error = await expectHicraRejection(collect(loadVerlDataset(path)));
    expect(error.code).toBe(ErrorCode.CorruptFile);
    expect(error.message).toContain(
      `${path}: required column "reward_model" is missing; the file has "data_source", "prompt"`,
    );
  });

  it('names a column of the wrong type with what was expected and found', async () => {
    const flatPrompt = [
      { name: 'root', num_children: 5 },
      VERL_SCHEMA[1],
      { name: 'prompt', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
      ...VERL_SCHEMA.slice(7),
    ];
    const rows = [{ ...gsm8kRow(0, 'q', '#### 1'), prompt: 'just a string' }];
    const path = writeVerl('wrong-prompt.parquet', rows, { schema: flatPrompt });
    const error = await expectHicraRejection(collect(loadVerlDataset(path)));
    expect(error.message).toContain(
      `${path}: column "prompt": expected list<struct<role: string, content: string>> (chat messages), found string`,
    );
    expect(error.details).toMatchObject({ column: 'prompt', found: 'string' });

    const intSource = [
      VERL_SCHEMA[0],
      { name: 'data_source', type: 'INT64', repetition_type: 'OPTIONAL' },
      ...VERL_SCHEMA.slice(2),
    ];
    const path2 = writeVerl(
      'wrong-source.parquet',
      [{ ...gsm8kRow(0, 'q', '#### 1'), data_source: 7n }],
      {
        schema: intSource,
      },
    );
    const error2 = await expectHicraRejection(collect(loadVerlDataset(path2)));
    expect(error2.message).toContain(
      `${path2}: column "data_source": expected string, found int64`,
    );
  });
});

describe('malformed Parquet files', () => {
  const path = () => writeVerl('intact.parquet', manyRows.slice(0, 20));

  it('a truncated file: the footer is missing', async () => {
    const bytes = readFileSync(path());
    const cut = join(dir, 'truncated.parquet');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
    const error = await expectHicraRejection(collect(loadVerlDataset(cut)));
    expect(error.code).toBe(ErrorCode.CorruptFile);
    expect(error.message).toMatch(
      /truncated\.parquet: truncated or damaged Parquet file: the footer is missing/,
    );
    expect(error.details).toMatchObject({ part: 'footer' });
  });

  it('a damaged footer: its length or its content', async () => {
    const bytes = new Uint8Array(readFileSync(path()));
    const badLength = bytes.slice();
    new DataView(badLength.buffer).setUint32(badLength.length - 8, 1 << 30, true);
    writeFileSync(join(dir, 'bad-length.parquet'), badLength);
    const e1 = await expectHicraRejection(
      collect(readParquetRows(join(dir, 'bad-length.parquet'))),
    );
    expect(e1.message).toMatch(
      /bad-length\.parquet: damaged Parquet footer: it claims 1073741824 bytes/,
    );
    const footerLength = new DataView(bytes.buffer).getUint32(bytes.length - 8, true);
    const garbled = bytes.slice();
    garbled.fill(0xff, bytes.length - 8 - footerLength, bytes.length - 8);
    writeFileSync(join(dir, 'garbled.parquet'), garbled);
    const e2 = await expectHicraRejection(readParquetInfo(join(dir, 'garbled.parquet')));
    expect(e2.message).toMatch(/garbled\.parquet: damaged Parquet (footer|schema) \(/);
  });

  it('a damaged column chunk: the error names the row group and the column', async () => {
    const bytes = new Uint8Array(readFileSync(path()));
    const metadata = parquetMetadata(bytes.buffer);
    const chunk = metadata.row_groups[0]!.columns.find(
      (c) => c.meta_data?.path_in_schema[0] === 'reward_model',
    )!;
    const start = Number(
      chunk.meta_data!.dictionary_page_offset ?? chunk.meta_data!.data_page_offset,
    );
    bytes.fill(0xee, start, start + Number(chunk.meta_data!.total_compressed_size));
    writeFileSync(join(dir, 'bad-chunk.parquet'), bytes);
    const error = await expectHicraRejection(
      collect(loadVerlDataset(join(dir, 'bad-chunk.parquet'))),
    );
    expect(error.message).toMatch(
      /bad-chunk\.parquet: row group 0, column "reward_model": cannot decode/,
    );
    expect(error.details).toMatchObject({ rowGroup: 0, column: 'reward_model' });
  });

  it('a text file, an empty file, a missing file', async () => {
    writeFileSync(
      join(dir, 'text.parquet'),
      '{"data_source": "openai/gsm8k", "prompt": []}\n'.repeat(3),
    );
    const e1 = await expectHicraRejection(collect(loadVerlDataset(join(dir, 'text.parquet'))));
    expect(e1.message).toMatch(
      /text\.parquet: not a Parquet file \(it does not start with "PAR1"\)/,
    );
    writeFileSync(join(dir, 'empty.parquet'), '');
    const e2 = await expectHicraRejection(collect(loadVerlDataset(join(dir, 'empty.parquet'))));
    expect(e2.message).toMatch(/empty\.parquet: not a Parquet file \(0 bytes/);
    const e3 = await expectHicraRejection(collect(loadVerlDataset(join(dir, 'nowhere.parquet'))));
    expect(e3.message).toMatch(/nowhere\.parquet: cannot read the file \(ENOENT\)/);
  });

  it('asks for a column the file lacks', async () => {
    const error = await expectHicraRejection(
      collect(readParquetRowGroups(path(), { columns: ['prompt', 'nope'] })),
    );
    expect(error.message).toMatch(/column "nope" is missing; the file has "data_source", "prompt"/);
  });
});

describe('a second Parquet implementation (DuckDB)', () => {
  it('reads what the writer wrote with the same values, and we read what DuckDB writes (zstd, gzip, snappy)', async () => {
    const source = writeVerl('for-duckdb.parquet', manyRows, { codec: 'ZSTD', rowGroupSize: 100 });
    const db = await (await DuckDBInstance.create(':memory:')).connect();
    try {
      const result = await db.runAndReadAll(`SELECT * FROM read_parquet('${source}')`);
      const duck = result.getRowObjectsJS();
      expect(duck).toEqual(manyRows);
      for (const codec of ['zstd', 'gzip', 'snappy']) {
        const out = join(dir, `duckdb-${codec}.parquet`);
        await db.run(
          `COPY (SELECT * FROM read_parquet('${source}')) TO '${out}' (FORMAT parquet, COMPRESSION ${codec}, ROW_GROUP_SIZE 2048)`,
        );
        const info = await readParquetInfo(out);
        expect(info.createdBy).toMatch(/duckdb/i);
        expect(info.rows).toBe(manyRows.length);
        const records = await collect(loadVerlDataset(out));
        expect(records.map((r) => r.value)).toEqual(manyRows.map(expectedProblem));
      }
    } finally {
      db.closeSync();
    }
  });
});

describe('round trip (property)', () => {
  it('random verl rows written with the library come back as the same records', async () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 30 });
    const row = fc.record({
      data_source: fc.string({ minLength: 1, maxLength: 12 }),
      prompt: fc.tuple(
        fc.array(
          fc.record({ role: fc.constantFrom('system', 'assistant', 'user'), content: text }),
          {
            maxLength: 3,
          },
        ),
        text.filter((t) => t.trim() !== ''),
      ),
      ability: text,
      reward_model: fc.record({
        style: fc.constantFrom('rule', 'model'),
        ground_truth: text.filter((t) => t.trim() !== ''),
      }),
      extra_info: fc.record({
        split: fc.constantFrom('train', 'test'),
        index: fc.bigInt({ min: 0n, max: 1n << 40n }),
        answer: text,
        question: text,
      }),
    });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(row, { minLength: 1, maxLength: 20 }),
        fc.constantFrom<Codec>('SNAPPY', 'ZSTD'),
        async (raw, codec) => {
          const rows = raw.map((r) => ({
            ...r,
            prompt: [...r.prompt[0], { role: 'user', content: r.prompt[1] }],
            reward_model: { ...r.reward_model, ground_truth: r.reward_model.ground_truth.trim() },
          }));
          const path = writeVerl(`prop-${run++}.parquet`, rows, { codec, rowGroupSize: 7 });
          const records = await collect(loadVerlDataset(path));
          expect(records.map((r) => r.value)).toEqual(rows.map(expectedProblem));
        },
      ),
      { numRuns: 25 },
    );
  });
});
