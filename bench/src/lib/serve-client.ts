/**
 * The HTTP client of `bench:serve`, in a worker thread: the server's thread then does the
 * server's work only (as with a client in another process), and a response is read as soon as
 * the server writes it. Holds one `OpenAISamplingClient` and one `TinkerSamplingClient`; each
 * `run` sends all its requests at once through one of them and times each.
 *
 * Started by {@link startClientWorker}, which registers tsx in the worker first (a worker does
 * not inherit the `--import tsx` hooks of the main thread for its entry module).
 */
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { OpenAISamplingClient, TinkerSamplingClient } from '@hicra/remote';
import type { SampleRequestV1, SampleResultV1 } from '@hicra/spec';

export type HttpMode = 'openai' | 'tinker';

export interface OpenMessage {
  readonly type: 'open';
  readonly url: string;
  readonly model: string;
  /** `maxConcurrency` (OpenAI) and `maxConcurrentRequests` (Tinker). */
  readonly concurrency: number;
  readonly modes: readonly HttpMode[];
}

export interface RunMessage {
  readonly type: 'run';
  readonly mode: HttpMode;
  readonly requests: readonly SampleRequestV1[];
}

export interface CloseMessage {
  readonly type: 'close';
}

export type ToWorker = OpenMessage | RunMessage | CloseMessage;

export interface RunReply {
  readonly type: 'ran';
  readonly wallMs: number;
  readonly latenciesMs: number[];
  readonly results: (SampleResultV1 | undefined)[];
  readonly errors: string[];
  readonly retries: number;
}

export type FromWorker =
  | { readonly type: 'opened' }
  | RunReply
  | { readonly type: 'closed'; readonly errors: string[] }
  | { readonly type: 'failed'; readonly message: string };

/** The main thread's handle: one message at a time, each answered once. */
export interface ClientWorker {
  open(message: Omit<OpenMessage, 'type'>): Promise<void>;
  run(mode: HttpMode, requests: readonly SampleRequestV1[]): Promise<RunReply>;
  /** Disposes the clients (their errors, if any) and ends the worker. */
  close(): Promise<string[]>;
}

export function startClientWorker(): ClientWorker {
  const tsx = import.meta.resolve('tsx/esm/api');
  const self = import.meta.url;
  const worker = new Worker(
    `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(self)}); });`,
    { eval: true },
  );
  let pending: { resolve: (m: FromWorker) => void; reject: (e: Error) => void } | undefined;
  let failure: Error | undefined;
  const fail = (error: Error) => {
    failure ??= error;
    pending?.reject(error);
    pending = undefined;
  };
  worker.on('message', (message: FromWorker) => {
    const waiting = pending;
    pending = undefined;
    if (message.type === 'failed') waiting?.reject(new Error(`client worker: ${message.message}`));
    else waiting?.resolve(message);
  });
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`the client worker exited (code ${code})`)));
  const ask = (message: ToWorker): Promise<FromWorker> => {
    if (failure !== undefined) return Promise.reject(failure);
    if (pending !== undefined)
      return Promise.reject(new Error('client worker: one call at a time'));
    return new Promise((resolve, reject) => {
      pending = { resolve, reject };
      worker.postMessage(message);
    });
  };
  return {
    async open(message) {
      await ask({ type: 'open', ...message });
    },
    async run(mode, requests) {
      const reply = await ask({ type: 'run', mode, requests });
      if (reply.type !== 'ran') throw new Error(`client worker: unexpected reply ${reply.type}`);
      return reply;
    },
    async close() {
      try {
        const reply = failure === undefined ? await ask({ type: 'close' }) : undefined;
        return reply?.type === 'closed' ? reply.errors : [];
      } finally {
        worker.removeAllListeners('exit');
        await worker.terminate();
      }
    },
  };
}

// --- the worker side ----------------------------------------------------------------------------

function serveInWorker(): void {
  const port = parentPort!;
  const clients = new Map<HttpMode, OpenAISamplingClient | TinkerSamplingClient>();
  let retries = 0;
  const onRetry = () => {
    retries++;
  };
  const handle = async (message: ToWorker): Promise<FromWorker> => {
    switch (message.type) {
      case 'open': {
        if (message.modes.includes('openai')) {
          clients.set(
            'openai',
            new OpenAISamplingClient({
              baseUrl: message.url,
              model: message.model,
              maxConcurrency: message.concurrency,
              // The word tokenizer has an EOS (id 2), which the server would stop at; the
              // in-process requests have no stop token, so neither do these.
              ignoreEos: true,
              onRetry,
            }),
          );
        }
        if (message.modes.includes('tinker')) {
          clients.set(
            'tinker',
            await TinkerSamplingClient.create({
              baseUrl: message.url,
              baseModel: message.model,
              maxConcurrentRequests: message.concurrency,
              onRetry,
            }),
          );
        }
        return { type: 'opened' };
      }
      case 'run': {
        const client = clients.get(message.mode);
        if (client === undefined) throw new Error(`no ${message.mode} client was opened`);
        const { requests } = message;
        retries = 0;
        const errors: string[] = [];
        const latenciesMs = new Array<number>(requests.length).fill(0);
        const results = new Array<SampleResultV1 | undefined>(requests.length);
        const start = performance.now();
        await Promise.all(
          requests.map(async (request, i) => {
            const t0 = performance.now();
            try {
              results[i] = await client.sample(request);
            } catch (error) {
              errors.push(`request ${i}: ${(error as Error).message}`);
            }
            latenciesMs[i] = performance.now() - t0;
          }),
        );
        const wallMs = performance.now() - start;
        return { type: 'ran', wallMs, latenciesMs, results, errors, retries };
      }
      case 'close': {
        const errors: string[] = [];
        for (const [mode, client] of clients) {
          try {
            await client.dispose();
          } catch (error) {
            errors.push(`disposing the ${mode} client: ${(error as Error).message}`);
          }
        }
        clients.clear();
        return { type: 'closed', errors };
      }
    }
  };
  port.on('message', (message: ToWorker) => {
    handle(message).then(
      (reply) => port.postMessage(reply),
      (error: unknown) =>
        port.postMessage({
          type: 'failed',
          message: error instanceof Error ? error.message : String(error),
        }),
    );
  });
}

if (!isMainThread && parentPort !== null) serveInWorker();
