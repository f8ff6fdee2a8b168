import { definePackageTests, sourceEntry } from '@hicra/vitest-config';

export default definePackageTests({
  name: '@hicra/reference',
  setupFiles: [sourceEntry('@hicra/tensor/testing/setup', import.meta.url)],
  testTimeout: 300_000,
});
