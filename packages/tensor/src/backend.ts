import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { BackendUnavailableError, InvalidArgumentError } from '@hicra/spec';
import {
  NATIVE_TFJS_BACKEND,
  type NativeKernels,
  registerNativeBackend,
} from './native-backend.js';
import { tf } from './tf.js';

/** Backends hicra can run on. `auto` picks the fastest available (see {@link initBackend}). */
export const BACKEND_NAMES = [
  'auto',
  'cpu',
  'wasm',
  'native',
  'tensorflow',
  'tensorflow-gpu',
] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type ConcreteBackendName = Exclude<BackendName, 'auto'>;

/** What {@link initBackend} selected. */
export interface BackendInfo {
  /** The hicra backend name. */
  readonly name: ConcreteBackendName;
  /** The tfjs backend name (`tensorflow` for both tfjs-node packages). */
  readonly tfjsBackend: string;
  /** WASM and native: whether the SIMD binary is in use. */
  readonly simd?: boolean;
  /** Native only: the threads OpenBLAS may use, and the addon's OpenBLAS build and CPU kernel. */
  readonly native?: { readonly threads: number; readonly blas: string; readonly path: string };
  /** For `auto`: the backends tried before this one and why each was skipped. */
  readonly skipped: readonly { readonly name: ConcreteBackendName; readonly reason: string }[];
}

export interface InitBackendOptions {
  /**
   * Loads a module by name; defaults to dynamic `import()`. Tests and bundlers may inject it.
   * @internal
   */
  readonly importModule?: (specifier: string) => Promise<unknown>;
  /** Whether a CUDA GPU is visible; default: checks `/proc/driver/nvidia` and `/dev/nvidia0`. */
  readonly gpuVisible?: () => boolean;
  /**
   * Native only: the threads OpenBLAS may use. Default: `HICRA_NATIVE_THREADS`, else 1 (the
   * WASM backend's one thread; raise it on an otherwise idle machine).
   */
  readonly threads?: number;
}

const SOURCE = '@hicra/tensor';
// `native` is opt-in for now (it changes float rounding of matrix products against WASM).
const AUTO_ORDER: readonly ConcreteBackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];
const NATIVE_PACKAGE = '@hicra/tensor-native';
const NODE_PACKAGES = {
  tensorflow: '@tensorflow/tfjs-node',
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
} as const;

let current: BackendInfo | undefined;
let wasmPathsSet = false;

/** The backend selected by the last {@link initBackend}, or `undefined` before any. */
export function currentBackend(): BackendInfo | undefined {
  return current;
}

/** Reads `HICRA_BACKEND`, validating it; `auto` when unset. */
export function backendFromEnvironment(env: NodeJS.ProcessEnv = process.env): BackendName {
  const value = env.HICRA_BACKEND?.trim();
  if (value === undefined || value === '') return 'auto';
  if (!(BACKEND_NAMES as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(
      `HICRA_BACKEND=${JSON.stringify(value)} is not a backend; use one of ${BACKEND_NAMES.join(', ')}`,
      { source: SOURCE, details: { variable: 'HICRA_BACKEND', value, known: [...BACKEND_NAMES] } },
    );
  }
  return value as BackendName;
}

/**
 * Selects and initialises a compute backend. Nothing is selected on import: call this once
 * before creating tensors (again to switch).
 *
 * `auto` (the default, or `HICRA_BACKEND`) tries, in order: `@tensorflow/tfjs-node-gpu` when it
 * is installed and a GPU is visible, `@tensorflow/tfjs-node` when installed, WASM with SIMD,
 * then the pure-JS CPU backend. Asking for a specific backend that is not available throws a
 * `BackendUnavailableError` that says how to install it.
 */
export async function initBackend(
  name: BackendName = backendFromEnvironment(),
  options: InitBackendOptions = {},
): Promise<BackendInfo> {
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
    throw new InvalidArgumentError(
      `unknown backend ${JSON.stringify(name)}; use one of ${BACKEND_NAMES.join(', ')}`,
      {
        source: SOURCE,
        details: { argument: 'name', value: name, known: [...BACKEND_NAMES] },
      },
    );
  }
  // tfjs-core's Node entry registers no gradients; hicra registers them with the first backend.
  await import('./register-gradients.js');
  if (name !== 'auto') {
    current = { ...(await activate(name, options)), skipped: [] };
    return current;
  }
  const skipped: { name: ConcreteBackendName; reason: string }[] = [];
  for (const candidate of AUTO_ORDER) {
    try {
      current = { ...(await activate(candidate, options)), skipped };
      return current;
    } catch (error) {
      skipped.push({
        name: candidate,
        reason: error instanceof Error ? error.message : String(error),
      });
    }
  }
  throw new BackendUnavailableError(
    `no backend could start: ${skipped.map((s) => `${s.name} (${s.reason})`).join('; ')}`,
    { source: SOURCE, details: { skipped } },
  );
}

async function activate(
  name: ConcreteBackendName,
  options: InitBackendOptions,
): Promise<Omit<BackendInfo, 'skipped'>> {
  const importModule = options.importModule ?? ((specifier: string) => import(specifier));
  switch (name) {
    case 'cpu':
      await importModule('@tensorflow/tfjs-backend-cpu');
      await setBackendOrThrow('cpu', name);
      // The CPU backend prints an advertisement for tfjs-node on first use in Node; hicra's
      // `auto` already prefers tfjs-node when installed, and documents the choice.
      (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
      return { name, tfjsBackend: 'cpu' };
    case 'wasm': {
      const wasm = (await importModule('@tensorflow/tfjs-backend-wasm')) as {
        setWasmPaths: (prefix: string) => void;
      };
      if (!wasmPathsSet) {
        wasm.setWasmPaths(wasmBinaryDirectory());
        wasmPathsSet = true;
      }
      await setBackendOrThrow('wasm', name);
      return { name, tfjsBackend: 'wasm', simd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT') };
    }
    case 'native': {
      const threads = nativeThreads(options.threads);
      const binding = await loadNativeBinding(importModule);
      const wasm = await activate('wasm', options);
      try {
        registerNativeBackend(binding);
      } catch (error) {
        throw new BackendUnavailableError(
          `backend native failed to register: ${firstLine(error)}`,
          { source: SOURCE, details: { backend: name }, cause: error },
        );
      }
      binding.setThreads(threads);
      await setBackendOrThrow(NATIVE_TFJS_BACKEND, name);
      const { config, core } = binding.blasInfo();
      return {
        name,
        tfjsBackend: NATIVE_TFJS_BACKEND,
        simd: wasm.simd,
        native: { threads: binding.getThreads(), blas: `${config} (${core})`, path: binding.path },
      };
    }
    case 'tensorflow':
    case 'tensorflow-gpu': {
      if (name === 'tensorflow-gpu' && !(options.gpuVisible ?? cudaGpuVisible)()) {
        throw new BackendUnavailableError(
          'tensorflow-gpu needs a visible CUDA GPU and none was found',
          {
            source: SOURCE,
            details: { backend: name },
          },
        );
      }
      const packageName = NODE_PACKAGES[name];
      try {
        await importModule(packageName);
      } catch (error) {
        throw new BackendUnavailableError(
          `backend ${name} needs the optional peer ${packageName}@${tf.version_core}, which is not installed or failed to load (${firstLine(error)}). ` +
            `Install it with \`npm install ${packageName}@${tf.version_core}\` (with pnpm, also allow its build script). ` +
            'Its install script downloads the libtensorflow C library from Google storage, so it cannot be installed offline; ' +
            'use HICRA_BACKEND=wasm or cpu on such machines.',
          { source: SOURCE, details: { backend: name, package: packageName }, cause: error },
        );
      }
      await setBackendOrThrow('tensorflow', name);
      return { name, tfjsBackend: 'tensorflow' };
    }
  }
}

interface NativeBindingLike extends NativeKernels {
  setThreads(threads: number): void;
  getThreads(): number;
  blasInfo(): { config: string; core: string };
  readonly path: string;
}

/** Loads `@hicra/tensor-native`'s addon, or throws a `BackendUnavailableError` saying why not. */
async function loadNativeBinding(
  importModule: (specifier: string) => Promise<unknown>,
): Promise<NativeBindingLike> {
  let loader: { loadNative: () => unknown };
  try {
    loader = (await importModule(NATIVE_PACKAGE)) as typeof loader;
  } catch (error) {
    throw new BackendUnavailableError(
      `backend native needs the optional package ${NATIVE_PACKAGE}, which is not installed or failed to load (${firstLine(error)}). ` +
        `Install it with \`npm install ${NATIVE_PACKAGE}\` (a prebuilt binary ships for linux-x64; elsewhere it builds from source).`,
      { source: SOURCE, details: { backend: 'native', package: NATIVE_PACKAGE }, cause: error },
    );
  }
  const load = loader.loadNative() as
    | { ok: true; binding: Omit<NativeBindingLike, 'path'>; path: string }
    | { ok: false; reason: string; tried: readonly string[] };
  if (!load.ok) {
    throw new BackendUnavailableError(`backend native is unavailable: ${load.reason}`, {
      source: SOURCE,
      details: { backend: 'native', package: NATIVE_PACKAGE, tried: [...load.tried] },
    });
  }
  const { binding, path } = load;
  return {
    matmul: binding.matmul,
    tanh: binding.tanh,
    softmax: binding.softmax,
    binary: binding.binary,
    exp: binding.exp,
    gather: binding.gather,
    copyBlocks: binding.copyBlocks,
    transpose: binding.transpose,
    setThreads: binding.setThreads,
    getThreads: binding.getThreads,
    blasInfo: binding.blasInfo,
    path,
  };
}

/** The native backend's thread count: the option, else `HICRA_NATIVE_THREADS`, else 1. */
function nativeThreads(option: number | undefined): number {
  const raw = option ?? process.env.HICRA_NATIVE_THREADS?.trim();
  if (raw === undefined || raw === '') return 1;
  const threads = Number(raw);
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
    throw new InvalidArgumentError(
      `the native backend's threads must be an integer from 1 to 256, got ${JSON.stringify(raw)}${option === undefined ? ' (HICRA_NATIVE_THREADS)' : ''}`,
      {
        source: SOURCE,
        details: {
          argument: option === undefined ? 'HICRA_NATIVE_THREADS' : 'threads',
          value: raw,
        },
      },
    );
  }
  return threads;
}

async function setBackendOrThrow(tfjsName: string, name: ConcreteBackendName): Promise<void> {
  let ok = false;
  try {
    ok = await tf.setBackend(tfjsName);
    await tf.ready();
  } catch (error) {
    throw new BackendUnavailableError(`backend ${name} failed to initialise: ${firstLine(error)}`, {
      source: SOURCE,
      details: { backend: name },
      cause: error,
    });
  }
  if (!ok || tf.getBackend() !== tfjsName) {
    throw new BackendUnavailableError(
      `backend ${name} failed to initialise (tfjs kept ${tf.getBackend()})`,
      {
        source: SOURCE,
        details: { backend: name },
      },
    );
  }
}

/**
 * The folder holding the WASM binaries, found from the installed `@tensorflow/tfjs-backend-wasm`
 * package (in this repository and in an installed tarball alike), with a trailing slash.
 */
export function wasmBinaryDirectory(): string {
  const require = createRequire(import.meta.url);
  let manifest: string;
  try {
    manifest = require.resolve('@tensorflow/tfjs-backend-wasm/package.json');
  } catch (error) {
    throw new BackendUnavailableError(
      `the WASM backend package @tensorflow/tfjs-backend-wasm cannot be found (${firstLine(error)}); reinstall @hicra/tensor`,
      { source: SOURCE, details: { backend: 'wasm' }, cause: error },
    );
  }
  const directory = join(dirname(manifest), 'dist');
  for (const file of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm']) {
    if (!existsSync(join(directory, file))) {
      throw new BackendUnavailableError(
        `the WASM binary ${join(directory, file)} is missing; reinstall @tensorflow/tfjs-backend-wasm`,
        {
          source: SOURCE,
          details: { backend: 'wasm', file },
        },
      );
    }
  }
  return `${directory}/`;
}

function cudaGpuVisible(): boolean {
  return existsSync('/proc/driver/nvidia/version') || existsSync('/dev/nvidia0');
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}
