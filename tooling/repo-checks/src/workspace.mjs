import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** The folders that hold workspace packages (pnpm-workspace.yaml lists the same). */
export const WORKSPACE_GLOBS = ['packages/*', 'apps/*', 'tooling/*', 'examples/*', 'bench'];

/**
 * Every workspace package under `root`: `{ dir, rel, manifest }`.
 * @param {string} root
 * @returns {{ dir: string, rel: string, manifest: Record<string, any> }[]}
 */
export function listWorkspacePackages(root) {
  const dirs = [];
  for (const glob of WORKSPACE_GLOBS) {
    if (glob.endsWith('/*')) {
      const parent = join(root, glob.slice(0, -2));
      if (!existsSync(parent)) continue;
      for (const name of readdirSync(parent).sort()) dirs.push(join(parent, name));
    } else dirs.push(join(root, glob));
  }
  return dirs
    .filter((dir) => existsSync(join(dir, 'package.json')))
    .map((dir) => ({
      dir,
      rel: relative(root, dir),
      manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')),
    }));
}

const SOURCE_EXTENSIONS = /\.(?:[cm]?[jt]s|[jt]sx)$/;
const SKIPPED_DIRS = new Set(['node_modules', 'dist', '.turbo', 'coverage', 'reports']);

/**
 * Every source file below `dir` (TypeScript and JavaScript), skipping build output.
 * @param {string} dir
 * @returns {string[]}
 */
export function listSourceFiles(dir) {
  /** @type {string[]} */
  const files = [];
  const walk = (/** @type {string} */ current) => {
    for (const entry of readdirSync(current).sort()) {
      if (SKIPPED_DIRS.has(entry)) continue;
      const path = join(current, entry);
      const stat = statSync(path);
      if (stat.isDirectory()) walk(path);
      else if (SOURCE_EXTENSIONS.test(entry) && !entry.endsWith('.d.ts')) files.push(path);
    }
  };
  walk(dir);
  return files;
}
