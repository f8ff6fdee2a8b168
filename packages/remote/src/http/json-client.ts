/**
 * A JSON-over-HTTP client on Node's global `fetch`: per-request timeouts, cancellation through
 * `AbortSignal`, an idempotency key per logical request (the same on every retry), and retries
 * with exponential back-off on 408, 409, 429, 5xx, timeouts and broken connections, honouring
 * `retry-after` / `retry-after-ms` and `x-should-retry`. Failures are typed errors of
 * `@hicra/spec` naming the endpoint, the status, the server's message and the request id.
 */
import { randomUUID } from 'node:crypto';
import { BackendUnavailableError, type HicraError, InvalidArgumentError } from '@hicra/spec';
import { encodeJson } from './json.js';
import {
  describeContext,
  errorFromSerialized,
  errorFromStatus,
  type RemoteErrorContext,
  remoteDetails,
  serializedHicraErrorOf,
  serverMessageOf,
} from './remote-errors.js';

const SOURCE = '@hicra/remote';

/** How failed attempts are retried. */
export interface RetryPolicy {
  /** Retries after the first attempt. Default 10 (the Tinker SDK's). */
  readonly maxRetries: number;
  /** Delay before the first retry; doubles per retry. Default 500 ms. */
  readonly baseDelayMs: number;
  /** Cap of the computed delay. Default 10 000 ms. */
  readonly maxDelayMs: number;
  /** A `retry-after` longer than this is not waited for; the computed delay is used. Default 60 000 ms. */
  readonly maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxRetries: 10,
  baseDelayMs: 500,
  maxDelayMs: 10_000,
  maxRetryAfterMs: 60_000,
});

/** Statuses retried by default. */
export const RETRYABLE_STATUSES: readonly number[] = [408, 409, 429, 500, 502, 503, 504];

export interface JsonHttpClientOptions {
  /** `http://127.0.0.1:8000`; request paths are appended. */
  readonly baseUrl: string;
  /** Sent with every request (`X-API-Key`, `User-Agent`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Per-attempt timeout, headers and body. Default 60 000 ms. */
  readonly timeoutMs?: number;
  readonly retry?: Partial<RetryPolicy>;
  /** Cancels every request of this client. */
  readonly signal?: AbortSignal;
  /** Replaces the global `fetch` (tests, proxies). */
  readonly fetch?: typeof fetch;
  /** The service, at the start of error messages. Default `HTTP`. */
  readonly label?: string;
  /** Prefix of generated idempotency keys. Default `hicra-retry-`. */
  readonly idempotencyPrefix?: string;
  /** Called before each retry (logging). */
  readonly onRetry?: (event: RetryEvent) => void;
}

/** One retry about to happen. */
export interface RetryEvent {
  readonly endpoint: string;
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  readonly delayMs: number;
  /** `HTTP 503`, `timeout after 60000 ms`, `connection error: ECONNREFUSED`. */
  readonly reason: string;
}

export interface JsonRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Appended to the base URL (`/api/v1/forward_backward`). */
  readonly path: string;
  /** A value (written with `encodeJson`: typed arrays allowed) or JSON text. */
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** Per-attempt timeout for this request. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /**
   * `X-Idempotency-Key`. Default: generated once for a non-GET request and sent on every
   * attempt. `false`: none.
   */
  readonly idempotencyKey?: string | false;
  /** Statuses handed back to the caller as responses (neither retried nor thrown). */
  readonly passStatuses?: readonly number[];
  /** Statuses never retried for this request (thrown at once). */
  readonly noRetryStatuses?: readonly number[];
  /** Override of the client's retry policy; `false`: a single attempt. */
  readonly retry?: Partial<RetryPolicy> | false;
}

export interface JsonResponse {
  readonly status: number;
  readonly headers: Headers;
  /** The parsed body; `undefined` for an empty one. */
  readonly body: unknown;
  /** The server's `x-request-id`, when it sent one. */
  readonly requestId: string | undefined;
  readonly idempotencyKey: string | undefined;
  readonly attempts: number;
}

/** Why an attempt failed, when it may be retried. */
interface Retryable {
  readonly reason: string;
  readonly retryAfterMs?: number;
  readonly error: HicraError;
}

/** A JSON client with retries; see the module comment. */
export class JsonHttpClient {
  readonly baseUrl: string;
  readonly label: string;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #timeoutMs: number;
  readonly #retry: RetryPolicy;
  readonly #signal: AbortSignal | undefined;
  readonly #fetch: typeof fetch;
  readonly #prefix: string;
  readonly #onRetry: ((event: RetryEvent) => void) | undefined;

  constructor(options: JsonHttpClientOptions) {
    if (typeof options?.baseUrl !== 'string' || !/^https?:\/\//.test(options.baseUrl)) {
      throw new InvalidArgumentError(
        `JsonHttpClient: baseUrl must be an http(s) URL, got ${JSON.stringify(options?.baseUrl)}`,
        { source: SOURCE, details: { argument: 'baseUrl' } },
      );
    }
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.label = options.label ?? 'HTTP';
    this.#headers = options.headers ?? {};
    this.#timeoutMs = checkPositive(options.timeoutMs ?? 60_000, 'timeoutMs');
    this.#retry = resolveRetry(options.retry);
    this.#signal = options.signal;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#prefix = options.idempotencyPrefix ?? 'hicra-retry-';
    this.#onRetry = options.onRetry;
  }

  /** A fresh idempotency key. */
  newIdempotencyKey(): string {
    return `${this.#prefix}${randomUUID()}`;
  }

  /**
   * Sends one logical request, retrying as the policy says. Resolves to the response for a
   * 2xx status or one of `passStatuses`; rejects with a typed error otherwise, or with the
   * signal's reason when cancelled.
   */
  async request(request: JsonRequest): Promise<JsonResponse> {
    const endpoint = `${request.method} ${request.path}`;
    const policy = request.retry === false ? { ...this.#retry, maxRetries: 0 } : this.#retry;
    const effective =
      request.retry === false || request.retry === undefined
        ? policy
        : resolveRetry({ ...policy, ...request.retry });
    const idempotencyKey =
      request.idempotencyKey === false
        ? undefined
        : (request.idempotencyKey ??
          (request.method === 'GET' ? undefined : this.newIdempotencyKey()));
    const body =
      request.body === undefined
        ? undefined
        : typeof request.body === 'string'
          ? request.body
          : encodeJson(request.body, { what: endpoint });
    const timeoutMs =
      request.timeoutMs === undefined
        ? this.#timeoutMs
        : checkPositive(request.timeoutMs, 'timeoutMs');
    const signals = [this.#signal, request.signal].filter((s): s is AbortSignal => s !== undefined);
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(signals);
      const outcome = await this.#attempt({
        request,
        endpoint,
        body,
        idempotencyKey,
        timeoutMs,
        signals,
        attempt,
      });
      if (!('retryable' in outcome)) return outcome.response;
      const { retryable } = outcome;
      if (attempt >= effective.maxRetries) {
        throw withAttempts(retryable.error, attempt + 1);
      }
      const delayMs = retryDelay(effective, attempt, retryable.retryAfterMs);
      this.#onRetry?.({ endpoint, attempt: attempt + 1, delayMs, reason: retryable.reason });
      await sleep(delayMs, signals);
    }
  }

  async #attempt(args: {
    request: JsonRequest;
    endpoint: string;
    body: string | undefined;
    idempotencyKey: string | undefined;
    timeoutMs: number;
    signals: readonly AbortSignal[];
    attempt: number;
  }): Promise<{ response: JsonResponse } | { retryable: Retryable }> {
    const { request, endpoint, body, idempotencyKey, timeoutMs, signals, attempt } = args;
    const controller = new AbortController();
    const timeout = new Error(`timeout after ${timeoutMs} ms`);
    const timer = setTimeout(() => controller.abort(timeout), timeoutMs);
    const forward = (signal: AbortSignal) => () => controller.abort(signal.reason);
    const listeners = signals.map((signal) => {
      const listener = forward(signal);
      signal.addEventListener('abort', listener, { once: true });
      return [signal, listener] as const;
    });
    const headers: Record<string, string> = {
      Accept: 'application/json',
      ...this.#headers,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...(idempotencyKey === undefined ? {} : { 'X-Idempotency-Key': idempotencyKey }),
      ...(request.headers ?? {}),
    };
    const context = (extra: Partial<RemoteErrorContext> = {}): RemoteErrorContext => ({
      endpoint,
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
      attempts: attempt + 1,
      ...extra,
    });
    try {
      let response: Response;
      let text: string;
      try {
        response = await this.#fetch(`${this.baseUrl}${request.path}`, {
          method: request.method,
          headers,
          ...(body === undefined ? {} : { body }),
          signal: controller.signal,
        });
        text = await response.text();
      } catch (error) {
        throwIfAborted(signals);
        const reason = controller.signal.aborted
          ? `timeout after ${timeoutMs} ms`
          : `connection error: ${causeOf(error)}`;
        return {
          retryable: {
            reason,
            error: new BackendUnavailableError(
              `${this.label} ${describeContext(context())}: ${reason}${controller.signal.aborted ? '' : ' (is the server running and reachable?)'}`,
              { source: SOURCE, details: remoteDetails(context()), cause: error },
            ),
          },
        };
      }
      const status = response.status;
      const requestId = response.headers.get('x-request-id') ?? undefined;
      let parsed: unknown;
      let parseError: Error | undefined;
      if (text.length > 0) {
        try {
          parsed = JSON.parse(text);
        } catch (error) {
          parseError = error as Error;
        }
      }
      const ok = status >= 200 && status < 300;
      if (ok || request.passStatuses?.includes(status)) {
        if (parseError !== undefined) {
          throw new BackendUnavailableError(
            `${this.label} ${describeContext(context({ status, ...(requestId ? { requestId } : {}) }))}: the response body is not valid JSON (${parseError.message}); it begins ${JSON.stringify(text.slice(0, 120))}`,
            {
              source: SOURCE,
              details: remoteDetails(
                context({
                  status,
                  ...(requestId ? { requestId } : {}),
                  serverMessage: text.slice(0, 500),
                }),
              ),
            },
          );
        }
        return {
          response: {
            status,
            headers: response.headers,
            body: parsed,
            requestId,
            idempotencyKey,
            attempts: attempt + 1,
          },
        };
      }
      const serverMessage = serverMessageOf(parsed, text);
      const errorContext = context({
        status,
        ...(requestId ? { requestId } : {}),
        ...(serverMessage === undefined ? {} : { serverMessage }),
      });
      const serialized = serializedHicraErrorOf(parsed);
      const error =
        serialized === undefined
          ? errorFromStatus(errorContext, this.label)
          : errorFromSerialized(serialized, errorContext, this.label);
      const shouldRetry = response.headers.get('x-should-retry');
      const retry =
        shouldRetry === 'true'
          ? true
          : shouldRetry === 'false'
            ? false
            : RETRYABLE_STATUSES.includes(status) || status > 504;
      if (!retry || request.noRetryStatuses?.includes(status)) throw error;
      const retryAfterMs = retryAfterOf(response.headers);
      return {
        retryable: {
          reason: `HTTP ${status}${serverMessage === undefined ? '' : ` (${serverMessage.slice(0, 120)})`}`,
          ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
          error,
        },
      };
    } finally {
      clearTimeout(timer);
      for (const [signal, listener] of listeners) signal.removeEventListener('abort', listener);
    }
  }
}

/** The delay before retry number `attempt + 1`. */
export function retryDelay(policy: RetryPolicy, attempt: number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined && retryAfterMs >= 0 && retryAfterMs <= policy.maxRetryAfterMs)
    return retryAfterMs;
  const base = Math.min(policy.baseDelayMs * 2 ** attempt, policy.maxDelayMs);
  return base * (1 - 0.25 * Math.random());
}

/** `retry-after-ms` (milliseconds) or `retry-after` (seconds or an HTTP date), in ms. */
export function retryAfterOf(headers: Headers): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms !== null) {
    const value = Number(ms);
    if (Number.isFinite(value) && value >= 0) return value;
  }
  const after = headers.get('retry-after');
  if (after === null) return undefined;
  const seconds = Number(after);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(after);
  if (Number.isFinite(date)) return Math.max(0, date - Date.now());
  return undefined;
}

/** Waits `ms`, or rejects with the first signal's reason when one aborts. */
export function sleep(ms: number, signals: readonly AbortSignal[] = []): Promise<void> {
  return new Promise((resolve, reject) => {
    for (const signal of signals) {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
    }
    const cleanup = () => {
      clearTimeout(timer);
      for (const signal of signals) signal.removeEventListener('abort', onAbort);
    };
    const onAbort = function (this: AbortSignal) {
      cleanup();
      reject(this.reason);
    };
    const timer = setTimeout(() => {
      cleanup();
      resolve();
    }, ms);
    for (const signal of signals) signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Throws the reason of the first aborted signal. */
export function throwIfAborted(signals: readonly (AbortSignal | undefined)[]): void {
  for (const signal of signals) if (signal?.aborted) throw signal.reason;
}

function resolveRetry(retry: Partial<RetryPolicy> | undefined): RetryPolicy {
  const policy = { ...DEFAULT_RETRY_POLICY, ...(retry ?? {}) };
  for (const key of ['maxRetries', 'baseDelayMs', 'maxDelayMs', 'maxRetryAfterMs'] as const) {
    const value = policy[key];
    if (!(typeof value === 'number' && Number.isFinite(value) && value >= 0)) {
      throw new InvalidArgumentError(
        `retry.${key} must be a finite number >= 0, got ${String(value)}`,
        { source: SOURCE, details: { argument: `retry.${key}` } },
      );
    }
  }
  return policy;
}

function checkPositive(value: number, name: string): number {
  if (!(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
    throw new InvalidArgumentError(`${name} must be a finite number > 0, got ${String(value)}`, {
      source: SOURCE,
      details: { argument: name },
    });
  }
  return value;
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.code) return cause.code;
  if (cause?.message) return cause.message;
  return error instanceof Error ? error.message : String(error);
}

/** The same error with the final attempt count in its details and message. */
function withAttempts(error: HicraError, attempts: number): HicraError {
  if (attempts <= 1) return error;
  const details = error.details as Record<string, unknown>;
  if (details.attempts !== attempts) {
    (error as { details: unknown }).details = { ...details, attempts };
  }
  if (!error.message.includes(`after ${attempts} attempts`)) {
    error.message = `${error.message} (gave up after ${attempts} attempts)`;
  }
  return error;
}
