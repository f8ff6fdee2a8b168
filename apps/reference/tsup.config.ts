import { definePackageConfig } from '@hicra/tsup-config';

export default definePackageConfig({ entry: { index: 'src/index.ts', cli: 'src/cli/main.ts' } });
