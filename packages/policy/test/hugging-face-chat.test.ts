import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ErrorCode, type HicraError } from '@hicra/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eosTokenIdsOf, readGenerationConfig } from '../src/index.js';

let scratch: string;
let folders = 0;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'hicra-hf-chat-'));
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/** A fresh model folder holding `files` (path -> text; objects are written as JSON). */
function folder(files: Record<string, string | object> = {}): string {
  const dir = join(scratch, `model-${folders++}`);
  mkdirSync(dir);
  for (const [name, content] of Object.entries(files)) {
    const file = join(dir, name);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

function errorOf(fn: () => unknown): HicraError {
  try {
    fn();
  } catch (error) {
    return error as HicraError;
  }
  throw new Error('expected an error');
}

async function rejectionOf(promise: Promise<unknown>): Promise<HicraError> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error as HicraError,
  );
}

function expectError(error: HicraError, code: string, ...fragments: string[]) {
  expect(error.code, error.message).toBe(code);
  for (const fragment of fragments) expect(error.message).toContain(fragment);
}

describe('readGenerationConfig', () => {
  const read = (content: unknown) =>
    readGenerationConfig(
      folder({
        'generation_config.json': typeof content === 'string' ? content : JSON.stringify(content),
      }),
    );

  it('an absent file gives undefined', async () => {
    expect(await readGenerationConfig(folder())).toBeUndefined();
    expect(
      await readGenerationConfig(folder({ 'config.json': { eos_token_id: 2 } })),
    ).toBeUndefined();
  });

  it("Qwen3's generation_config.json: every key read, the others ignored", async () => {
    expect(
      await read({
        bos_token_id: 151643,
        do_sample: true,
        eos_token_id: [151645, 151643],
        pad_token_id: 151643,
        temperature: 0.6,
        top_k: 20,
        top_p: 0.95,
        transformers_version: '4.51.0',
      }),
    ).toEqual({
      eosTokenIds: [151645, 151643],
      bosTokenId: 151643,
      padTokenId: 151643,
      doSample: true,
      temperature: 0.6,
      topK: 20,
      topP: 0.95,
    });
  });

  it('eos_token_id as a number or a list; absent or null is an empty list', async () => {
    expect(await read({ eos_token_id: 2 })).toEqual({ eosTokenIds: [2] });
    expect(await read({ eos_token_id: [128001, 128008, 128009] })).toEqual({
      eosTokenIds: [128001, 128008, 128009],
    });
    expect(await read({})).toEqual({ eosTokenIds: [] });
    expect(await read({ eos_token_id: null, bos_token_id: null, top_p: null })).toEqual({
      eosTokenIds: [],
    });
  });

  it('the other keys, at the edges of their ranges', async () => {
    expect(
      await read({
        temperature: 0,
        top_p: 1,
        top_k: 0,
        do_sample: false,
        max_new_tokens: 1,
        repetition_penalty: 1.05,
        pad_token_id: 0,
      }),
    ).toEqual({
      eosTokenIds: [],
      temperature: 0,
      topP: 1,
      topK: 0,
      doSample: false,
      maxNewTokens: 1,
      repetitionPenalty: 1.05,
      padTokenId: 0,
    });
  });

  it('each bad type or value names the file and the key', async () => {
    const cases: [string, string, string][] = [
      ['{"eos_token_id": "2"}', 'eos_token_id', '"2"'],
      ['{"eos_token_id": -1}', 'eos_token_id', '-1'],
      ['{"eos_token_id": 1.5}', 'eos_token_id', '1.5'],
      ['{"eos_token_id": [1, "2"]}', 'eos_token_id[1]', '"2"'],
      ['{"eos_token_id": [1, -2]}', 'eos_token_id[1]', '-2'],
      ['{"eos_token_id": {"id": 1}}', 'eos_token_id', '{"id":1}'],
      ['{"bos_token_id": -1}', 'bos_token_id', 'non-negative integer'],
      ['{"pad_token_id": "0"}', 'pad_token_id', '"0"'],
      ['{"temperature": -0.5}', 'temperature', 'at least 0'],
      ['{"temperature": "0.7"}', 'temperature', 'finite number'],
      ['{"temperature": 1e999}', 'temperature', 'Infinity'],
      ['{"top_p": 0}', 'top_p', '(0, 1]'],
      ['{"top_p": 1.5}', 'top_p', '(0, 1]'],
      ['{"top_p": -1e999}', 'top_p', '-Infinity'],
      ['{"top_k": 2.5}', 'top_k', 'integer'],
      ['{"top_k": -1}', 'top_k', 'at least 0'],
      ['{"do_sample": "yes"}', 'do_sample', 'true or false'],
      ['{"do_sample": 1}', 'do_sample', 'got 1'],
      ['{"max_new_tokens": 0}', 'max_new_tokens', 'positive integer'],
      ['{"max_new_tokens": 1e999}', 'max_new_tokens', 'Infinity'],
      ['{"repetition_penalty": 0}', 'repetition_penalty', 'positive'],
    ];
    for (const [content, key, fragment] of cases) {
      const dir = folder({ 'generation_config.json': content });
      const error = await rejectionOf(readGenerationConfig(dir));
      expectError(
        error,
        ErrorCode.InvalidConfig,
        `config key ${key}:`,
        join(dir, 'generation_config.json'),
        fragment,
      );
      expect(error.details).toMatchObject({ path: key, file: join(dir, 'generation_config.json') });
    }
  });

  it('malformed JSON, or JSON that is not an object', async () => {
    for (const [content, fragment] of [
      ['{"eos_token_id": 2', 'not valid JSON'],
      ['{"temperature": NaN}', 'not valid JSON'],
      ['[2]', 'JSON object'],
    ] as const) {
      const dir = folder({ 'generation_config.json': content });
      expectError(
        await rejectionOf(readGenerationConfig(dir)),
        ErrorCode.InvalidConfig,
        join(dir, 'generation_config.json'),
        fragment,
      );
    }
    expectError(
      await rejectionOf(readGenerationConfig('')),
      ErrorCode.InvalidArgument,
      'readGenerationConfig: dir',
    );
  });
});

describe('eosTokenIdsOf', () => {
  it("reads a model config.json's eos_token_id the same way", () => {
    const fixture = new URL('./fixtures/hf/qwen3-qknorm/config.json', import.meta.url);
    const config = JSON.parse(readFileSync(fixture, 'utf8')) as Record<string, unknown>;
    expect(eosTokenIdsOf(config)).toEqual([383]);
    expect(eosTokenIdsOf({ eos_token_id: [1, 2] })).toEqual([1, 2]);
    expect(eosTokenIdsOf({ eos_token_id: null })).toEqual([]);
    expect(eosTokenIdsOf({})).toEqual([]);
  });

  it('names config.json, or the file given, and the key', () => {
    expectError(
      errorOf(() => eosTokenIdsOf({ eos_token_id: '2' })),
      ErrorCode.InvalidConfig,
      'config key eos_token_id: config.json:',
    );
    expectError(
      errorOf(() => eosTokenIdsOf({ eos_token_id: [0, 1.5] }, '/models/x/config.json')),
      ErrorCode.InvalidConfig,
      'config key eos_token_id[1]: /models/x/config.json:',
    );
    expectError(
      errorOf(() => eosTokenIdsOf(null as never)),
      ErrorCode.InvalidConfig,
      'must be a JSON object',
    );
  });
});
