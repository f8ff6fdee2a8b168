import { definePackageTests, sourceEntry } from '@hicra/vitest-config';

export default definePackageTests({
  name: '@hicra/trainer',
  setupFiles: [sourceEntry('@hicra/tensor/testing/setup', import.meta.url)],
  testTimeout: 180_000,
});
