import { InvalidArgumentError } from '@hicra/spec';
import { extractFinalAnswer } from '../math/extract-final-answer.js';
import { describe, readChoice, SOURCE } from '../settings.js';
import {
  type JsonLinesOptions,
  type JsonLinesReader,
  type JsonLinesSource,
  readRecords,
} from './read-json-lines.js';

/** Which field holds what; dotted paths reach nested fields (`meta.answer`). */
export interface MathDatasetFields {
  /** The problem statement. Default `problem`. */
  readonly problem?: string;
  /** The reference answer (a string or a number). Default `answer`. */
  readonly answer?: string;
  /** A record id (string or number). Default: none, the id is the line number. */
  readonly id?: string;
}

export interface MathDatasetOptions extends JsonLinesOptions {
  readonly fields?: MathDatasetFields;
  /**
   * How the answer field is written: `plain` (the answer itself, default), `boxed` (a
   * solution whose last `\boxed{}` is the answer, as in MATH), or `gsm8k` (a solution
   * ending with `#### <answer>`).
   */
  readonly answerFormat?: 'plain' | 'boxed' | 'gsm8k';
}

/** One math problem. */
export interface MathProblem {
  readonly id: string;
  readonly problem: string;
  /** The reference answer, as text (give it to `math-correctness` as `reference`). */
  readonly answer: string;
}

function field(record: unknown, path: string): unknown {
  let value: unknown = record;
  for (const key of path.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function checkPath(value: unknown, where: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '' || value.split('.').some((part) => part === '')) {
    throw new InvalidArgumentError(
      `${where} must be a field name or dotted path, got ${describe(value)}`,
      {
        source: SOURCE,
        details: { argument: where },
      },
    );
  }
  return value;
}

/**
 * Streams a JSON Lines math dataset (MATH, GSM8K, AIME exports...) as `{ id, problem, answer }`
 * records, with configurable field names. A line without the fields, with an empty problem or
 * an answer that cannot be read is bad: skipped and reported with its line number, or fatal,
 * by `onBadLine`.
 *
 * ```ts
 * const dataset = loadMathDataset('gsm8k.jsonl', { fields: { problem: 'question' }, answerFormat: 'gsm8k' });
 * for await (const { value } of dataset) console.log(value.problem, value.answer);
 * console.log(dataset.report.badLines);
 * ```
 */
export function loadMathDataset(
  source: JsonLinesSource,
  options: MathDatasetOptions = {},
): JsonLinesReader<MathProblem> {
  const where = 'loadMathDataset';
  const fields = options?.fields ?? {};
  if (typeof fields !== 'object' || fields === null) {
    throw new InvalidArgumentError(
      `${where}: options.fields must be an object, got ${describe(fields)}`,
      {
        source: SOURCE,
        details: { argument: 'options.fields' },
      },
    );
  }
  for (const key of Object.keys(fields)) {
    if (!['problem', 'answer', 'id'].includes(key)) {
      throw new InvalidArgumentError(
        `${where}: options.fields.${key} is not a field; known: answer, id, problem`,
        {
          source: SOURCE,
          details: { argument: `options.fields.${key}` },
        },
      );
    }
  }
  const problemPath = checkPath(fields.problem, `${where}: options.fields.problem`) ?? 'problem';
  const answerPath = checkPath(fields.answer, `${where}: options.fields.answer`) ?? 'answer';
  const idPath = checkPath(fields.id, `${where}: options.fields.id`);
  const answerFormat = readChoice(
    options?.answerFormat,
    `${where}: options.answerFormat`,
    ['plain', 'boxed', 'gsm8k'],
    'plain',
  );

  return readRecords<MathProblem>(
    source,
    (record, line) => {
      if (typeof record !== 'object' || record === null || Array.isArray(record)) {
        return { ok: false, reason: `expected a JSON object, got ${describe(record)}` };
      }
      const problem = field(record, problemPath);
      if (typeof problem !== 'string' || problem.trim() === '') {
        return {
          ok: false,
          reason: `field "${problemPath}" must be a non-empty string, got ${describe(problem)}`,
        };
      }
      const rawAnswer = field(record, answerPath);
      let answer: string | undefined;
      if (typeof rawAnswer === 'number' && Number.isFinite(rawAnswer)) answer = String(rawAnswer);
      else if (typeof rawAnswer === 'string') answer = rawAnswer.trim();
      if (answer === undefined || answer === '') {
        return {
          ok: false,
          reason: `field "${answerPath}" must be a non-empty string or a number, got ${describe(rawAnswer)}`,
        };
      }
      if (answerFormat === 'boxed') {
        const extracted = extractFinalAnswer(answer, { formats: ['boxed'] });
        if (!extracted.ok)
          return { ok: false, reason: `field "${answerPath}": ${extracted.reason}` };
        answer = extracted.answer;
      } else if (answerFormat === 'gsm8k') {
        const marker = answer.lastIndexOf('####');
        const tail = marker < 0 ? '' : answer.slice(marker + 4).trim();
        if (tail === '')
          return { ok: false, reason: `field "${answerPath}" has no "#### <answer>"` };
        answer = tail;
      }
      let id = String(line);
      if (idPath !== undefined) {
        const rawId = field(record, idPath);
        if (typeof rawId !== 'string' && typeof rawId !== 'number') {
          return {
            ok: false,
            reason: `field "${idPath}" must be a string or a number, got ${describe(rawId)}`,
          };
        }
        id = String(rawId);
      }
      return { ok: true, value: { id, problem, answer } };
    },
    options,
    where,
    ['fields', 'answerFormat'],
  );
}
