import { existsSync } from 'node:fs';
import { BackendUnavailableError, ErrorCode, InvalidArgumentError } from '@hicra/spec';
import { expectHicraRejection } from '@hicra/spec/testing';
import { afterAll, describe, expect, it } from 'vitest';
import {
  backendFromEnvironment,
  currentBackend,
  initBackend,
  tf,
  wasmBinaryDirectory,
} from '../src/index.js';

const initial = currentBackend()?.name ?? 'wasm';
afterAll(async () => {
  await initBackend(initial);
});

describe('backend selection', () => {
  it('initialises cpu and wasm (with SIMD) from the installed packages', async () => {
    const cpu = await initBackend('cpu');
    expect(cpu).toMatchObject({ name: 'cpu', tfjsBackend: 'cpu', skipped: [] });
    expect(tf.getBackend()).toBe('cpu');
    const wasm = await initBackend('wasm');
    expect(wasm).toMatchObject({ name: 'wasm', tfjsBackend: 'wasm', simd: true });
    expect(tf.getBackend()).toBe('wasm');
    expect(currentBackend()).toBe(wasm);
    tf.tidy(() => {
      expect(Array.from(tf.add(tf.tensor1d([1, 2]), 1).dataSync())).toEqual([2, 3]);
    });
  });

  it('finds the WASM binaries from the installed package, with a trailing slash', () => {
    const directory = wasmBinaryDirectory();
    expect(directory.endsWith('/')).toBe(true);
    expect(existsSync(`${directory}tfjs-backend-wasm-simd.wasm`)).toBe(true);
  });

  it('explains how to install a missing tfjs-node and why it cannot install offline', async () => {
    // tfjs-node cannot be installed on this project's machines, so its path is tested absent.
    const error = await expectHicraRejection(initBackend('tensorflow'));
    expect(error.code).toBe(ErrorCode.BackendUnavailable);
    expect(BackendUnavailableError.isInstance(error)).toBe(true);
    expect(error.message).toContain('npm install @tensorflow/tfjs-node@4.22.0');
    expect(error.message).toContain('cannot be installed offline');
    expect(error.message).toContain('HICRA_BACKEND=wasm');
  });

  it('says when tensorflow-gpu has no GPU, and when its package is missing', async () => {
    const noGpu = await expectHicraRejection(
      initBackend('tensorflow-gpu', { gpuVisible: () => false }),
    );
    expect(noGpu.message).toContain('needs a visible CUDA GPU');
    const missing = await expectHicraRejection(
      initBackend('tensorflow-gpu', { gpuVisible: () => true }),
    );
    expect(missing.message).toContain('npm install @tensorflow/tfjs-node-gpu@4.22.0');
  });

  it('auto falls through the absent tfjs-node packages to WASM, recording why', async () => {
    const info = await initBackend('auto', { gpuVisible: () => true });
    expect(info.name).toBe('wasm');
    expect(info.skipped.map((s) => s.name)).toEqual(['tensorflow-gpu', 'tensorflow']);
    expect(info.skipped[0]!.reason).toContain('@tensorflow/tfjs-node-gpu');
  });

  it('auto falls through to the CPU when WASM cannot start', async () => {
    const info = await initBackend('auto', {
      gpuVisible: () => false,
      importModule: (specifier) =>
        specifier === '@tensorflow/tfjs-backend-wasm'
          ? Promise.reject(new Error('simulated: no WebAssembly'))
          : import(specifier),
    });
    expect(info.name).toBe('cpu');
    expect(info.skipped.map((s) => s.name)).toEqual(['tensorflow-gpu', 'tensorflow', 'wasm']);
  });

  it('uses a tfjs-node package when it is present (simulated module)', async () => {
    // Without the real addon, a stand-in module registers a backend named like tfjs-node's.
    let loaded = '';
    const info = await initBackend('tensorflow', {
      importModule: async (specifier) => {
        loaded = specifier;
        if (specifier === '@tensorflow/tfjs-node') {
          const cpu = tf.findBackendFactory('cpu')!;
          tf.registerBackend('tensorflow', cpu, 0);
          // kernels of the stand-in: the CPU ones
          for (const kernel of tf.getKernelsForBackend('cpu'))
            tf.registerKernel({ ...kernel, backendName: 'tensorflow' });
        }
        return {};
      },
    });
    expect(loaded).toBe('@tensorflow/tfjs-node');
    expect(info).toMatchObject({ name: 'tensorflow', tfjsBackend: 'tensorflow' });
    tf.tidy(() => {
      expect(Array.from(tf.mul(tf.tensor1d([2]), 3).dataSync())).toEqual([6]);
    });
    await initBackend('wasm');
    tf.removeBackend('tensorflow');
    for (const kernel of tf.getKernelsForBackend('tensorflow'))
      tf.unregisterKernel(kernel.kernelName, 'tensorflow');
  });

  it('reads HICRA_BACKEND and rejects unknown names', async () => {
    expect(backendFromEnvironment({})).toBe('auto');
    expect(backendFromEnvironment({ HICRA_BACKEND: ' wasm ' })).toBe('wasm');
    expect(() => backendFromEnvironment({ HICRA_BACKEND: 'gpu' })).toThrow(
      /HICRA_BACKEND="gpu" is not a backend; use one of auto, cpu, wasm, native, tensorflow, tensorflow-gpu/,
    );
    const error = await expectHicraRejection(initBackend('webgl' as never));
    expect(InvalidArgumentError.isInstance(error)).toBe(true);
    expect(error.message).toContain('unknown backend "webgl"');
  });
});
