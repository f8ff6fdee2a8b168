/** The HTTP layer shared by the servers and clients of `@hicra/remote`. */
export {
  type HttpErrorInfo,
  type HttpErrorType,
  HttpStatusError,
  statusForHicraError,
  typeForStatus,
} from './errors.js';
export { type EncodeJsonOptions, encodeJson, formatPath, type NonFiniteMode } from './json.js';
export {
  DEFAULT_RETRY_POLICY,
  JsonHttpClient,
  type JsonHttpClientOptions,
  type JsonRequest,
  type JsonResponse,
  RETRYABLE_STATUSES,
  type RetryEvent,
  type RetryPolicy,
  retryAfterOf,
  retryDelay,
} from './json-client.js';
export {
  errorFromSerialized,
  errorFromStatus,
  isSerializedHicraError,
  type RemoteErrorContext,
  type SerializedHicraError,
} from './remote-errors.js';
export {
  createHttpServer,
  DEFAULT_BODY_LIMIT_BYTES,
  defaultErrorBody,
  type HttpRequestLogEntry,
  type HttpRouteConfig,
  type HttpServer,
  type HttpServerAddress,
  type HttpServerOptions,
  type InstalledProtocol,
} from './server.js';
