import { definePackageTests } from '@hicra/vitest-config';

export default definePackageTests({
  name: '@hicra/tensor',
  setupFiles: ['./src/testing/setup.ts'],
  testTimeout: 120_000,
});
