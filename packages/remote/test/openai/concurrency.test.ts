/**
 * 64 concurrent requests from one client to createOpenAICompletionsServer over loopback: no
 * errors, every answer exactly what the sampler makes, and the calls really overlap.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createOpenAICompletionsServer,
  type OpenAICompletionsServer,
  OpenAISamplingClient,
} from '../../src/index.js';
import { BigramSampler, CharTokenizer, EOS, ragged } from './fakes.js';

const sampler = new BigramSampler({ delayMs: 10 });
const direct = new BigramSampler();
let server: OpenAICompletionsServer;

beforeAll(async () => {
  server = await createOpenAICompletionsServer({
    sampler,
    tokenizer: new CharTokenizer(),
    model: 'bigram',
  });
});

afterAll(async () => {
  await server.close();
});

describe('concurrency', () => {
  it('serves 64 concurrent sample calls of one client without errors', {
    timeout: 20_000,
  }, async () => {
    const client = new OpenAISamplingClient({
      baseUrl: server.url,
      maxConcurrency: 64,
      maxRetries: 0,
      timeoutMs: 15_000,
    });
    const requests = Array.from({ length: 64 }, (_, k) => ({
      prompts: ragged([[2 + (k % 30), 3 + (k % 7)]]),
      samplesPerPrompt: 2,
      maxNewTokens: 8,
      temperature: 0.9,
      stopTokenIds: [EOS],
      seed: 1000 + k,
    }));
    const results = await Promise.all(requests.map((request) => client.sample(request)));
    for (let k = 0; k < 64; k++) {
      const expected = await direct.sample(requests[k]!);
      expect(results[k]!.tokenIds).toEqual(expected.tokenIds);
      expect(results[k]!.logProbs).toEqual(expected.logProbs);
    }
    expect(sampler.calls).toBe(64);
    expect(sampler.peak).toBeGreaterThan(1);
    await client.dispose();
  });
});
