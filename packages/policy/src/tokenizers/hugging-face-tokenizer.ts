import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import {
  BackendUnavailableError,
  CorruptFileError,
  type EncodingV1,
  InvalidArgumentError,
  InvalidValueError,
  type SpecialTokensV1,
  type TokenizerV1,
} from '@hicra/spec';
import type { Decoder, Encoding, Tokenizer } from 'tokenizers';
import { codePointToUtf16Table } from './code-point-offsets.js';
import { type RawEncoding, SyncEncoder, SyncEncoderError } from './sync-encoder.js';

const SOURCE = '@hicra/policy';
const SPECIAL_KINDS = ['bos', 'eos', 'pad', 'unk'] as const;
type SpecialKind = (typeof SPECIAL_KINDS)[number];

export interface HuggingFaceTokenizerOptions {
  /**
   * Special tokens by their text, e.g. `{ bos: '<|begin_of_text|>' }`; `null` declares that
   * there is none. A kind left out is taken from `tokenizer_config.json` beside the
   * `tokenizer.json` (`bos_token`, ...), and `unk` also from the model's `unk_token`.
   */
  readonly specialTokens?: { readonly [K in SpecialKind]?: string | null };
}

interface Binding {
  readonly Tokenizer: { fromString(json: string): Tokenizer };
}

let cachedBinding: { readonly binding: Binding; readonly path: string } | undefined;

/** Loads the native binding on first use, not on import. */
function loadBinding(): { readonly binding: Binding; readonly path: string } {
  if (cachedBinding) return cachedBinding;
  const require = createRequire(import.meta.url);
  try {
    const path = require.resolve('tokenizers');
    cachedBinding = { binding: require(path) as Binding, path };
    return cachedBinding;
  } catch (error) {
    throw new BackendUnavailableError(
      `the Hugging Face tokenizers binding could not be loaded (${(error as Error).message}); install the "tokenizers" npm package, whose prebuilt binary covers Linux, macOS and Windows on x64 and arm64`,
      { source: SOURCE, details: { package: 'tokenizers' }, cause: error },
    );
  }
}

function corrupt(file: string, problem: string, cause?: unknown): CorruptFileError {
  return new CorruptFileError(`${file}: ${problem}`, {
    source: SOURCE,
    details: { file, problem },
    ...(cause === undefined ? {} : { cause }),
  });
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw corrupt(
      file,
      code === 'ENOENT' ? `${what} not found` : `${what} cannot be read (${code ?? error})`,
      error,
    );
  }
}

function parseObject(file: string, text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw corrupt(file, `${what} is not valid JSON (${(error as Error).message})`, error);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw corrupt(file, `${what} must hold a JSON object`);
  return value as Record<string, unknown>;
}

/** `"<s>"` or `{ "content": "<s>", ... }` (the two forms of `tokenizer_config.json`). */
function tokenText(value: unknown): string | null | undefined {
  if (value === null || typeof value === 'string') return value;
  if (typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string')
    return (value as { content: string }).content;
  return undefined;
}

function rawOf(encoding: Encoding): RawEncoding {
  const pairs = encoding.getOffsets();
  const offsets = new Int32Array(2 * pairs.length);
  pairs.forEach(([start, end], i) => {
    offsets[2 * i] = start as number;
    offsets[2 * i + 1] = end as number;
  });
  return {
    ids: Int32Array.from(encoding.getIds()),
    offsets,
    added: Uint8Array.from(encoding.getSequenceIds(), (s) => (s == null ? 1 : 0)),
  };
}

/**
 * A Hugging Face `tokenizer.json` behind the official `tokenizers` binding. Implements
 * `TokenizerV1`.
 *
 * - **Spans** are the binding's offsets into the original (not normalised) text, converted from
 *   Unicode code points to UTF-16 code units. Where byte-level BPE splits one character over
 *   several tokens, each of those tokens has the character's full span, so spans may overlap;
 *   starts and ends never decrease. Tokens that the post-processor adds (BOS/EOS templates)
 *   get `(-1, -1)`; special tokens written in the text keep their span.
 * - **`addSpecialTokens`** runs the tokenizer's own post-processor; a `tokenizer.json` whose
 *   post-processor adds nothing adds nothing.
 * - **Padding and truncation** configured in the file are switched off: lengths are the
 *   caller's business, and a silently cut prompt would be a silent fix.
 * - **`encode` is synchronous** although the binding's encode is asynchronous: it runs on a
 *   worker thread holding a second copy of the tokenizer while the caller blocks (about
 *   0.4 ms per short text, against 0.25 ms for `encodeAsync`, which calls the binding in this
 *   thread). Both return the binding's ids and offsets.
 */
export class HuggingFaceTokenizer implements TokenizerV1 {
  /** The `tokenizer.json` read. */
  readonly file: string;
  /** One more than the largest id, added tokens included. */
  readonly vocabSize: number;
  readonly specialTokens: SpecialTokensV1;
  readonly #tokenizer: Tokenizer;
  readonly #decoder: Decoder | null;
  readonly #json: string;
  readonly #bindingPath: string;
  /** Added tokens marked `special` in the file: left out by `decode` by default. */
  readonly #specialIds: ReadonlySet<number>;
  #encoder: SyncEncoder | undefined;

  private constructor(init: {
    file: string;
    tokenizer: Tokenizer;
    json: string;
    bindingPath: string;
    vocabSize: number;
    specialTokens: SpecialTokensV1;
    specialIds: ReadonlySet<number>;
    encoder: SyncEncoder;
  }) {
    this.file = init.file;
    this.#tokenizer = init.tokenizer;
    this.#decoder = init.tokenizer.getDecoder();
    this.#json = init.json;
    this.#bindingPath = init.bindingPath;
    this.vocabSize = init.vocabSize;
    this.specialTokens = Object.freeze(init.specialTokens);
    this.#specialIds = init.specialIds;
    this.#encoder = init.encoder;
  }

  /**
   * Loads `path`: a `tokenizer.json` file, or a folder holding one. A `tokenizer_config.json`
   * beside it, when present, names the special tokens.
   */
  static async load(
    path: string,
    options: HuggingFaceTokenizerOptions = {},
  ): Promise<HuggingFaceTokenizer> {
    if (typeof path !== 'string' || path.length === 0)
      throw new InvalidArgumentError('HuggingFaceTokenizer.load: path must be a non-empty string', {
        source: SOURCE,
        details: { argument: 'path', actual: typeof path },
      });
    let file = resolve(path);
    const info = await stat(file).catch((error: NodeJS.ErrnoException) => {
      throw corrupt(
        file,
        error.code === 'ENOENT'
          ? 'tokenizer file or folder not found'
          : `cannot be read (${error.code})`,
        error,
      );
    });
    if (info.isDirectory()) file = join(file, 'tokenizer.json');
    const json = await readText(file, 'tokenizer.json');
    const parsed = parseObject(file, json, 'tokenizer.json');
    if (typeof parsed['model'] !== 'object' || parsed['model'] === null)
      throw corrupt(file, 'is not a Hugging Face tokenizer.json: it has no "model" object');

    const { binding, path: bindingPath } = loadBinding();
    let tokenizer: Tokenizer;
    try {
      tokenizer = binding.Tokenizer.fromString(json);
    } catch (error) {
      throw corrupt(
        file,
        `the tokenizers binding rejected it (${(error as Error).message})`,
        error,
      );
    }
    tokenizer.disablePadding();
    tokenizer.disableTruncation();

    let maxId = -1;
    for (const id of Object.values(tokenizer.getVocab(true))) if (id > maxId) maxId = id;
    const vocabSize = Math.max(maxId + 1, tokenizer.getVocabSize(true));

    const specialIds = new Set<number>();
    const added = parsed['added_tokens'];
    if (Array.isArray(added))
      for (const token of added as { id?: unknown; special?: unknown }[])
        if (token?.special === true && typeof token.id === 'number') specialIds.add(token.id);

    const specialTokens = await resolveSpecialTokens(file, parsed, tokenizer, options);

    const encoder = new SyncEncoder(bindingPath, json);
    try {
      await encoder.ready();
    } catch (error) {
      await encoder.close();
      throw new BackendUnavailableError(
        `the tokenizer worker thread could not load ${file} (${(error as Error).message})`,
        { source: SOURCE, details: { file }, cause: error },
      );
    }
    return new HuggingFaceTokenizer({
      file,
      tokenizer,
      json,
      bindingPath,
      vocabSize,
      specialTokens,
      specialIds,
      encoder,
    });
  }

  /** The id of a token (added tokens included), or `undefined`. */
  tokenToId(token: string): number | undefined {
    return this.#tokenizer.tokenToId(token) ?? undefined;
  }

  /** The token text of an id as stored in the vocabulary (byte-level form included), or `undefined`. */
  idToToken(id: number): string | undefined {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) return undefined;
    return this.#tokenizer.idToToken(id) ?? undefined;
  }

  encode(text: string, options: { readonly addSpecialTokens?: boolean } = {}): EncodingV1 {
    checkText(text, 'encode');
    const addSpecialTokens = options.addSpecialTokens === true;
    this.#encoder ??= new SyncEncoder(this.#bindingPath, this.#json);
    let raw: RawEncoding;
    try {
      raw = this.#encoder.encode(text, addSpecialTokens);
    } catch (error) {
      if (!(error instanceof SyncEncoderError)) throw error;
      if (error.kind === 'stopped') {
        this.#encoder = undefined;
        throw new BackendUnavailableError(
          'HuggingFaceTokenizer.encode: the worker thread running the tokenizers binding stopped; the next call starts a new one',
          { source: SOURCE, details: { file: this.file }, cause: error },
        );
      }
      throw new InvalidValueError(
        `HuggingFaceTokenizer.encode: the tokenizers binding failed on the text (${error.message})`,
        { source: SOURCE, details: { argument: 'text', file: this.file }, cause: error },
      );
    }
    return toEncoding(text, raw);
  }

  /** `encode` in this thread through the binding's asynchronous API. */
  async encodeAsync(
    text: string,
    options: { readonly addSpecialTokens?: boolean } = {},
  ): Promise<EncodingV1> {
    checkText(text, 'encodeAsync');
    let encoding: Encoding;
    try {
      encoding = await this.#tokenizer.encode(text, null, {
        addSpecialTokens: options.addSpecialTokens === true,
      });
    } catch (error) {
      throw new InvalidValueError(
        `HuggingFaceTokenizer.encodeAsync: the tokenizers binding failed on the text (${(error as Error).message})`,
        { source: SOURCE, details: { argument: 'text', file: this.file }, cause: error },
      );
    }
    return toEncoding(text, rawOf(encoding));
  }

  /**
   * Decodes through the tokenizer's decoder, as the binding's `decode` does (its tokens joined
   * by spaces when the file has no decoder). Special added tokens are left out unless
   * `skipSpecialTokens` is false. No clean-up of spaces is applied (`clean_up_tokenization_spaces`
   * is a `transformers` setting, not part of `tokenizer.json`).
   */
  decode(ids: ArrayLike<number>, options: { readonly skipSpecialTokens?: boolean } = {}): string {
    if (typeof ids !== 'object' || ids === null || typeof ids.length !== 'number')
      throw new InvalidArgumentError(
        'HuggingFaceTokenizer.decode: ids must be an array of integers',
        {
          source: SOURCE,
          details: { argument: 'ids', actual: ids === null ? 'null' : typeof ids },
        },
      );
    const skip = options.skipSpecialTokens ?? true;
    const tokens: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      const token = this.idToToken(id);
      if (token === undefined)
        throw new InvalidValueError(
          Number.isInteger(id) && id >= 0 && id < this.vocabSize
            ? `HuggingFaceTokenizer.decode: ids[${i}] = ${id} has no token in ${this.file}`
            : `HuggingFaceTokenizer.decode: ids[${i}] = ${id} is not a token id in [0, ${this.vocabSize})`,
          {
            source: SOURCE,
            details: { argument: `ids[${i}]`, value: id, vocabSize: this.vocabSize },
          },
        );
      if (skip && this.#specialIds.has(id)) continue;
      tokens.push(token);
    }
    return this.#decoder ? this.#decoder.decode(tokens) : tokens.join(' ');
  }

  /** Stops the worker thread of the synchronous `encode` (a later `encode` starts a new one). */
  async close(): Promise<void> {
    const encoder = this.#encoder;
    this.#encoder = undefined;
    await encoder?.close();
  }
}

/** Factory form of {@link HuggingFaceTokenizer.load}. */
export function loadHuggingFaceTokenizer(
  path: string,
  options?: HuggingFaceTokenizerOptions,
): Promise<HuggingFaceTokenizer> {
  return HuggingFaceTokenizer.load(path, options);
}

function checkText(text: unknown, method: string): void {
  if (typeof text !== 'string')
    throw new InvalidArgumentError(
      `HuggingFaceTokenizer.${method}: text must be a string, got ${typeof text}`,
      { source: SOURCE, details: { argument: 'text', actual: typeof text } },
    );
}

/** Binding offsets (code points) to `EncodingV1` spans (UTF-16); post-processor tokens get (-1, -1). */
function toEncoding(text: string, raw: RawEncoding): EncodingV1 {
  const table = codePointToUtf16Table(text);
  const codePoints = table ? table.length - 1 : text.length;
  const n = raw.ids.length;
  const spans = new Int32Array(2 * n);
  for (let i = 0; i < n; i++) {
    if (raw.added[i] === 1) {
      spans[2 * i] = -1;
      spans[2 * i + 1] = -1;
      continue;
    }
    const start = raw.offsets[2 * i] as number;
    const end = raw.offsets[2 * i + 1] as number;
    if (!(start >= 0 && start <= end && end <= codePoints))
      throw new InvalidValueError(
        `HuggingFaceTokenizer: the binding gave token ${i} the offsets [${start}, ${end}), outside the text's ${codePoints} code points`,
        { source: SOURCE, details: { token: i, start, end, codePoints } },
      );
    spans[2 * i] = table ? (table[start] as number) : start;
    spans[2 * i + 1] = table ? (table[end] as number) : end;
  }
  return { ids: raw.ids, spans };
}

async function resolveSpecialTokens(
  file: string,
  parsed: Record<string, unknown>,
  tokenizer: Tokenizer,
  options: HuggingFaceTokenizerOptions,
): Promise<SpecialTokensV1> {
  const configFile = join(dirname(file), 'tokenizer_config.json');
  let config: Record<string, unknown> = {};
  const configText = await readFile(configFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw corrupt(configFile, `tokenizer_config.json cannot be read (${error.code})`, error);
  });
  if (configText !== undefined)
    config = parseObject(configFile, configText, 'tokenizer_config.json');
  const given = options.specialTokens ?? {};
  if (typeof given !== 'object' || given === null)
    throw new InvalidArgumentError('HuggingFaceTokenizer.load: specialTokens must be an object', {
      source: SOURCE,
      details: { argument: 'specialTokens' },
    });
  const result: { [K in SpecialKind]?: number } = {};
  for (const kind of SPECIAL_KINDS) {
    if (kind in given) {
      const text = given[kind];
      if (text === null || text === undefined) continue;
      const id = typeof text === 'string' ? tokenizer.tokenToId(text) : null;
      if (id === null || id === undefined)
        throw new InvalidValueError(
          `HuggingFaceTokenizer.load: specialTokens.${kind} ${JSON.stringify(text)} is not a token of ${file}`,
          {
            source: SOURCE,
            details: { argument: `specialTokens.${kind}`, value: String(text), file },
          },
        );
      result[kind] = id;
      continue;
    }
    const key = `${kind}_token`;
    let text = key in config ? tokenText(config[key]) : undefined;
    if (key in config && text === undefined)
      throw corrupt(configFile, `${key} must be a string, null or { "content": string }`);
    let owner = configFile;
    let field = key;
    if (text === undefined && kind === 'unk') {
      const model = parsed['model'] as Record<string, unknown>;
      if (typeof model['unk_token'] === 'string') {
        text = model['unk_token'];
        owner = file;
        field = 'model.unk_token';
      }
    }
    if (text === null || text === undefined) continue;
    const id = tokenizer.tokenToId(text);
    if (id === null || id === undefined)
      throw corrupt(owner, `${field} ${JSON.stringify(text)} is not in the vocabulary of ${file}`);
    result[kind] = id;
  }
  return result;
}
