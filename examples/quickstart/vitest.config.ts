import { definePackageTests } from '@hicra/vitest-config';

export default definePackageTests({ name: '@hicra/example-quickstart', testTimeout: 60_000 });
