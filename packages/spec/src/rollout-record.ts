import type { CreditV1 } from './credit.js';
import { decodeWithSpans } from './decode-with-spans.js';
import { ConfigError, InvalidValueError, MissingInputError, ShapeError } from './errors.js';
import { formatValue } from './format-value.js';
import type { PlanningMatchV1, PlanningResultV1 } from './planning.js';
import type { RolloutBatchV1, TokenFloatField } from './rollout-batch.js';
import { convertSpans, SPAN_UNITS, type SpanUnit, textLength } from './span-units.js';
import type { TokenizerV1 } from './tokenizer.js';

/** Value of the `schema` field of every rollout record. */
export const ROLLOUT_SCHEMA_V1 = 'hicra.rollout.v1';

/**
 * One response, as one line of a rollout JSON Lines file. This is what the trainer logs, what
 * `hicra annotate` reads and writes, and what another system (an inference server, a verl
 * export) can produce. Per-token arrays all have the response's token count n.
 */
export interface RolloutRecordV1 {
  /** Always {@link ROLLOUT_SCHEMA_V1}. */
  readonly schema: typeof ROLLOUT_SCHEMA_V1;
  /** Responses with the same id answered the same prompt. */
  readonly groupId: string | number;
  /** Prompt text; identical across a group. */
  readonly prompt: string;
  /** Decoded response text. */
  readonly response: string;
  /** Outcome reward; `null` when the response could not be scored (see `unscorableReason`). */
  readonly reward: number | null;
  /** Why the response could not be scored, when `reward` is null. */
  readonly unscorableReason?: string;
  /**
   * Training step that produced the response, when logged by a trainer. Group ids are unique
   * within a step: responses group by (step, groupId).
   */
  readonly step?: number;
  /** Prompt token ids. */
  readonly promptTokenIds?: readonly number[];
  /** `[n]` response token ids. */
  readonly tokenIds?: readonly number[];
  /** `[n]` `[start, end)` character spans into `response`, in {@link RolloutRecordV1.spanUnit}s. */
  readonly tokenSpans?: readonly (readonly [number, number])[];
  /**
   * What `tokenSpans` and `planningMatches` offsets count: `utf16` code units (JavaScript
   * string indices) or `codepoint`s (Python `str` indices, Hugging Face offsets). A record
   * without it is read as `utf16`, the meaning of files written before the field existed.
   * Every record this project writes states it.
   */
  readonly spanUnit?: SpanUnit;
  /** `[n]` log-probs of the sampled tokens under the sampling policy. */
  readonly logProbs?: readonly number[];
  /** `[n]` log-probs under the reference policy. */
  readonly refLogProbs?: readonly number[];
  /** `[n]` token entropies (nats). */
  readonly entropies?: readonly number[];
  /** `[n]` critic values. */
  readonly values?: readonly number[];
  /** `[n]` process rewards. */
  readonly tokenRewards?: readonly number[];
  /** `[n]` 0/1 planning-token mask. */
  readonly planningMask?: readonly number[];
  /** Planning-phrase occurrences in `response`. */
  readonly planningMatches?: readonly PlanningMatchV1[];
  /** `[n]` credit: advantages after the credit pipeline. */
  readonly advantages?: readonly number[];
  /** `[n]` 0/1 credit loss mask. */
  readonly lossMask?: readonly number[];
  /** Free-form extra data, carried through unchanged. */
  readonly meta?: Readonly<Record<string, unknown>>;
}

const RECORD_FLOAT_FIELDS: Readonly<Record<TokenFloatField, keyof RolloutRecordV1>> = {
  oldLogProbs: 'logProbs',
  refLogProbs: 'refLogProbs',
  entropies: 'entropies',
  values: 'values',
  tokenRewards: 'tokenRewards',
};

const SOURCE = '@hicra/spec';

/**
 * Checks one parsed JSON value against {@link RolloutRecordV1}. `where` names it in errors
 * (`rollouts.jsonl line 12`). Returns the record, typed.
 */
export function parseRolloutRecord(value: unknown, where = 'rollout record'): RolloutRecordV1 {
  function fail(key: string, message: string): never {
    throw new ConfigError(key, `${where}: ${message}`, { source: SOURCE, details: { where } });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail('', 'expected a JSON object');
  }
  const record = value as Record<string, unknown>;
  if (record.schema !== ROLLOUT_SCHEMA_V1) {
    fail(
      'schema',
      `expected "${ROLLOUT_SCHEMA_V1}", got ${record.schema === undefined ? 'nothing' : formatValue(record.schema)}`,
    );
  }
  if (
    typeof record.groupId !== 'string' &&
    !(typeof record.groupId === 'number' && Number.isFinite(record.groupId))
  ) {
    fail('groupId', 'expected a string or a finite number');
  }
  for (const key of ['prompt', 'response'] as const) {
    if (typeof record[key] !== 'string') fail(key, 'expected a string');
  }
  if (record.reward === null) {
    if (typeof record.unscorableReason !== 'string' || record.unscorableReason === '') {
      fail('unscorableReason', 'a null reward needs a non-empty unscorableReason');
    }
  } else if (typeof record.reward !== 'number' || !Number.isFinite(record.reward)) {
    fail(
      'reward',
      `expected a finite number or null, got ${record.reward === undefined ? 'nothing' : formatValue(record.reward)}`,
    );
  }
  const tokenCount = Array.isArray(record.tokenIds) ? record.tokenIds.length : undefined;
  const checkNumbers = (key: string, integer: boolean): void => {
    const array = record[key];
    if (array === undefined) return;
    if (!Array.isArray(array)) fail(key, 'expected an array of numbers');
    if (tokenCount !== undefined && key !== 'promptTokenIds' && array.length !== tokenCount) {
      fail(key, `has ${array.length} entries; expected one per token (${tokenCount})`);
    }
    for (let i = 0; i < array.length; i++) {
      const v = array[i];
      if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
        fail(
          `${key}[${i}]`,
          `expected a finite ${integer ? 'integer' : 'number'}, got ${formatValue(v)}`,
        );
      }
    }
  };
  checkNumbers('tokenIds', true);
  checkNumbers('promptTokenIds', true);
  for (const key of ['tokenIds', 'promptTokenIds'] as const) {
    const ids = record[key] as number[] | undefined;
    ids?.forEach((id, i) => {
      if (id < 0) fail(`${key}[${i}]`, `token ids are >= 0, got ${id}`);
    });
  }
  for (const key of Object.values(RECORD_FLOAT_FIELDS)) checkNumbers(key, false);
  checkNumbers('advantages', false);
  for (const key of ['planningMask', 'lossMask'] as const) {
    checkNumbers(key, true);
    const mask = record[key] as number[] | undefined;
    mask?.forEach((v, i) => {
      if (v !== 0 && v !== 1) fail(`${key}[${i}]`, `masks hold 0 or 1, got ${v}`);
    });
  }
  if (
    record.spanUnit !== undefined &&
    !(SPAN_UNITS as readonly unknown[]).includes(record.spanUnit)
  ) {
    fail(
      'spanUnit',
      `expected ${SPAN_UNITS.map((u) => `"${u}"`).join(' or ')}, got ${formatValue(record.spanUnit)}`,
    );
  }
  if (
    record.step !== undefined &&
    !(Number.isInteger(record.step) && (record.step as number) >= 0)
  ) {
    fail('step', `expected an integer >= 0, got ${formatValue(record.step)}`);
  }
  const unit = (record.spanUnit ?? 'utf16') as SpanUnit;
  if (record.tokenSpans !== undefined) {
    const spans = record.tokenSpans;
    if (!Array.isArray(spans)) fail('tokenSpans', 'expected an array of [start, end] pairs');
    if (tokenCount !== undefined && spans.length !== tokenCount) {
      fail('tokenSpans', `has ${spans.length} entries; expected one per token (${tokenCount})`);
    }
    const length = textLength(record.response as string, unit);
    spans.forEach((span, i) => {
      if (
        !Array.isArray(span) ||
        span.length !== 2 ||
        !Number.isInteger(span[0]) ||
        !Number.isInteger(span[1]) ||
        span[0] < 0 ||
        span[1] < span[0] ||
        span[1] > length
      ) {
        fail(
          `tokenSpans[${i}]`,
          `expected [start, end] with 0 <= start <= end <= ${length} (the response's length in ${unit === 'utf16' ? 'UTF-16 code units' : 'code points'}), got ${formatValue(span)}`,
        );
      }
    });
  }
  if (record.planningMatches !== undefined && !Array.isArray(record.planningMatches)) {
    fail('planningMatches', 'expected an array');
  }
  if (
    record.meta !== undefined &&
    (typeof record.meta !== 'object' || record.meta === null || Array.isArray(record.meta))
  ) {
    fail('meta', 'expected an object');
  }
  return record as unknown as RolloutRecordV1;
}

export interface RecordsToBatchOptions {
  /** Tokenizes responses whose records carry no `tokenIds` (their spans come from it too). */
  readonly tokenizer?: TokenizerV1;
  /**
   * What to do with records whose reward is null: `error` (default) or `drop` (their indices
   * are returned in `dropped`).
   */
  readonly unscorable?: 'error' | 'drop';
  /** Names records in errors, e.g. `(i) => \`line ${i + 1}\``. Default: `record i`. */
  readonly describe?: (index: number) => string;
}

export interface RecordsToBatchResult {
  readonly batch: RolloutBatchV1;
  /** Original group key of each int32 group id in the batch (`keys[id]`). */
  readonly groupKeys: readonly (string | number)[];
  /** Indices of records left out (unscorable, with `unscorable: 'drop'`). */
  readonly dropped: readonly number[];
  /** For each batch row, the index of its record. */
  readonly recordIndex: Int32Array;
}

/**
 * Packs rollout records into a right-padded {@link RolloutBatchV1}. Responses group by
 * (step, groupId), mapped to int32 ids in order of first appearance. Records without
 * `tokenIds` are tokenised with the given tokenizer (without one, that is an error); records
 * with ids but no spans get spans from decoding their ids with it, which must reproduce the
 * response. With a tokenizer, every id must be in its vocabulary. Spans in the batch are UTF-16
 * offsets whatever the records' `spanUnit`.
 */
export function rolloutBatchFromRecords(
  records: readonly RolloutRecordV1[],
  options: RecordsToBatchOptions = {},
): RecordsToBatchResult {
  const name = options.describe ?? ((i: number) => `record ${i}`);
  const dropped: number[] = [];
  const kept: number[] = [];
  records.forEach((record, i) => {
    if (record.reward === null) {
      if (options.unscorable === 'drop') dropped.push(i);
      else {
        throw new InvalidValueError(
          `${name(i)} has a null reward (${record.unscorableReason ?? 'no reason given'}); pass unscorable: 'drop' to leave such responses out`,
          { source: SOURCE, details: { index: i } },
        );
      }
    } else kept.push(i);
  });

  const vocabSize = options.tokenizer?.vocabSize;
  const encoded = kept.map((i) => {
    const record = records[i]!;
    if (record.tokenIds !== undefined) {
      const ids = Int32Array.from(record.tokenIds);
      if (vocabSize !== undefined) {
        const bad = ids.findIndex((id) => id < 0 || id >= vocabSize);
        if (bad >= 0)
          throw new InvalidValueError(
            `${name(i)}: tokenIds[${bad}] = ${ids[bad]} is outside the tokenizer's vocabulary [0, ${vocabSize})`,
            { source: SOURCE, details: { index: i, field: `tokenIds[${bad}]` } },
          );
      }
      let spans: Int32Array | undefined;
      if (record.tokenSpans !== undefined) {
        spans = convertSpans(
          record.response,
          record.tokenSpans.flat(),
          record.spanUnit ?? 'utf16',
          'utf16',
        );
      } else if (options.tokenizer !== undefined) {
        // Spans from the ids: decode with offsets, and check the ids reproduce the text.
        const decoded = decodeWithSpans(options.tokenizer, ids);
        if (decoded.text !== record.response) {
          let at = 0;
          while (at < decoded.text.length && decoded.text[at] === record.response[at]) at++;
          throw new InvalidValueError(
            `${name(i)}: its tokenIds decode to a different text than its response (first difference at character ${at}: ${formatValue(decoded.text.slice(at, at + 20))} vs ${formatValue(record.response.slice(at, at + 20))}); is the tokenizer the model's?`,
            { source: SOURCE, details: { index: i, field: 'tokenIds' } },
          );
        }
        spans = decoded.spans;
      }
      return { ids, spans };
    }
    if (options.tokenizer === undefined) {
      throw new MissingInputError(
        `${name(i)} has no tokenIds and no tokenizer was given to tokenise it`,
        {
          source: SOURCE,
          details: { index: i },
        },
      );
    }
    const encoding = options.tokenizer.encode(record.response);
    return { ids: encoding.ids, spans: encoding.spans };
  });

  const batchSize = kept.length;
  const seqLen = encoded.reduce((max, e) => Math.max(max, e.ids.length), 0);
  const tokens = batchSize * seqLen;
  const groupIndex = new Map<string, number>();
  const groupKeys: (string | number)[] = [];
  const promptTexts: string[] = [];
  const groupIds = new Int32Array(batchSize);
  const rewards = new Float32Array(batchSize);
  const tokenIds = new Int32Array(tokens);
  const responseMask = new Uint8Array(tokens);
  const allSpans = encoded.every((e) => e.spans !== undefined);
  const tokenSpans = allSpans ? new Int32Array(tokens * 2).fill(-1) : undefined;
  const floats: Partial<Record<TokenFloatField, Float32Array>> = {};
  let planningMask: Uint8Array | undefined;
  const hasAll = (key: keyof RolloutRecordV1) =>
    kept.length > 0 && kept.every((i) => records[i]![key] !== undefined);
  for (const [field, key] of Object.entries(RECORD_FLOAT_FIELDS) as [
    TokenFloatField,
    keyof RolloutRecordV1,
  ][]) {
    if (hasAll(key)) floats[field] = new Float32Array(tokens);
  }
  if (hasAll('planningMask')) planningMask = new Uint8Array(tokens);

  kept.forEach((recordIndex, row) => {
    const record = records[recordIndex]!;
    // Group ids are unique within a step (a trainer's log restarts them every step).
    const key = JSON.stringify([record.step ?? null, record.groupId]);
    let id = groupIndex.get(key);
    if (id === undefined) {
      id = groupKeys.length;
      groupIndex.set(key, id);
      groupKeys.push(record.groupId);
      promptTexts.push(record.prompt);
    } else if (promptTexts[id] !== record.prompt) {
      throw new InvalidValueError(
        `${name(recordIndex)} has group ${JSON.stringify(record.groupId)}${record.step === undefined ? '' : ` of step ${record.step}`} but a different prompt than the group's first record`,
        { source: SOURCE, details: { index: recordIndex, groupId: record.groupId } },
      );
    }
    groupIds[row] = id;
    rewards[row] = record.reward as number;
    const { ids, spans } = encoded[row]!;
    const offset = row * seqLen;
    tokenIds.set(ids, offset);
    responseMask.fill(1, offset, offset + ids.length);
    if (tokenSpans !== undefined && spans !== undefined) {
      if (spans.length !== ids.length * 2) {
        throw new ShapeError(
          `${name(recordIndex)} has ${spans.length / 2} token spans for ${ids.length} tokens`,
          {
            source: SOURCE,
            details: { index: recordIndex },
          },
        );
      }
      tokenSpans.set(spans, offset * 2);
    }
    for (const [field, target] of Object.entries(floats) as [TokenFloatField, Float32Array][]) {
      const values = record[RECORD_FLOAT_FIELDS[field]] as readonly number[];
      if (values.length !== ids.length) {
        throw new ShapeError(
          `${name(recordIndex)} has ${values.length} ${RECORD_FLOAT_FIELDS[field]} for ${ids.length} tokens`,
          { source: SOURCE, details: { index: recordIndex, field: RECORD_FLOAT_FIELDS[field] } },
        );
      }
      target.set(values, offset);
    }
    if (planningMask !== undefined) planningMask.set(record.planningMask!, offset);
  });

  const batch: RolloutBatchV1 = {
    batchSize,
    seqLen,
    groupIds,
    prompts: { groupIds: Int32Array.from(groupKeys, (_, i) => i), texts: promptTexts },
    tokenIds,
    responseMask,
    rewards,
    responseTexts: kept.map((i) => records[i]!.response),
    ...(tokenSpans === undefined ? {} : { tokenSpans }),
    ...floats,
    ...(planningMask === undefined ? {} : { planningMask }),
  };
  return { batch, groupKeys, dropped, recordIndex: Int32Array.from(kept) };
}

export interface BatchToRecordsOptions {
  /** Training step to stamp on each record. */
  readonly step?: number;
  /** Credit to write (`advantages`, `lossMask`). */
  readonly credit?: Pick<CreditV1, 'advantages' | 'lossMask'>;
  /** Planning classification to write (`planningMask`, `planningMatches`). */
  readonly planning?: PlanningResultV1;
  /** Original group keys (`groupKeys[id]`); default: the int32 ids. */
  readonly groupKeys?: readonly (string | number)[];
  /** Rows to write; default all. */
  readonly rows?: readonly number[];
  /**
   * The unit of the written `tokenSpans` and `planningMatches` offsets (the batch's are UTF-16):
   * `utf16` (default) or `codepoint` for Python readers. Every record states it in `spanUnit`.
   */
  readonly spanUnit?: SpanUnit;
}

/** Unpacks a batch (and optionally its credit and planning result) into rollout records. */
export function rolloutRecordsFromBatch(
  batch: RolloutBatchV1,
  options: BatchToRecordsOptions = {},
): RolloutRecordV1[] {
  const { seqLen } = batch;
  const promptOf = new Map<number, number>();
  batch.prompts.groupIds.forEach((id, p) => {
    promptOf.set(id, p);
  });
  const rows = options.rows ?? Array.from({ length: batch.batchSize }, (_, i) => i);
  return rows.map((row) => {
    const offset = row * seqLen;
    const positions: number[] = [];
    for (let t = 0; t < seqLen; t++) {
      if (batch.responseMask[offset + t] === 1) positions.push(offset + t);
    }
    const pick = <A extends ArrayLike<number>>(array: A | undefined): number[] | undefined =>
      array === undefined ? undefined : positions.map((k) => array[k]!);
    const groupId = batch.groupIds[row]!;
    const promptIndex = promptOf.get(groupId);
    const p = batch.prompts;
    const promptTokenIds =
      p.tokenIds !== undefined && p.tokenOffsets !== undefined && promptIndex !== undefined
        ? Array.from(
            p.tokenIds.subarray(p.tokenOffsets[promptIndex]!, p.tokenOffsets[promptIndex + 1]!),
          )
        : undefined;
    const response = batch.responseTexts?.[row] ?? '';
    const unit = options.spanUnit ?? 'utf16';
    let spans: number[][] | undefined;
    if (batch.tokenSpans !== undefined) {
      const flat = new Int32Array(positions.length * 2);
      positions.forEach((k, i) => {
        flat[2 * i] = batch.tokenSpans![2 * k]!;
        flat[2 * i + 1] = batch.tokenSpans![2 * k + 1]!;
      });
      const converted = convertSpans(response, flat, 'utf16', unit);
      spans = positions.map((_, i) => [converted[2 * i]!, converted[2 * i + 1]!]);
    }
    let matches = options.planning?.matches[row];
    if (matches !== undefined && unit !== 'utf16') {
      const converted = convertSpans(
        response,
        matches.flatMap((m) => [m.start, m.end]),
        'utf16',
        unit,
      );
      matches = matches.map((m, i) => ({
        ...m,
        start: converted[2 * i]!,
        end: converted[2 * i + 1]!,
      }));
    }
    const record: Record<string, unknown> = {
      schema: ROLLOUT_SCHEMA_V1,
      groupId: options.groupKeys?.[groupId] ?? groupId,
      prompt: promptIndex === undefined ? '' : p.texts[promptIndex]!,
      response,
      reward: batch.rewards[row]!,
      step: options.step,
      promptTokenIds,
      tokenIds: pick(batch.tokenIds),
      tokenSpans: spans,
      spanUnit: unit,
      logProbs: pick(batch.oldLogProbs),
      refLogProbs: pick(batch.refLogProbs),
      entropies: pick(batch.entropies),
      values: pick(batch.values),
      tokenRewards: pick(batch.tokenRewards),
      planningMask: pick(options.planning?.mask ?? batch.planningMask),
      planningMatches: matches,
      advantages: pick(options.credit?.advantages),
      lossMask: pick(options.credit?.lossMask),
    };
    for (const key of Object.keys(record)) if (record[key] === undefined) delete record[key];
    return record as unknown as RolloutRecordV1;
  });
}
