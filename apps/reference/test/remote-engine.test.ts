/**
 * `@hicra/remote` end to end against this app's own server (`serve`, `hicra serve`), on
 * loopback: the Tinker client passes the engine conformance suite, an RL run through HTTP
 * writes the metrics of the same run in process, the OpenAI-compatible sampler returns the
 * model's own log-probs, a server that dies mid-run fails the run clearly and a restarted one
 * resumes it, and the command line serves both protocols behind an API key.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LocalSamplingClient,
  LocalTrainingClient,
  loadCheckpoint,
  saveCheckpoint,
  TransformerPolicy,
} from '@hicra/policy';
import { OpenAISamplingClient, TinkerTrainingClient } from '@hicra/remote';
import type { SampleResultV1, SamplingClientV1, TrainingClientV1 } from '@hicra/spec';
import { assertEngineConformance } from '@hicra/spec/testing';
import { RUN_FILES, readJsonl, runRl } from '@hicra/trainer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { countdownReward, countdownSetup, planningClassifier } from '../src/countdown-setup.js';
import { tinyModel } from '../src/model-presets.js';
import { serve } from '../src/serve.js';
import { resolveTrainConfig, train } from '../src/train.js';
import { CLI } from './run-hicra.js';

const root = mkdtempSync(join(tmpdir(), 'hicra-remote-'));
const base = join(root, 'base');
afterAll(() => rmSync(root, { recursive: true, force: true }));

beforeAll(async () => {
  const setup = countdownSetup(0);
  const policy = TransformerPolicy.create(tinyModel(setup.tokenizer.vocabSize), { seed: 3 });
  await saveCheckpoint(base, policy, { tokenizer: setup.tokenizer });
  policy.dispose();
});

/** A small RL run: 3 steps of 2 prompts × 4 samples, an evaluation at step 0 and 2. */
const CONFIG = {
  steps: 3,
  promptsPerStep: 2,
  samplesPerPrompt: 4,
  sampling: { maxNewTokens: 8 },
  update: { miniBatchSize: 4 },
  evaluation: { every: 2, problems: 4, k: 2 },
  checkpointEvery: 1,
};

const stable = (r: Record<string, unknown>) =>
  Object.fromEntries(
    Object.entries(r).filter(
      ([k]) => k !== 'time' && !k.startsWith('time/') && !k.startsWith('throughput/'),
    ),
  );
const metricsOf = (dir: string) =>
  readJsonl<Record<string, unknown>>(join(dir, RUN_FILES.metrics)).map(stable);

/**
 * An engine whose samplers draw each prompt's G samples with their own call, seeded
 * `seed + p·G` and right-padded to `maxNewTokens`: what a Tinker client gets from a server.
 */
function promptByPrompt(
  engine: LocalTrainingClient,
): TrainingClientV1 & { dispose(): Promise<void> } {
  const split = (inner: SamplingClientV1): SamplingClientV1 => ({
    computeLogProbs: (request) => inner.computeLogProbs(request),
    dispose: () => inner.dispose?.(),
    async sample(request) {
      const { offsets, tokenIds } = request.prompts;
      const P = offsets.length - 1;
      const G = request.samplesPerPrompt;
      const T = request.maxNewTokens;
      const parts = [];
      for (let p = 0; p < P; p++) {
        parts.push(
          await inner.sample({
            ...request,
            prompts: {
              tokenIds: tokenIds.slice(offsets[p]!, offsets[p + 1]!),
              offsets: Int32Array.of(0, offsets[p + 1]! - offsets[p]!),
            },
            seed: request.seed + p * G,
          }),
        );
      }
      const B = P * G;
      const out = {
        batchSize: B,
        seqLen: T,
        promptIndex: Int32Array.from({ length: B }, (_, r) => Math.floor(r / G)),
        tokenIds: new Int32Array(B * T),
        responseMask: new Uint8Array(B * T),
        logProbs: new Float32Array(B * T),
        finished: new Uint8Array(B),
      };
      parts.forEach((part, p) => {
        for (let g = 0; g < G; g++) {
          const from = g * part.seqLen;
          const to = from + part.seqLen;
          const r = p * G + g;
          out.tokenIds.set(part.tokenIds.subarray(from, to), r * T);
          out.responseMask.set(part.responseMask.subarray(from, to), r * T);
          out.logProbs.set(part.logProbs.subarray(from, to), r * T);
          out.finished[r] = part.finished[g]!;
        }
      });
      return out;
    },
  });
  return {
    info: () => engine.info(),
    forward: (data, loss, options) => engine.forward(data, loss, options),
    forwardBackward: (data, loss, options) => engine.forwardBackward(data, loss, options),
    optimStep: (adam) => engine.optimStep(adam),
    saveState: (name) => engine.saveState(name),
    loadState: (location) => engine.loadState(location),
    saveWeightsForSampler: async (name) => split(await engine.saveWeightsForSampler(name)),
    dispose: () => engine.dispose(),
  };
}

/** A free loopback port (a restarted server must come back on the same URL). */
async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolvePort(port));
    });
  });
}

describe('the Tinker client against this app’s server', () => {
  it('passes the engine conformance suite over HTTP', async () => {
    await assertEngineConformance(async () => {
      // One server per engine: every call gets the same initial weights, as the suite needs.
      const server = await serve({ from: base, port: 0 });
      const training = await TinkerTrainingClient.create({
        baseUrl: server.address.url,
        baseModel: server.modelName,
      });
      return {
        training,
        dispose: async () => {
          await training.dispose();
          await server.close();
        },
      };
    });
  });

  it('an RL run through HTTP writes the same metrics as the same run in process', async () => {
    // In process, on the local engine, sampling prompt by prompt as the Tinker protocol does
    // (one prompt per `asample`, prompt p seeded seed + p·G): the local sampler draws a whole
    // batch from one stream, which gives other tokens (of the same distribution).
    const local = join(root, 'local');
    const { policy, tokenizer } = await loadCheckpoint(base);
    const engine = promptByPrompt(
      new LocalTrainingClient(policy, { directory: join(root, 'local-states') }),
    );
    const setup = countdownSetup(0);
    try {
      await runRl({
        runDir: local,
        engine,
        tokenizer: tokenizer!,
        reward: countdownReward(),
        classifier: planningClassifier('strategic-grams', 0),
        trainProblems: setup.problems('train', 1000, 2000),
        evalProblems: setup.problems('test', 0, 256),
        config: resolveTrainConfig({ strategy: 'hicra', seed: 0, config: CONFIG }),
      });
    } finally {
      await engine.dispose();
      policy.dispose();
    }
    const server = await serve({ from: base, port: 0 });
    const remote = join(root, 'remote');
    try {
      const result = await train({
        engine: {
          kind: 'tinker',
          baseUrl: server.address.url,
          model: server.modelName,
          tokenizer: base,
        },
        out: remote,
        strategy: 'hicra',
        seed: 0,
        config: CONFIG,
      });
      expect(result).toEqual({ status: 'completed', step: 3, resumedFrom: undefined });
    } finally {
      await server.close();
    }
    const expected = metricsOf(local);
    expect(expected.filter((r) => r.kind === 'train')).toHaveLength(3);
    // The server advertises the local engine's capabilities: every metric is there, equal.
    expect(metricsOf(remote)).toEqual(expected);
  });

  it('a server that dies mid-run fails the run clearly; restarted, the run resumes', async () => {
    const port = await freePort();
    const stateDir = join(root, 'states');
    const runDir = join(root, 'fault');
    const setup = countdownSetup(0);
    const loaded = await loadCheckpoint(base);
    loaded.policy.dispose();
    const common = {
      runDir,
      tokenizer: loaded.tokenizer!,
      reward: countdownReward(),
      classifier: planningClassifier('strategic-grams', 0),
      trainProblems: setup.problems('train', 1000, 200),
      evalProblems: setup.problems('test', 0, 16),
      config: { ...CONFIG, steps: 4, evaluation: { every: 0 } },
    };
    const connect = (url: string) =>
      TinkerTrainingClient.create({
        baseUrl: url,
        baseModel: 'base',
        retry: { maxRetries: 2, baseDelayMs: 20, maxDelayMs: 50 },
        timeoutMs: 20_000,
      });
    let server = await serve({ from: base, port, stateDir });
    const first = await connect(server.address.url);
    let error: unknown;
    try {
      await runRl({
        ...common,
        engine: first,
        onProgress: (p) => {
          // The server goes away after the second step's checkpoint.
          if (p.step === 2) void server.close();
        },
      });
    } catch (caught) {
      error = caught;
    } finally {
      await first.dispose().catch(() => undefined);
    }
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/127\.0\.0\.1|ECONNREFUSED|fetch failed|connect/);
    // Nothing written was lost: the checkpoint of step 2 is there, and the records up to it.
    server = await serve({ from: base, port, stateDir });
    const second = await connect(server.address.url);
    try {
      const resumed = await runRl({ ...common, engine: second });
      expect(resumed).toEqual({ status: 'completed', step: 4, resumedFrom: 2 });
    } finally {
      await second.dispose();
      await server.close();
    }
    // The same run without the fault.
    server = await serve({ from: base, port: 0 });
    const straight = await connect(server.address.url);
    try {
      await runRl({ ...common, runDir: join(root, 'fault-straight'), engine: straight });
    } finally {
      await straight.dispose();
      await server.close();
    }
    expect(metricsOf(runDir)).toEqual(metricsOf(join(root, 'fault-straight')));
  });
});

describe('the OpenAI-compatible sampler against this app’s server', () => {
  it('returns the local sampler’s tokens and log-probs for the same seed, reproducibly', async () => {
    const server = await serve({ from: base, port: 0 });
    const { policy, tokenizer } = await loadCheckpoint(base);
    const client = new OpenAISamplingClient({
      baseUrl: server.address.url,
      model: server.modelName,
    });
    try {
      const prompt = tokenizer!.encode(countdownSetup(0).problems('test', 0, 1)[0]!.prompt, {
        addSpecialTokens: true,
      }).ids;
      const request = {
        prompts: {
          tokenIds: Int32Array.from([...prompt, ...prompt]),
          offsets: Int32Array.of(0, prompt.length, 2 * prompt.length),
        },
        samplesPerPrompt: 3,
        maxNewTokens: 6,
        temperature: 1,
        seed: 7,
      };
      const sampled = await client.sample(request);
      expect(sampled.batchSize).toBe(6);
      const again = await client.sample(request);
      expect(again.tokenIds).toEqual(sampled.tokenIds);
      // Teacher-forced by the local model on the same tokens: the same log-probs.
      const rows = Array.from(sampled.promptIndex, (p) =>
        request.prompts.tokenIds.subarray(
          request.prompts.offsets[p]!,
          request.prompts.offsets[p + 1]!,
        ),
      );
      const offsets = [0];
      for (const row of rows) offsets.push(offsets.at(-1)! + row.length);
      const scored = await policy.score({
        prompts: {
          tokenIds: Int32Array.from(rows.flatMap((r) => [...r])),
          offsets: Int32Array.from(offsets),
        },
        batchSize: sampled.batchSize,
        seqLen: sampled.seqLen,
        tokenIds: sampled.tokenIds,
        responseMask: sampled.responseMask,
        temperature: 1,
      });
      let compared = 0;
      for (let k = 0; k < sampled.logProbs.length; k++) {
        if (!sampled.responseMask[k]) continue;
        expect(Math.abs(sampled.logProbs[k]! - scored.logProbs[k]!)).toBeLessThan(1e-5);
        compared++;
      }
      expect(compared).toBeGreaterThan(6);
      // The local sampler, given prompt p alone with the seed the client sends for it
      // (seed + p·G), draws the same tokens with the same log-probs.
      const local = new LocalSamplingClient(policy);
      const G = request.samplesPerPrompt;
      for (let p = 0; p < 2; p++) {
        const alone = await local.sample({
          ...request,
          prompts: { tokenIds: Int32Array.from(prompt), offsets: Int32Array.of(0, prompt.length) },
          seed: request.seed + p * G,
        });
        for (let j = 0; j < G; j++) {
          const r = p * G + j;
          const length = sampled.responseMask
            .subarray(r * sampled.seqLen, (r + 1) * sampled.seqLen)
            .reduce((a, b) => a + b, 0);
          const row = (batch: SampleResultV1, i: number, n: number) => ({
            tokens: Array.from(batch.tokenIds.subarray(i * batch.seqLen, i * batch.seqLen + n)),
            logProbs: Array.from(batch.logProbs.subarray(i * batch.seqLen, i * batch.seqLen + n)),
          });
          expect(row(sampled, r, length)).toEqual(row(alone, j, length));
        }
      }
    } finally {
      await client.dispose();
      await server.close();
      policy.dispose();
    }
  });
});

describe('load', () => {
  it('serves 64 concurrent sampling requests from one client without an error', async () => {
    const server = await serve({ from: base, port: 0 });
    const client = new OpenAISamplingClient({
      baseUrl: server.address.url,
      model: server.modelName,
      maxConcurrency: 64,
    });
    try {
      const prompt = Int32Array.of(1, 5, 6, 7);
      const results = await Promise.all(
        Array.from({ length: 64 }, (_, i) =>
          client.sample({
            prompts: { tokenIds: prompt, offsets: Int32Array.of(0, prompt.length) },
            samplesPerPrompt: 2,
            maxNewTokens: 4,
            temperature: 1,
            seed: i,
          }),
        ),
      );
      expect(results).toHaveLength(64);
      for (const result of results) expect(result.batchSize).toBe(2);
      // Seeded: a request sent again gives the same tokens.
      const again = await client.sample({
        prompts: { tokenIds: prompt, offsets: Int32Array.of(0, prompt.length) },
        samplesPerPrompt: 2,
        maxNewTokens: 4,
        temperature: 1,
        seed: 9,
      });
      expect(again.tokenIds).toEqual(results[9]!.tokenIds);
    } finally {
      await client.dispose();
      await server.close();
    }
  });
});

describe('hicra serve', () => {
  it('serves both protocols on one port behind an API key, and stops cleanly on Ctrl-C', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--conditions=@hicra/source',
        CLI,
        'serve',
        '--from',
        base,
        '--port',
        '0',
        '--api-key',
        'tml-test-key',
      ],
      { env: { ...process.env, HICRA_BACKEND: 'wasm' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolveExit) => child.on('exit', resolveExit));
    try {
      const url = await new Promise<string>((resolveUrl, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no "serving" line in 120 s:\n${stderr}`)),
          120_000,
        );
        const poll = setInterval(() => {
          const match = /serving \S+ on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
          if (match) {
            clearInterval(poll);
            clearTimeout(timer);
            resolveUrl(match[1]!);
          }
        }, 100);
      });
      expect((await fetch(`${url}/v1/models`)).status).toBe(401);
      const models = await fetch(`${url}/v1/models`, {
        headers: { authorization: 'Bearer tml-test-key' },
      });
      expect(models.status).toBe(200);
      expect(JSON.stringify(await models.json())).toContain('base');
      const capabilities = await fetch(`${url}/api/v1/get_server_capabilities`, {
        headers: { 'x-api-key': 'tml-test-key' },
      });
      expect(capabilities.status).toBe(200);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(stderr).toMatch(/GET \/v1\/models 401/);
      expect(stderr).toMatch(/stopping/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('hicra train with the engine in its config file', () => {
  it('trains through the server that the file\'s "engine" section names', async () => {
    const server = await serve({ from: base, port: 0 });
    const dir = join(root, 'from-config');
    const configPath = join(root, 'remote-rl.json');
    // The tokenizer path is relative to the config file's folder.
    writeFileSync(
      configPath,
      JSON.stringify({
        engine: { kind: 'tinker', baseUrl: server.address.url, model: 'base', tokenizer: 'base' },
        ...CONFIG,
        evaluation: { every: 0 },
      }),
    );
    try {
      const code = await main(
        [
          'train',
          '--out',
          dir,
          '--strategy',
          'hicra',
          '--steps',
          '1',
          '--config',
          configPath,
          '--quiet',
        ],
        CLI,
      );
      expect(code).toBe(0);
      expect(metricsOf(dir).filter((r) => r.kind === 'train')).toHaveLength(1);
      // The engine saved its state on the server; the run records where, and which server.
      const state = JSON.parse(
        readFileSync(join(dir, RUN_FILES.checkpoint, RUN_FILES.trainerState), 'utf8'),
      );
      expect(typeof state.engineState).toBe('string');
      const run = JSON.parse(readFileSync(join(dir, RUN_FILES.run), 'utf8'));
      expect(run.engine).toMatchObject({ kind: 'tinker', baseUrl: server.address.url });
    } finally {
      await server.close();
    }
  });
});
