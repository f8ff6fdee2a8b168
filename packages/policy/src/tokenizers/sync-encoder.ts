import {
  MessageChannel,
  type MessagePort,
  receiveMessageOnPort,
  Worker,
} from 'node:worker_threads';

/**
 * A synchronous bridge to the `tokenizers` binding, whose `encode` is asynchronous only.
 *
 * A worker thread holds its own copy of the same tokenizer (built from the same JSON text)
 * and runs the binding's `encode` there; the calling thread posts the text, blocks on
 * `Atomics.wait` until the worker flags its reply, and takes the reply with
 * `receiveMessageOnPort`. Ids and offsets are the binding's own; nothing is re-implemented.
 * The worker is `unref`'d, so it never keeps a process alive.
 */

/** The binding's result: ids, `[start, end)` code-point offsets, and 1 where a post-processor added the token. */
export interface RawEncoding {
  readonly ids: Int32Array;
  readonly offsets: Int32Array;
  readonly added: Uint8Array;
}

/** Thrown by {@link SyncEncoder}: `stopped` when the worker is gone, `binding` when the binding failed. */
export class SyncEncoderError extends Error {
  constructor(
    readonly kind: 'stopped' | 'binding',
    message: string,
  ) {
    super(message);
  }
}

type Reply = { readonly ready: true } | { readonly error: string } | RawEncoding;

const IDLE = 0;
const REPLIED = 1;
const STOPPED = 2;

// CommonJS, evaluated by the worker: loads the binding by absolute path, builds the tokenizer
// from the JSON text, then answers one request at a time.
const WORKER_SOURCE = `
'use strict';
const { workerData } = require('node:worker_threads');
const { port, state, bindingPath, json } = workerData;
const flag = new Int32Array(state);
function reply(message, transfer) {
  port.postMessage(message, transfer);
  Atomics.store(flag, 0, ${REPLIED});
  Atomics.notify(flag, 0);
}
function describe(error) {
  return String((error && error.message) || error);
}
(function main() {
  let tokenizer;
  try {
    tokenizer = require(bindingPath).Tokenizer.fromString(json);
    tokenizer.disablePadding();
    tokenizer.disableTruncation();
  } catch (error) {
    reply({ error: describe(error) });
    return;
  }
  port.on('message', async ({ text, addSpecialTokens }) => {
    try {
      const encoding = await tokenizer.encode(text, null, { addSpecialTokens });
      const ids = Int32Array.from(encoding.getIds());
      const pairs = encoding.getOffsets();
      const offsets = new Int32Array(2 * pairs.length);
      for (let i = 0; i < pairs.length; i++) {
        offsets[2 * i] = pairs[i][0];
        offsets[2 * i + 1] = pairs[i][1];
      }
      const added = Uint8Array.from(encoding.getSequenceIds(), (s) => (s == null ? 1 : 0));
      reply({ ids, offsets, added }, [ids.buffer, offsets.buffer, added.buffer]);
    } catch (error) {
      reply({ error: describe(error) });
    }
  });
  reply({ ready: true });
})();
`;

type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };

export class SyncEncoder {
  readonly #worker: Worker;
  readonly #port: MessagePort;
  readonly #flag: Int32Array;
  #ready = false;

  /** Starts the worker; then {@link ready} (async) or any {@link encode} waits for it to load. */
  constructor(bindingPath: string, json: string) {
    const state = new SharedArrayBuffer(4);
    const { port1, port2 } = new MessageChannel();
    this.#flag = new Int32Array(state);
    this.#port = port1;
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { port: port2, state, bindingPath, json },
      transferList: [port2],
    });
    // Runs only while the calling thread is not blocked, e.g. while it awaits `ready()`.
    const stopped = () => {
      Atomics.store(this.#flag, 0, STOPPED);
      Atomics.notify(this.#flag, 0);
    };
    this.#worker.once('error', stopped);
    this.#worker.once('exit', stopped);
    this.#worker.unref();
    port1.unref();
  }

  #take(): Reply {
    const message = receiveMessageOnPort(this.#port);
    if (message === undefined) throw new SyncEncoderError('stopped', 'the worker thread stopped');
    Atomics.store(this.#flag, 0, IDLE);
    const reply = message.message as Reply;
    if ('error' in reply) throw new SyncEncoderError('binding', reply.error);
    return reply;
  }

  /** Resolves once the worker has loaded the tokenizer; rejects if it could not. */
  async ready(): Promise<void> {
    if (this.#ready) return;
    // Atomics.waitAsync alone does not keep the event loop alive: hold the worker's ref meanwhile.
    this.#worker.ref();
    try {
      const wait = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync(this.#flag, 0, IDLE);
      if (wait.async) await wait.value;
    } finally {
      this.#worker.unref();
    }
    this.#take();
    this.#ready = true;
  }

  /** Encodes on the worker thread, blocking the calling thread until the reply. */
  encode(text: string, addSpecialTokens: boolean): RawEncoding {
    if (!this.#ready) {
      Atomics.wait(this.#flag, 0, IDLE);
      this.#take();
      this.#ready = true;
    }
    this.#port.postMessage({ text, addSpecialTokens });
    Atomics.wait(this.#flag, 0, IDLE);
    const reply = this.#take();
    if (!('ids' in reply)) throw new SyncEncoderError('binding', 'unexpected reply');
    return reply;
  }

  /** Stops the worker thread. */
  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}
