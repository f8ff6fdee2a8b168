#!/usr/bin/env node
// Throughput of a small JSON POST on loopback, per HTTP server library (decision 0075).
// Not a test: run by hand. The candidates are installed in a scratch folder, not the repo:
//
//   mkdir -p /tmp/httpbench && cd /tmp/httpbench && npm init -y
//   npm install fastify@5 hono @hono/node-server h3 autocannon
//   cd <repo> && BENCH_DEPS=/tmp/httpbench node packages/remote/test/tinker/http-server-bench.mjs
//
// Each server runs alone in a child process; autocannon loads it from this process.
// Options (env): ROUNDS (3), SECONDS (8), CONNECTIONS (32), ONLY (comma-separated names),
// FORCE_TSX=1 (every server under the tsx loader, as the package's own base runs, to compare).
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const DEPS = process.env.BENCH_DEPS ?? '/tmp/httpbench';
const here = fileURLToPath(import.meta.url);
const requireDep = createRequire(join(DEPS, 'package.json'));
const load = async (name) => import(pathToFileURL(requireDep.resolve(name)).href);

/** The request: an optim_step-sized JSON body. The answer: a Tinker future. */
const BODY = JSON.stringify({
  adam_params: {
    learning_rate: 4e-5,
    beta1: 0.9,
    beta2: 0.95,
    eps: 1e-8,
    weight_decay: 0,
    grad_clip_norm: 0,
  },
  model_id: 'hicra-session:0:train:0',
  seq_id: 3,
  type: 'optim_step',
});

const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['adam_params', 'model_id'],
  properties: {
    adam_params: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(
        ['learning_rate', 'beta1', 'beta2', 'eps', 'weight_decay', 'grad_clip_norm'].map((k) => [
          k,
          { type: 'number', minimum: 0 },
        ]),
      ),
    },
    model_id: { type: 'string', minLength: 1 },
    seq_id: { type: 'integer' },
    type: { const: 'optim_step' },
  },
};

let counter = 0;
const answer = (body) => ({
  request_id: `r${counter++}`,
  model_id: body.model_id,
});

/** Each candidate: starts a server on 127.0.0.1:0 and resolves to its port. */
const CANDIDATES = {
  'node:http': async () => {
    const server = createServer((req, res) => {
      if (req.method !== 'POST' || req.url !== '/api/v1/optim_step') {
        res.writeHead(404).end();
        return;
      }
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        let body;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          res.writeHead(400, { 'content-type': 'application/json' }).end('{"detail":"bad json"}');
          return;
        }
        const text = JSON.stringify(answer(body));
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
        });
        res.end(text);
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    return server.address().port;
  },
  fastify: async () => {
    const { default: Fastify } = await load('fastify');
    const app = Fastify({ logger: false });
    app.post('/api/v1/optim_step', { schema: { body: SCHEMA } }, async (req) => answer(req.body));
    await app.listen({ host: '127.0.0.1', port: 0 });
    return app.server.address().port;
  },
  'fastify (no schema)': async () => {
    const { default: Fastify } = await load('fastify');
    const app = Fastify({ logger: false });
    app.post('/api/v1/optim_step', async (req) => answer(req.body));
    await app.listen({ host: '127.0.0.1', port: 0 });
    return app.server.address().port;
  },
  'hicra createHttpServer': async () => {
    // Through tsx: the package's own base (custom JSON parser, encodeJson replies, hooks).
    const { createHttpServer } = await import(
      pathToFileURL(join(here, '../../../src/http/server.ts')).href
    );
    const server = createHttpServer({ apiKey: 'tml-bench' });
    server.app.post('/api/v1/optim_step', { schema: { body: SCHEMA } }, async (req) =>
      answer(req.body),
    );
    const { port } = await server.listen();
    return port;
  },
  hono: async () => {
    const { Hono } = await load('hono');
    const { serve } = await load('@hono/node-server');
    const app = new Hono();
    app.post('/api/v1/optim_step', async (c) => c.json(answer(await c.req.json())));
    return new Promise((resolve) => {
      serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => resolve(info.port));
    });
  },
  h3: async () => {
    const { H3, toNodeHandler } = await load('h3');
    const app = new H3();
    app.post('/api/v1/optim_step', async (event) => answer(await event.req.json()));
    const server = createServer(toNodeHandler(app));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    return server.address().port;
  },
};

async function child(name) {
  const port = await CANDIDATES[name]();
  process.stdout.write(`PORT ${port}\n`);
}

function startChild(name) {
  const needsTsx = name.startsWith('hicra') || process.env.FORCE_TSX === '1';
  const args = [
    ...(needsTsx ? ['--conditions=@hicra/source', '--import', 'tsx'] : []),
    here,
    '--serve',
    name,
  ];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve({ proc, port: Number(m[1]) });
    });
    proc.on('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
}

async function measure(autocannon, port, seconds, connections) {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/api/v1/optim_step`,
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'tml-bench' },
    body: BODY,
    connections,
    duration: seconds,
  });
  return {
    rps: result.requests.average,
    mean: result.latency.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

async function main() {
  const { default: autocannon } = await load('autocannon');
  const rounds = Number(process.env.ROUNDS ?? 3);
  const seconds = Number(process.env.SECONDS ?? 8);
  const connections = Number(process.env.CONNECTIONS ?? 32);
  const names = process.env.ONLY ? process.env.ONLY.split(',') : Object.keys(CANDIDATES);
  const results = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = 0; round < rounds; round++) {
    for (const name of names) {
      const { proc, port } = await startChild(name);
      try {
        await measure(autocannon, port, 2, connections); // warm-up
        const r = await measure(autocannon, port, seconds, connections);
        results[name].push(r);
        console.error(
          `round ${round + 1} ${name}: ${Math.round(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, non-2xx ${r.non2xx}, errors ${r.errors}`,
        );
      } finally {
        proc.removeAllListeners('exit');
        proc.kill();
      }
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(
    `\n${connections} connections, ${seconds} s per round, ${rounds} rounds (median); node ${process.version}`,
  );
  console.log('| server | req/s (median) | req/s (min-max) | mean ms | p50 ms | p99 ms |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const name of names) {
    const rs = results[name];
    console.log(
      `| ${name} | ${Math.round(median(rs.map((r) => r.rps)))} | ${Math.round(Math.min(...rs.map((r) => r.rps)))}-${Math.round(Math.max(...rs.map((r) => r.rps)))} | ${median(rs.map((r) => r.mean)).toFixed(2)} | ${median(rs.map((r) => r.p50))} | ${median(rs.map((r) => r.p99))} |`,
    );
  }
}

if (process.argv[2] === '--serve') await child(process.argv[3]);
else await main();
