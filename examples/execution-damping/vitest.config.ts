import { existsSync } from 'node:fs';
import { defineProject } from 'vitest/config';

// Inside the hicra repository the @hicra packages are workspace links: test against their
// TypeScript sources (the `@hicra/source` export condition), so no build is needed. Outside it
// (a copy of this starter), the installed packages' builds are used as they are.
const inRepository = existsSync(new URL('../../pnpm-workspace.yaml', import.meta.url));
const conditions = ['@hicra/source', 'node', 'import', 'module', 'default'];

export default defineProject({
  ...(inRepository
    ? {
        resolve: { conditions },
        ssr: { resolve: { conditions, externalConditions: ['@hicra/source'] } },
      }
    : {}),
  test: {
    name: '@hicra/example-execution-damping',
    include: ['test/**/*.test.ts'],
    environment: 'node',
  },
});
