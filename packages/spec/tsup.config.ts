import { definePackageConfig } from '@hicra/tsup-config';

export default definePackageConfig({
  entry: { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts' },
});
