/**
 * Errors of the OpenAI-compatible client: one class for everything that goes wrong between
 * this process and the server, with the endpoint, the HTTP status and the server's own message.
 */
import { ErrorCode, HicraError } from '@hicra/spec';

/** The package that raises these errors. */
export const SOURCE = '@hicra/remote';

const OPENAI_HTTP_ERROR_MARKER: unique symbol = Symbol.for(
  '@hicra/remote/openai-http-error',
) as never;

/**
 * What failed:
 * - `http-status`: the server answered with a non-2xx status (after any retries);
 * - `network`: no complete HTTP exchange (connection refused or reset, body cut off);
 * - `timeout`: no complete response within the client's `timeoutMs`;
 * - `bad-response`: a 2xx answer that is not JSON or not the documented shape;
 * - `server-abort`: the server finished a request with finish reason `abort` (or `error`).
 */
export type OpenAIHttpErrorKind =
  | 'http-status'
  | 'network'
  | 'timeout'
  | 'bad-response'
  | 'server-abort';

export interface OpenAIHttpErrorInit {
  readonly kind: OpenAIHttpErrorKind;
  /** `POST`, `GET`. */
  readonly method: string;
  /** The full URL called. */
  readonly endpoint: string;
  /** What went wrong, without the endpoint (the constructor prefixes it). */
  readonly message: string;
  readonly status?: number;
  /** The server's message, from its error body. */
  readonly serverMessage?: string;
  /** The server's error type (`BadRequestError`, ...). */
  readonly serverType?: string;
  /** The request field the server blamed (`param` of vLLM's error body). */
  readonly param?: string;
  /** HTTP attempts made, retries included. */
  readonly attempts?: number;
  readonly cause?: unknown;
}

function codeFor(kind: OpenAIHttpErrorKind, status: number | undefined): ErrorCode {
  if (kind === 'http-status' || kind === 'server-abort') {
    if (status === 401 || status === 403 || status === 404) return ErrorCode.InvalidConfig;
    if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429)
      return ErrorCode.InvalidArgument;
  }
  return ErrorCode.BackendUnavailable;
}

/**
 * A failed call to an OpenAI-compatible server. `code` says what to do about it:
 * `HICRA_INVALID_ARGUMENT` (the server rejected the request: 400, 413, 422),
 * `HICRA_INVALID_CONFIG` (wrong key, URL or model: 401, 403, 404) or
 * `HICRA_BACKEND_UNAVAILABLE` (the server failed, timed out, throttled past the retries, or
 * answered something that is not the protocol). The message names the method, the endpoint,
 * the status and the server's message.
 */
export class OpenAIHttpError extends HicraError {
  readonly [OPENAI_HTTP_ERROR_MARKER] = true;
  readonly kind: OpenAIHttpErrorKind;
  readonly method: string;
  readonly endpoint: string;
  readonly status: number | undefined;
  readonly serverMessage: string | undefined;
  readonly serverType: string | undefined;
  readonly param: string | undefined;
  readonly attempts: number;

  constructor(init: OpenAIHttpErrorInit) {
    const attempts = init.attempts ?? 1;
    const status = init.status === undefined ? '' : ` HTTP ${init.status}`;
    const tries = attempts > 1 ? ` (after ${attempts} attempts)` : '';
    super(
      codeFor(init.kind, init.status),
      `${init.method} ${init.endpoint}:${status} ${init.message}${tries}`,
      {
        source: SOURCE,
        cause: init.cause,
        details: {
          kind: init.kind,
          method: init.method,
          endpoint: init.endpoint,
          attempts,
          ...(init.status === undefined ? {} : { status: init.status }),
          ...(init.serverMessage === undefined ? {} : { serverMessage: init.serverMessage }),
          ...(init.serverType === undefined ? {} : { serverType: init.serverType }),
          ...(init.param === undefined ? {} : { param: init.param }),
        },
      },
    );
    this.kind = init.kind;
    this.method = init.method;
    this.endpoint = init.endpoint;
    this.status = init.status;
    this.serverMessage = init.serverMessage;
    this.serverType = init.serverType;
    this.param = init.param;
    this.attempts = attempts;
  }

  /** True for an `OpenAIHttpError`, including one from another copy of this package. */
  static override isInstance(value: unknown): value is OpenAIHttpError {
    return (
      HicraError.isInstance(value) &&
      (value as unknown as Record<symbol, unknown>)[OPENAI_HTTP_ERROR_MARKER] === true
    );
  }
}

/** The parts of a server error body worth reporting. */
export interface ServerErrorInfo {
  readonly message: string;
  readonly type?: string;
  readonly param?: string;
}

const MAX_RAW_CHARS = 500;

function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * Reads a server's error body: vLLM's `{"error": {message, type, param, code}}`, the flat
 * `{"object": "error", message, type, param, code}` of SGLang and older vLLM, FastAPI's
 * `{"detail": ...}` (a string, or pydantic's list of `{loc, msg}`), `{"error": "text"}`, or
 * anything else as (the start of) its raw text.
 */
export function describeServerError(body: unknown, rawText: string): ServerErrorInfo {
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const record = body as Record<string, unknown>;
    const error = record['error'];
    if (typeof error === 'object' && error !== null) {
      const inner = error as Record<string, unknown>;
      const message = asString(inner['message']);
      if (message !== undefined) return withTypeAndParam(message, inner);
    }
    if (typeof error === 'string') return { message: error };
    const message = asString(record['message']);
    if (message !== undefined) return withTypeAndParam(message, record);
    const detail = record['detail'];
    if (typeof detail === 'string') return { message: detail };
    if (Array.isArray(detail)) {
      const parts = detail.map((item) => {
        if (typeof item !== 'object' || item === null) return String(item);
        const entry = item as Record<string, unknown>;
        const loc = Array.isArray(entry['loc']) ? entry['loc'].join('.') : undefined;
        const msg = asString(entry['msg']) ?? JSON.stringify(item);
        return loc === undefined ? msg : `${loc}: ${msg}`;
      });
      return { message: parts.join('; ') };
    }
  }
  const trimmed = rawText.trim();
  if (trimmed.length === 0) return { message: '(empty body)' };
  return {
    message:
      trimmed.length > MAX_RAW_CHARS
        ? `${trimmed.slice(0, MAX_RAW_CHARS)}... (truncated)`
        : trimmed,
  };
}

function withTypeAndParam(message: string, record: Record<string, unknown>): ServerErrorInfo {
  const type = asString(record['type']);
  const param = asString(record['param']);
  return {
    message,
    ...(type === undefined ? {} : { type }),
    ...(param === undefined ? {} : { param }),
  };
}
