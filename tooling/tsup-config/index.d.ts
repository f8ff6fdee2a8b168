import type { Options } from 'tsup';

export interface PackageBuildOptions extends Omit<Options, 'entry'> {
  /** Entry files, relative to the package. Default: `['src/index.ts']`. */
  entry?: string[] | Record<string, string>;
}

export declare function definePackageConfig(
  options?: PackageBuildOptions,
): ReturnType<typeof import('tsup').defineConfig>;
