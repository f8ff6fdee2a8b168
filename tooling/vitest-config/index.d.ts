import type { UserWorkspaceConfig } from 'vitest/config';

export declare const SOURCE_CONDITION: '@hicra/source';

export interface PackageTestOptions {
  /** Project name shown in reports. Default: the package's name. */
  name?: string;
  /** Files run before every test file (the tensor-leak checker, for packages with tensors). */
  setupFiles?: string[];
  /** Per-test time limit in milliseconds. Default 30 000. */
  testTimeout?: number;
  /** Test file globs. Default `['test/**\/*.test.ts']`. */
  include?: string[];
}

export declare function definePackageTests(options?: PackageTestOptions): UserWorkspaceConfig;
