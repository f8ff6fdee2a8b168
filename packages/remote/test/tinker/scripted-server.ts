/**
 * A scripted Tinker server on node:http for fault tests: the handshake (client/config,
 * create_session, capabilities, create_model, get_info) answers normally; each test scripts
 * the routes it is about. Every request is recorded. Loopback only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface Recorded {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Record<string, unknown>;
}

/** A route's handler: answer with `reply`, or take over `res` (hold it, break it). */
export type Handler = (context: {
  readonly body: Record<string, unknown>;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** How many requests this path got before this one. */
  readonly count: number;
  reply(status: number, body: unknown, headers?: Record<string, string>): void;
}) => void;

export interface Scripted {
  readonly url: string;
  readonly requests: Recorded[];
  readonly routes: Map<string, Handler>;
  /** `retrieve_future` answers by request id: a result (answered 200) or a handler. */
  readonly futures: Map<string, unknown>;
  /** Requests to `path`. */
  to(path: string): Recorded[];
  close(): Promise<void>;
}

const json = (res: ServerResponse, status: number, body: unknown, headers = {}) => {
  if (res.destroyed || res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
};

export const MODEL_ID = 'scripted-session:train:0';

/** Starts a scripted server on 127.0.0.1:0 with the handshake routes and `routes`. */
export async function scriptedServer(routes: Record<string, Handler> = {}): Promise<Scripted> {
  const requests: Recorded[] = [];
  const counts = new Map<string, number>();
  const futures = new Map<string, unknown>([
    ['f-create', { model_id: MODEL_ID, type: 'create_model' }],
  ]);
  const table = new Map<string, Handler>([
    ['/api/v1/client/config', ({ reply }) => reply(200, { parallel_fwdbwd_chunks: false })],
    [
      '/api/v1/create_session',
      ({ reply }) => reply(200, { type: 'create_session', session_id: 'scripted-session' }),
    ],
    [
      '/api/v1/get_server_capabilities',
      ({ reply }) => reply(200, { supported_models: [{ model_name: 'scripted-model' }] }),
    ],
    [
      '/api/v1/create_model',
      ({ reply }) => reply(200, { request_id: 'f-create', model_id: MODEL_ID }),
    ],
    [
      '/api/v1/get_info',
      ({ reply }) =>
        reply(200, {
          type: 'get_info',
          model_data: { model_name: 'scripted-model' },
          model_id: MODEL_ID,
        }),
    ],
    ['/api/v1/session_heartbeat', ({ reply }) => reply(200, { type: 'session_heartbeat' })],
    [
      '/api/v1/retrieve_future',
      (context) => {
        const id = String(context.body.request_id);
        if (!futures.has(id)) {
          context.reply(404, { detail: `unknown future ${id}` });
          return;
        }
        const answer = futures.get(id);
        if (typeof answer === 'function') (answer as Handler)(context);
        else context.reply(200, answer);
      },
    ],
    ...Object.entries(routes),
  ]);
  const open = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0]!;
      const text = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown> = {};
      try {
        body = text.length > 0 ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        // recorded as text
      }
      requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body });
      const count = counts.get(path) ?? 0;
      counts.set(path, count + 1);
      const handler = table.get(path);
      open.add(res);
      res.on('close', () => open.delete(res));
      if (handler === undefined) {
        json(res, 404, { detail: `no route ${path}` });
        return;
      }
      handler({
        body,
        req,
        res,
        count,
        reply: (status, value, headers) => json(res, status, value, headers),
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    routes: table,
    futures,
    to: (path) => requests.filter((r) => r.path === path),
    async close() {
      for (const res of open) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
