import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import {
  HuggingFaceTokenizer,
  LocalSamplingClient,
  LocalTrainingClient,
  loadCheckpoint,
} from '@hicra/policy';
import {
  createHttpServer,
  type HttpRequestLogEntry,
  type HttpServerAddress,
  type InstalledProtocol,
  installOpenAICompletions,
  installTinkerProtocol,
} from '@hicra/remote';
import { ConfigError } from '@hicra/spec';

const SOURCE = '@hicra/reference';

export interface ServeOptions {
  /** A checkpoint folder or a Hugging Face model folder. */
  readonly from: string;
  /** The name both protocols serve the model under. Default: the folder's name. */
  readonly modelName?: string;
  /** Default 127.0.0.1 (loopback only). */
  readonly host?: string;
  /** Default 8000; 0 picks a free port. */
  readonly port?: number;
  /** Clients must send it (`X-API-Key` or `Authorization: Bearer`); any string, `tml-...` too. */
  readonly apiKey?: string;
  /**
   * Where `save_weights` / `save_state` write, so a restarted server can load them. Default: a
   * fresh temporary folder (states are then lost with it).
   */
  readonly stateDir?: string;
  /** Called once per answered request. */
  readonly onRequest?: (entry: HttpRequestLogEntry) => void;
}

export interface RunningServer {
  readonly address: HttpServerAddress;
  /** The model name both protocols serve (`base_model` for Tinker, `model` for OpenAI). */
  readonly modelName: string;
  readonly stateDir: string;
  /** Stops accepting requests, lets those in flight finish, releases the model. Idempotent. */
  close(): Promise<void>;
}

/**
 * Serves a model through both protocols of `@hicra/remote` on one port: the Tinker training
 * protocol over the local engine (`LocalTrainingClient`, so a remote RL loop trains this
 * model), and OpenAI-compatible `/v1/completions` and `/v1/models` over a sampler on the
 * model's current weights.
 */
export async function serve(options: ServeOptions): Promise<RunningServer> {
  const from = resolve(options.from);
  const { policy, tokenizer, stopTokenIds } = await loadCheckpoint(from);
  // Released in reverse order of acquisition: the server stops first, the model goes last.
  const acquired: (() => Promise<void> | void)[] = [() => policy.dispose()];
  if (tokenizer instanceof HuggingFaceTokenizer) acquired.push(() => tokenizer.close());
  const close = async () => {
    while (acquired.length > 0) await acquired.pop()!();
  };
  try {
    if (tokenizer === undefined) {
      throw new ConfigError(
        'from',
        `${options.from} has no tokenizer.json; the OpenAI-compatible server tokenizes prompts and decodes responses with it`,
        { source: SOURCE },
      );
    }
    const modelName = options.modelName ?? basename(from);
    const stateDir = resolve(options.stateDir ?? mkdtempSync(join(tmpdir(), 'hicra-serve-')));
    const engine = new LocalTrainingClient(policy, { directory: stateDir, modelName });
    acquired.push(() => engine.dispose());
    // Samplers on the live weights: what the engine trains is what they sample.
    const sampler = new LocalSamplingClient(policy, { name: modelName });
    const server = createHttpServer({
      // Each protocol bounds its own routes (Tinker's datums are large); this is the ceiling.
      bodyLimitBytes: 64 * 1024 * 1024,
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 8000,
      ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
      ...(options.onRequest ? { onRequestLog: options.onRequest } : {}),
    });
    const protocols: InstalledProtocol[] = [
      await installTinkerProtocol(server, { training: engine, sampling: sampler, modelName }),
      installOpenAICompletions(server, {
        sampler,
        tokenizer,
        model: modelName,
        ...(stopTokenIds ? { eosTokenIds: stopTokenIds } : {}),
        contextLength: policy.contextLength,
      }),
    ];
    for (const protocol of protocols) acquired.push(() => protocol.close());
    acquired.push(() => server.close());
    const address = await server.listen();
    return { address, modelName, stateDir, close };
  } catch (error) {
    await close();
    throw error;
  }
}
