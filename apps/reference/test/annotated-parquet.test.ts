import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { ErrorCode, ROLLOUT_SCHEMA_V1, type RolloutRecordV1 } from '@hicra/spec';
import { expectHicraRejection } from '@hicra/spec/testing';
import { readParquetInfo } from '@hicra/tasks';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ANNOTATED_PARQUET_FORMAT,
  annotateRollouts,
  readAnnotatedParquet,
  writeAnnotatedParquet,
} from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'hicra-annotated-parquet-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const repo = fileURLToPath(new URL('../../..', import.meta.url));
const sample = join(repo, 'examples/quickstart/data/rollouts.jsonl');

async function annotatedSample(): Promise<RolloutRecordV1[]> {
  const out = join(root, 'sample.annotated.jsonl');
  await annotateRollouts({ input: sample, out });
  return readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
}

describe('annotated rollouts as Parquet', () => {
  it('round-trips what annotate writes exactly (JSON Lines -> annotate -> Parquet -> records)', async () => {
    const records = await annotatedSample();
    expect(records.some((r) => r.advantages !== undefined && r.planningMatches!.length > 0)).toBe(
      true,
    );
    const path = join(root, 'annotated.parquet');
    await writeAnnotatedParquet(path, records);
    expect(await readAnnotatedParquet(path)).toEqual(records);
    const info = await readParquetInfo(path);
    const types = Object.fromEntries(info.columns.map((c) => [c.name, c.type]));
    expect(types).toMatchObject({
      group_id: 'string',
      reward: 'double',
      token_ids: 'list<int32>',
      advantages: 'list<float>',
      planning_mask: 'list<boolean>',
      planning_matches:
        'list<struct<start: int32, end: int32, gram: string, gram_id: int32, class_id: int32>>',
    });
    // gzip and small row groups read back the same
    const gz = join(root, 'annotated-gzip.parquet');
    await writeAnnotatedParquet(gz, records, { compression: 'gzip', rowGroupSize: 2 });
    expect((await readParquetInfo(gz)).rowGroups).toEqual([2, 2, 2, 1]);
    expect(await readAnnotatedParquet(gz)).toEqual(records);
  });

  it('is read by a second implementation (DuckDB) with the same values', async () => {
    const records = await annotatedSample();
    const path = join(root, 'for-duckdb.parquet');
    await writeAnnotatedParquet(path, records);
    const db = await (await DuckDBInstance.create(':memory:')).connect();
    try {
      const result = await db.runAndReadAll(`SELECT * FROM read_parquet('${path}')`);
      const rows = result.getRowObjectsJS() as Record<string, unknown>[];
      expect(rows).toHaveLength(records.length);
      const kv = await db.runAndReadAll(
        `SELECT decode(value) AS v FROM parquet_kv_metadata('${path}') WHERE decode(key) = 'hicra.format'`,
      );
      expect(kv.getRowObjectsJS()).toEqual([{ v: ANNOTATED_PARQUET_FORMAT }]);
      records.forEach((record, i) => {
        const row = rows[i]!;
        expect(row.group_id).toBe(String(record.groupId));
        expect(row.response).toBe(record.response);
        expect(row.reward).toBe(record.reward);
        expect(row.token_ids).toEqual(record.tokenIds ?? null);
        expect(row.advantages).toEqual(record.advantages ?? null);
        expect(row.planning_mask).toEqual(record.planningMask?.map((v) => v === 1) ?? null);
        expect(row.loss_mask).toEqual(record.lossMask?.map((v) => v === 1) ?? null);
        expect(row.token_span_start).toEqual(record.tokenSpans?.map((s) => s[0]) ?? null);
        expect(row.token_span_end).toEqual(record.tokenSpans?.map((s) => s[1]) ?? null);
        expect(row.planning_matches).toEqual(
          record.planningMatches?.map((m) => ({
            start: m.start,
            end: m.end,
            gram: m.gram,
            gram_id: m.gramId,
            class_id: m.classId ?? null,
          })) ?? null,
        );
      });
      // A column-wise question a Python user would ask: how many planning tokens in all.
      const planning = await db.runAndReadAll(
        `SELECT sum(list_count(list_filter(planning_mask, x -> x)))::INTEGER AS n FROM read_parquet('${path}')`,
      );
      const expected = records.reduce(
        (sum, r) => sum + (r.planningMask?.filter((v) => v === 1).length ?? 0),
        0,
      );
      expect(expected).toBeGreaterThan(0);
      expect(planning.getRowObjectsJS()).toEqual([{ n: expected }]);
    } finally {
      db.closeSync();
    }
  });

  it('round-trips random records (property): optional fields, unicode, big ids, nulls', async () => {
    const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
    const record = fc
      .record(
        {
          groupId: fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), finite),
          prompt: fc.string({ unit: 'grapheme', maxLength: 20 }),
          response: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
          reward: fc.oneof(finite, fc.constant(null)),
          step: fc.nat(),
          tokens: fc.nat({ max: 6 }),
          f32: fc.boolean(),
          bigIds: fc.boolean(),
          // meta is kept as JSON text, which has no -0 (fc.jsonValue makes one now and then):
          // the values a JSON round trip gives are the ones the file can hold.
          meta: fc
            .dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }))
            .map((m) => JSON.parse(JSON.stringify(m)) as Record<string, unknown>),
          withOptional: fc.boolean(),
          seed: fc.integer(),
        },
        { requiredKeys: ['groupId', 'prompt', 'response', 'reward', 'tokens', 'seed'] },
      )
      .map((r): RolloutRecordV1 => {
        let x = r.seed;
        const next = () => {
          x = (Math.imul(x, 1103515245) + 12345) | 0;
          return x;
        };
        const n = r.tokens;
        const float = () => (r.f32 ? Math.fround(next() / 7919) : next() / 7919 + 1e-12);
        const ends = Array.from(
          { length: n },
          () => Math.abs(next()) % (r.response.length + 1),
        ).sort((a, b) => a - b);
        const out: Record<string, unknown> = {
          schema: ROLLOUT_SCHEMA_V1,
          groupId: r.groupId,
          prompt: r.prompt,
          response: r.response,
          reward: r.reward,
          ...(r.reward === null ? { unscorableReason: 'no final answer' } : {}),
          ...(r.step === undefined ? {} : { step: r.step }),
          ...(r.meta === undefined ? {} : { meta: r.meta }),
        };
        if (r.withOptional) {
          out.tokenIds = Array.from({ length: n }, () =>
            r.bigIds ? Math.abs(next()) * 4096 : Math.abs(next()) % 150000,
          );
          out.promptTokenIds = Array.from({ length: 3 }, () => Math.abs(next()) % 1000);
          out.tokenSpans = ends.map((end, i) => [i === 0 ? 0 : ends[i - 1]!, end]);
          out.logProbs = Array.from({ length: n }, float);
          out.advantages = Array.from({ length: n }, () => Math.fround(next() / 1000));
          out.planningMask = Array.from({ length: n }, () => next() & 1);
          out.lossMask = Array.from({ length: n }, () => (next() >> 3) & 1);
          out.planningMatches =
            n === 0
              ? []
              : [
                  { start: 0, end: 1, gram: 'wait 🤔', gramId: 3, classId: 2 },
                  { start: 0, end: 1, gram: 'hmm', gramId: -1 },
                ];
        }
        return out as unknown as RolloutRecordV1;
      });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(record, { minLength: 1, maxLength: 12 }), async (records) => {
        const path = join(root, `prop-${run++}.parquet`);
        await writeAnnotatedParquet(path, records, { rowGroupSize: 5 });
        expect(await readAnnotatedParquet(path)).toEqual(records);
      }),
      { numRuns: 40 },
    );
  });

  it('keeps fields it has no column for (extra_json), so newer records survive', async () => {
    const record = {
      schema: ROLLOUT_SCHEMA_V1,
      groupId: 'g',
      prompt: 'p',
      response: 'r',
      reward: 1,
      spanUnit: 'codepoint',
    } as unknown as RolloutRecordV1;
    const path = join(root, 'extra.parquet');
    await writeAnnotatedParquet(path, [record]);
    expect(await readAnnotatedParquet(path)).toEqual([record]);
  });

  it('never damages an existing file when writing fails', async () => {
    const records = await annotatedSample();
    const path = join(root, 'keep.parquet');
    await writeAnnotatedParquet(path, records);
    const before = readFileSync(path);
    // a record that breaks the schema
    const broken = { ...records[0]!, reward: Number.NaN };
    await expect(writeAnnotatedParquet(path, [broken])).rejects.toThrow(
      /reward: writeAnnotatedParquet: record 0: expected a finite number or null/,
    );
    // a token id past 2^53
    const huge = { ...records[0]!, tokenIds: records[0]!.tokenIds!.map(() => 2 ** 60) };
    const e = await expectHicraRejection(writeAnnotatedParquet(path, [huge]));
    expect(e.code).toBe(ErrorCode.InvalidValue);
    expect(e.message).toMatch(/record 0: tokenIds\[0\] must be a safe integer/);
    // meta that cannot be serialised
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(writeAnnotatedParquet(path, [{ ...records[0]!, meta: cyclic }])).rejects.toThrow();
    expect(readFileSync(path)).toEqual(before);
    // the rename itself fails (the target is a non-empty folder): no temporary file is left
    const folder = join(root, 'a-folder.parquet');
    mkdirSync(folder);
    writeFileSync(join(folder, 'x'), 'x');
    const renameError = await expectHicraRejection(writeAnnotatedParquet(folder, records));
    expect(renameError.message).toMatch(/a-folder\.parquet: cannot write/);
    expect(readdirSync(root).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(await readAnnotatedParquet(path)).toEqual(records);
  });

  it('reading names the file and the missing column of a file that is not an annotated export', async () => {
    const records = await annotatedSample();
    const path = join(root, 'other.parquet');
    await writeAnnotatedParquet(path, records);
    const db = await (await DuckDBInstance.create(':memory:')).connect();
    const stripped = join(root, 'stripped.parquet');
    try {
      await db.run(
        `COPY (SELECT * EXCLUDE (reward) FROM read_parquet('${path}')) TO '${stripped}' (FORMAT parquet)`,
      );
    } finally {
      db.closeSync();
    }
    const retyped = join(root, 'retyped.parquet');
    const db2 = await (await DuckDBInstance.create(':memory:')).connect();
    try {
      await db2.run(
        `COPY (SELECT * REPLACE (advantages::VARCHAR AS advantages) FROM read_parquet('${path}')) TO '${retyped}' (FORMAT parquet)`,
      );
    } finally {
      db2.closeSync();
    }
    const typeError = await expectHicraRejection(readAnnotatedParquet(retyped));
    expect(typeError.message).toMatch(
      /retyped\.parquet: column "advantages": expected list<float> or list<double>, found string/,
    );
    const error = await expectHicraRejection(readAnnotatedParquet(stripped));
    expect(error.code).toBe(ErrorCode.CorruptFile);
    expect(error.message).toMatch(/stripped\.parquet: column "reward" is missing/);
    writeFileSync(join(root, 'text.parquet'), 'hello');
    await expect(readAnnotatedParquet(join(root, 'text.parquet'))).rejects.toThrow(
      /not a Parquet file/,
    );
  });
});
