import { definePackageTests } from '@hicra/vitest-config';

// The browser test starts Chromium and renders the report: allow it more than the default.
export default definePackageTests({ name: '@hicra/reference', testTimeout: 120_000 });
