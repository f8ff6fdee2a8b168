/**
 * JSON over HTTP with Node's global `fetch`: a bound on requests in flight, a timeout per
 * attempt, retries with exponential back-off on 408, 429, 5xx and broken connections
 * (honouring `retry-after`), and cancellation through `AbortSignal`s.
 */
import { setMaxListeners } from 'node:events';
import { InvalidArgumentError } from '@hicra/spec';
import { describeServerError, OpenAIHttpError, SOURCE } from './errors.js';

/** One retry about to happen, as reported to `onRetry`. */
export interface OpenAIRetryEvent {
  readonly method: string;
  readonly endpoint: string;
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  /** How long the client waits before the next attempt. */
  readonly delayMs: number;
  /** Why: `HTTP 503: <server message>`, `network: ...`. */
  readonly reason: string;
  readonly status?: number;
  /** The server's `retry-after`, in milliseconds, when it sent one. */
  readonly retryAfterMs?: number;
}

export interface JsonTransportOptions {
  /** Server root, e.g. `http://127.0.0.1:8000`; a trailing `/v1` is dropped. */
  readonly baseUrl: string;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  readonly apiKey?: string;
  /** Extra headers on every request. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Requests in flight at once (retries and their waits hold their slot). */
  readonly maxConcurrency: number;
  /** Retries after the first attempt. */
  readonly maxRetries: number;
  /** First back-off delay; doubles per retry, with jitter in [50%, 100%]. */
  readonly retryBaseDelayMs: number;
  /** Longest back-off; a `retry-after` longer than this fails the call instead of waiting. */
  readonly retryMaxDelayMs: number;
  /** Per attempt, headers and body included. */
  readonly timeoutMs: number;
  /** Aborts every call of this transport. */
  readonly signal?: AbortSignal;
  readonly onRetry?: (event: OpenAIRetryEvent) => void;
}

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/** Checks a positive integer option; `min` is 1 unless given. */
export function checkIntegerOption(name: string, value: number, min = 1): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new InvalidArgumentError(`option ${name} must be an integer >= ${min}, got ${value}`, {
      source: SOURCE,
      details: { option: name, value },
    });
  }
  return value;
}

/** Normalises a server root: no trailing `/`, no trailing `/v1`. */
export function normaliseBaseUrl(baseUrl: string): string {
  let parsed: URL;
  try {
    parsed = new URL(baseUrl);
  } catch {
    throw new InvalidArgumentError(
      `option baseUrl must be an absolute http(s) URL, got ${JSON.stringify(baseUrl)}`,
      { source: SOURCE, details: { option: 'baseUrl', value: baseUrl } },
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InvalidArgumentError(
      `option baseUrl must use http or https, got ${JSON.stringify(parsed.protocol)}`,
      { source: SOURCE, details: { option: 'baseUrl', value: baseUrl } },
    );
  }
  let text = `${parsed.origin}${parsed.pathname}`.replace(/\/+$/, '');
  if (text.endsWith('/v1')) text = text.slice(0, -3);
  return text;
}

/** A counting semaphore whose waiters can be aborted. */
class Slots {
  #free: number;
  readonly #waiting: Array<() => void> = [];

  constructor(size: number) {
    this.#free = size;
  }

  async acquire(signal: AbortSignal | undefined): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.#free > 0) {
      this.#free -= 1;
      return this.#releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const wake = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const at = this.#waiting.indexOf(wake);
        if (at >= 0) this.#waiting.splice(at, 1);
        reject(signal!.reason);
      };
      this.#waiting.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    return this.#releaser();
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free += 1;
    };
  }
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0) {
    signal?.throwIfAborted();
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `retry-after` as milliseconds: delta-seconds or an HTTP date; undefined when absent or bad. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * A signal that aborts with `signal` and accepts any number of listeners (a client's calls in
 * flight each listen once), or undefined.
 */
export function mirror(signal: AbortSignal | undefined): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  if (signal.aborted) controller.abort(signal.reason);
  else signal.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
  return controller.signal;
}

/**
 * A controller of its own that also aborts when `outer` does (for a call that fans out into
 * several requests and stops them all on the first failure), and the cleanup that stops
 * listening to `outer`.
 */
export function linkedController(outer: AbortSignal | undefined): {
  controller: AbortController;
  release: () => void;
} {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  if (outer === undefined) return { controller, release: () => {} };
  const onAbort = () => controller.abort(outer.reason);
  if (outer.aborted) controller.abort(outer.reason);
  else outer.addEventListener('abort', onAbort, { once: true });
  return { controller, release: () => outer.removeEventListener('abort', onAbort) };
}

/** The signals of several sources as one (the first to abort wins); with a cleanup. */
function combineSignals(signals: readonly (AbortSignal | undefined)[]): {
  signal: AbortSignal | undefined;
  dispose: () => void;
} {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  if (present.length === 0) return { signal: undefined, dispose: () => {} };
  if (present.length === 1) return { signal: present[0], dispose: () => {} };
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const listeners: Array<() => void> = [];
  for (const s of present) {
    if (s.aborted) {
      controller.abort(s.reason);
      break;
    }
    const onAbort = () => controller.abort(s.reason);
    s.addEventListener('abort', onAbort, { once: true });
    listeners.push(() => s.removeEventListener('abort', onAbort));
  }
  return {
    signal: controller.signal,
    dispose: () => {
      for (const off of listeners) off();
    },
  };
}

interface Exchange {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

class TimeoutMarker extends Error {}

function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return `${error.message}: ${typeof code === 'string' ? `${code} ` : ''}${cause.message}`;
  }
  return error.message;
}

/** A JSON client of one server. */
export class JsonTransport {
  readonly baseUrl: string;
  readonly #options: JsonTransportOptions;
  readonly #slots: Slots;
  /** Mirrors `options.signal`: every call listens here, not on the caller's signal. */
  readonly #clientSignal: AbortSignal | undefined;

  constructor(options: JsonTransportOptions) {
    this.baseUrl = normaliseBaseUrl(options.baseUrl);
    checkIntegerOption('maxConcurrency', options.maxConcurrency);
    checkIntegerOption('maxRetries', options.maxRetries, 0);
    checkIntegerOption('retryBaseDelayMs', options.retryBaseDelayMs, 0);
    checkIntegerOption('retryMaxDelayMs', options.retryMaxDelayMs, 0);
    checkIntegerOption('timeoutMs', options.timeoutMs);
    this.#options = options;
    this.#slots = new Slots(options.maxConcurrency);
    this.#clientSignal = mirror(options.signal);
  }

  /** The full URL of `path` (which starts with `/`). */
  url(path: string): string {
    return `${this.baseUrl}${path}`;
  }

  /** POSTs `body` as JSON and resolves to the parsed JSON answer (any 2xx). */
  post(path: string, body: unknown, signal?: AbortSignal): Promise<unknown> {
    return this.#call('POST', path, JSON.stringify(body), signal);
  }

  /** GETs `path` and resolves to the parsed JSON answer. */
  get(path: string, signal?: AbortSignal): Promise<unknown> {
    return this.#call('GET', path, undefined, signal);
  }

  async #call(
    method: string,
    path: string,
    body: string | undefined,
    callSignal: AbortSignal | undefined,
  ): Promise<unknown> {
    const combined = combineSignals([this.#clientSignal, callSignal]);
    const signal = combined.signal;
    try {
      const release = await this.#slots.acquire(signal);
      try {
        return await this.#withRetries(method, this.url(path), body, signal);
      } finally {
        release();
      }
    } finally {
      combined.dispose();
    }
  }

  async #withRetries(
    method: string,
    endpoint: string,
    body: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    const { maxRetries } = this.#options;
    for (let attempt = 1; ; attempt++) {
      let exchange: Exchange;
      try {
        exchange = await this.#attempt(method, endpoint, body, signal);
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        if (error instanceof TimeoutMarker) {
          throw new OpenAIHttpError({
            kind: 'timeout',
            method,
            endpoint,
            message: `no complete response within timeoutMs = ${this.#options.timeoutMs} ms`,
            attempts: attempt,
          });
        }
        const reason = describeNetworkError(error);
        if (attempt > maxRetries) {
          throw new OpenAIHttpError({
            kind: 'network',
            method,
            endpoint,
            message: `network error: ${reason}`,
            attempts: attempt,
            cause: error,
          });
        }
        await this.#wait(
          method,
          endpoint,
          attempt,
          `network: ${reason}`,
          undefined,
          undefined,
          signal,
        );
        continue;
      }
      const { status, headers, text } = exchange;
      if (status >= 200 && status < 300) {
        try {
          return JSON.parse(text);
        } catch (error) {
          const start = text.length > 200 ? `${text.slice(0, 200)}...` : text;
          throw new OpenAIHttpError({
            kind: 'bad-response',
            method,
            endpoint,
            status,
            message: `the response body is not valid JSON (${(error as Error).message}; ${text.length} characters${text.length === 0 ? '' : `, starting ${JSON.stringify(start)}`})`,
            attempts: attempt,
          });
        }
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const info = describeServerError(parsed, text);
      const typeAndParam = `${info.type === undefined ? '' : ` ${info.type}`}${info.param === undefined ? '' : ` (param ${info.param})`}`;
      const retryAfterMs = parseRetryAfter(headers.get('retry-after'));
      const fail = (extra = '') =>
        new OpenAIHttpError({
          kind: 'http-status',
          method,
          endpoint,
          status,
          message: `${typeAndParam.trimStart()}${typeAndParam ? ': ' : ''}${info.message}${extra}`,
          serverMessage: info.message,
          ...(info.type === undefined ? {} : { serverType: info.type }),
          ...(info.param === undefined ? {} : { param: info.param }),
          attempts: attempt,
        });
      if (!RETRYABLE_STATUS.has(status) || attempt > maxRetries) throw fail();
      if (retryAfterMs !== undefined && retryAfterMs > this.#options.retryMaxDelayMs) {
        throw fail(
          `; the server asked to retry after ${retryAfterMs} ms, longer than retryMaxDelayMs = ${this.#options.retryMaxDelayMs} ms`,
        );
      }
      await this.#wait(
        method,
        endpoint,
        attempt,
        `HTTP ${status}: ${info.message}`,
        status,
        retryAfterMs,
        signal,
      );
    }
  }

  async #wait(
    method: string,
    endpoint: string,
    attempt: number,
    reason: string,
    status: number | undefined,
    retryAfterMs: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const { retryBaseDelayMs, retryMaxDelayMs } = this.#options;
    const backoff = Math.min(retryMaxDelayMs, retryBaseDelayMs * 2 ** (attempt - 1));
    const delayMs = retryAfterMs ?? Math.round(backoff * (0.5 + 0.5 * Math.random()));
    this.#options.onRetry?.({
      method,
      endpoint,
      attempt,
      delayMs,
      reason,
      ...(status === undefined ? {} : { status }),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
    await sleep(delayMs, signal);
  }

  async #attempt(
    method: string,
    endpoint: string,
    body: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Exchange> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new TimeoutMarker()), this.#options.timeoutMs);
    const onAbort = () => controller.abort(signal!.reason);
    if (signal?.aborted) controller.abort(signal.reason);
    else signal?.addEventListener('abort', onAbort, { once: true });
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...this.#options.headers,
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.#options.apiKey !== undefined)
      headers['authorization'] = `Bearer ${this.#options.apiKey}`;
    try {
      const response = await fetch(endpoint, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        signal: controller.signal,
      });
      const text = await response.text();
      return { status: response.status, headers: response.headers, text };
    } catch (error) {
      if (controller.signal.aborted && controller.signal.reason instanceof TimeoutMarker)
        throw controller.signal.reason;
      throw error;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }
}
