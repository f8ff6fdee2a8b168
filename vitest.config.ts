import { defineConfig } from 'vitest/config';

// The whole workspace as one vitest run: every package with a vitest.config.ts is a project.
// `pnpm test` (scripts/test.mjs) runs this and writes reports/vitest.json.
export default defineConfig({
  test: {
    projects: [
      'packages/*/vitest.config.ts',
      'apps/*/vitest.config.ts',
      'tooling/*/vitest.config.ts',
      'examples/*/vitest.config.ts',
    ],
  },
});
