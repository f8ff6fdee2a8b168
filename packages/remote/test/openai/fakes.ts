/**
 * Test doubles: a character tokenizer and a deterministic bigram "model" behind
 * `SamplingClientV1`, pure JS. Row r of a sample request draws from its own generator seeded
 * `seed + r` (as vLLM seeds the j-th of `n` samples `seed + j`), so a request split per prompt
 * with seeds `seed + p·G` draws exactly what the whole request draws.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  EncodingV1,
  SampleRequestV1,
  SampleResultV1,
  SamplingClientV1,
  ScoreRequestV1,
  TokenizerV1,
} from '@hicra/spec';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz .,!?0123456789';
export const EOS = 0;
export const BOS = 1;
export const VOCAB = ALPHABET.length + 2;

/** One id per character; 0 is `<eos>`, 1 is `<bos>`. */
export class CharTokenizer implements TokenizerV1 {
  readonly vocabSize = VOCAB;
  readonly specialTokens = { eos: EOS, bos: BOS };

  encode(text: string, options: { readonly addSpecialTokens?: boolean } = {}): EncodingV1 {
    const ids: number[] = [];
    const spans: number[] = [];
    if (options.addSpecialTokens) {
      ids.push(BOS);
      spans.push(-1, -1);
    }
    for (let i = 0; i < text.length; i++) {
      const at = ALPHABET.indexOf(text[i]!);
      if (at < 0) throw new Error(`CharTokenizer: no token for ${JSON.stringify(text[i])}`);
      ids.push(at + 2);
      spans.push(i, i + 1);
    }
    return { ids: Int32Array.from(ids), spans: Int32Array.from(spans) };
  }

  decode(ids: ArrayLike<number>, options: { readonly skipSpecialTokens?: boolean } = {}): string {
    const skip = options.skipSpecialTokens ?? true;
    let text = '';
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k]!;
      if (id === EOS) text += skip ? '' : '<eos>';
      else if (id === BOS) text += skip ? '' : '<bos>';
      else text += ALPHABET[id - 2] ?? '?';
    }
    return text;
  }
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seed32(value: number): number {
  return ((value % 4294967296) ^ Math.floor(value / 4294967296)) >>> 0;
}

export interface BigramOptions {
  /** Milliseconds each call waits (to overlap calls). Default 0. */
  readonly delayMs?: number;
  readonly padId?: number;
}

/** A seeded bigram table: the next-token logits depend on the previous token only. */
export class BigramSampler implements SamplingClientV1 {
  readonly vocabSize = VOCAB;
  readonly #logits: Float64Array;
  readonly #delayMs: number;
  readonly #padId: number;
  calls = 0;
  inflight = 0;
  peak = 0;
  /** Every sample request seen, in order. */
  readonly requests: SampleRequestV1[] = [];

  constructor(options: BigramOptions = {}) {
    const rng = mulberry32(20251207);
    this.#logits = Float64Array.from({ length: VOCAB * VOCAB }, () => (rng() - 0.5) * 6);
    this.#delayMs = options.delayMs ?? 0;
    this.#padId = options.padId ?? 0;
  }

  /** `log_softmax(logits[prev] / temperature)` (temperature 0 scores at 1). */
  logSoftmax(prev: number, temperature: number): Float64Array {
    const t = temperature === 0 ? 1 : temperature;
    const row = this.#logits.subarray(prev * VOCAB, (prev + 1) * VOCAB);
    const scaled = Float64Array.from(row, (x) => x / t);
    let max = -Infinity;
    for (const x of scaled) max = Math.max(max, x);
    let sum = 0;
    for (const x of scaled) sum += Math.exp(x - max);
    const lse = max + Math.log(sum);
    return Float64Array.from(scaled, (x) => x - lse);
  }

  async #enter(): Promise<void> {
    this.calls += 1;
    this.inflight += 1;
    this.peak = Math.max(this.peak, this.inflight);
    if (this.#delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.#delayMs));
  }

  async sample(request: SampleRequestV1): Promise<SampleResultV1> {
    this.requests.push(request);
    await this.#enter();
    try {
      const G = request.samplesPerPrompt;
      const T = request.maxNewTokens;
      const P = request.prompts.offsets.length - 1;
      const B = P * G;
      const temperature = request.temperature ?? 1;
      const topK = request.topK ?? 0;
      const topP = request.topP ?? 1;
      const stops = new Set(request.stopTokenIds ?? []);
      const promptIndex = new Int32Array(B);
      const tokenIds = new Int32Array(B * T).fill(this.#padId);
      const responseMask = new Uint8Array(B * T);
      const logProbs = new Float32Array(B * T);
      const finished = new Uint8Array(B);
      for (let r = 0; r < B; r++) {
        const p = Math.floor(r / G);
        promptIndex[r] = p;
        const rng = mulberry32(seed32(request.seed + r));
        let prev = request.prompts.tokenIds[request.prompts.offsets[p + 1]! - 1]!;
        for (let t = 0; t < T; t++) {
          const lp = this.logSoftmax(prev, temperature);
          const order = Array.from(lp.keys()).sort((a, b) => lp[b]! - lp[a]! || a - b);
          let token: number;
          if (temperature === 0) token = order[0]!;
          else {
            let kept = topK > 0 ? order.slice(0, topK) : order;
            if (topP < 1) {
              let mass = 0;
              const nucleus: number[] = [];
              for (const id of kept) {
                nucleus.push(id);
                mass += Math.exp(lp[id]!);
                if (mass >= topP) break;
              }
              kept = nucleus;
            }
            const total = kept.reduce((s, id) => s + Math.exp(lp[id]!), 0);
            let u = rng() * total;
            token = kept[kept.length - 1]!;
            for (const id of kept) {
              u -= Math.exp(lp[id]!);
              if (u <= 0) {
                token = id;
                break;
              }
            }
          }
          tokenIds[r * T + t] = token;
          responseMask[r * T + t] = 1;
          logProbs[r * T + t] = lp[token]!;
          prev = token;
          if (stops.has(token)) {
            finished[r] = 1;
            break;
          }
        }
      }
      return { batchSize: B, seqLen: T, promptIndex, tokenIds, responseMask, logProbs, finished };
    } finally {
      this.inflight -= 1;
    }
  }

  async computeLogProbs(request: ScoreRequestV1): Promise<Float32Array> {
    await this.#enter();
    try {
      const { batchSize: B, seqLen: T } = request;
      const temperature = request.temperature ?? 1;
      const out = new Float32Array(B * T);
      for (let r = 0; r < B; r++) {
        let prev = request.prompts.tokenIds[request.prompts.offsets[r + 1]! - 1]!;
        for (let t = 0; t < T; t++) {
          if (request.responseMask[r * T + t] !== 1) continue;
          const token = request.tokenIds[r * T + t]!;
          out[r * T + t] = this.logSoftmax(prev, temperature)[token]!;
          prev = token;
        }
      }
      return out;
    } finally {
      this.inflight -= 1;
    }
  }
}

/** Ragged ids from lists. */
export function ragged(sequences: readonly (readonly number[])[]): {
  tokenIds: Int32Array;
  offsets: Int32Array;
} {
  const offsets = new Int32Array(sequences.length + 1);
  sequences.forEach((s, i) => {
    offsets[i + 1] = offsets[i]! + s.length;
  });
  return { tokenIds: Int32Array.from(sequences.flat()), offsets };
}

/** A loopback node:http server answering with `handler`; `close()` drops every connection. */
export interface ScriptedServer {
  readonly url: string;
  /** Bodies received, parsed as JSON where they are. */
  readonly requests: {
    method: string;
    url: string;
    headers: IncomingMessage['headers'];
    body: unknown;
  }[];
  close(): Promise<void>;
}

export type ScriptedHandler = (
  request: {
    method: string;
    url: string;
    headers: IncomingMessage['headers'];
    body: unknown;
    index: number;
  },
  response: ServerResponse,
) => void | Promise<void>;

export async function startScriptedServer(handler: ScriptedHandler): Promise<ScriptedServer> {
  const requests: ScriptedServer['requests'] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = text.length > 0 ? JSON.parse(text) : undefined;
      } catch {
        // keep the raw text
      }
      const entry = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      requests.push(entry);
      Promise.resolve(handler({ ...entry, index: requests.length - 1 }, res)).catch((error) => {
        res.statusCode = 599;
        res.end(String(error));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Sends `body` as JSON with `status` (and extra headers). */
export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}

/**
 * SGLang's native `/generate` over a sampling client, as far as the client uses it: single or
 * batched `input_ids`, `sampling_params` (one or per item, `n`), `return_logprob`,
 * `logprob_start_len`. The matched stop token is part of `output_ids`.
 */
export async function startSglangEmulator(sampler: BigramSampler): Promise<ScriptedServer> {
  return startScriptedServer(async (request, response) => {
    if (request.url !== '/generate' || request.method !== 'POST') {
      sendJson(response, 404, { detail: 'Not Found' });
      return;
    }
    const body = request.body as Record<string, unknown>;
    const input = body['input_ids'] as number[] | number[][];
    const batched = Array.isArray(input[0]);
    const prompts = (batched ? input : [input]) as number[][];
    const params = body['sampling_params'] as Record<string, unknown> | Record<string, unknown>[];
    const start = (body['logprob_start_len'] as number | undefined) ?? -1;
    const results: unknown[] = [];
    for (let i = 0; i < prompts.length; i++) {
      const prompt = prompts[i]!;
      const sp = (Array.isArray(params) ? params[i] : params) as Record<string, number | number[]>;
      const n = (sp['n'] as number | undefined) ?? 1;
      const sampled = await sampler.sample({
        prompts: ragged([prompt]),
        samplesPerPrompt: n,
        maxNewTokens: sp['max_new_tokens'] as number,
        temperature: sp['temperature'] as number,
        topK: Math.max(0, (sp['top_k'] as number | undefined) ?? 0),
        topP: (sp['top_p'] as number | undefined) ?? 1,
        stopTokenIds: (sp['stop_token_ids'] as number[] | undefined) ?? [],
        seed: (sp['sampling_seed'] as number | undefined) ?? 0,
      });
      const T = sampled.seqLen;
      for (let j = 0; j < n; j++) {
        let length = 0;
        while (length < T && sampled.responseMask[j * T + length] === 1) length++;
        const ids = Array.from(sampled.tokenIds.subarray(j * T, j * T + length));
        const lps = Array.from(sampled.logProbs.subarray(j * T, j * T + length));
        const inputLogprobs: [number | null, number, null][] = [];
        if (start >= 0) {
          for (let k = start; k < prompt.length; k++) {
            inputLogprobs.push([
              k === 0 ? null : sampler.logSoftmax(prompt[k - 1]!, 1)[prompt[k]!]!,
              prompt[k]!,
              null,
            ]);
          }
        }
        results.push({
          text: ids.map((id) => String(id)).join(' '),
          output_ids: ids,
          meta_info: {
            id: `r${results.length}`,
            finish_reason:
              sampled.finished[j] === 1
                ? { type: 'stop', matched: ids[ids.length - 1] }
                : { type: 'length', length },
            prompt_tokens: prompt.length,
            completion_tokens: length,
            cached_tokens: 0,
            input_token_logprobs: inputLogprobs,
            output_token_logprobs: ids.map((id, k) => [lps[k], id, null]),
            output_token_logprobs_length: length,
          },
        });
      }
    }
    sendJson(response, 200, results.length === 1 && !batched ? results[0] : results);
  });
}
