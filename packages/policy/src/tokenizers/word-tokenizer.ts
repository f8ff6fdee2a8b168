import {
  ConfigError,
  type EncodingV1,
  HicraError,
  InvalidArgumentError,
  InvalidValueError,
  type SpecialTokensV1,
  type TokenizerV1,
} from '@hicra/spec';

const SOURCE = '@hicra/policy';

/**
 * The four special tokens of every word tokenizer, at fixed ids: `<pad>` 0, `<bos>` 1,
 * `<eos>` 2, `<unk>` 3. Vocabulary words follow from id 4 in the order given.
 */
export const WORD_SPECIAL_TOKENS = ['<pad>', '<bos>', '<eos>', '<unk>'] as const;

/** The `schema` tag of a serialised word tokenizer. */
export const WORD_TOKENIZER_SCHEMA = 'hicra.word-tokenizer.v1';

/**
 * One token: a word (a letter, then letters, marks, digits or `_`, with inner apostrophes as in
 * `let's`), a number (digits, optionally `.` and more digits), or any other single non-space
 * code point (punctuation, operators, symbols, emoji parts). Whitespace separates and is dropped.
 */
const TOKEN_PATTERN =
  /\p{L}[\p{L}\p{M}\p{N}_]*(?:'[\p{L}\p{M}\p{N}_]+)*|\p{Nd}+(?:\.\p{Nd}+)?|\S/gu;
/** The same, with a line break (`\n` or `\r\n`) as a token of its own (`newlines: true`). */
const TOKEN_PATTERN_WITH_NEWLINES =
  /\p{L}[\p{L}\p{M}\p{N}_]*(?:'[\p{L}\p{M}\p{N}_]+)*|\p{Nd}+(?:\.\p{Nd}+)?|\r?\n|\S/gu;

/** The token of a line break when `newlines` is on. */
export const NEWLINE_TOKEN = '\n';

/** Tokens written with no space before them. */
const CLOSING = new Set([')', ']', '}', ',', '.', ':', ';', '?', '!', '%']);
/** Tokens written with no space after them. */
const OPENING = new Set(['(', '[', '{']);

/** What to do with a word that is not in the vocabulary. */
export type UnknownWordPolicy = 'unk' | 'error';

export interface WordTokenizerOptions {
  /** Fold words to lower case before lookup (default true). Spans always index the original text. */
  readonly lowercase?: boolean;
  /** `unk` (default) maps an unknown word to `<unk>`; `error` throws an `InvalidValueError`. */
  readonly onUnknown?: UnknownWordPolicy;
  /**
   * Keep line breaks as a token (`\n`, written with no space around it), for texts whose
   * layout matters (one derivation step per line). Default false: whitespace only separates.
   */
  readonly newlines?: boolean;
}

export interface WordTokenizerSettings extends WordTokenizerOptions {
  /** The words, numbers and symbols of the vocabulary; ids 4, 5, ... in this order. */
  readonly vocabulary: readonly string[];
}

export interface WordCorpusOptions extends WordTokenizerOptions {
  /** Keep tokens seen at least this many times (default 1). */
  readonly minCount?: number;
}

/** The JSON form of a word tokenizer (`toJSON` / `fromJSON`). */
export interface WordTokenizerJSON {
  readonly schema: typeof WORD_TOKENIZER_SCHEMA;
  readonly lowercase: boolean;
  readonly onUnknown: UnknownWordPolicy;
  /** Line breaks are tokens (absent in files written before the option existed: false). */
  readonly newlines?: boolean;
  /** Always `['<pad>', '<bos>', '<eos>', '<unk>']`: ids 0..3. */
  readonly specialTokens: readonly string[];
  /** Ids 4, 5, ... */
  readonly vocabulary: readonly string[];
}

interface RawToken {
  readonly token: string;
  readonly start: number;
  readonly end: number;
}

function splitWords(text: string, lowercase: boolean, newlines = false): RawToken[] {
  const tokens: RawToken[] = [];
  for (const match of text.matchAll(newlines ? TOKEN_PATTERN_WITH_NEWLINES : TOKEN_PATTERN)) {
    const start = match.index;
    const raw = match[0] === '\r\n' ? NEWLINE_TOKEN : match[0];
    if (raw === NEWLINE_TOKEN) {
      tokens.push({ token: raw, start, end: start + match[0].length });
      continue;
    }
    tokens.push({ token: lowercase ? raw.toLowerCase() : raw, start, end: start + raw.length });
  }
  return tokens;
}

/** Joins tokens with one space, except none before closing punctuation and none after opening. */
function joinWords(tokens: readonly string[]): string {
  let text = '';
  let previous: string | undefined;
  for (const token of tokens) {
    if (
      previous !== undefined &&
      !CLOSING.has(token) &&
      !OPENING.has(previous) &&
      token !== NEWLINE_TOKEN &&
      previous !== NEWLINE_TOKEN
    )
      text += ' ';
    text += token;
    previous = token;
  }
  return text;
}

/**
 * The normal form of a text for a word tokenizer with these options: its tokens (lower-cased
 * by default) joined by the decoding rule. `decode(encode(t).ids) === t` holds for every text
 * `t` in normal form whose tokens are all in the vocabulary, and `normalizeWords` is idempotent.
 */
export function normalizeWords(
  text: string,
  options: { readonly lowercase?: boolean; readonly newlines?: boolean } = {},
): string {
  if (typeof text !== 'string')
    throw new InvalidArgumentError(`normalizeWords: text must be a string, got ${typeof text}`, {
      source: SOURCE,
      details: { argument: 'text', actual: typeof text },
    });
  return joinWords(
    splitWords(text, options.lowercase ?? true, options.newlines ?? false).map((t) => t.token),
  );
}

function checkOptions(
  options: WordTokenizerOptions,
  where: string,
): Required<WordTokenizerOptions> {
  const lowercase = options.lowercase ?? true;
  const onUnknown = options.onUnknown ?? 'unk';
  if (typeof lowercase !== 'boolean')
    throw new InvalidArgumentError(
      `${where}: lowercase must be a boolean, got ${typeof lowercase}`,
      {
        source: SOURCE,
        details: { argument: 'lowercase', actual: typeof lowercase },
      },
    );
  if (onUnknown !== 'unk' && onUnknown !== 'error')
    throw new InvalidArgumentError(
      `${where}: onUnknown must be "unk" or "error", got ${JSON.stringify(onUnknown)}`,
      { source: SOURCE, details: { argument: 'onUnknown', actual: String(onUnknown) } },
    );
  const newlines = options.newlines ?? false;
  if (typeof newlines !== 'boolean')
    throw new InvalidArgumentError(`${where}: newlines must be a boolean, got ${typeof newlines}`, {
      source: SOURCE,
      details: { argument: 'newlines', actual: typeof newlines },
    });
  return { lowercase, onUnknown, newlines };
}

/**
 * A word-level tokenizer for the built-in tasks: words, numbers and single symbols, each one
 * token, with exact UTF-16 spans into the encoded text. Implements `TokenizerV1`.
 */
export class WordTokenizer implements TokenizerV1 {
  readonly vocabSize: number;
  readonly specialTokens: SpecialTokensV1 = Object.freeze({ pad: 0, bos: 1, eos: 2, unk: 3 });
  readonly lowercase: boolean;
  readonly onUnknown: UnknownWordPolicy;
  /** Line breaks are tokens. */
  readonly newlines: boolean;
  /** Every token by id: the four special tokens, then the vocabulary. */
  readonly tokens: readonly string[];
  readonly #ids: ReadonlyMap<string, number>;

  constructor(settings: WordTokenizerSettings) {
    if (typeof settings !== 'object' || settings === null)
      throw new InvalidArgumentError('WordTokenizer: settings must be an object', {
        source: SOURCE,
        details: { argument: 'settings' },
      });
    const { lowercase, onUnknown, newlines } = checkOptions(settings, 'WordTokenizer');
    const { vocabulary } = settings;
    if (!Array.isArray(vocabulary))
      throw new InvalidArgumentError('WordTokenizer: vocabulary must be an array of strings', {
        source: SOURCE,
        details: { argument: 'vocabulary', actual: typeof vocabulary },
      });
    const ids = new Map<string, number>(WORD_SPECIAL_TOKENS.map((token, id) => [token, id]));
    vocabulary.forEach((word: unknown, index) => {
      const field = `vocabulary[${index}]`;
      if (typeof word !== 'string')
        throw new InvalidArgumentError(
          `WordTokenizer: ${field} must be a string, got ${typeof word}`,
          {
            source: SOURCE,
            details: { argument: field, actual: typeof word },
          },
        );
      const split = splitWords(word, lowercase, newlines);
      if (split.length !== 1 || split[0]?.token !== word || split[0].end !== word.length) {
        const problem =
          split.length === 1
            ? `is not in normal form (it reads as ${JSON.stringify(split[0]?.token)}${lowercase ? ' with lowercase: true' : ''})`
            : `is ${split.length} tokens, not one (${JSON.stringify(split.map((t) => t.token))})`;
        throw new InvalidValueError(`WordTokenizer: ${field} ${JSON.stringify(word)} ${problem}`, {
          source: SOURCE,
          details: { argument: field, value: word, tokens: split.map((t) => t.token) },
        });
      }
      const previous = ids.get(word);
      if (previous !== undefined)
        throw new InvalidValueError(
          `WordTokenizer: ${field} ${JSON.stringify(word)} repeats vocabulary[${previous - WORD_SPECIAL_TOKENS.length}]`,
          { source: SOURCE, details: { argument: field, value: word, firstIndex: previous - 4 } },
        );
      ids.set(word, index + WORD_SPECIAL_TOKENS.length);
    });
    this.lowercase = lowercase;
    this.onUnknown = onUnknown;
    this.newlines = newlines;
    this.tokens = Object.freeze([...WORD_SPECIAL_TOKENS, ...(vocabulary as string[])]);
    this.vocabSize = this.tokens.length;
    this.#ids = ids;
  }

  /**
   * Builds the vocabulary from a corpus: every token seen at least `minCount` times, most
   * frequent first, ties in code-unit order of the token (so the result does not depend on the
   * order of the texts).
   */
  static fromCorpus(texts: readonly string[], options: WordCorpusOptions = {}): WordTokenizer {
    const { lowercase, onUnknown, newlines } = checkOptions(options, 'WordTokenizer.fromCorpus');
    const minCount = options.minCount ?? 1;
    if (!Number.isSafeInteger(minCount) || minCount < 1)
      throw new InvalidValueError(
        `WordTokenizer.fromCorpus: minCount must be an integer >= 1, got ${minCount}`,
        { source: SOURCE, details: { argument: 'minCount', value: minCount } },
      );
    if (!Array.isArray(texts))
      throw new InvalidArgumentError(
        'WordTokenizer.fromCorpus: texts must be an array of strings',
        {
          source: SOURCE,
          details: { argument: 'texts', actual: typeof texts },
        },
      );
    const counts = new Map<string, number>();
    texts.forEach((text: unknown, index) => {
      if (typeof text !== 'string')
        throw new InvalidArgumentError(
          `WordTokenizer.fromCorpus: texts[${index}] must be a string, got ${typeof text}`,
          { source: SOURCE, details: { argument: `texts[${index}]`, actual: typeof text } },
        );
      for (const { token } of splitWords(text, lowercase, newlines))
        counts.set(token, (counts.get(token) ?? 0) + 1);
    });
    const vocabulary = [...counts]
      .filter(([, count]) => count >= minCount)
      .sort(([a, countA], [b, countB]) => countB - countA || (a < b ? -1 : a > b ? 1 : 0))
      .map(([token]) => token);
    return new WordTokenizer({ vocabulary, lowercase, onUnknown, newlines });
  }

  /** Reads the JSON form (an object or its JSON text). Errors are `ConfigError`s naming the key. */
  static fromJSON(json: unknown): WordTokenizer {
    let value = json;
    if (typeof json === 'string') {
      try {
        value = JSON.parse(json);
      } catch (error) {
        throw new ConfigError('', `word tokenizer: not valid JSON (${(error as Error).message})`, {
          source: SOURCE,
          cause: error,
        });
      }
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new ConfigError(
        '',
        `word tokenizer: expected an object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`,
        { source: SOURCE },
      );
    const record = value as Record<string, unknown>;
    const known = ['schema', 'lowercase', 'onUnknown', 'newlines', 'specialTokens', 'vocabulary'];
    for (const key of Object.keys(record))
      if (!known.includes(key))
        throw new ConfigError(key, `unknown key; known keys: ${known.join(', ')}`, {
          source: SOURCE,
        });
    if (record['schema'] !== WORD_TOKENIZER_SCHEMA)
      throw new ConfigError(
        'schema',
        `expected ${JSON.stringify(WORD_TOKENIZER_SCHEMA)}, got ${JSON.stringify(record['schema'])}`,
        { source: SOURCE },
      );
    if (typeof record['lowercase'] !== 'boolean')
      throw new ConfigError(
        'lowercase',
        `expected a boolean, got ${JSON.stringify(record['lowercase'])}`,
        {
          source: SOURCE,
        },
      );
    if (record['onUnknown'] !== 'unk' && record['onUnknown'] !== 'error')
      throw new ConfigError(
        'onUnknown',
        `expected "unk" or "error", got ${JSON.stringify(record['onUnknown'])}`,
        { source: SOURCE },
      );
    const special = record['specialTokens'];
    if (
      !Array.isArray(special) ||
      special.length !== WORD_SPECIAL_TOKENS.length ||
      special.some((token, id) => token !== WORD_SPECIAL_TOKENS[id])
    )
      throw new ConfigError(
        'specialTokens',
        `expected ${JSON.stringify(WORD_SPECIAL_TOKENS)}, got ${JSON.stringify(special)}`,
        { source: SOURCE },
      );
    const vocabulary = record['vocabulary'];
    if (!Array.isArray(vocabulary))
      throw new ConfigError(
        'vocabulary',
        `expected an array of strings, got ${typeof vocabulary}`,
        {
          source: SOURCE,
        },
      );
    try {
      return new WordTokenizer({
        vocabulary,
        lowercase: record['lowercase'],
        onUnknown: record['onUnknown'],
        newlines: (record['newlines'] ?? false) as boolean,
      });
    } catch (error) {
      if (!HicraError.isInstance(error)) throw error;
      const argument = String(error.details['argument'] ?? 'vocabulary');
      const message = error.message.replace(`${SOURCE}: WordTokenizer: ${argument} `, '');
      throw new ConfigError(argument, message, { source: SOURCE, cause: error });
    }
  }

  toJSON(): WordTokenizerJSON {
    return {
      schema: WORD_TOKENIZER_SCHEMA,
      lowercase: this.lowercase,
      onUnknown: this.onUnknown,
      newlines: this.newlines,
      specialTokens: [...WORD_SPECIAL_TOKENS],
      vocabulary: this.tokens.slice(WORD_SPECIAL_TOKENS.length),
    };
  }

  /** The normal form of `text` under this tokenizer's case option (see {@link normalizeWords}). */
  normalize(text: string): string {
    return normalizeWords(text, { lowercase: this.lowercase, newlines: this.newlines });
  }

  /** The id of a token, or `undefined` when it is not in the vocabulary. */
  tokenToId(token: string): number | undefined {
    return this.#ids.get(token);
  }

  /** The token of an id, or `undefined` when the id is out of range. */
  idToToken(id: number): string | undefined {
    return Number.isInteger(id) ? this.tokens[id] : undefined;
  }

  encode(text: string, options: { readonly addSpecialTokens?: boolean } = {}): EncodingV1 {
    if (typeof text !== 'string')
      throw new InvalidArgumentError(
        `WordTokenizer.encode: text must be a string, got ${typeof text}`,
        {
          source: SOURCE,
          details: { argument: 'text', actual: typeof text },
        },
      );
    const words = splitWords(text, this.lowercase, this.newlines);
    const add = options.addSpecialTokens === true ? 1 : 0;
    const n = words.length + 2 * add;
    const ids = new Int32Array(n);
    const spans = new Int32Array(2 * n);
    if (add) {
      ids[0] = 1;
      ids[n - 1] = 2;
      spans.fill(-1, 0, 2);
      spans.fill(-1, 2 * n - 2);
    }
    words.forEach(({ token, start, end }, index) => {
      let id = this.#ids.get(token);
      if (id === undefined || id < WORD_SPECIAL_TOKENS.length) {
        if (this.onUnknown === 'error')
          throw new InvalidValueError(
            `WordTokenizer.encode: ${JSON.stringify(token)} at [${start}, ${end}) is not in the vocabulary`,
            { source: SOURCE, details: { argument: 'text', token, start, end } },
          );
        id = 3;
      }
      const at = index + add;
      ids[at] = id;
      spans[2 * at] = start;
      spans[2 * at + 1] = end;
    });
    return { ids, spans };
  }

  /**
   * Joins the tokens of `ids` with the spacing rule of {@link normalizeWords}. Special tokens
   * (all four, `<unk>` included, as in Hugging Face's `skip_special_tokens`) are left out unless
   * `skipSpecialTokens` is false, in which case they are written as `<pad>`, `<bos>`, ...
   */
  decode(ids: ArrayLike<number>, options: { readonly skipSpecialTokens?: boolean } = {}): string {
    if (typeof ids !== 'object' || ids === null || typeof ids.length !== 'number')
      throw new InvalidArgumentError('WordTokenizer.decode: ids must be an array of integers', {
        source: SOURCE,
        details: { argument: 'ids', actual: ids === null ? 'null' : typeof ids },
      });
    const skip = options.skipSpecialTokens ?? true;
    const words: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      const token = this.idToToken(id);
      if (token === undefined)
        throw new InvalidValueError(
          `WordTokenizer.decode: ids[${i}] = ${id} is not a token id in [0, ${this.vocabSize})`,
          {
            source: SOURCE,
            details: { argument: `ids[${i}]`, value: id, vocabSize: this.vocabSize },
          },
        );
      if (skip && id < WORD_SPECIAL_TOKENS.length) continue;
      words.push(token);
    }
    return joinWords(words);
  }
}

/** Factory form of `new WordTokenizer(settings)`. */
export function createWordTokenizer(settings: WordTokenizerSettings): WordTokenizer {
  return new WordTokenizer(settings);
}
