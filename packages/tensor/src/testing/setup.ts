/**
 * vitest setup file for every package that touches tensors: initialises the backend chosen by
 * `HICRA_BACKEND` (default `auto`) once per test file, and fails any test that leaves tensors
 * alive. Add its resolved path to `setupFiles` (vitest takes paths there, not package
 * specifiers): `fileURLToPath(import.meta.resolve('@hicra/tensor/testing/setup'))`.
 */
import { afterEach, beforeAll, beforeEach } from 'vitest';
import { currentBackend, initBackend } from '../backend.js';
import { createLeakChecker } from './index.js';

const checker = createLeakChecker();

beforeAll(async () => {
  if (currentBackend() === undefined) await initBackend();
});

beforeEach(() => {
  checker.start();
});

afterEach((context) => {
  checker.check(`test "${context.task.name}"`);
});
