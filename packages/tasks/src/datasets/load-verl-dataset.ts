import { type ChatMessageV1, CorruptFileError } from '@hicra/spec';
import type { SchemaTree } from 'hyparquet';
import { describe, readChoice, readSettings, SOURCE } from '../settings.js';
import {
  describeParquetType,
  openParquetFile,
  type ParquetSource,
  readParquetRowGroups,
} from './read-parquet.js';

export interface VerlDatasetOptions {
  /** A bad row is skipped and recorded in the report (`skip`, default) or ends reading with a `CorruptFileError` (`throw`). */
  readonly onBadRow?: 'skip' | 'throw';
  /** How the file is named in messages (default: the path). */
  readonly sourceName?: string;
}

/**
 * One row of a verl dataset, ready for a trainer and the math verifier. `id`, `problem` and
 * `answer` are those of {@link MathProblem}, so a verl row goes wherever a math problem does.
 */
export interface VerlProblem {
  /** `extra_info.index` when present, else the 0-based row number, as text. */
  readonly id: string;
  /** The content of the last user message of `prompt` (the text to put in a chat template). */
  readonly problem: string;
  /** `reward_model.ground_truth` as text (give it to `math-correctness` as `reference`). */
  readonly answer: string;
  /** `prompt`: every chat message, in order. */
  readonly messages: readonly ChatMessageV1[];
  /** `data_source` (verl picks the reward function by it, e.g. `openai/gsm8k`). */
  readonly dataSource: string;
  /** `ability`, when the file has it and the row sets it. */
  readonly ability?: string;
  /** `reward_model.style` (`rule`), when set. */
  readonly rewardStyle?: string;
  /** `extra_info` as stored (`split`, `index`, `answer`, `question`, ...); INT64 values that fit a double are numbers. Empty when absent. */
  readonly extraInfo: Readonly<Record<string, unknown>>;
}

/** A row that could not be used. */
export interface BadRow {
  /** 0-based row number in the file. */
  readonly row: number;
  /** 0-based row group. */
  readonly rowGroup: number;
  /** The column at fault. */
  readonly column: string;
  readonly reason: string;
}

/** What reading found, filled in as the iteration proceeds. */
export interface VerlDatasetReport {
  /** Rows read so far, bad ones included. */
  rows: number;
  /** Records yielded. */
  records: number;
  /** Row groups read so far. */
  rowGroups: number;
  /** Bad rows, in order (only with `onBadRow: 'skip'`; `throw` stops at the first). */
  readonly badRows: BadRow[];
}

/** One record with the row it came from. */
export interface ParquetRecord<T> {
  /** 0-based row number in the file. */
  readonly row: number;
  readonly rowGroup: number;
  readonly value: T;
}

/** An async iterable of records whose `report` fills in as it is read. Iterate it once. */
export interface ParquetDatasetReader<T> extends AsyncIterable<ParquetRecord<T>> {
  readonly report: VerlDatasetReport;
}

const STRING = new Set(['string']);
const SCALAR = new Set(['string', 'int32', 'int64', 'float', 'double']);

function child(node: SchemaTree, name: string): SchemaTree | undefined {
  return node.children.find((c) => c.element.name === name);
}

/** The element node of a list column, or undefined if `node` is not a list. */
function listItem(node: SchemaTree): SchemaTree | undefined {
  const kind = node.element.logical_type?.type ?? node.element.converted_type;
  if (kind !== 'LIST' || node.children.length !== 1) return undefined;
  const repeated = node.children[0]!;
  return repeated.children.length === 1 && repeated.element.repetition_type === 'REPEATED'
    ? repeated.children[0]
    : repeated;
}

function isStruct(node: SchemaTree | undefined): node is SchemaTree {
  if (node === undefined || node.children.length === 0) return false;
  const kind = node.element.logical_type?.type ?? node.element.converted_type;
  return kind !== 'LIST' && kind !== 'MAP' && kind !== 'MAP_KEY_VALUE';
}

/** Checks the columns against verl's; returns which optional ones are present. */
function checkSchema(name: string, schema: SchemaTree): { ability: boolean; extraInfo: boolean } {
  const columns = schema.children.map((c) => c.element.name);
  const fail = (column: string, expected: string, node: SchemaTree): never => {
    const found = describeParquetType(node);
    throw new CorruptFileError(
      `${name}: column "${column}": expected ${expected}, found ${found}`,
      { source: SOURCE, details: { file: name, column, expected, found } },
    );
  };
  for (const required of ['data_source', 'prompt', 'reward_model']) {
    if (child(schema, required) === undefined) {
      throw new CorruptFileError(
        `${name}: required column "${required}" is missing; the file has ${columns.map((c) => `"${c}"`).join(', ')}`,
        { source: SOURCE, details: { file: name, column: required, columns } },
      );
    }
  }
  const dataSource = child(schema, 'data_source')!;
  if (!STRING.has(describeParquetType(dataSource))) fail('data_source', 'string', dataSource);
  const prompt = child(schema, 'prompt')!;
  const message = listItem(prompt);
  const role = message && isStruct(message) ? child(message, 'role') : undefined;
  const content = message && isStruct(message) ? child(message, 'content') : undefined;
  if (
    role === undefined ||
    content === undefined ||
    !STRING.has(describeParquetType(role)) ||
    !STRING.has(describeParquetType(content))
  ) {
    fail('prompt', 'list<struct<role: string, content: string>> (chat messages)', prompt);
  }
  const rewardModel = child(schema, 'reward_model')!;
  const truth = isStruct(rewardModel) ? child(rewardModel, 'ground_truth') : undefined;
  if (truth === undefined || !SCALAR.has(describeParquetType(truth))) {
    fail('reward_model', 'struct<ground_truth: string, ...>', rewardModel);
  }
  const ability = child(schema, 'ability');
  if (ability !== undefined && !STRING.has(describeParquetType(ability))) {
    fail('ability', 'string', ability);
  }
  const extraInfo = child(schema, 'extra_info');
  if (extraInfo !== undefined && !isStruct(extraInfo)) {
    fail('extra_info', 'struct<split, index, ...>', extraInfo);
  }
  return { ability: ability !== undefined, extraInfo: extraInfo !== undefined };
}

/** INT64 values arrive as bigint: make those that a double holds exactly plain numbers. */
function plain(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value;
  }
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

type Converted = { ok: true; value: VerlProblem } | { ok: false; column: string; reason: string };

function convertRow(
  row: Record<string, unknown>,
  index: number,
  has: { ability: boolean; extraInfo: boolean },
): Converted {
  const bad = (column: string, reason: string): Converted => ({ ok: false, column, reason });
  const dataSource = row.data_source;
  if (typeof dataSource !== 'string' || dataSource === '') {
    return bad('data_source', `expected a non-empty string, got ${describe(dataSource)}`);
  }
  const prompt = row.prompt;
  if (!Array.isArray(prompt) || prompt.length === 0) {
    return bad('prompt', `expected a non-empty list of chat messages, got ${describe(prompt)}`);
  }
  const messages: ChatMessageV1[] = [];
  for (let i = 0; i < prompt.length; i++) {
    const m = prompt[i] as { role?: unknown; content?: unknown } | null;
    if (m === null || typeof m.role !== 'string' || typeof m.content !== 'string') {
      return bad('prompt', `message ${i} needs a string role and content`);
    }
    messages.push({ role: m.role, content: m.content });
  }
  const lastUser = messages.findLast((m) => m.role === 'user');
  if (lastUser === undefined || lastUser.content.trim() === '') {
    return bad('prompt', 'has no user message with content');
  }
  const rewardModel = row.reward_model as { ground_truth?: unknown; style?: unknown } | null;
  const truth = rewardModel?.ground_truth;
  let answer: string | undefined;
  if (typeof truth === 'string') answer = truth.trim();
  else if (typeof truth === 'bigint') answer = truth.toString();
  else if (typeof truth === 'number' && Number.isFinite(truth)) answer = String(truth);
  if (answer === undefined || answer === '') {
    return bad(
      'reward_model',
      `ground_truth must be a non-empty string or a number, got ${describe(truth)}`,
    );
  }
  let extraInfo: Record<string, unknown> = {};
  if (has.extraInfo && row.extra_info !== null && row.extra_info !== undefined) {
    extraInfo = plain(row.extra_info) as Record<string, unknown>;
  }
  let id = String(index);
  const rawIndex = extraInfo.index;
  if (typeof rawIndex === 'number' || typeof rawIndex === 'bigint') id = String(rawIndex);
  else if (typeof rawIndex === 'string' && rawIndex !== '') id = rawIndex;
  else if (rawIndex !== undefined && rawIndex !== null) {
    return bad('extra_info', `index must be an integer or a string, got ${describe(rawIndex)}`);
  }
  const ability = has.ability ? row.ability : undefined;
  const style = rewardModel?.style;
  return {
    ok: true,
    value: {
      id,
      problem: lastUser.content,
      answer,
      messages,
      dataSource,
      ...(typeof ability === 'string' ? { ability } : {}),
      ...(typeof style === 'string' ? { rewardStyle: style } : {}),
      extraInfo,
    },
  };
}

/**
 * Streams a verl RL dataset (the Parquet files of verl's `examples/data_preprocess/*.py`:
 * `data_source`, `prompt` as chat messages, `ability`, `reward_model.ground_truth`,
 * `extra_info`) one row group at a time, as {@link VerlProblem} records for the math verifier.
 *
 * The schema is checked before the first row: a missing required column (`data_source`,
 * `prompt`, `reward_model`) or a column of the wrong type is a `CorruptFileError` naming the
 * file, the column, what was expected and what was found; so is a file that is not Parquet, a
 * truncated one, or a row group that does not decode. A row whose values cannot be used (no
 * user message, an empty ground truth, null fields) is bad: recorded in `report.badRows` with
 * its row, row group and column (`skip`), or fatal (`throw`).
 *
 * ```ts
 * const dataset = loadVerlDataset('gsm8k/train.parquet');
 * for await (const { value } of dataset) console.log(value.problem, value.answer);
 * console.log(dataset.report.badRows);
 * ```
 */
export function loadVerlDataset(
  source: ParquetSource,
  options: VerlDatasetOptions = {},
): ParquetDatasetReader<VerlProblem> {
  const where = 'loadVerlDataset';
  const raw = readSettings(options, `${where}: options`, ['onBadRow', 'sourceName']);
  const onBadRow = readChoice(
    raw.onBadRow,
    `${where}: options.onBadRow`,
    ['skip', 'throw'],
    'skip',
  );
  const report: VerlDatasetReport = { rows: 0, records: 0, rowGroups: 0, badRows: [] };

  async function* iterate(): AsyncGenerator<ParquetRecord<VerlProblem>> {
    const file = await openParquetFile(source, raw.sourceName);
    let has: { ability: boolean; extraInfo: boolean };
    try {
      has = checkSchema(file.name, file.schema);
    } finally {
      await file.close();
    }
    const columns = ['data_source', 'prompt', 'reward_model'];
    if (has.ability) columns.push('ability');
    if (has.extraInfo) columns.push('extra_info');
    for await (const group of readParquetRowGroups(source, {
      columns,
      sourceName: file.name,
    })) {
      report.rowGroups = group.index + 1;
      for (let i = 0; i < group.rows.length; i++) {
        const row = group.firstRow + i;
        report.rows = row + 1;
        const converted = convertRow(group.rows[i]!, row, has);
        if (!converted.ok) {
          const badRow: BadRow = {
            row,
            rowGroup: group.index,
            column: converted.column,
            reason: converted.reason,
          };
          if (onBadRow === 'throw') {
            throw new CorruptFileError(
              `${file.name}: row ${row} (row group ${group.index}), column "${converted.column}": ${converted.reason}`,
              { source: SOURCE, details: { file: file.name, ...badRow } },
            );
          }
          report.badRows.push(badRow);
          continue;
        }
        report.records++;
        yield { row, rowGroup: group.index, value: converted.value };
      }
    }
  }

  return { report, [Symbol.asyncIterator]: iterate };
}
