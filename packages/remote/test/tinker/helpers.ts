/** Client ↔ server over loopback for the tests. */
import type { SamplingClientV1, TrainingClientV1 } from '@hicra/spec';
import {
  createTinkerServer,
  type TinkerServer,
  type TinkerServerOptions,
} from '../../src/index.js';
import {
  TinkerTrainingClient,
  type TinkerTrainingClientOptions,
} from '../../src/tinker/training-client.js';

export interface Loopback {
  readonly server: TinkerServer;
  readonly client: TinkerTrainingClient;
  readonly url: string;
  close(): Promise<void>;
}

/** A Tinker server over `training` on 127.0.0.1:0 and a training client of it. */
export async function loopback(
  training: TrainingClientV1,
  options: {
    server?: Partial<TinkerServerOptions>;
    client?: Partial<TinkerTrainingClientOptions>;
    sampling?: SamplingClientV1;
  } = {},
): Promise<Loopback> {
  const server = await createTinkerServer({
    training,
    longPollMs: 2000,
    ...(options.sampling === undefined ? {} : { sampling: options.sampling }),
    ...options.server,
  });
  const { url } = await server.listen();
  try {
    const client = await TinkerTrainingClient.create({
      baseUrl: url,
      heartbeatIntervalMs: 0,
      timeoutMs: 5000,
      pollTimeoutMs: 5000,
      retry: { maxRetries: 2, baseDelayMs: 5, maxDelayMs: 20 },
      ...options.client,
    });
    return {
      server,
      client,
      url,
      async close() {
        await client.dispose();
        await server.close();
      },
    };
  } catch (error) {
    await server.close();
    throw error;
  }
}
