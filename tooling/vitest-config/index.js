// This preset depends on no @hicra package (DESIGN.md, convention 5): packages that touch
// tensors add the leak checker from @hicra/tensor/testing through `setupFiles` themselves.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineProject } from 'vitest/config';

/** The export condition that points every workspace package at its TypeScript source. */
export const SOURCE_CONDITION = '@hicra/source';

const serverConditions = [SOURCE_CONDITION, 'node', 'import', 'module', 'default'];

/**
 * The absolute path of a workspace package's export, through the `@hicra/source` condition,
 * resolved from the file at `fromUrl` (pass `import.meta.url`). vitest resolves `setupFiles`
 * entries as paths with Node's default conditions, so a bare specifier such as
 * `@hicra/tensor/testing/setup` only resolves once `dist/` is built (and then to the built
 * copy): this finds the TypeScript source instead, with no build.
 * @param {string} specifier e.g. '@hicra/tensor/testing/setup'
 * @param {string} fromUrl the config file's `import.meta.url`
 * @returns {string}
 */
export function sourceEntry(specifier, fromUrl) {
  const match = /^((?:@[^/]+\/)?[^/]+)(\/.*)?$/.exec(specifier);
  if (!match)
    throw new Error(`sourceEntry: ${JSON.stringify(specifier)} is not a package specifier`);
  const [, name, sub] = match;
  let manifestPath;
  try {
    manifestPath = createRequire(fromUrl).resolve(`${name}/package.json`);
  } catch (error) {
    throw new Error(
      `sourceEntry: cannot find package ${name} from ${fileURLToPath(fromUrl)} (${error.message}); is it a dependency?`,
    );
  }
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const key = `.${sub ?? ''}`;
  const entry = manifest.exports?.[key];
  const target = typeof entry === 'object' && entry !== null ? entry[SOURCE_CONDITION] : undefined;
  if (typeof target !== 'string') {
    throw new Error(
      `sourceEntry: ${name}'s package.json has no "${SOURCE_CONDITION}" condition for export "${key}"`,
    );
  }
  return join(dirname(manifestPath), target);
}

/**
 * A vitest project for one workspace package.
 * @param {import('./index.d.ts').PackageTestOptions} [options]
 */
export function definePackageTests(options = {}) {
  const { setupFiles = [], testTimeout = 30_000, include = ['test/**/*.test.ts'], name } = options;
  for (const file of setupFiles) {
    // A bare specifier would resolve to dist/ (or fail before a build): see sourceEntry.
    if (!file.startsWith('.') && !isAbsolute(file)) {
      throw new Error(
        `definePackageTests: setupFiles entry ${JSON.stringify(file)} is a package specifier, which vitest resolves against dist/ (missing before a build); use sourceEntry(${JSON.stringify(file)}, import.meta.url)`,
      );
    }
  }
  return defineProject({
    resolve: { conditions: serverConditions },
    ssr: { resolve: { conditions: serverConditions, externalConditions: [SOURCE_CONDITION] } },
    test: {
      ...(name ? { name } : {}),
      include,
      setupFiles,
      testTimeout,
      environment: 'node',
      pool: 'forks',
    },
  });
}
