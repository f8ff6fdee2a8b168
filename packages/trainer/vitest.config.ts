import { definePackageTests } from '@hicra/vitest-config';

export default definePackageTests({
  name: '@hicra/trainer',
  setupFiles: ['@hicra/tensor/testing/setup'],
  testTimeout: 180_000,
});
