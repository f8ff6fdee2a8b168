/**
 * A Tinker session: the HTTP client, the session id and its heartbeat, the per-session
 * counters, and futures (submit, then poll `retrieve_future`). Training and sampling clients
 * of one session share it.
 */
import { BackendUnavailableError, type HicraError, InvalidArgumentError } from '@hicra/spec';
import { encodeJson } from '../http/json.js';
import {
  JsonHttpClient,
  type JsonRequest,
  type JsonResponse,
  type RetryEvent,
  type RetryPolicy,
  sleep,
  throwIfAborted,
} from '../http/json-client.js';
import {
  errorFromSerialized,
  isSerializedHicraError,
  type RemoteErrorContext,
} from '../http/remote-errors.js';
import { readHicraCapabilities, type TinkerServerFeatures } from './capabilities.js';
import {
  TINKER_PATHS,
  TINKER_SDK_VERSION,
  type TinkerRequestType,
  type WireCreateSessionResponse,
  type WireUntypedFuture,
} from './wire.js';

const SOURCE = '@hicra/remote';
const LABEL = 'Tinker';

/** The hosted service, the Tinker SDK's default. */
export const TINKER_DEFAULT_BASE_URL = 'https://tinker.thinkingmachines.dev/services/tinker-prod';

/** How to reach a Tinker server. */
export interface TinkerConnectionOptions {
  /** Default: `TINKER_BASE_URL`, else the hosted service. Paths `/api/v1/...` are appended. */
  readonly baseUrl?: string;
  /** Sent as `X-API-Key`. Default: `TINKER_API_KEY`; none when neither is set. */
  readonly apiKey?: string;
  /** Per HTTP request (each attempt). Default 60 000 ms. */
  readonly timeoutMs?: number;
  /** Per `retrieve_future` poll (a server may hold it open). Default 45 000 ms. */
  readonly pollTimeoutMs?: number;
  /** Longest wait for one future's result; 0 (default): no limit beyond the signal. */
  readonly futureTimeoutMs?: number;
  /** Retries of 408, 409, 429, 5xx, timeouts and broken connections. */
  readonly retry?: Partial<RetryPolicy>;
  /** `session_heartbeat` period. Default 10 000 ms (the SDK's); 0: none. */
  readonly heartbeatIntervalMs?: number;
  /** Cancels every request of the session (in-flight calls reject with its reason). */
  readonly signal?: AbortSignal;
  /** Replaces the global `fetch`. */
  readonly fetch?: typeof fetch;
  /** `sdk_version` sent in `client/config` and `create_session`. Default `0.24.1`. */
  readonly sdkVersion?: string;
  /** Concurrent requests of one `sample` / `computeLogProbs` call. Default 32. */
  readonly maxConcurrentRequests?: number;
  /** Called before each retry. */
  readonly onRetry?: (event: RetryEvent) => void;
  /** Called with session warnings and failed heartbeats. */
  readonly onWarning?: (message: string, error?: unknown) => void;
}

/** A new session's settings. */
export interface TinkerSessionOptions extends TinkerConnectionOptions {
  readonly tags?: readonly string[];
  readonly userMetadata?: Readonly<Record<string, unknown>>;
  readonly projectId?: string;
  /** Attach to this existing session instead of creating one. */
  readonly sessionId?: string;
}

/** Per-call options of the remote clients. */
export interface TinkerCallOptions {
  /** Cancels this call: it rejects with the signal's reason (the server may still run it). */
  readonly signal?: AbortSignal;
}

/** A future-returning call. */
export interface FutureCall {
  /** `/api/v1/forward_backward`. */
  readonly path: string;
  /** The body (encoded once, sent again on a 410 re-submission). */
  readonly body: unknown;
  readonly requestType: TinkerRequestType;
  readonly signal?: AbortSignal;
  readonly headers?: Readonly<Record<string, string>>;
  readonly noRetryStatuses?: readonly number[];
  /** Called once, when the first submission has been answered (or failed). */
  readonly onSubmitted?: () => void;
}

/** A future's outcome. */
export interface FutureResult {
  readonly result: unknown;
  readonly requestId: string;
  readonly modelId: string | null;
}

/** See the module comment. Create with {@link TinkerSession.create}. */
export class TinkerSession {
  readonly http: JsonHttpClient;
  readonly sessionId: string;
  /** The server's `client/config` answer (empty when it has none). */
  readonly clientConfig: Readonly<Record<string, unknown>>;
  readonly #options: TinkerConnectionOptions;
  readonly #pollTimeoutMs: number;
  readonly #futureTimeoutMs: number;
  readonly #limit: Semaphore;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #modelSeq = 0;
  #samplingSeq = 0;
  #closed = false;
  #capabilities: Promise<unknown> | undefined;

  private constructor(
    http: JsonHttpClient,
    sessionId: string,
    clientConfig: Readonly<Record<string, unknown>>,
    options: TinkerConnectionOptions,
  ) {
    this.http = http;
    this.sessionId = sessionId;
    this.clientConfig = clientConfig;
    this.#options = options;
    this.#pollTimeoutMs = options.pollTimeoutMs ?? 45_000;
    this.#futureTimeoutMs = options.futureTimeoutMs ?? 0;
    this.#limit = new Semaphore(options.maxConcurrentRequests ?? 32);
    const period = options.heartbeatIntervalMs ?? 10_000;
    if (period > 0) {
      this.#heartbeat = setInterval(() => {
        this.heartbeat().catch((error: unknown) => {
          options.onWarning?.(
            `Tinker session ${sessionId}: heartbeat failed: ${(error as Error)?.message}`,
            error,
          );
        });
      }, period);
      this.#heartbeat.unref?.();
    }
  }

  /**
   * Connects: `client/config` (a server without it is fine), then `create_session` (or
   * attaches to `sessionId`), and starts the heartbeat.
   */
  static async create(options: TinkerSessionOptions = {}): Promise<TinkerSession> {
    const env = typeof process === 'object' ? process.env : {};
    const baseUrl = options.baseUrl ?? env.TINKER_BASE_URL ?? TINKER_DEFAULT_BASE_URL;
    const apiKey = options.apiKey ?? env.TINKER_API_KEY;
    const sdkVersion = options.sdkVersion ?? TINKER_SDK_VERSION;
    for (const [name, value] of [
      ['pollTimeoutMs', options.pollTimeoutMs],
      ['futureTimeoutMs', options.futureTimeoutMs],
      ['heartbeatIntervalMs', options.heartbeatIntervalMs],
    ] as const) {
      if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
        throw new InvalidArgumentError(
          `Tinker: ${name} must be a finite number >= 0, got ${String(value)}`,
          { source: SOURCE, details: { argument: name } },
        );
      }
    }
    const concurrency = options.maxConcurrentRequests ?? 32;
    if (!(Number.isInteger(concurrency) && concurrency >= 1)) {
      throw new InvalidArgumentError(
        `Tinker: maxConcurrentRequests must be an integer >= 1, got ${String(concurrency)}`,
        { source: SOURCE, details: { argument: 'maxConcurrentRequests' } },
      );
    }
    if (apiKey !== undefined && (typeof apiKey !== 'string' || /[\r\n]/.test(apiKey))) {
      throw new InvalidArgumentError('Tinker: apiKey must be a string without line breaks', {
        source: SOURCE,
        details: { argument: 'apiKey' },
      });
    }
    const http = new JsonHttpClient({
      baseUrl,
      label: LABEL,
      headers: {
        'User-Agent': `hicra-remote (tinker-json ${sdkVersion})`,
        ...(apiKey ? { 'X-API-Key': apiKey } : {}),
      },
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.retry === undefined ? {} : { retry: options.retry }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      ...(options.onRetry === undefined ? {} : { onRetry: options.onRetry }),
    });
    let clientConfig: Record<string, unknown> = {};
    try {
      const response = await http.request({
        method: 'POST',
        path: TINKER_PATHS.clientConfig,
        body: { sdk_version: sdkVersion },
        noRetryStatuses: [404, 405],
      });
      if (typeof response.body === 'object' && response.body !== null)
        clientConfig = response.body as Record<string, unknown>;
    } catch (error) {
      const status = (error as HicraError).details?.status;
      if (status !== 404 && status !== 405) throw error;
    }
    let sessionId = options.sessionId;
    if (sessionId === undefined) {
      const response = await http.request({
        method: 'POST',
        path: TINKER_PATHS.createSession,
        body: {
          tags: [...(options.tags ?? [])],
          ...(options.userMetadata === undefined ? {} : { user_metadata: options.userMetadata }),
          sdk_version: sdkVersion,
          ...(options.projectId === undefined ? {} : { project_id: options.projectId }),
          type: 'create_session',
        },
      });
      const body = response.body as Partial<WireCreateSessionResponse> | undefined;
      if (typeof body?.session_id !== 'string' || body.session_id.length === 0) {
        throw new BackendUnavailableError(
          `Tinker POST ${TINKER_PATHS.createSession}: the answer has no session_id${body?.error_message ? ` (${body.error_message})` : ''}`,
          { source: SOURCE, details: { endpoint: `POST ${TINKER_PATHS.createSession}` } },
        );
      }
      if (body.error_message) {
        throw new BackendUnavailableError(
          `Tinker POST ${TINKER_PATHS.createSession}: ${body.error_message}`,
          { source: SOURCE, details: { endpoint: `POST ${TINKER_PATHS.createSession}` } },
        );
      }
      if (body.warning_message) options.onWarning?.(`Tinker: ${body.warning_message}`);
      sessionId = body.session_id;
    }
    return new TinkerSession(http, sessionId, clientConfig, options);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The connection options the session was created with. */
  get options(): TinkerConnectionOptions {
    return this.#options;
  }

  /** The next `model_seq_id` (0, 1, ...). */
  nextModelSeqId(): number {
    return this.#modelSeq++;
  }

  /** The next `sampling_session_seq_id` (0, 1, ...). */
  nextSamplingSessionSeqId(): number {
    return this.#samplingSeq++;
  }

  /** Sends one `session_heartbeat`. */
  async heartbeat(options: TinkerCallOptions = {}): Promise<void> {
    await this.http.request({
      method: 'POST',
      path: TINKER_PATHS.sessionHeartbeat,
      body: { session_id: this.sessionId, type: 'session_heartbeat' },
      retry: false,
      timeoutMs: 10_000,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  }

  /** A plain JSON request (no future). */
  request(request: JsonRequest): Promise<JsonResponse> {
    this.#checkOpen(request.path);
    return this.http.request(request);
  }

  /** `get_server_capabilities`, asked once. */
  serverCapabilities(options: TinkerCallOptions = {}): Promise<unknown> {
    this.#capabilities ??= this.request({
      method: 'GET',
      path: TINKER_PATHS.getServerCapabilities,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    }).then(
      (response) => response.body,
      (error: unknown) => {
        this.#capabilities = undefined;
        throw error;
      },
    );
    return this.#capabilities;
  }

  /**
   * What the server offers for `model` (an entry of `get_server_capabilities` with
   * `hicra_capabilities`, else Tinker's built-ins), and the model names it lists.
   */
  async modelFeatures(
    model: string | undefined,
    options: TinkerCallOptions = {},
  ): Promise<{ features: TinkerServerFeatures | undefined; models: string[] }> {
    const body = (await this.serverCapabilities(options)) as {
      supported_models?: { model_name?: unknown; hicra_capabilities?: unknown }[];
    } | null;
    const entries = Array.isArray(body?.supported_models) ? body.supported_models : [];
    const models = entries
      .map((e) => e?.model_name)
      .filter((m): m is string => typeof m === 'string');
    const entry = entries.find((e) => e?.model_name === model) ?? entries[0];
    return { features: readHicraCapabilities(entry?.hicra_capabilities), models };
  }

  /** Runs `body` when fewer than `maxConcurrentRequests` are running. */
  limit<T>(body: () => Promise<T>): Promise<T> {
    return this.#limit.run(body);
  }

  /**
   * Submits a future-returning request and polls `retrieve_future` until its result: a
   * `try_again` (or an HTTP 408) polls again, `complete_metadata` polls once more for the
   * payload, an `error` rejects with a typed error (the server's message, the endpoint, the
   * future's request id), an HTTP 410 re-submits the original request (at most twice).
   */
  async callFuture(call: FutureCall): Promise<FutureResult> {
    this.#checkOpen(call.path);
    const endpoint = `POST ${call.path}`;
    const signals = [this.#options.signal, call.signal];
    let notify = call.onSubmitted;
    const submitted = () => {
      const n = notify;
      notify = undefined;
      n?.();
    };
    let body: string;
    try {
      body = encodeJson(call.body, { what: endpoint });
    } catch (error) {
      submitted();
      throw error;
    }
    for (let submission = 0; ; submission++) {
      const started = performance.now();
      let future: WireUntypedFuture;
      try {
        const response = await this.http.request({
          method: 'POST',
          path: call.path,
          body,
          ...(call.headers === undefined ? {} : { headers: call.headers }),
          ...(call.signal === undefined ? {} : { signal: call.signal }),
          ...(call.noRetryStatuses === undefined ? {} : { noRetryStatuses: call.noRetryStatuses }),
        });
        future = response.body as WireUntypedFuture;
        if (typeof future?.request_id !== 'string' || future.request_id.length === 0) {
          throw new BackendUnavailableError(
            `${LABEL} ${endpoint}: the answer is not a future (no request_id): ${JSON.stringify(response.body)?.slice(0, 200)}`,
            {
              source: SOURCE,
              details: {
                endpoint,
                ...(response.requestId ? { requestId: response.requestId } : {}),
              },
            },
          );
        }
      } finally {
        submitted();
      }
      const roundtrip = (performance.now() - started) / 1000;
      const outcome = await this.#poll(future.request_id, call, endpoint, roundtrip, signals);
      if (outcome === 'expired') {
        if (submission < 2) continue;
        throw new BackendUnavailableError(
          `${LABEL} ${endpoint} (request ${future.request_id}): the future expired (HTTP 410) three times`,
          { source: SOURCE, details: { endpoint, requestId: future.request_id, status: 410 } },
        );
      }
      return { result: outcome.result, requestId: future.request_id, modelId: future.model_id };
    }
  }

  async #poll(
    requestId: string,
    call: FutureCall,
    endpoint: string,
    roundtrip: number,
    signals: readonly (AbortSignal | undefined)[],
  ): Promise<{ result: unknown } | 'expired'> {
    const deadline =
      this.#futureTimeoutMs > 0
        ? performance.now() + this.#futureTimeoutMs
        : Number.POSITIVE_INFINITY;
    const active = signals.filter((s): s is AbortSignal => s !== undefined);
    let allowMetadataOnly = true;
    let badRequests = 0;
    let quick = 0;
    for (let iteration = 0; ; iteration++) {
      throwIfAborted(signals);
      if (performance.now() > deadline) {
        throw new BackendUnavailableError(
          `${LABEL} ${endpoint} (request ${requestId}): no result after ${this.#futureTimeoutMs} ms (futureTimeoutMs)`,
          {
            source: SOURCE,
            details: { endpoint, requestId, futureTimeoutMs: this.#futureTimeoutMs },
          },
        );
      }
      const started = performance.now();
      let response: JsonResponse;
      try {
        response = await this.http.request({
          method: 'POST',
          path: TINKER_PATHS.retrieveFuture,
          body: { request_id: requestId, allow_metadata_only: allowMetadataOnly },
          headers: {
            'X-Tinker-Request-Iteration': String(iteration),
            'X-Tinker-Request-Type': call.requestType,
            ...(iteration === 0
              ? { 'X-Tinker-Create-Promise-Roundtrip-Time': roundtrip.toFixed(3) }
              : {}),
          },
          timeoutMs: this.#pollTimeoutMs,
          passStatuses: [408, 410],
          ...(call.signal === undefined ? {} : { signal: call.signal }),
        });
      } catch (error) {
        const details = (error as HicraError).details as Record<string, unknown> | undefined;
        // A bare 400 may come from a proxy: the SDK tries three times before giving up.
        if (details?.status === 400 && details.remoteCode === undefined && badRequests < 3) {
          badRequests++;
          continue;
        }
        throw addFutureContext(error, endpoint, requestId);
      }
      if (response.status === 410) return 'expired';
      const body = response.body as Record<string, unknown> | undefined;
      const pending =
        response.status === 408 || (typeof body === 'object' && body?.type === 'try_again');
      if (pending) {
        // A server that answers at once (no long poll) would be polled in a busy loop.
        if (performance.now() - started < 50) {
          await sleep(Math.min(10 * 2 ** quick, 500), active);
          quick++;
        } else quick = 0;
        continue;
      }
      if (typeof body !== 'object' || body === null) {
        throw new BackendUnavailableError(
          `${LABEL} ${endpoint} (request ${requestId}): retrieve_future answered ${JSON.stringify(body)}, not a result object`,
          { source: SOURCE, details: { endpoint, requestId } },
        );
      }
      if (body.status === 'complete_metadata' && allowMetadataOnly) {
        allowMetadataOnly = false;
        continue;
      }
      if ('error' in body) throw futureError(body, endpoint, requestId);
      return { result: body };
    }
  }

  /** Stops the heartbeat; later calls reject. Idempotent. */
  close(): void {
    this.#closed = true;
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }

  #checkOpen(path: string): void {
    if (this.#closed) {
      throw new InvalidArgumentError(
        `Tinker session ${this.sessionId}: closed; ${path} was not sent`,
        { source: SOURCE, details: { sessionId: this.sessionId, endpoint: path } },
      );
    }
  }
}

/** The typed error of a future that reported `{error, category}`. */
export function futureError(
  body: Record<string, unknown>,
  endpoint: string,
  requestId: string,
): HicraError {
  const message = typeof body.error === 'string' ? body.error : JSON.stringify(body.error);
  const category = typeof body.category === 'string' ? body.category : 'unknown';
  const context: RemoteErrorContext = {
    endpoint,
    requestId,
    serverMessage: message,
    extra: { category, future: true },
  };
  if (isSerializedHicraError(body.hicra_error)) {
    return errorFromSerialized(body.hicra_error, context, LABEL);
  }
  const text = `the request failed on the server (category ${category}): ${message}`;
  // verl_tinker reports validation failures as category "Application" with the HTTPException.
  const userFault =
    category.toLowerCase() === 'user' || /HTTPException\(status_code=4\d\d/.test(message);
  const details = { endpoint, requestId, serverMessage: message, category };
  if (userFault) {
    return new InvalidArgumentError(`${LABEL} ${endpoint} (request ${requestId}): ${text}`, {
      source: SOURCE,
      details,
    });
  }
  return new BackendUnavailableError(`${LABEL} ${endpoint} (request ${requestId}): ${text}`, {
    source: SOURCE,
    details,
  });
}

function addFutureContext(error: unknown, endpoint: string, requestId: string): unknown {
  if (typeof error !== 'object' || error === null || !('details' in error)) return error;
  const e = error as HicraError;
  (e as { details: unknown }).details = { ...e.details, futureOf: endpoint, requestId };
  e.message = `${e.message} (while waiting for ${endpoint}, request ${requestId})`;
  return e;
}

/** A counting semaphore. */
class Semaphore {
  #available: number;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    this.#available = size;
  }

  async run<T>(body: () => Promise<T>): Promise<T> {
    if (this.#available > 0) this.#available--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await body();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#available++;
    }
  }
}
