import { serve } from '../../serve.js';
import { defineCommand, requireCheckpointFolder } from '../command.js';
import { progress } from '../output.js';
import { interruptOnSignals } from '../signals.js';

export const serveCommand = defineCommand({
  spec: {
    command: 'serve',
    options: ['from', 'model', 'port', 'host', 'api-key', 'state-dir'],
    required: ['from'],
  },
  summary:
    'serve a checkpoint over HTTP: the Tinker training protocol and OpenAI-compatible completions',
  usage:
    'hicra serve --from CHECKPOINT [--model NAME] [--port 8000] [--host 127.0.0.1] [--api-key KEY] [--state-dir DIR]',
  description:
    'Serves a checkpoint or Hugging Face model folder on one port: the Tinker training protocol\n' +
    '(/api/v1/..., JSON as Tinker SDKs up to 0.24 and verl_tinker speak it), so `hicra train\n' +
    '--engine tinker` or any Tinker client trains it remotely, and OpenAI-compatible\n' +
    "/v1/completions and /v1/models (vLLM's response shape) on the current weights. Binds to\n" +
    'loopback unless --host says otherwise; with --api-key every request must carry the key\n' +
    '(X-API-Key or Authorization: Bearer; Tinker keys look like tml-...). save_weights and\n' +
    'save_state write into --state-dir, so a restarted server loads them. Logs each request;\n' +
    "Ctrl-C stops it cleanly. --model names the served model (default: the folder's name).",
  examples: [
    'hicra serve --from runs/hicra-0/checkpoint --port 8000 --state-dir runs/serve-states',
  ],
  usesBackend: true,
  async run({ values }, { output }) {
    requireCheckpointFolder(values.from!, '--from');
    const interrupt = interruptOnSignals();
    try {
      const server = await serve({
        from: values.from!,
        ...(values.model === undefined ? {} : { modelName: values.model }),
        ...(values.host === undefined ? {} : { host: values.host }),
        ...(values.port === undefined ? {} : { port: values.port }),
        ...(values['api-key'] === undefined ? {} : { apiKey: values['api-key'] }),
        ...(values['state-dir'] === undefined ? {} : { stateDir: values['state-dir'] }),
        onRequest: (entry) =>
          progress(
            output,
            `${entry.method} ${entry.path} ${entry.status} ${entry.durationMs.toFixed(0)} ms${entry.error ? `: ${entry.error}` : ''}`,
          ),
      });
      const { url } = server.address;
      progress(
        output,
        `serving ${server.modelName} on ${url} (Tinker protocol: ${url}/api/v1, OpenAI-compatible: ${url}/v1); states in ${server.stateDir}; Ctrl-C stops`,
      );
      await new Promise<void>((resolveStop) => {
        if (interrupt.signal.aborted) resolveStop();
        interrupt.signal.addEventListener('abort', () => resolveStop(), { once: true });
      });
      progress(output, 'stopping: finishing the requests in flight');
      await server.close();
      return { url, modelName: server.modelName, stateDir: server.stateDir, stopped: true };
    } finally {
      interrupt.dispose();
    }
  },
});
