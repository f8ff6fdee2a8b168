// Plain JavaScript on purpose: tsup loads its config through Node, which cannot import .ts
// from a workspace package without a build step of its own.
import { defineConfig } from 'tsup';

/**
 * The tsup preset shared by every publishable hicra package.
 * @param {import('./index.d.ts').PackageBuildOptions} [options]
 */
export function definePackageConfig(options = {}) {
  const { entry = ['src/index.ts'], external = [], ...rest } = options;
  return defineConfig({
    entry,
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    dts: true,
    sourcemap: true,
    clean: true,
    splitting: true,
    treeshake: true,
    outDir: 'dist',
    // Workspace packages and their dependencies are resolved by the consumer, never inlined.
    external: [/^@hicra\//, ...external],
    ...rest,
  });
}
