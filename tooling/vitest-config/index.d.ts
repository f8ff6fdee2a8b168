import type { UserWorkspaceConfig } from 'vitest/config';

export declare const SOURCE_CONDITION: '@hicra/source';

export interface PackageTestOptions {
  /** Project name shown in reports. Default: the package's name. */
  name?: string;
  /**
   * Files run before every test file (the tensor-leak checker, for packages with tensors):
   * relative or absolute paths; a package export goes through `sourceEntry`.
   */
  setupFiles?: string[];
  /** Per-test time limit in milliseconds. Default 30 000. */
  testTimeout?: number;
  /** Test file globs. Default `['test/**\/*.test.ts']`. */
  include?: string[];
}

/**
 * The absolute path of a workspace package's export through the `@hicra/source` condition,
 * resolved from `fromUrl` (the config file's `import.meta.url`): for `setupFiles`, which vitest
 * resolves as paths against `dist/` otherwise.
 */
export declare function sourceEntry(specifier: string, fromUrl: string): string;

export declare function definePackageTests(options?: PackageTestOptions): UserWorkspaceConfig;
