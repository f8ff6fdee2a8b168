import { readFileSync } from 'node:fs';
import { loadNative } from '@hicra/tensor-native';
import { type ConcreteBackendName, initBackend } from '../src/index.js';

/** Loads a verl golden-vector file copied from the project's shared fixtures. */
export function loadFixture<T>(name: string): { source: string; seed: number; cases: T[] } {
  return JSON.parse(readFileSync(new URL(`./fixtures/verl/${name}.json`, import.meta.url), 'utf8'));
}

/** Whether the optional native addon loads here, and why not when it does not. */
export const NATIVE = loadNative();

/**
 * The embedded backends every numeric test runs on: `native` too wherever its addon loads
 * (always on linux-x64, where the prebuilt binary ships; test/native-backend.test.ts fails
 * there if it does not).
 */
export const BACKENDS: ConcreteBackendName[] = NATIVE.ok
  ? ['cpu', 'wasm', 'native']
  : ['cpu', 'wasm'];

export async function useBackend(name: ConcreteBackendName): Promise<void> {
  await initBackend(name);
}

/** verl's fixture tolerance: |a - e| <= atol + 1e-5·|e|, atol 1e-6. */
export const FIXTURE_TOLERANCE = { atol: 1e-6, rtol: 1e-5 };
