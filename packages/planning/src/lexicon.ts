import { readFileSync } from 'node:fs';
import { ConfigError, CorruptFileError, formatValue, InvalidArgumentError } from '@hicra/spec';
import paperData from '../data/strategic-grams.paper.json' with { type: 'json' };
import { normalizeText } from './normalize-text.js';
import { SOURCE } from './source.js';

/** Version tag of the lexicon file format; optional when reading, always written. */
export const LEXICON_SCHEMA = 'hicra.lexicon.v1';

/** One phrase of a lexicon. */
export interface LexiconGramV1 {
  /** The phrase, in its lexicon spelling (matching normalises it; decision 0010). */
  readonly phrase: string;
  /** Cluster (strategy class) of the phrase: a non-negative integer. The miner writes it. */
  readonly classId?: number;
  /** Score of the phrase's cluster (the miner writes its document-frequency share). */
  readonly score?: number;
}

/**
 * A lexicon of planning phrases (Strategic Grams), as stored in a lexicon JSON file
 * (decision 0011). `gramId` in matches is the index into `grams`.
 */
export interface LexiconV1 {
  /** `hicra.lexicon.v1`; optional on input. */
  readonly schema?: typeof LEXICON_SCHEMA;
  /** Where the phrases come from (a paper, a mining run). */
  readonly source?: string;
  /** A free-text note. */
  readonly note?: string;
  /** Free-form metadata (the miner records its settings and counts here). */
  readonly meta?: Readonly<Record<string, unknown>>;
  /** The phrases; `gramId` = index. Non-empty, no two equal after normalisation. */
  readonly grams: readonly LexiconGramV1[];
}

/** What a classifier accepts as a lexicon: a lexicon object, a list of phrases, or a file path. */
export type LexiconInput = LexiconV1 | readonly (string | LexiconGramV1)[] | string;

const TOP_KEYS = ['schema', 'source', 'note', 'meta', 'grams'];
const GRAM_KEYS = ['phrase', 'classId', 'score'];

/**
 * Checks a lexicon value (a lexicon object or a list of phrases / `{ phrase, classId?, score? }`
 * entries) and returns it as a {@link LexiconV1}. Errors are `ConfigError`s whose path names
 * the entry (`grams[3].classId`). An empty lexicon, a phrase with no letter or digit, and two
 * phrases that normalise to the same text are errors.
 */
export function parseLexicon(value: unknown): LexiconV1 {
  const fail = (path: string, message: string): never => {
    throw new ConfigError(path, message, { source: SOURCE, details: { kind: 'lexicon' } });
  };
  let rawGrams: unknown;
  let top: Record<string, unknown> = {};
  if (Array.isArray(value)) rawGrams = value;
  else if (typeof value === 'object' && value !== null) {
    top = value as Record<string, unknown>;
    for (const key of Object.keys(top)) {
      if (!TOP_KEYS.includes(key))
        fail(key, `unknown lexicon key; valid keys: ${TOP_KEYS.join(', ')}`);
    }
    if (top.schema !== undefined && top.schema !== LEXICON_SCHEMA)
      fail('schema', `expected "${LEXICON_SCHEMA}", got ${formatValue(top.schema)}`);
    for (const key of ['source', 'note'] as const) {
      if (top[key] !== undefined && typeof top[key] !== 'string')
        fail(key, `expected a string, got ${describe(top[key])}`);
    }
    if (
      top.meta !== undefined &&
      (typeof top.meta !== 'object' || top.meta === null || Array.isArray(top.meta))
    )
      fail('meta', `expected an object, got ${describe(top.meta)}`);
    if (top.grams === undefined) fail('grams', 'is missing; a lexicon needs a list of phrases');
    rawGrams = top.grams;
  } else {
    fail(
      '',
      `a lexicon must be an object with "grams" or an array of phrases, got ${describe(value)}`,
    );
  }
  if (!Array.isArray(rawGrams)) fail('grams', `expected an array, got ${describe(rawGrams)}`);
  const list = rawGrams as unknown[];
  if (list.length === 0) fail('grams', 'is empty; a lexicon needs at least one phrase');
  const seen = new Map<string, number>();
  const grams: LexiconGramV1[] = list.map((entry, index) => {
    const at = `grams[${index}]`;
    let gram: LexiconGramV1;
    if (typeof entry === 'string') gram = { phrase: entry };
    else if (typeof entry === 'object' && entry !== null && !Array.isArray(entry)) {
      const e = entry as Record<string, unknown>;
      for (const key of Object.keys(e)) {
        if (!GRAM_KEYS.includes(key))
          fail(`${at}.${key}`, `unknown phrase key; valid keys: ${GRAM_KEYS.join(', ')}`);
      }
      if (typeof e.phrase !== 'string')
        fail(`${at}.phrase`, `expected a string, got ${describe(e.phrase)}`);
      if (
        e.classId !== undefined &&
        (typeof e.classId !== 'number' || !Number.isSafeInteger(e.classId) || e.classId < 0)
      )
        fail(`${at}.classId`, `expected a non-negative integer, got ${formatValue(e.classId)}`);
      if (e.score !== undefined && (typeof e.score !== 'number' || !Number.isFinite(e.score)))
        fail(`${at}.score`, `expected a finite number, got ${formatValue(e.score)}`);
      gram = {
        phrase: e.phrase as string,
        ...(e.classId === undefined ? {} : { classId: e.classId as number }),
        ...(e.score === undefined ? {} : { score: e.score as number }),
      };
    } else {
      return fail(
        at,
        `expected a phrase string or { phrase, classId?, score? }, got ${describe(entry)}`,
      );
    }
    const key = normalizePhrase(gram.phrase);
    if (key === '')
      fail(`${at}`, `phrase ${JSON.stringify(gram.phrase)} is empty after normalisation`);
    if (!/[\p{L}\p{N}]/u.test(key))
      fail(
        `${at}`,
        `phrase ${JSON.stringify(gram.phrase)} has no letter or digit; a phrase of punctuation only cannot be a planning phrase`,
      );
    const previous = seen.get(key);
    if (previous !== undefined)
      fail(
        `${at}`,
        `phrase ${JSON.stringify(gram.phrase)} repeats grams[${previous}] after normalisation (${JSON.stringify(key)})`,
      );
    seen.set(key, index);
    return gram;
  });
  return {
    ...(typeof top.schema === 'string' ? { schema: LEXICON_SCHEMA } : {}),
    ...(typeof top.source === 'string' ? { source: top.source } : {}),
    ...(typeof top.note === 'string' ? { note: top.note } : {}),
    ...(top.meta ? { meta: top.meta as Record<string, unknown> } : {}),
    grams,
  };
}

/** A phrase as the matcher sees it: normalised, whitespace collapsed, trimmed. */
export function normalizePhrase(phrase: string): string {
  return normalizeText(phrase).text.trim();
}

/**
 * Reads and checks a lexicon JSON file. Every problem (missing file, invalid JSON, a bad
 * entry) is a `CorruptFileError` whose message names the file and the problem.
 */
export function loadLexiconFile(path: string): LexiconV1 {
  if (typeof path !== 'string' || path === '') {
    throw new InvalidArgumentError(
      `loadLexiconFile: path must be a non-empty string, got ${describe(path)}`,
      {
        source: SOURCE,
        details: { argument: 'path' },
      },
    );
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'file not found'
        : String((error as Error).message);
    throw new CorruptFileError(`lexicon file ${path}: cannot be read (${reason})`, {
      source: SOURCE,
      details: { file: path },
      cause: error,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CorruptFileError(
      `lexicon file ${path}: not valid JSON (${(error as Error).message})`,
      {
        source: SOURCE,
        details: { file: path },
        cause: error,
      },
    );
  }
  try {
    return parseLexicon(value);
  } catch (error) {
    if (ConfigError.isInstance(error)) {
      const path_ = (error as ConfigError).path;
      const message = error.message.replace(`${SOURCE}: `, '');
      throw new CorruptFileError(`lexicon file ${path}: ${message}`, {
        source: SOURCE,
        details: { file: path, path: path_ },
        cause: error,
      });
    }
    throw error;
  }
}

/** The lexicon as JSON text in the file format of decision 0011 (with `schema`), one phrase per line. */
export function serializeLexicon(lexicon: LexiconV1): string {
  const checked = parseLexicon(lexicon);
  const head: Record<string, unknown> = { schema: LEXICON_SCHEMA };
  if (checked.source !== undefined) head.source = checked.source;
  if (checked.note !== undefined) head.note = checked.note;
  if (checked.meta !== undefined) head.meta = checked.meta;
  const lines = Object.entries(head).map(
    ([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)},`,
  );
  const grams = checked.grams.map((g) => `    ${JSON.stringify(g)}`);
  return `{\n${lines.join('\n')}\n  "grams": [\n${grams.join(',\n')}\n  ]\n}\n`;
}

/** Resolves any {@link LexiconInput} to a checked lexicon. */
export function resolveLexicon(input: LexiconInput): LexiconV1 {
  if (typeof input === 'string') return loadLexiconFile(input);
  return parseLexicon(input);
}

/**
 * The paper's 249 Strategic Grams (Wang et al. 2025, Appendix A), shipped inside this package
 * (`data/strategic-grams.paper.json`, also exported as `@hicra/planning/strategic-grams.paper.json`).
 * The default lexicon of every classifier here.
 */
export const paperLexicon: LexiconV1 = freezeLexicon(parseLexicon(paperData as unknown));

function freezeLexicon(lexicon: LexiconV1): LexiconV1 {
  for (const gram of lexicon.grams) Object.freeze(gram);
  Object.freeze(lexicon.grams);
  return Object.freeze(lexicon);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (typeof value === 'number') return `the number ${value}`;
  return typeof value;
}
