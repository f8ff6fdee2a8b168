import { definePackageConfig } from '@hicra/tsup-config';

export default definePackageConfig();
