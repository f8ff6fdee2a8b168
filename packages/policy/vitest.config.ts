import { definePackageTests } from '@hicra/vitest-config';

export default definePackageTests({
  name: '@hicra/policy',
  setupFiles: ['@hicra/tensor/testing/setup'],
  testTimeout: 120_000,
});
