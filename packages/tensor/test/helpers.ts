import { readFileSync } from 'node:fs';
import { type ConcreteBackendName, initBackend } from '../src/index.js';

/** Loads a verl golden-vector file copied from the project's shared fixtures. */
export function loadFixture<T>(name: string): { source: string; seed: number; cases: T[] } {
  return JSON.parse(readFileSync(new URL(`./fixtures/verl/${name}.json`, import.meta.url), 'utf8'));
}

/** The embedded backends every numeric test runs on. */
export const BACKENDS: ConcreteBackendName[] = ['cpu', 'wasm'];

export async function useBackend(name: ConcreteBackendName): Promise<void> {
  await initBackend(name);
}

/** verl's fixture tolerance: |a - e| <= atol + 1e-5·|e|, atol 1e-6. */
export const FIXTURE_TOLERANCE = { atol: 1e-6, rtol: 1e-5 };
