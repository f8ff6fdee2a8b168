import {
  type JsonLinesOptions,
  type JsonLinesReader,
  type JsonLinesSource,
  readRecords,
  toJsonLines,
} from '../datasets/read-json-lines.js';
import { describe } from '../settings.js';
import { parseCountdownExpression } from './countdown-expression.js';
import {
  COUNTDOWN_SPLITS,
  type CountdownProblem,
  type CountdownSplit,
} from './countdown-problem.js';
import { formatCountdownPrompt } from './countdown-task.js';

/** Schema tag of a Countdown problem line. */
export const COUNTDOWN_SCHEMA = 'hicra.countdown.v1';

/** One line of a Countdown JSON Lines file: the problem plus its prompt, for other tools. */
export interface CountdownRecordV1 extends CountdownProblem {
  readonly schema: typeof COUNTDOWN_SCHEMA;
  readonly prompt: string;
}

export function toCountdownRecord(problem: CountdownProblem): CountdownRecordV1 {
  return {
    schema: COUNTDOWN_SCHEMA,
    id: problem.id,
    split: problem.split,
    level: problem.level,
    numbers: [...problem.numbers],
    target: problem.target,
    useAllNumbers: problem.useAllNumbers,
    solution: problem.solution,
    prompt: formatCountdownPrompt(problem),
  };
}

/** Countdown problems as JSON Lines (one `CountdownRecordV1` per line). */
export function countdownProblemsToJsonLines(problems: Iterable<CountdownProblem>): string {
  const records: CountdownRecordV1[] = [];
  for (const problem of problems) records.push(toCountdownRecord(problem));
  return toJsonLines(records);
}

/** Why `value` is not a `CountdownRecordV1`, or undefined when it is one. */
export function countdownRecordProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return `expected an object, got ${describe(value)}`;
  const record = value as Record<string, unknown>;
  if (record.schema !== COUNTDOWN_SCHEMA)
    return `schema must be "${COUNTDOWN_SCHEMA}", got ${describe(record.schema)}`;
  if (typeof record.id !== 'string' || record.id === '')
    return `id must be a non-empty string, got ${describe(record.id)}`;
  if (!COUNTDOWN_SPLITS.includes(record.split as CountdownSplit))
    return `split must be "train" or "test", got ${describe(record.split)}`;
  if (
    record.level !== 'custom' &&
    !(Number.isInteger(record.level) && (record.level as number) >= 1)
  )
    return `level must be a positive integer or "custom", got ${describe(record.level)}`;
  if (!Array.isArray(record.numbers) || record.numbers.length < 2)
    return `numbers must be an array of at least 2 positive integers, got ${describe(record.numbers)}`;
  const bad = record.numbers.findIndex((n) => !Number.isSafeInteger(n) || (n as number) < 1);
  if (bad >= 0)
    return `numbers[${bad}] must be a positive integer, got ${describe(record.numbers[bad])}`;
  if (!Number.isSafeInteger(record.target))
    return `target must be an integer, got ${describe(record.target)}`;
  if (typeof record.useAllNumbers !== 'boolean')
    return `useAllNumbers must be true or false, got ${describe(record.useAllNumbers)}`;
  if (typeof record.solution !== 'string' || !parseCountdownExpression(record.solution).ok)
    return `solution must be a Countdown expression, got ${describe(record.solution)}`;
  if (record.prompt !== undefined && typeof record.prompt !== 'string')
    return `prompt must be a string, got ${describe(record.prompt)}`;
  return undefined;
}

/** Streams Countdown problems back from JSON Lines written by {@link countdownProblemsToJsonLines}. */
export function loadCountdownProblems(
  source: JsonLinesSource,
  options?: JsonLinesOptions,
): JsonLinesReader<CountdownProblem> {
  return readRecords<CountdownProblem>(
    source,
    (value) => {
      const problem = countdownRecordProblem(value);
      if (problem !== undefined) return { ok: false, reason: problem };
      const { schema: _schema, prompt: _prompt, ...rest } = value as CountdownRecordV1;
      return { ok: true, value: rest };
    },
    options,
    'loadCountdownProblems',
  );
}
