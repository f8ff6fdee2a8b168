/**
 * Typed errors (`@hicra/spec`) for what goes wrong on the other side of an HTTP call. Every
 * error carries, in its message and its `details`, the endpoint, the server's request id when
 * known, the HTTP status and the server's own message.
 */
import {
  BackendUnavailableError,
  ConfigError,
  CorruptFileError,
  ErrorCode,
  type ErrorDetails,
  type HicraError,
  InvalidArgumentError,
  InvalidValueError,
  MissingInputError,
  NonFiniteError,
  ResourceLimitError,
  RunLockedError,
  RunMismatchError,
  ShapeError,
  UnknownNameError,
} from '@hicra/spec';

const SOURCE = '@hicra/remote';

/** Where a remote error happened. Written into `HicraError#details`. */
export interface RemoteErrorContext {
  /** `POST /api/v1/forward_backward`. */
  readonly endpoint: string;
  /** The HTTP status, when a response came back. */
  readonly status?: number;
  /** The server's id of the request or future (`request_id`, `x-request-id`). */
  readonly requestId?: string;
  /** The `X-Idempotency-Key` the client sent. */
  readonly idempotencyKey?: string;
  /** The server's message, verbatim. */
  readonly serverMessage?: string;
  /** How many attempts were made. */
  readonly attempts?: number;
  /** Anything else worth keeping (the future's category, the operation). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** A hicra error as a server serialised it (`HicraError#toJSON`). */
export interface SerializedHicraError {
  readonly name?: string;
  readonly code: string;
  readonly message: string;
  readonly source?: string;
  readonly details?: ErrorDetails;
}

/** True for an object that looks like `HicraError#toJSON()` output. */
export function isSerializedHicraError(value: unknown): value is SerializedHicraError {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.code === 'string' &&
    v.code.startsWith('HICRA_') &&
    typeof v.message === 'string' &&
    (v.details === undefined || (typeof v.details === 'object' && v.details !== null))
  );
}

/** The `details` of a remote error. */
export function remoteDetails(context: RemoteErrorContext): ErrorDetails {
  return {
    endpoint: context.endpoint,
    ...(context.status === undefined ? {} : { status: context.status }),
    ...(context.requestId === undefined ? {} : { requestId: context.requestId }),
    ...(context.idempotencyKey === undefined ? {} : { idempotencyKey: context.idempotencyKey }),
    ...(context.serverMessage === undefined ? {} : { serverMessage: context.serverMessage }),
    ...(context.attempts === undefined ? {} : { attempts: context.attempts }),
    ...(context.extra ?? {}),
  };
}

/** `POST /api/v1/x (HTTP 400, request abc)`. */
export function describeContext(context: RemoteErrorContext): string {
  const bits: string[] = [];
  if (context.status !== undefined) bits.push(`HTTP ${context.status}`);
  if (context.requestId !== undefined) bits.push(`request ${context.requestId}`);
  if (context.attempts !== undefined && context.attempts > 1)
    bits.push(`${context.attempts} attempts`);
  return `${context.endpoint}${bits.length > 0 ? ` (${bits.join(', ')})` : ''}`;
}

/**
 * The typed error for a server's refusal that came with a serialised hicra error: the same
 * class (and code) the implementation behind the server threw, its details kept, the remote
 * context added. A code this version does not know becomes a `BackendUnavailableError`.
 */
export function errorFromSerialized(
  serialized: SerializedHicraError,
  context: RemoteErrorContext,
  label: string,
): HicraError {
  const message = `${label} ${describeContext(context)}: ${serialized.message}`;
  const details: ErrorDetails = {
    ...(serialized.details ?? {}),
    ...remoteDetails(context),
    remoteCode: serialized.code,
    ...(serialized.source === undefined ? {} : { remoteSource: serialized.source }),
  };
  const options = { source: SOURCE, details };
  switch (serialized.code) {
    case ErrorCode.InvalidArgument:
      return new InvalidArgumentError(message, options);
    case ErrorCode.ShapeMismatch:
      return new ShapeError(message, options);
    case ErrorCode.InvalidValue:
      return new InvalidValueError(message, options);
    case ErrorCode.UnknownName: {
      const d = serialized.details ?? {};
      const known = Array.isArray(d.known) ? d.known.map(String) : [];
      const error = new UnknownNameError(
        typeof d.kind === 'string' ? d.kind : 'name',
        typeof d.requested === 'string' ? d.requested : '?',
        known,
        options,
      );
      // The class writes its own message; keep the remote context in it.
      error.message = `${SOURCE}: ${message}`;
      return error;
    }
    case ErrorCode.InvalidConfig: {
      const path = typeof serialized.details?.path === 'string' ? serialized.details.path : '';
      return new ConfigError(path, message, options);
    }
    case ErrorCode.BackendUnavailable:
      return new BackendUnavailableError(message, options);
    case ErrorCode.CorruptFile:
      return new CorruptFileError(message, options);
    case ErrorCode.MissingInput:
      return new MissingInputError(message, options);
    case ErrorCode.NonFinite:
      return new NonFiniteError(message, options);
    case ErrorCode.RunLocked:
      return new RunLockedError(message, options);
    case ErrorCode.RunMismatch:
      return new RunMismatchError(message, options);
    case ErrorCode.ResourceLimit:
      return new ResourceLimitError(message, options);
    default:
      return new BackendUnavailableError(message, options);
  }
}

/**
 * The typed error for an HTTP error status without a serialised hicra error: 400, 404, 405,
 * 409, 410, 422 -> `InvalidArgumentError`; 401, 403 -> `ConfigError` at `apiKey`; 413 ->
 * `ResourceLimitError`; 408, 429, 5xx and anything else -> `BackendUnavailableError`.
 */
export function errorFromStatus(context: RemoteErrorContext, label: string): HicraError {
  const status = context.status ?? 0;
  const said = context.serverMessage === undefined ? '' : `: ${context.serverMessage}`;
  const message = `${label} ${describeContext(context)}${said}`;
  const options = { source: SOURCE, details: remoteDetails(context) };
  if (status === 401 || status === 403) {
    return new ConfigError(
      'apiKey',
      `${message} (${status === 401 ? 'the server wants an API key, or another one' : 'the API key may not do this'})`,
      options,
    );
  }
  if (status === 413) return new ResourceLimitError(message, options);
  if (status >= 400 && status < 500 && status !== 408 && status !== 429)
    return new InvalidArgumentError(message, options);
  return new BackendUnavailableError(message, options);
}

/** The server's message in an error body: `detail`, `error.message`, `error`, `message`, or the text. */
export function serverMessageOf(body: unknown, text: string): string | undefined {
  if (typeof body === 'object' && body !== null) {
    const b = body as Record<string, unknown>;
    if (typeof b.detail === 'string') return b.detail;
    if (Array.isArray(b.detail)) return JSON.stringify(b.detail).slice(0, 1000);
    if (typeof b.error === 'string') return b.error;
    if (typeof b.error === 'object' && b.error !== null) {
      const m = (b.error as Record<string, unknown>).message;
      if (typeof m === 'string') return m;
    }
    if (typeof b.message === 'string') return b.message;
  }
  const trimmed = text.trim();
  if (trimmed.length === 0) return undefined;
  return trimmed.length > 500 ? `${trimmed.slice(0, 500)}...` : trimmed;
}

/** A serialised hicra error anywhere a server of this package puts one. */
export function serializedHicraErrorOf(body: unknown): SerializedHicraError | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as Record<string, unknown>;
  if (isSerializedHicraError(b.hicra_error)) return b.hicra_error;
  if (typeof b.error === 'object' && b.error !== null) {
    const inner = (b.error as Record<string, unknown>).hicra_error;
    if (isSerializedHicraError(inner)) return inner;
  }
  return undefined;
}
