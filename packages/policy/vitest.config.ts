import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { definePackageTests } from '@hicra/vitest-config';

// vitest joins `setupFiles` entries to the project root rather than resolving them as package
// specifiers, so the tensor core's leak checker is located through its package.json.
const tensorRoot = dirname(createRequire(import.meta.url).resolve('@hicra/tensor/package.json'));

export default definePackageTests({
  name: '@hicra/policy',
  setupFiles: [join(tensorRoot, 'src', 'testing', 'setup.ts')],
  testTimeout: 120_000,
});
