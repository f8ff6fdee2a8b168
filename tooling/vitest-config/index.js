// This preset depends on no @hicra package (DESIGN.md, convention 5): packages that touch
// tensors add the leak checker from @hicra/tensor/testing through `setupFiles` themselves.
import { defineProject } from 'vitest/config';

/** The export condition that points every workspace package at its TypeScript source. */
export const SOURCE_CONDITION = '@hicra/source';

const serverConditions = [SOURCE_CONDITION, 'node', 'import', 'module', 'default'];

/**
 * A vitest project for one workspace package.
 * @param {import('./index.d.ts').PackageTestOptions} [options]
 */
export function definePackageTests(options = {}) {
  const { setupFiles = [], testTimeout = 30_000, include = ['test/**/*.test.ts'], name } = options;
  return defineProject({
    resolve: { conditions: serverConditions },
    ssr: { resolve: { conditions: serverConditions, externalConditions: [SOURCE_CONDITION] } },
    test: {
      ...(name ? { name } : {}),
      include,
      setupFiles,
      testTimeout,
      environment: 'node',
      pool: 'forks',
    },
  });
}
