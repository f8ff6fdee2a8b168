/**
 * The HTTP server base every server of `@hicra/remote` is built on: fastify, bound to the
 * loopback interface by default, with an optional API key, a bounded body, JSON schema
 * validation of every request body, JSON errors that name the field at fault, a request-log
 * hook and a clean `close()`. Protocols (Tinker, OpenAI-compatible) install their routes on
 * {@link HttpServer.app}, each under its own paths with its own body limit (fastify's route
 * option `bodyLimit`) and the shape of its error bodies ({@link HttpServer.setErrorFormat}), so
 * that one server, on one port, can serve several of them.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { HicraError, InvalidArgumentError } from '@hicra/spec';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import {
  type HttpErrorInfo,
  HttpStatusError,
  statusForHicraError,
  typeForStatus,
} from './errors.js';
import { encodeJson, formatPath } from './json.js';

const SOURCE = '@hicra/remote';

/** 1 MiB, fastify's own default. */
export const DEFAULT_BODY_LIMIT_BYTES = 1 << 20;

export interface HttpServerOptions {
  /** Interface to bind. Default `127.0.0.1` (loopback only); `0.0.0.0` exposes the server. */
  readonly host?: string;
  /** Port; 0 (default) picks a free one, see {@link HttpServer.address}. */
  readonly port?: number;
  /**
   * API keys accepted in an `X-API-Key` header or as `Authorization: Bearer <key>` (any
   * string, Tinker-style `tml-...` keys included). Absent or empty: no key is asked for.
   */
  readonly apiKey?: string | readonly string[];
  /** Paths (without query string) served without a key, e.g. a health check. */
  readonly publicPaths?: readonly string[];
  /** Largest request body accepted, in bytes; larger ones get a 413. Default 1 MiB. */
  readonly bodyLimitBytes?: number;
  /** Called once per answered request (after the response is sent). */
  readonly onRequestLog?: (entry: HttpRequestLogEntry) => void;
  /** The JSON body of an error response. Default {@link defaultErrorBody}. */
  readonly formatError?: (error: HttpErrorInfo) => unknown;
  /** Called with errors that became a 500 (the body only says "internal error"). */
  readonly onInternalError?: (error: unknown, request: { method: string; path: string }) => void;
  /**
   * How long `close()` waits for requests in flight before it closes their connections.
   * Default 5000 ms.
   */
  readonly closeTimeoutMs?: number;
}

/** One answered request, as {@link HttpServerOptions.onRequestLog} sees it. */
export interface HttpRequestLogEntry {
  readonly method: string;
  /** The path without the query string. */
  readonly path: string;
  readonly status: number;
  readonly durationMs: number;
  /** The id sent back in the `x-request-id` header. */
  readonly requestId: string;
  /** The error message, for responses >= 400. */
  readonly error?: string;
}

export interface HttpServerAddress {
  readonly host: string;
  readonly port: number;
  /** `http://host:port`, without a trailing slash. */
  readonly url: string;
}

export interface HttpServer {
  /**
   * The fastify instance: add routes here, before {@link listen} (each POST, PUT and PATCH
   * route needs a body schema). A route's `config` is read as {@link HttpRouteConfig}.
   */
  readonly app: FastifyInstance;
  /**
   * The JSON body of errors on requests whose path starts with `pathPrefix` (`/api/v1/`), not
   * found and refused keys included; the longest matching prefix wins, other paths get
   * `formatError` of the options. For a protocol that shares the server with others.
   */
  setErrorFormat(pathPrefix: string, format: (error: HttpErrorInfo) => unknown): void;
  /** Starts listening; resolves to where. */
  listen(): Promise<HttpServerAddress>;
  /** Where it listens, once {@link listen} resolved. */
  readonly address: HttpServerAddress | undefined;
  /**
   * Stops accepting connections, lets requests in flight finish (up to `closeTimeoutMs`, then
   * closes their connections) and resolves once the server is closed. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * What the server reads from a route's fastify `config` option:
 * `app.get('/health', { config: { public: true } satisfies HttpRouteConfig }, handler)`.
 */
export interface HttpRouteConfig {
  /** Served without an API key (a health check), like the paths of `publicPaths`. */
  readonly public?: boolean;
}

/**
 * What installing a protocol on an {@link HttpServer} gives back (`installTinkerProtocol`,
 * `installOpenAICompletions`): several protocols can share one server, on one port.
 */
export interface InstalledProtocol {
  /** Paths this protocol serves (for logs and docs). */
  readonly paths: readonly string[];
  /** Releases what the protocol holds (futures, sampling sessions); not the server. Idempotent. */
  close(): Promise<void>;
}

/** `{"error": {"message", "type", "param", "code"}}`: the OpenAI / vLLM error shape. */
export function defaultErrorBody(error: HttpErrorInfo): unknown {
  return {
    error: {
      message: error.message,
      type: error.type,
      param: error.field ?? null,
      code: error.status,
      ...(error.hicra === undefined ? {} : { hicra_error: error.hicra }),
    },
  };
}

/** Error info the server attaches to a reply, for the log hook. */
const ERROR_MESSAGE = Symbol('hicra.errorMessage');

/**
 * Creates an HTTP server over fastify (not yet listening). Every request body is JSON
 * (`application/json`), parsed with a message that says where the text is malformed, and
 * validated against its route's JSON schema with no type coercion, no defaults and no removal
 * of unknown fields, so a request with an unknown field, a wrong type or a value out of range
 * gets a 400 naming the field. Replies that are objects are written with {@link encodeJson}:
 * handlers may return typed arrays.
 */
export function createHttpServer(options: HttpServerOptions = {}): HttpServer {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  const bodyLimit = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  if (!Number.isInteger(bodyLimit) || bodyLimit < 1) {
    throw new InvalidArgumentError(
      `createHttpServer: bodyLimitBytes must be a positive integer, got ${String(bodyLimit)}`,
      { source: SOURCE, details: { argument: 'bodyLimitBytes' } },
    );
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(
      `createHttpServer: port must be an integer in [0, 65535], got ${String(port)}`,
      { source: SOURCE, details: { argument: 'port' } },
    );
  }
  const keys = normaliseKeys(options.apiKey);
  // Keys already verified skip the digest (a Map lookup); a wrong key always takes the
  // constant-time path. Bounded: a client cannot grow it, only valid keys enter.
  const accepted = new Set<string>();
  const remember = (key: string) => {
    if (accepted.has(key)) return;
    if (accepted.size >= 16) accepted.clear();
    accepted.add(key);
  };
  const publicPaths = new Set(options.publicPaths ?? []);
  const formatError = options.formatError ?? defaultErrorBody;
  /** Error formats by path prefix, longest first. */
  const formats: { prefix: string; format: (error: HttpErrorInfo) => unknown }[] = [];
  const formatFor = (url: string) => {
    for (const entry of formats) if (url.startsWith(entry.prefix)) return entry.format;
    return formatError;
  };
  const closeTimeoutMs = options.closeTimeoutMs ?? 5000;

  const app = Fastify({
    logger: false,
    bodyLimit,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    genReqId: () => randomUUID(),
    ajv: {
      customOptions: {
        removeAdditional: false,
        coerceTypes: false,
        useDefaults: false,
        allErrors: false,
        verbose: true,
        allowUnionTypes: true,
      },
    },
  });

  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const hasBody = methods.some((m) => m === 'POST' || m === 'PUT' || m === 'PATCH');
    if (hasBody && route.schema?.body === undefined) {
      throw new InvalidArgumentError(
        `route ${methods.join('|')} ${route.url} has no body schema; every request body is validated`,
        { source: SOURCE, details: { route: route.url } },
      );
    }
  });

  // JSON only: text/plain, protobuf (Tinker SDK 0.25) and the rest get a 415 naming the type.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, text, done) => {
    const body = text as string;
    if (body.length === 0) {
      done(new HttpStatusError(400, 'the request body is empty; send a JSON object'), undefined);
      return;
    }
    try {
      const value: unknown = JSON.parse(body);
      if (body.includes('"__proto__"') && hasProtoKey(value)) {
        done(new HttpStatusError(400, 'malformed JSON: a "__proto__" key is refused'), undefined);
        return;
      }
      done(null, value);
    } catch (error) {
      done(
        new HttpStatusError(400, `malformed JSON: ${(error as Error).message}`, { cause: error }),
        undefined,
      );
    }
  });

  app.setReplySerializer((payload) => encodeJson(payload, { nonFinite: 'null' }));

  // Callback-style hooks: cheaper than async ones on fastify's hot path.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    if (
      keys.length === 0 ||
      (request.routeOptions.config as HttpRouteConfig | undefined)?.public === true ||
      publicPaths.has(pathOf(request.url))
    ) {
      done();
      return;
    }
    const given = presentedKey(request);
    if (given !== undefined && (accepted.has(given) || keys.some((key) => sameKey(key, given)))) {
      remember(given);
      done();
      return;
    }
    sendError(reply, {
      status: 401,
      type: 'authentication_error',
      message:
        given === undefined
          ? 'missing API key: send it in an X-API-Key header or as Authorization: Bearer <key>'
          : 'the API key is not accepted by this server',
      field: 'X-API-Key',
    });
  });

  if (options.onRequestLog !== undefined) {
    const log = options.onRequestLog;
    app.addHook('onResponse', async (request, reply) => {
      const error = (reply as unknown as Record<symbol, string | undefined>)[ERROR_MESSAGE];
      try {
        log({
          method: request.method,
          path: pathOf(request.url),
          status: reply.statusCode,
          durationMs: reply.elapsedTime,
          requestId: request.id,
          ...(error === undefined ? {} : { error }),
        });
      } catch {
        // A failing log hook must not take the server down.
      }
    });
  }

  app.setNotFoundHandler((request, reply) => {
    sendError(reply, {
      status: 404,
      type: 'not_found',
      message: `no route ${request.method} ${pathOf(request.url)} on this server`,
    });
  });

  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    const info = describeError(error, request);
    if (info.status >= 500) options.onInternalError?.(error, requestLabel(request));
    sendError(reply, info);
  });

  function sendError(reply: FastifyReply, info: HttpErrorInfo): FastifyReply {
    (reply as unknown as Record<symbol, string>)[ERROR_MESSAGE] = info.message;
    const format = formats.length === 0 ? formatError : formatFor(reply.request.url);
    return reply
      .code(info.status)
      .type('application/json; charset=utf-8')
      .send(encodeJson(format(info), { nonFinite: 'null' }));
  }

  function describeError(error: FastifyError | Error, request: FastifyRequest): HttpErrorInfo {
    if (error instanceof HttpStatusError) return error.info();
    const fastifyError = error as FastifyError & { validationContext?: string };
    if (Array.isArray(fastifyError.validation) && fastifyError.validation.length > 0) {
      return validationInfo(fastifyError.validation[0]!, fastifyError.validationContext);
    }
    switch (fastifyError.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return {
          status: 413,
          type: 'payload_too_large',
          message: `the request body is larger than this server's limit of ${request.routeOptions.bodyLimit ?? bodyLimit} bytes`,
        };
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return {
          status: 415,
          type: 'unsupported_media_type',
          message: `Content-Type ${JSON.stringify(request.headers['content-type'] ?? '')} is not accepted; this server reads application/json bodies only`,
          field: 'Content-Type',
        };
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return {
          status: 400,
          type: 'invalid_request',
          message: 'the Content-Length header does not match the body',
          field: 'Content-Length',
        };
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return {
          status: 400,
          type: 'invalid_request',
          message: 'the request body is empty; send a JSON object',
        };
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
        return { status: 400, type: 'invalid_request', message: 'malformed JSON body' };
    }
    if (HicraError.isInstance(error)) {
      const status = statusForHicraError(error);
      return {
        status,
        type: typeForStatus(status),
        message: error.message,
        hicra: error.toJSON(),
        ...fieldOfDetails(error),
      };
    }
    const status = fastifyError.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return { status, type: typeForStatus(status), message: fastifyError.message };
    }
    return {
      status: 500,
      type: 'server_error',
      message: `internal server error (${error.name}: ${error.message})`,
    };
  }

  let address: HttpServerAddress | undefined;
  let closing: Promise<void> | undefined;

  return {
    app,
    setErrorFormat(pathPrefix, format) {
      if (typeof pathPrefix !== 'string' || !pathPrefix.startsWith('/')) {
        throw new InvalidArgumentError(
          `setErrorFormat: pathPrefix must be a path starting with "/", got ${JSON.stringify(pathPrefix)}`,
          { source: SOURCE, details: { argument: 'pathPrefix' } },
        );
      }
      const at = formats.findIndex((entry) => entry.prefix === pathPrefix);
      if (at >= 0) formats.splice(at, 1);
      formats.push({ prefix: pathPrefix, format });
      formats.sort((a, b) => b.prefix.length - a.prefix.length);
    },
    get address() {
      return address;
    },
    async listen() {
      if (address !== undefined) return address;
      await app.listen({ host, port });
      const bound = app.server.address();
      const actualPort = typeof bound === 'object' && bound !== null ? bound.port : port;
      const urlHost = host.includes(':') ? `[${host}]` : host;
      address = { host, port: actualPort, url: `http://${urlHost}:${actualPort}` };
      return address;
    },
    close() {
      closing ??= (async () => {
        const timer = setTimeout(() => {
          app.server.closeAllConnections?.();
        }, closeTimeoutMs);
        timer.unref?.();
        try {
          await app.close();
        } finally {
          clearTimeout(timer);
        }
      })();
      return closing;
    },
  };
}

/** The first ajv error as a 400 naming the field. */
function validationInfo(
  error: {
    instancePath?: string;
    keyword: string;
    params: Record<string, unknown>;
    message?: string;
    data?: unknown;
  },
  context: string | undefined,
): HttpErrorInfo {
  const parts = (error.instancePath ?? '')
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const prefix = context === undefined || context === 'body' ? [] : [contextName(context)];
  const at = formatPath([...prefix, ...parts]);
  const where = at.length > 0 ? at : context === 'body' || context === undefined ? 'the body' : at;
  const params = error.params;
  const bad = (field: string, message: string): HttpErrorInfo => ({
    status: 400,
    type: 'invalid_request',
    message,
    field,
  });
  switch (error.keyword) {
    case 'additionalProperties': {
      const name = String(params.additionalProperty);
      const field = formatPath([...prefix, ...parts, name]);
      return bad(field, `${field}: unknown field "${name}" in ${where}`);
    }
    case 'required': {
      const name = String(params.missingProperty);
      const field = formatPath([...prefix, ...parts, name]);
      return bad(field, `${field}: required field missing from ${where}`);
    }
    case 'type':
      return bad(at, `${where} must be ${article(String(params.type))}, got ${kindOf(error.data)}`);
    case 'enum':
      return bad(
        at,
        `${where} must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${brief(error.data)}`,
      );
    case 'const':
      return bad(
        at,
        `${where} must be ${JSON.stringify(params.allowedValue)}, got ${brief(error.data)}`,
      );
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return bad(
        at,
        `${where} = ${brief(error.data)} is out of range: it ${error.message ?? 'is out of range'}`,
      );
    default:
      return bad(at, `${where} ${error.message ?? `fails the ${error.keyword} check`}`);
  }
}

function contextName(context: string): string {
  return context === 'querystring' ? 'query' : context;
}

function article(type: string): string {
  if (type.includes(',')) return `one of ${type}`;
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string (${brief(value)})`;
  if (typeof value === 'number') return `a number (${value})`;
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function brief(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** `{ field }` from a hicra error's details (`argument` or `field`), when present. */
function fieldOfDetails(error: HicraError): { field?: string } {
  const details = error.details as Record<string, unknown>;
  const field = details.field ?? details.argument ?? details.path;
  return typeof field === 'string' ? { field } : {};
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function requestLabel(request: FastifyRequest): { method: string; path: string } {
  return { method: request.method, path: pathOf(request.url) };
}

function normaliseKeys(apiKey: string | readonly string[] | undefined): Buffer[] {
  const list = apiKey === undefined ? [] : typeof apiKey === 'string' ? [apiKey] : [...apiKey];
  return list
    .filter((key) => {
      if (typeof key !== 'string') {
        throw new InvalidArgumentError('createHttpServer: apiKey must be a string or strings', {
          source: SOURCE,
          details: { argument: 'apiKey' },
        });
      }
      return key.length > 0;
    })
    .map(digest);
}

function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key'];
  const direct = Array.isArray(header) ? header[0] : header;
  if (typeof direct === 'string' && direct.trim().length > 0) return direct.trim();
  const authorization = request.headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (match) return match[1]!.trim();
  }
  return undefined;
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** Constant-time comparison of a key's digest with a presented key. */
function sameKey(expected: Buffer, given: string): boolean {
  return timingSafeEqual(expected, digest(given));
}

function hasProtoKey(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(hasProtoKey);
  for (const key of Object.keys(value)) {
    if (key === '__proto__') return true;
    if (hasProtoKey((value as Record<string, unknown>)[key])) return true;
  }
  return false;
}
