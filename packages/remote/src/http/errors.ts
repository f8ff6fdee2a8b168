/**
 * What a route handler throws to answer with a 4xx or 5xx JSON error: the status, a message
 * that names what is wrong, and the request field it concerns.
 */
import { ErrorCode, HicraError } from '@hicra/spec';

/** Coarse kinds of request errors, written as `type` in error bodies. */
export type HttpErrorType =
  | 'invalid_request'
  | 'authentication_error'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'server_error'
  | 'unavailable';

/** One error as a server reports it, before a protocol formats the body. */
export interface HttpErrorInfo {
  readonly status: number;
  readonly type: HttpErrorType;
  readonly message: string;
  /** The request field at fault, as a path (`forward_backward_input.data[0].model_input`). */
  readonly field?: string;
  /** A hicra error behind it (a contract implementation's refusal), as `HicraError#toJSON`. */
  readonly hicra?: ReturnType<HicraError['toJSON']>;
}

/** Thrown by a handler: the server answers `status` with a JSON error body. */
export class HttpStatusError extends Error {
  readonly status: number;
  readonly type: HttpErrorType;
  readonly field: string | undefined;
  readonly hicra: ReturnType<HicraError['toJSON']> | undefined;

  constructor(
    status: number,
    message: string,
    options: { field?: string; type?: HttpErrorType; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HttpStatusError';
    this.status = status;
    this.type = options.type ?? typeForStatus(status);
    this.field = options.field;
    this.hicra = HicraError.isInstance(options.cause) ? options.cause.toJSON() : undefined;
  }

  /** The error as {@link HttpErrorInfo}. */
  info(): HttpErrorInfo {
    return {
      status: this.status,
      type: this.type,
      message: this.message,
      ...(this.field === undefined ? {} : { field: this.field }),
      ...(this.hicra === undefined ? {} : { hicra: this.hicra }),
    };
  }
}

/** The default `type` of a status. */
export function typeForStatus(status: number): HttpErrorType {
  if (status === 401 || status === 403) return 'authentication_error';
  if (status === 404) return 'not_found';
  if (status === 409) return 'conflict';
  if (status === 413) return 'payload_too_large';
  if (status === 415) return 'unsupported_media_type';
  if (status === 429) return 'rate_limited';
  if (status === 503) return 'unavailable';
  if (status >= 500) return 'server_error';
  return 'invalid_request';
}

/**
 * The HTTP status a `HicraError` from a contract implementation deserves: the caller's fault
 * (400) for bad arguments, shapes, values, names, configs and missing inputs, and for
 * non-finite results (a learning rate too large); 500 otherwise.
 */
export function statusForHicraError(error: HicraError): number {
  switch (error.code) {
    case ErrorCode.InvalidArgument:
    case ErrorCode.ShapeMismatch:
    case ErrorCode.InvalidValue:
    case ErrorCode.UnknownName:
    case ErrorCode.InvalidConfig:
    case ErrorCode.MissingInput:
    case ErrorCode.NonFinite:
      return 400;
    case ErrorCode.ResourceLimit:
      return 413;
    case ErrorCode.RunLocked:
    case ErrorCode.RunMismatch:
      return 409;
    default:
      return 500;
  }
}
