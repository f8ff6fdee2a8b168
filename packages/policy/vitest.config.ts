import { definePackageTests, sourceEntry } from '@hicra/vitest-config';

export default definePackageTests({
  name: '@hicra/policy',
  setupFiles: [sourceEntry('@hicra/tensor/testing/setup', import.meta.url)],
  testTimeout: 120_000,
});
