import { definePackageTests } from '@hicra/vitest-config';

export default definePackageTests({
  name: '@hicra/reference',
  setupFiles: ['@hicra/tensor/testing/setup'],
  testTimeout: 300_000,
});
