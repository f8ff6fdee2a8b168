import { createReadStream, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { type CreditRegistry, defaultRegistry } from '@hicra/advantage';
import { strategicGrams } from '@hicra/planning';
import { HuggingFaceTokenizer, loadCheckpointTokenizer, writeFileAtomic } from '@hicra/policy';
import { stepMetrics } from '@hicra/semantic-entropy';
import type { PlanningClassifierV1 } from '@hicra/spec';
import {
  ConfigError,
  CorruptFileError,
  formatValue,
  HicraError,
  MissingInputError,
  parseRolloutRecord,
  ROLLOUT_SCHEMA_V1,
  type RolloutRecordV1,
  rolloutBatchFromRecords,
  rolloutRecordsFromBatch,
  type SpanUnit,
  type TokenizerV1,
} from '@hicra/spec';
import { writeAnnotatedParquet } from './annotated-parquet.js';

/** The input formats `annotate` reads. */
export const ANNOTATE_INPUT_FORMATS = ['auto', 'hicra', 'verl'] as const;
export type AnnotateInputFormat = (typeof ANNOTATE_INPUT_FORMATS)[number];

export interface AnnotateOptions {
  /**
   * Rollouts: a file in the rollout JSON Lines schema of `@hicra/spec`, or verl rollout dumps
   * (one `{step}.jsonl` file, or the `trainer.rollout_data_dir` folder holding them).
   */
  readonly input: string;
  /**
   * Where the annotated rollouts go: JSON Lines, or Parquet when the name ends in `.parquet`
   * (one row per response; docs/formats.md, "Annotated rollouts as Parquet").
   */
  readonly out: string;
  /**
   * `hicra` (rollout records), `verl` (rollout dumps: `input`, `output`, `score`, ...), or
   * `auto` (default): a folder is read as verl dumps, a file by its first record's fields.
   */
  readonly format?: AnnotateInputFormat;
  /** The unit of the written span and match offsets; default `utf16`. */
  readonly spanUnit?: SpanUnit;
  /** A credit-pipeline config; default GRPO + HICRA (alpha 0.2). */
  readonly credit?: unknown;
  /** Where the pipeline is built from; default the built-ins of `@hicra/advantage`. */
  readonly registry?: CreditRegistry;
  /** The planning classifier; default the paper's Strategic Grams. */
  readonly classifier?: PlanningClassifierV1;
  /** A `tokenizer.json` (or its folder), for records without token ids and spans. */
  readonly tokenizer?: string;
  /**
   * A model folder whose tokenizer is used instead: a hicra checkpoint or a Hugging Face model
   * folder (only its tokenizer is read, not its weights).
   */
  readonly from?: string;
}

export interface AnnotateResult {
  readonly out: string;
  /** The format the input was read as. */
  readonly format: 'hicra' | 'verl';
  readonly responses: number;
  readonly unscorable: number;
  /** Strategy and token-class metrics of the whole file (`strategy/semantic_entropy`, ...). */
  readonly metrics: Record<string, number>;
  /** Planning-phrase counts, most frequent first. */
  readonly phraseCounts: readonly { readonly gram: string; readonly count: number }[];
}

/** How many bad records an error lists before it only counts the rest. */
export const MAX_REPORTED_BAD_RECORDS = 10;

const SOURCE = '@hicra/reference';

/** One non-empty line of an input file. */
interface InputLine {
  readonly file: string;
  readonly line: number;
  readonly value: unknown;
}

/** Collects bad records: the first {@link MAX_REPORTED_BAD_RECORDS} with where, then a count. */
class BadRecords {
  readonly #messages: string[] = [];
  #count = 0;
  add(message: string): void {
    this.#count++;
    if (this.#messages.length < MAX_REPORTED_BAD_RECORDS) this.#messages.push(message);
  }
  /** Throws one error listing them, if there are any. */
  throwIfAny(what: string): void {
    if (this.#count === 0) return;
    const more = this.#count - this.#messages.length;
    throw new CorruptFileError(
      `${what}: ${this.#count} bad ${this.#count === 1 ? 'record' : 'records'}:\n  ${this.#messages.join('\n  ')}${more > 0 ? `\n  ... and ${more} more` : ''}`,
      { source: SOURCE, details: { bad: this.#count } },
    );
  }
}

/**
 * Streams the non-empty lines of a JSON Lines file to `onLine`, in order; lines that are not
 * JSON go to `bad`. Returns how many lines it passed on.
 */
async function forEachJsonLine(
  file: string,
  bad: BadRecords,
  onLine: (line: InputLine) => void,
): Promise<number> {
  let lineNumber = 0;
  let passed = 0;
  const stream = createReadStream(file, 'utf8');
  await new Promise<void>((resolveOpen, reject) => {
    stream.on('error', (error) =>
      reject(
        new CorruptFileError(`${file}: cannot read (${error.message})`, {
          source: SOURCE,
          details: { path: file },
        }),
      ),
    );
    stream.on('open', () => resolveOpen());
  });
  for await (const line of createInterface({
    input: stream,
    crlfDelay: Number.POSITIVE_INFINITY,
  })) {
    lineNumber++;
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      bad.add(`${file} line ${lineNumber}: not valid JSON (${(error as Error).message})`);
      continue;
    }
    onLine({ file, line: lineNumber, value });
    passed++;
  }
  return passed;
}

/** Whether a parsed line looks like a verl rollout dump record. */
function isVerlDump(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    !('schema' in value) &&
    'input' in value &&
    'output' in value &&
    'score' in value
  );
}

/** The `{step}.jsonl` files of a verl `rollout_data_dir`, in step order. */
function verlDumpFiles(folder: string): string[] {
  const files = readdirSync(folder)
    .filter((name) => /^\d+\.jsonl$/.test(name))
    .sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10))
    .map((name) => join(folder, name));
  if (files.length === 0)
    throw new ConfigError(
      '',
      `${folder}: no verl rollout dumps ({step}.jsonl files) in the folder`,
      {
        source: SOURCE,
        details: { path: folder },
      },
    );
  return files;
}

/** Keys of a verl dump record that are not carried to `meta` as extra reward fields. */
const VERL_KEYS = new Set(['input', 'output', 'gts', 'score', 'step']);

/**
 * A converter of verl rollout dump lines into rollout records: responses to the same `input`
 * within a step form a group (numbered in order of first appearance), `score` is the reward,
 * `gts` and the reward function's extra fields go to `meta`. A dump carries no token ids: the
 * records are tokenised later. A bad line goes to `bad`, naming the file, the line and the field.
 */
function verlDumpReader(bad: BadRecords): (line: InputLine) => RolloutRecordV1 | undefined {
  const groups = new Map<string, number>();
  const groupsInStep = new Map<number | null, number>();
  return ({ file, line, value }) => {
    const at = `${file} line ${line}`;
    if (!isVerlDump(value)) {
      bad.add(
        `${at}: not a verl rollout dump record (expected an object with "input", "output" and "score")`,
      );
      return undefined;
    }
    const dump = value as Record<string, unknown>;
    const problems: string[] = [];
    for (const key of ['input', 'output'] as const)
      if (typeof dump[key] !== 'string')
        problems.push(`"${key}" must be a string, got ${formatValue(dump[key])}`);
    if (typeof dump.score !== 'number' || !Number.isFinite(dump.score))
      problems.push(`"score" must be a finite number, got ${formatValue(dump.score)}`);
    const fromName = /^(\d+)\.jsonl$/.exec(basename(file))?.[1];
    const step = dump.step ?? (fromName === undefined ? undefined : Number(fromName));
    if (step !== undefined && !(Number.isInteger(step) && (step as number) >= 0))
      problems.push(`"step" must be an integer >= 0, got ${formatValue(dump.step)}`);
    if (problems.length > 0) {
      bad.add(`${at}: ${problems.join('; ')}`);
      return undefined;
    }
    const stepKey = (step as number | undefined) ?? null;
    const key = JSON.stringify([stepKey, dump.input]);
    let group = groups.get(key);
    if (group === undefined) {
      group = groupsInStep.get(stepKey) ?? 0;
      groupsInStep.set(stepKey, group + 1);
      groups.set(key, group);
    }
    const extra = Object.fromEntries(Object.entries(dump).filter(([k]) => !VERL_KEYS.has(k)));
    return {
      schema: ROLLOUT_SCHEMA_V1,
      groupId: group,
      prompt: dump.input as string,
      response: dump.output as string,
      reward: dump.score as number,
      ...(step === undefined ? {} : { step: step as number }),
      meta: {
        source: 'verl',
        ...(dump.gts === undefined ? {} : { gts: dump.gts }),
        ...(Object.keys(extra).length === 0 ? {} : { extra }),
      },
    };
  };
}

/** A record's parse error as "FILE line N: KEY: problem". */
function recordProblem(error: HicraError): string {
  const text = error.message.replace(/^@hicra\/spec: /, '');
  const parts = /^config key ([^:]+): (.+? line \d+): ([\s\S]*)$/.exec(text);
  return parts ? `${parts[2]}: ${parts[1]}: ${parts[3]}` : text;
}

/**
 * Reads rollouts in either format, reporting up to {@link MAX_REPORTED_BAD_RECORDS} bad records
 * with their file and line, then how many more.
 */
export async function readRolloutRecords(
  path: string,
  format: AnnotateInputFormat = 'auto',
): Promise<{ records: RolloutRecordV1[]; where: string[]; format: 'hicra' | 'verl' }> {
  const bad = new BadRecords();
  const folder = statSync(path).isDirectory();
  if (folder && format === 'hicra')
    throw new ConfigError('', `${path}: is a folder; rollout records come in one JSON Lines file`, {
      source: SOURCE,
      details: { path },
    });
  const files = folder ? verlDumpFiles(path) : [path];
  const records: RolloutRecordV1[] = [];
  const where: string[] = [];
  // The format: given, a folder's (verl), or told by the first record's fields.
  let resolved: 'hicra' | 'verl' | undefined =
    format !== 'auto' ? format : folder ? 'verl' : undefined;
  const verl = verlDumpReader(bad);
  let lines = 0;
  for (const file of files) {
    lines += await forEachJsonLine(file, bad, (line) => {
      resolved ??= isVerlDump(line.value) ? 'verl' : 'hicra';
      const at = `${line.file} line ${line.line}`;
      let record: RolloutRecordV1 | undefined;
      if (resolved === 'verl') record = verl(line);
      else {
        try {
          record = parseRolloutRecord(line.value, at);
        } catch (error) {
          if (!HicraError.isInstance(error)) throw error;
          bad.add(recordProblem(error));
        }
      }
      if (record !== undefined) {
        records.push(record);
        where.push(at);
      }
    });
  }
  bad.throwIfAny(path);
  if (lines === 0)
    throw new ConfigError('', `${path}: no rollout records`, { source: SOURCE, details: { path } });
  return { records, where, format: resolved ?? 'hicra' };
}

/**
 * Applies the strategy to rollouts produced elsewhere: planning matches and mask from the
 * paper's Strategic-Gram classifier, credit from a pipeline (GRPO + HICRA by default), and the
 * strategy metrics of the file. Reads rollout records or verl rollout dumps; records without
 * token ids are tokenised with the given tokenizer, and ids without spans get spans by decoding
 * them with it. Responses group by (step, groupId). Unscorable records (null reward) are passed
 * through, unannotated. A verl input's records are written as rollout records.
 */
export async function annotateRollouts(options: AnnotateOptions): Promise<AnnotateResult> {
  const { records, where, format } = await readRolloutRecords(
    options.input,
    options.format ?? 'auto',
  );
  let tokenizer: TokenizerV1 | undefined;
  let hf: HuggingFaceTokenizer | undefined;
  if (options.tokenizer !== undefined && options.from !== undefined)
    throw new ConfigError('tokenizer', 'give a tokenizer or a model folder (from), not both', {
      source: SOURCE,
    });
  const withoutIds = records.findIndex((r) => r.reward !== null && r.tokenIds === undefined);
  const withoutSpans = records.findIndex(
    (r) => r.reward !== null && r.tokenIds !== undefined && r.tokenSpans === undefined,
  );
  if (options.tokenizer === undefined && options.from === undefined) {
    if (withoutIds >= 0)
      throw new MissingInputError(
        `${where[withoutIds]}: ${format === 'verl' ? 'verl rollout dumps carry no token ids' : 'the record has no tokenIds'}; give --tokenizer (a tokenizer.json or its folder) or --from (a model folder) to tokenise the responses`,
        { source: SOURCE, details: { option: 'tokenizer' } },
      );
    if (withoutSpans >= 0)
      throw new MissingInputError(
        `${where[withoutSpans]}: the record has tokenIds but no tokenSpans; give --tokenizer (the model's tokenizer.json or its folder) or --from (a model folder) so spans are computed from the ids`,
        { source: SOURCE, details: { option: 'tokenizer' } },
      );
  }
  if (options.tokenizer) {
    hf = await HuggingFaceTokenizer.load(options.tokenizer);
    tokenizer = hf;
  } else if (options.from) {
    const loaded = await loadCheckpointTokenizer(options.from);
    if (loaded === undefined)
      throw new ConfigError('from', `${options.from}: the model folder has no tokenizer.json`, {
        source: SOURCE,
      });
    if (loaded instanceof HuggingFaceTokenizer) hf = loaded;
    tokenizer = loaded;
  }
  try {
    const { batch, groupKeys, dropped, recordIndex } = rolloutBatchFromRecords(records, {
      unscorable: 'drop',
      describe: (i) => where[i]!,
      ...(tokenizer ? { tokenizer } : {}),
    });
    if (batch.tokenSpans === undefined || batch.responseTexts === undefined) {
      throw new ConfigError(
        'tokenSpans',
        `${options.input}: the records carry no token spans to place planning phrases with`,
        { source: SOURCE },
      );
    }
    const planning = await (options.classifier ?? strategicGrams).classify({
      batchSize: batch.batchSize,
      seqLen: batch.seqLen,
      texts: batch.responseTexts!,
      tokenSpans: batch.tokenSpans,
      responseMask: batch.responseMask,
      ...(batch.entropies ? { entropies: batch.entropies } : {}),
    });
    const withPlanning = { ...batch, planningMask: planning.mask };
    const pipeline = (options.registry ?? defaultRegistry).pipeline(
      options.credit ?? { estimator: { name: 'grpo' }, assigners: [{ name: 'hicra', alpha: 0.2 }] },
    );
    const credit = pipeline.run(withPlanning);
    const annotated = rolloutRecordsFromBatch(withPlanning, {
      credit,
      planning,
      groupKeys,
      spanUnit: options.spanUnit ?? 'utf16',
    });
    const out: RolloutRecordV1[] = records.map((record) => record);
    annotated.forEach((record, row) => {
      const original = records[recordIndex[row]!]!;
      out[recordIndex[row]!] = {
        ...original,
        ...record,
        ...(original.meta ? { meta: original.meta } : {}),
      };
    });
    if (options.out.endsWith('.parquet')) await writeAnnotatedParquet(options.out, out);
    else await writeFileAtomic(options.out, out.map((r) => `${JSON.stringify(r)}\n`).join(''));
    const counts = new Map<string, number>();
    for (const matches of planning.matches)
      for (const m of matches) counts.set(m.gram, (counts.get(m.gram) ?? 0) + 1);
    const metrics = stepMetrics({
      batchSize: batch.batchSize,
      seqLen: batch.seqLen,
      responseMask: batch.responseMask,
      planningMask: planning.mask,
      planningMatches: planning.matches,
      responseTexts: batch.responseTexts!,
      ...(batch.oldLogProbs ? { logProbs: batch.oldLogProbs } : {}),
      ...(batch.entropies ? { entropies: batch.entropies } : {}),
    });
    return {
      out: options.out,
      format,
      responses: batch.batchSize,
      unscorable: dropped.length,
      metrics: { ...metrics, ...credit.diagnostics },
      phraseCounts: [...counts.entries()]
        .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
        .map(([gram, count]) => ({ gram, count })),
    };
  } finally {
    await hf?.close();
  }
}
