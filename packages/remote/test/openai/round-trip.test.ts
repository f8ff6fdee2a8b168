/**
 * The client against this package's server (vLLM flavour) and against a SGLang `/generate`
 * emulator, both over loopback in front of the same deterministic bigram sampler: tokens and
 * log-probs come back exactly as the sampler made them.
 */
import type { SampleRequestV1, SampleResultV1, ScoreRequestV1 } from '@hicra/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createOpenAICompletionsServer,
  type OpenAICompletionsServer,
  OpenAISamplingClient,
} from '../../src/index.js';
import {
  BigramSampler,
  CharTokenizer,
  EOS,
  ragged,
  type ScriptedServer,
  startSglangEmulator,
} from './fakes.js';

const tokenizer = new CharTokenizer();
const served = new BigramSampler();
/** The same table, called directly: what the server's answers must equal. */
const direct = new BigramSampler();
let server: OpenAICompletionsServer;
let sglang: ScriptedServer;

beforeAll(async () => {
  server = await createOpenAICompletionsServer({
    sampler: served,
    tokenizer,
    model: 'bigram',
    apiKey: 'test-key',
  });
  sglang = await startSglangEmulator(served);
});

afterAll(async () => {
  await server.close();
  await sglang.close();
});

function vllmClient(extra: Partial<ConstructorParameters<typeof OpenAISamplingClient>[0]> = {}) {
  return new OpenAISamplingClient({
    baseUrl: server.url,
    model: 'bigram',
    apiKey: 'test-key',
    maxRetries: 0,
    ...extra,
  });
}

const prompts = [
  Array.from(tokenizer.encode('hello', { addSpecialTokens: true }).ids),
  Array.from(tokenizer.encode('a', { addSpecialTokens: true }).ids),
  Array.from(tokenizer.encode('what is 2+2?'.replace('+', ' '), { addSpecialTokens: true }).ids),
];

const request: SampleRequestV1 = {
  prompts: ragged(prompts),
  samplesPerPrompt: 4,
  maxNewTokens: 24,
  temperature: 0.8,
  stopTokenIds: [EOS, tokenizer.encode('.').ids[0]!],
  seed: 77,
};

function expectSameSamples(actual: SampleResultV1, expected: SampleResultV1): void {
  expect(actual.batchSize).toBe(expected.batchSize);
  expect(actual.seqLen).toBe(expected.seqLen);
  expect(actual.promptIndex).toEqual(expected.promptIndex);
  expect(actual.tokenIds).toEqual(expected.tokenIds);
  expect(actual.responseMask).toEqual(expected.responseMask);
  // Bit-exact: float32 -> JSON -> float32 loses nothing.
  expect(actual.logProbs).toEqual(expected.logProbs);
  expect(actual.finished).toEqual(expected.finished);
}

function scoreRequestOf(sampled: SampleResultV1, promptLists: number[][]): ScoreRequestV1 {
  return {
    prompts: ragged(Array.from(sampled.promptIndex, (p) => promptLists[p]!)),
    batchSize: sampled.batchSize,
    seqLen: sampled.seqLen,
    tokenIds: sampled.tokenIds,
    responseMask: sampled.responseMask,
  };
}

describe('vLLM flavour against createOpenAICompletionsServer', () => {
  it('gives back exactly the tokens, log-probs and finish flags the sampler made', async () => {
    const expected = await direct.sample(request);
    // Both outcomes occur, so the finish mapping is exercised both ways.
    expect(new Set(expected.finished)).toEqual(new Set([0, 1]));
    const actual = await vllmClient().sample(request);
    expectSameSamples(actual, expected);
  });

  it('the same seed gives the same samples, another seed others', async () => {
    const client = vllmClient();
    const first = await client.sample(request);
    const again = await client.sample(request);
    expectSameSamples(again, first);
    const other = await client.sample({ ...request, seed: 78 });
    expect(other.tokenIds).not.toEqual(first.tokenIds);
  });

  it('reads ids the same way in every tokenIdMode', async () => {
    const expected = await direct.sample(request);
    for (const tokenIdMode of ['return_token_ids', 'return_tokens_as_token_ids', 'both'] as const) {
      expectSameSamples(await vllmClient({ tokenIdMode }).sample(request), expected);
    }
  });

  it('computeLogProbs equals the sampler, and the sampled log-probs at temperature 1', async () => {
    const client = vllmClient();
    const atOne = { ...request, temperature: 1 };
    const sampled = await client.sample(atOne);
    const scoring = scoreRequestOf(sampled, prompts);
    const scored = await client.computeLogProbs(scoring);
    expect(scored).toEqual(await direct.computeLogProbs(scoring));
    expect(scored).toEqual(sampled.logProbs);
  });

  it('greedy sampling (temperature 0) is deterministic and scores at temperature 1', async () => {
    const client = vllmClient();
    const greedy = { ...request, temperature: 0, seed: 1 };
    const a = await client.sample(greedy);
    const b = await client.sample({ ...greedy, seed: 2 });
    expect(a.tokenIds).toEqual(b.tokenIds);
    expect(a.logProbs).toEqual(await direct.computeLogProbs(scoreRequestOf(a, prompts)));
  });

  it('top-k / top-p sampling with raw_logprobs at temperature 1 matches the sampler', async () => {
    const filtered = { ...request, temperature: 1, topK: 5, topP: 0.9 };
    const actual = await vllmClient({ logprobsMode: 'raw_logprobs' }).sample(filtered);
    expectSameSamples(actual, await direct.sample(filtered));
  });

  it('text prompts are tokenised by the server; texts and prompt ids come back', async () => {
    const details = await vllmClient().sampleDetailed({
      prompts: ['hello', 'ab'],
      samplesPerPrompt: 2,
      maxNewTokens: 10,
      stopTokenIds: [EOS],
      seed: 5,
    });
    const expectedPrompts = ['hello', 'ab'].map(
      (t) => tokenizer.encode(t, { addSpecialTokens: true }).ids,
    );
    expect(details.promptTokenIds).toEqual(expectedPrompts);
    const T = details.seqLen;
    for (let r = 0; r < details.batchSize; r++) {
      let n = 0;
      while (n < T && details.responseMask[r * T + n] === 1) n++;
      const ids = Array.from(details.tokenIds.subarray(r * T, r * T + n));
      // vLLM leaves the stop token that ended a sample out of the text.
      const visible = details.finished[r] === 1 ? ids.slice(0, -1) : ids;
      expect(details.texts[r]).toBe(tokenizer.decode(visible));
    }
    const expected = await direct.sample({
      prompts: ragged(expectedPrompts.map((ids) => Array.from(ids))),
      samplesPerPrompt: 2,
      maxNewTokens: 10,
      stopTokenIds: [EOS],
      seed: 5,
    });
    expect(details.tokenIds).toEqual(expected.tokenIds);
  });

  it('lists the served model', async () => {
    expect(await vllmClient().listModels()).toEqual(['bigram']);
  });
});

describe('SGLang flavour against a /generate emulator', () => {
  for (const sglangSampling of ['batch', 'n'] as const) {
    it(`gives back exactly what the sampler made (sglangSampling ${sglangSampling})`, async () => {
      const client = new OpenAISamplingClient({
        baseUrl: sglang.url,
        flavor: 'sglang',
        sglangSampling,
        maxRetries: 0,
      });
      const filtered = { ...request, topK: 6, topP: 0.95 };
      expectSameSamples(await client.sample(filtered), await direct.sample(filtered));
    });
  }

  it('computeLogProbs through input log-probs equals the sampler', async () => {
    const client = new OpenAISamplingClient({
      baseUrl: sglang.url,
      flavor: 'sglang',
      maxRetries: 0,
    });
    const sampled = await client.sample({ ...request, temperature: 1 });
    const scoring = scoreRequestOf(sampled, prompts);
    const scored = await client.computeLogProbs(scoring);
    expect(scored).toEqual(await direct.computeLogProbs(scoring));
    expect(scored).toEqual(sampled.logProbs);
  });
});
