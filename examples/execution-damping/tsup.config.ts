import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  target: 'node20',
  dts: true,
  clean: true,
  // @hicra/spec is a dependency: resolved by whoever installs this package, never bundled.
  external: [/^@hicra\//],
});
