import { definePackageConfig } from '@hicra/tsup-config';

export default definePackageConfig({
  entry: {
    index: 'src/index.ts',
    'kernels/index': 'src/kernels/index.ts',
    'testing/index': 'src/testing/index.ts',
    'testing/setup': 'src/testing/setup.ts',
  },
  external: [/^@tensorflow\//, 'vitest'],
});
