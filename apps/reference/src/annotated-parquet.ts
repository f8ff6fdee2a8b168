import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  ConfigError,
  CorruptFileError,
  InvalidArgumentError,
  InvalidValueError,
  parseRolloutRecord,
  type RolloutRecordV1,
} from '@hicra/spec';
import { describeParquetType, openParquetFile, readParquetRowGroups } from '@hicra/tasks';
import { fileWriter, parquetWrite } from 'hyparquet-writer';

type SchemaElement = NonNullable<Parameters<typeof parquetWrite>[0]['schema']>[number];

const SOURCE = '@hicra/reference';

/** Value of the `hicra.format` key in the footer of every annotated-rollouts Parquet file. */
export const ANNOTATED_PARQUET_FORMAT = 'hicra.annotated-rollouts.v1';

export interface WriteAnnotatedParquetOptions {
  /** Page compression: `snappy` (default: every Parquet reader has it), `gzip` or `uncompressed`. */
  readonly compression?: 'snappy' | 'gzip' | 'uncompressed';
  /** Rows (responses) per row group. Default 4096. */
  readonly rowGroupSize?: number;
}

/** Per-token float fields: record key -> column. Stored as float32 when every value is one. */
const FLOAT_LISTS = [
  ['logProbs', 'log_probs'],
  ['refLogProbs', 'ref_log_probs'],
  ['entropies', 'entropies'],
  ['values', 'critic_values'],
  ['tokenRewards', 'token_rewards'],
  ['advantages', 'advantages'],
] as const;

/** Integer-list fields: stored as int32 when every value fits, else int64. */
const INT_LISTS = [
  ['promptTokenIds', 'prompt_token_ids'],
  ['tokenIds', 'token_ids'],
] as const;

/** 0/1 masks, stored as booleans. */
const MASKS = [
  ['planningMask', 'planning_mask'],
  ['lossMask', 'loss_mask'],
] as const;

/** Every record key that has its own column; any other key goes to `extra_json`. */
const KNOWN_KEYS = new Set<string>([
  'schema',
  'groupId',
  'step',
  'prompt',
  'response',
  'reward',
  'unscorableReason',
  'tokenSpans',
  'spanUnit',
  'planningMatches',
  'meta',
  ...FLOAT_LISTS.map(([key]) => key),
  ...INT_LISTS.map(([key]) => key),
  ...MASKS.map(([key]) => key),
]);

const string = (name: string, required = false): SchemaElement => ({
  name,
  type: 'BYTE_ARRAY',
  converted_type: 'UTF8',
  repetition_type: required ? 'REQUIRED' : 'OPTIONAL',
});

/** A nullable three-level list (`name` > `list` > `element`), as pyarrow writes one. */
function list(name: string, element: SchemaElement[]): SchemaElement[] {
  return [
    { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    ...element,
  ];
}

function leaf(type: 'BOOLEAN' | 'INT32' | 'INT64' | 'FLOAT' | 'DOUBLE'): SchemaElement[] {
  return [{ name: 'element', type, repetition_type: 'REQUIRED' }];
}

/** Whether `path` is an annotated-rollouts Parquet file (its footer names the format). */
export async function isAnnotatedParquet(path: string): Promise<boolean> {
  try {
    const file = await openParquetFile(path);
    try {
      return (file.metadata.key_value_metadata ?? []).some(
        (kv) => kv.key === 'hicra.format' && kv.value === ANNOTATED_PARQUET_FORMAT,
      );
    } finally {
      await file.close();
    }
  } catch {
    return false;
  }
}

/**
 * Writes annotated rollout records (as `annotateRollouts` produces them: the rollout schema
 * with `advantages`, `planningMask`, `planningMatches`...) as Parquet, one row per response in
 * the records' order. The columns are documented in docs/formats.md ("Annotated rollouts as
 * Parquet"). Records are checked against the rollout schema first, and the file is written
 * beside the target under a temporary name and renamed over it at the end, so a failure never
 * leaves a half-written or damaged file at `path`.
 */
export async function writeAnnotatedParquet(
  path: string,
  records: readonly RolloutRecordV1[],
  options: WriteAnnotatedParquetOptions = {},
): Promise<void> {
  if (typeof path !== 'string' || path === '') {
    throw new InvalidArgumentError('writeAnnotatedParquet: path must be a non-empty string', {
      source: SOURCE,
      details: { argument: 'path' },
    });
  }
  if (!Array.isArray(records)) {
    throw new InvalidArgumentError('writeAnnotatedParquet: records must be an array', {
      source: SOURCE,
      details: { argument: 'records' },
    });
  }
  const compression = options.compression ?? 'snappy';
  if (!['snappy', 'gzip', 'uncompressed'].includes(compression)) {
    throw new ConfigError(
      'compression',
      `writeAnnotatedParquet: compression must be snappy, gzip or uncompressed, got ${JSON.stringify(compression)}`,
      { source: SOURCE },
    );
  }
  const rowGroupSize = options.rowGroupSize ?? 4096;
  if (!Number.isInteger(rowGroupSize) || rowGroupSize < 1) {
    throw new ConfigError(
      'rowGroupSize',
      `writeAnnotatedParquet: rowGroupSize must be a positive integer, got ${String(rowGroupSize)}`,
      { source: SOURCE },
    );
  }
  records.forEach((record, i) => {
    parseRolloutRecord(record, `writeAnnotatedParquet: record ${i}`);
    // int64 columns would wrap silently past 2^63; doubles are exact only to 2^53.
    for (const key of ['step', 'promptTokenIds', 'tokenIds'] as const) {
      const value = record[key];
      const values: readonly number[] =
        value === undefined ? [] : typeof value === 'number' ? [value] : value;
      const bad = values.findIndex((v) => !Number.isSafeInteger(v));
      if (bad >= 0) {
        throw new InvalidValueError(
          `writeAnnotatedParquet: record ${i}: ${key}${typeof value === 'number' ? '' : `[${bad}]`} must be a safe integer, got ${values[bad]}`,
          { source: SOURCE, details: { index: i, field: key } },
        );
      }
    }
  });

  const column = <T>(get: (r: RolloutRecordV1) => T) => records.map(get);
  const schema: SchemaElement[] = [];
  const data: { name: string; data: unknown[] }[] = [];
  const add = (elements: SchemaElement[], values: unknown[]) => {
    schema.push(...elements);
    data.push({ name: elements[0]!.name, data: values });
  };
  add(
    [string('schema', true)],
    column((r) => r.schema),
  );
  add(
    [string('group_id', true)],
    // `String(-0)` is "0": keep the sign so a numeric id comes back as the same number.
    column((r) => (Object.is(r.groupId, -0) ? '-0' : String(r.groupId))),
  );
  add(
    [{ name: 'group_id_is_number', type: 'BOOLEAN', repetition_type: 'REQUIRED' }],
    column((r) => typeof r.groupId === 'number'),
  );
  add(
    [{ name: 'step', type: 'INT64', repetition_type: 'OPTIONAL' }],
    column((r) => (r.step === undefined ? null : BigInt(r.step))),
  );
  add(
    [string('prompt', true)],
    column((r) => r.prompt),
  );
  add(
    [string('response', true)],
    column((r) => r.response),
  );
  add(
    [{ name: 'reward', type: 'DOUBLE', repetition_type: 'OPTIONAL' }],
    column((r) => r.reward),
  );
  add(
    [string('unscorable_reason')],
    column((r) => r.unscorableReason ?? null),
  );
  for (const [key, name] of INT_LISTS) {
    const values = column((r) => r[key] ?? null);
    const int32 = values.every((v) => v === null || v.every((x) => x === (x | 0)));
    add(
      list(name, leaf(int32 ? 'INT32' : 'INT64')),
      int32 ? values : values.map((v) => v?.map(BigInt) ?? null),
    );
  }
  add(
    list('token_span_start', leaf('INT32')),
    column((r) => r.tokenSpans?.map((s) => s[0]) ?? null),
  );
  add(
    list('token_span_end', leaf('INT32')),
    column((r) => r.tokenSpans?.map((s) => s[1]) ?? null),
  );
  add(
    [string('span_unit')],
    column((r) => r.spanUnit ?? null),
  );
  for (const [key, name] of FLOAT_LISTS) {
    const values = column((r) => r[key] ?? null);
    const float32 = values.every((v) => v === null || v.every((x) => Math.fround(x) === x));
    add(list(name, leaf(float32 ? 'FLOAT' : 'DOUBLE')), values);
  }
  for (const [key, name] of MASKS) {
    add(
      list(name, leaf('BOOLEAN')),
      column((r) => r[key]?.map((x) => x === 1) ?? null),
    );
  }
  add(
    list('planning_matches', [
      { name: 'element', repetition_type: 'REQUIRED', num_children: 5 },
      { name: 'start', type: 'INT32', repetition_type: 'REQUIRED' },
      { name: 'end', type: 'INT32', repetition_type: 'REQUIRED' },
      string('gram', true),
      { name: 'gram_id', type: 'INT32', repetition_type: 'REQUIRED' },
      { name: 'class_id', type: 'INT32', repetition_type: 'OPTIONAL' },
    ]),
    column(
      (r) =>
        r.planningMatches?.map((m) => ({
          start: m.start,
          end: m.end,
          gram: m.gram,
          gram_id: m.gramId,
          class_id: m.classId ?? null,
        })) ?? null,
    ),
  );
  add(
    [string('meta_json')],
    column((r) => (r.meta === undefined ? null : JSON.stringify(r.meta))),
  );
  add(
    [string('extra_json')],
    column((r) => {
      const extra = Object.entries(r).filter(
        ([key, value]) => !KNOWN_KEYS.has(key) && value !== undefined,
      );
      return extra.length === 0 ? null : JSON.stringify(Object.fromEntries(extra));
    }),
  );
  schema.unshift({ name: 'root', num_children: data.length });

  const temp = join(
    dirname(path),
    `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  try {
    const writer = fileWriter(temp);
    parquetWrite({
      writer,
      schema,
      columnData: data as never,
      codec: compression === 'snappy' ? 'SNAPPY' : compression === 'gzip' ? 'GZIP' : 'UNCOMPRESSED',
      compressors: { GZIP: (bytes: Uint8Array) => new Uint8Array(gzipSync(bytes)) },
      rowGroupSize,
      kvMetadata: [{ key: 'hicra.format', value: ANNOTATED_PARQUET_FORMAT }],
      createdBy: 'hicra (hyparquet-writer)',
    });
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    if (error instanceof Error && (error as { code?: unknown }).code !== undefined) {
      throw new CorruptFileError(`${path}: cannot write (${error.message})`, {
        source: SOURCE,
        details: { path },
        cause: error,
      });
    }
    throw error;
  }
}

/** The types each column may have (as `describeParquetType` writes them). */
const COLUMN_TYPES: Readonly<Record<string, readonly string[]>> = {
  schema: ['string'],
  group_id: ['string'],
  group_id_is_number: ['boolean'],
  step: ['int64', 'int32'],
  prompt: ['string'],
  response: ['string'],
  reward: ['double', 'float'],
  unscorable_reason: ['string'],
  ...Object.fromEntries(INT_LISTS.map(([, name]) => [name, ['list<int32>', 'list<int64>']])),
  token_span_start: ['list<int32>', 'list<int64>'],
  token_span_end: ['list<int32>', 'list<int64>'],
  span_unit: ['string'],
  ...Object.fromEntries(FLOAT_LISTS.map(([, name]) => [name, ['list<float>', 'list<double>']])),
  ...Object.fromEntries(MASKS.map(([, name]) => [name, ['list<boolean>']])),
  planning_matches: [
    'list<struct<start: int32, end: int32, gram: string, gram_id: int32, class_id: int32>>',
  ],
  meta_json: ['string'],
  extra_json: ['string'],
};

const REQUIRED_COLUMNS = [
  'schema',
  'group_id',
  'group_id_is_number',
  'prompt',
  'response',
  'reward',
] as const;

function numbers(value: unknown): number[] | undefined {
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    return Array.from(value as ArrayLike<number | bigint>, Number);
  }
  return undefined;
}

function rowToRecord(row: Record<string, unknown>, where: string): RolloutRecordV1 {
  const record: Record<string, unknown> = {};
  const extraJson = row.extra_json;
  if (typeof extraJson === 'string') Object.assign(record, JSON.parse(extraJson));
  record.schema = row.schema;
  record.groupId = row.group_id_is_number === true ? Number(row.group_id) : row.group_id;
  if (row.step !== null && row.step !== undefined) record.step = Number(row.step);
  record.prompt = row.prompt;
  record.response = row.response;
  record.reward = row.reward ?? null;
  if (typeof row.unscorable_reason === 'string') record.unscorableReason = row.unscorable_reason;
  for (const [key, name] of INT_LISTS) {
    const v = numbers(row[name]);
    if (v !== undefined) record[key] = v;
  }
  const starts = numbers(row.token_span_start);
  const ends = numbers(row.token_span_end);
  if (starts !== undefined || ends !== undefined) {
    if (starts === undefined || ends === undefined || starts.length !== ends.length) {
      throw new CorruptFileError(
        `${where}, columns "token_span_start" and "token_span_end": expected lists of the same length`,
        { source: SOURCE, details: { where, column: 'token_span_start' } },
      );
    }
    record.tokenSpans = starts.map((s, i) => [s, ends[i]!]);
  }
  if (typeof row.span_unit === 'string') record.spanUnit = row.span_unit;
  for (const [key, name] of FLOAT_LISTS) {
    const v = numbers(row[name]);
    if (v !== undefined) record[key] = v;
  }
  for (const [key, name] of MASKS) {
    const v = row[name];
    if (Array.isArray(v)) record[key] = v.map((x) => (x === true ? 1 : 0));
  }
  const matches = row.planning_matches;
  if (Array.isArray(matches)) {
    record.planningMatches = matches.map((m: Record<string, unknown>) => ({
      start: Number(m.start),
      end: Number(m.end),
      gram: m.gram,
      gramId: Number(m.gram_id),
      ...(m.class_id === null || m.class_id === undefined ? {} : { classId: Number(m.class_id) }),
    }));
  }
  if (typeof row.meta_json === 'string') record.meta = JSON.parse(row.meta_json);
  return parseRolloutRecord(record, where);
}

/**
 * Reads a file written by {@link writeAnnotatedParquet} back into rollout records, equal to
 * the records written. A missing column, a column that does not decode, or a row that breaks
 * the rollout schema is an error naming the file, the row and the column.
 */
export async function readAnnotatedParquet(path: string): Promise<RolloutRecordV1[]> {
  const file = await openParquetFile(path);
  const columns = file.schema.children.map((c) => c.element.name);
  const found = new Map(file.schema.children.map((c) => [c.element.name, describeParquetType(c)]));
  await file.close();
  for (const [column, types] of Object.entries(COLUMN_TYPES)) {
    const type = found.get(column);
    if (type !== undefined && !types.includes(type)) {
      throw new CorruptFileError(
        `${path}: column "${column}": expected ${types.join(' or ')}, found ${type}`,
        { source: SOURCE, details: { file: path, column, expected: types, found: type } },
      );
    }
  }
  for (const required of REQUIRED_COLUMNS) {
    if (!columns.includes(required)) {
      throw new CorruptFileError(
        `${path}: column "${required}" is missing; is this an annotated-rollouts file (${ANNOTATED_PARQUET_FORMAT})? It has ${columns.map((c) => `"${c}"`).join(', ')}`,
        { source: SOURCE, details: { file: path, column: required } },
      );
    }
  }
  const records: RolloutRecordV1[] = [];
  for await (const group of readParquetRowGroups(path)) {
    group.rows.forEach((row, i) => {
      const where = `${path}: row ${group.firstRow + i} (row group ${group.index})`;
      try {
        records.push(rowToRecord(row, where));
      } catch (error) {
        if (error instanceof SyntaxError) {
          throw new CorruptFileError(`${where}: a JSON column does not parse (${error.message})`, {
            source: SOURCE,
            details: { file: path, row: group.firstRow + i },
          });
        }
        throw error;
      }
    });
  }
  return records;
}
