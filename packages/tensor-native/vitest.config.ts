import { definePackageTests } from '@hicra/vitest-config';

export default definePackageTests({ name: '@hicra/tensor-native' });
