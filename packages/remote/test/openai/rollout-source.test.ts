/**
 * OpenAIRolloutSource: the batch layout of the trainer's SamplerRolloutSource, with and
 * without a tokenizer.
 */
import { decodeWithSpans, validateRolloutBatch } from '@hicra/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createOpenAICompletionsServer,
  type OpenAICompletionsServer,
  OpenAIRolloutSource,
  OpenAISamplingClient,
} from '../../src/index.js';
import { BigramSampler, CharTokenizer, EOS, ragged } from './fakes.js';

const tokenizer = new CharTokenizer();
const direct = new BigramSampler();
let server: OpenAICompletionsServer;
let client: OpenAISamplingClient;

beforeAll(async () => {
  server = await createOpenAICompletionsServer({
    sampler: new BigramSampler(),
    tokenizer,
    model: 'bigram',
  });
  client = new OpenAISamplingClient({ baseUrl: server.url, maxRetries: 0 });
});

afterAll(async () => {
  await server.close();
});

const given = Int32Array.from([1, 5, 6, 7]);
const request = {
  prompts: [
    { groupId: 10, text: 'hello' },
    { groupId: 20, text: 'ignored: ids given', tokenIds: given },
  ],
  samplesPerPrompt: 3,
  maxNewTokens: 12,
  temperature: 0.7,
  stopTokenIds: [EOS],
  seed: 42,
};

describe('OpenAIRolloutSource', () => {
  it('with a tokenizer: texts and spans as the trainer computes them, log-probs of the server', async () => {
    const source = new OpenAIRolloutSource(() => client, { tokenizer });
    expect(source.name).toBe('openai-compatible');
    expect(source.missing).toEqual([]);
    const batch = await source.generate(request);
    validateRolloutBatch(batch, { require: ['responseTexts', 'tokenSpans', 'oldLogProbs'] });
    const hello = Array.from(tokenizer.encode('hello', { addSpecialTokens: true }).ids);
    const expected = await direct.sample({
      prompts: ragged([hello, Array.from(given)]),
      samplesPerPrompt: 3,
      maxNewTokens: 12,
      temperature: 0.7,
      stopTokenIds: [EOS],
      seed: 42,
    });
    expect(Array.from(batch.groupIds)).toEqual([10, 10, 10, 20, 20, 20]);
    expect(Array.from(batch.prompts.groupIds)).toEqual([10, 20]);
    expect(batch.prompts.texts).toEqual(['hello', 'ignored: ids given']);
    expect(Array.from(batch.prompts.tokenIds!)).toEqual([...hello, ...given]);
    expect(Array.from(batch.prompts.tokenOffsets!)).toEqual([0, hello.length, hello.length + 4]);
    expect(batch.tokenIds).toEqual(expected.tokenIds);
    expect(batch.responseMask).toEqual(expected.responseMask);
    expect(batch.oldLogProbs).toEqual(expected.logProbs);
    expect(batch.rewards).toEqual(new Float32Array(6));
    const T = batch.seqLen;
    for (let r = 0; r < 6; r++) {
      let n = 0;
      while (n < T && batch.responseMask[r * T + n] === 1) n++;
      const decoded = decodeWithSpans(tokenizer, batch.tokenIds.subarray(r * T, r * T + n));
      expect(batch.responseTexts![r]).toBe(decoded.text);
      expect(batch.tokenSpans!.subarray(r * T * 2, r * T * 2 + n * 2)).toEqual(decoded.spans);
      expect(Array.from(batch.tokenSpans!.subarray(r * T * 2 + n * 2, (r + 1) * T * 2))).toEqual(
        new Array((T - n) * 2).fill(-1),
      );
    }
  });

  it('without a tokenizer: the server tokenises text prompts and decodes; no spans, and it says so', async () => {
    const source = new OpenAIRolloutSource(client);
    expect(source.missing).toHaveLength(1);
    expect(source.missing[0]).toMatch(/^tokenSpans: no tokenizer/);
    const batch = await source.generate(request);
    validateRolloutBatch(batch, { require: ['responseTexts', 'oldLogProbs'] });
    expect(batch.tokenSpans).toBeUndefined();
    const hello = Array.from(tokenizer.encode('hello', { addSpecialTokens: true }).ids);
    // The server reported the ids of the text prompt (return_token_ids).
    expect(Array.from(batch.prompts.tokenIds!)).toEqual([...hello, ...given]);
    const T = batch.seqLen;
    for (let r = 0; r < 6; r++) {
      let n = 0;
      while (n < T && batch.responseMask[r * T + n] === 1) n++;
      const ids = Array.from(batch.tokenIds.subarray(r * T, r * T + n));
      const finished = ids[ids.length - 1] === EOS;
      expect(batch.responseTexts![r]).toBe(tokenizer.decode(finished ? ids.slice(0, -1) : ids));
    }
  });
});
