/**
 * The client refuses bad requests, and requests it cannot serve exactly, before sending
 * anything: typed errors whose code and message name the field.
 */
import { ErrorCode, type SampleRequestV1, type ScoreRequestV1 } from '@hicra/spec';
import { expectHicraError, expectHicraRejection } from '@hicra/spec/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAISamplingClient, type OpenAISamplingClientOptions } from '../../src/index.js';
import { ragged, type ScriptedServer, sendJson, startScriptedServer } from './fakes.js';

let server: ScriptedServer;
beforeAll(async () => {
  server = await startScriptedServer((_request, response) => sendJson(response, 500, {}));
});
afterAll(async () => {
  await server.close();
});

function client(extra: Partial<OpenAISamplingClientOptions> = {}) {
  return new OpenAISamplingClient({ baseUrl: server.url, maxRetries: 0, ...extra });
}

const good: SampleRequestV1 = {
  prompts: ragged([[1, 2, 3]]),
  samplesPerPrompt: 2,
  maxNewTokens: 4,
  seed: 0,
};

describe('sample refuses', () => {
  const cases: readonly [string, SampleRequestV1, ErrorCode, string][] = [
    [
      'samplesPerPrompt 0',
      { ...good, samplesPerPrompt: 0 },
      ErrorCode.InvalidArgument,
      'samplesPerPrompt',
    ],
    ['maxNewTokens 0', { ...good, maxNewTokens: 0 }, ErrorCode.InvalidArgument, 'maxNewTokens'],
    [
      'temperature NaN',
      { ...good, temperature: Number.NaN },
      ErrorCode.InvalidArgument,
      'temperature',
    ],
    ['topP 0', { ...good, topP: 0 }, ErrorCode.InvalidArgument, 'topP'],
    ['topK 1.5', { ...good, topK: 1.5 }, ErrorCode.InvalidArgument, 'topK'],
    ['seed -1', { ...good, seed: -1 }, ErrorCode.InvalidArgument, 'seed'],
    [
      'offsets that do not reach the end',
      {
        ...good,
        prompts: { tokenIds: Int32Array.from([1, 2, 3]), offsets: Int32Array.from([0, 2]) },
      },
      ErrorCode.ShapeMismatch,
      'prompts.offsets',
    ],
    [
      'a negative token id',
      { ...good, prompts: ragged([[1, -1]]) },
      ErrorCode.InvalidValue,
      'prompts.tokenIds[1] = -1',
    ],
    [
      'an empty prompt',
      { ...good, prompts: ragged([[1], []]) },
      ErrorCode.InvalidValue,
      'prompt 1 has no tokens',
    ],
    [
      'a bad stop token',
      { ...good, stopTokenIds: [2.5] },
      ErrorCode.InvalidValue,
      'stopTokenIds[0]',
    ],
    [
      'top-k with processed_logprobs',
      { ...good, topK: 20 },
      ErrorCode.InvalidArgument,
      'processed_logprobs',
    ],
    [
      'top-p with processed_logprobs',
      { ...good, topP: 0.95 },
      ErrorCode.InvalidArgument,
      'before top-k/top-p',
    ],
  ];
  for (const [name, request, code, text] of cases) {
    it(`${name}: ${code}`, async () => {
      const before = server.requests.length;
      const error = await expectHicraRejection(client().sample(request));
      expect(error.code).toBe(code);
      expect(error.message).toContain(text);
      expect(error.message).toMatch(/^@hicra\/remote: /);
      expect(server.requests.length).toBe(before);
    });
  }

  it('temperature other than 1 with raw_logprobs (vLLM)', async () => {
    const error = await expectHicraRejection(
      client({ logprobsMode: 'raw_logprobs' }).sample({ ...good, temperature: 0.6 }),
    );
    expect(error.code).toBe(ErrorCode.InvalidArgument);
    expect(error.message).toContain('raw_logprobs');
  });

  it('SGLang: top-k is fine (its log-probs are before top-k/top-p), addSpecialTokens false on text is not', async () => {
    const sglang = client({ flavor: 'sglang' });
    // Reaches the server (which answers 500): no refusal up front.
    const reached = await expectHicraRejection(sglang.sample({ ...good, topK: 5, topP: 0.5 }));
    expect(reached.message).toContain('HTTP 500');
    const error = await expectHicraRejection(
      sglang.sampleDetailed({ ...good, prompts: ['hi'], addSpecialTokens: false }),
    );
    expect(error.message).toContain('addSpecialTokens');
  });

  it('no prompts: an empty batch, nothing sent', async () => {
    const before = server.requests.length;
    const result = await client().sample({ ...good, prompts: ragged([]) });
    expect(result.batchSize).toBe(0);
    expect(result.tokenIds).toHaveLength(0);
    expect(server.requests.length).toBe(before);
  });
});

describe('computeLogProbs refuses', () => {
  const score: ScoreRequestV1 = {
    prompts: ragged([[1, 2]]),
    batchSize: 1,
    seqLen: 3,
    tokenIds: Int32Array.from([3, 4, 0]),
    responseMask: Uint8Array.from([1, 1, 0]),
  };
  const cases: readonly [string, ScoreRequestV1, ErrorCode, string][] = [
    [
      'temperature 0.7',
      { ...score, temperature: 0.7 },
      ErrorCode.InvalidArgument,
      'cannot be scored exactly',
    ],
    [
      'a mask with a hole',
      { ...score, responseMask: Uint8Array.from([1, 0, 1]) },
      ErrorCode.InvalidValue,
      'not a prefix',
    ],
    [
      'a mask value 2',
      { ...score, responseMask: Uint8Array.from([1, 2, 0]) },
      ErrorCode.InvalidValue,
      'expected 0 or 1',
    ],
    [
      'tokenIds of the wrong length',
      { ...score, tokenIds: Int32Array.from([3, 4]) },
      ErrorCode.ShapeMismatch,
      'tokenIds has 2 entries',
    ],
    [
      'prompts for another batch size',
      { ...score, prompts: ragged([[1], [2]]) },
      ErrorCode.ShapeMismatch,
      'prompts.offsets',
    ],
    [
      'an empty prompt',
      { ...score, prompts: ragged([[]]) },
      ErrorCode.InvalidValue,
      'prompt 0 has no tokens',
    ],
  ];
  for (const [name, request, code, text] of cases) {
    it(`${name}: ${code}`, async () => {
      const before = server.requests.length;
      const error = await expectHicraRejection(client().computeLogProbs(request));
      expect(error.code).toBe(code);
      expect(error.message).toContain(text);
      expect(server.requests.length).toBe(before);
    });
  }
});

describe('the constructor refuses', () => {
  const cases: readonly [string, Partial<OpenAISamplingClientOptions>, string][] = [
    ['a relative baseUrl', { baseUrl: 'localhost:8000' }, 'baseUrl'],
    ['a non-http baseUrl', { baseUrl: 'ftp://127.0.0.1' }, 'baseUrl'],
    ['an unknown flavor', { flavor: 'tgi' as never }, 'flavor'],
    ['ignoreEos with SGLang', { flavor: 'sglang', ignoreEos: true }, 'ignoreEos'],
    ['maxConcurrency 0', { maxConcurrency: 0 }, 'maxConcurrency'],
    ['a negative topLogprobs', { topLogprobs: -1 }, 'topLogprobs'],
    ['a logits mode', { logprobsMode: 'raw_logits' as never }, 'logprobsMode'],
  ];
  for (const [name, options, text] of cases) {
    it(name, () => {
      expectHicraError(() => client(options), { code: ErrorCode.InvalidArgument, message: text });
    });
  }

  it('drops a trailing /v1 and slashes from baseUrl', () => {
    expect(client({ baseUrl: `${server.url}/v1/` }).baseUrl).toBe(server.url);
  });
});
