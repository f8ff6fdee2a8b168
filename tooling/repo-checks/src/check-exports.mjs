import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, normalize } from 'node:path';
import { listWorkspacePackages } from './workspace.mjs';

/** The in-repo condition that points at source; it is skipped, since published code never sees it. */
export const SOURCE_CONDITION = '@hicra/source';

/**
 * The file targets of one `exports` entry, with the conditions that lead to each.
 * @param {unknown} entry
 * @param {string[]} [conditions]
 * @returns {{ target: string, conditions: string[] }[]}
 */
export function exportTargets(entry, conditions = []) {
  if (typeof entry === 'string') return [{ target: entry, conditions }];
  if (entry === null) return [];
  if (Array.isArray(entry)) return entry.flatMap((e) => exportTargets(e, conditions));
  if (typeof entry !== 'object' || entry === undefined) return [];
  return Object.entries(entry)
    .filter(([condition]) => condition !== SOURCE_CONDITION)
    .flatMap(([condition, value]) => exportTargets(value, [...conditions, condition]));
}

/**
 * @param {string} target
 * @param {string[] | undefined} files
 */
function coveredByFiles(target, files) {
  if (!files) return true;
  const path = normalize(target).replace(/^\.\//, '');
  if (path === 'package.json') return true;
  return files.some((pattern) => {
    const p = normalize(pattern).replace(/^\.\//, '').replace(/\/$/, '');
    return path === p || path.startsWith(`${p}/`);
  });
}

/**
 * After a build: every `exports` target of every non-private workspace package exists and is
 * published (`files`), and Node resolves and loads each JavaScript entry through the package's
 * own name with the default conditions (what an installed copy sees).
 * @param {string} root
 * @param {{ load?: boolean }} [options]
 * @returns {{ package: string, subpath: string, problem: string }[]}
 */
export function checkExports(root, options = {}) {
  const load = options.load ?? true;
  /** @type {{ package: string, subpath: string, problem: string }[]} */
  const problems = [];
  for (const { dir, manifest } of listWorkspacePackages(root)) {
    if (manifest.private || manifest.exports === undefined) continue;
    const name = manifest.name;
    const exportsMap =
      typeof manifest.exports === 'string' ||
      Object.keys(manifest.exports).every((k) => !k.startsWith('.'))
        ? { '.': manifest.exports }
        : manifest.exports;
    for (const [subpath, entry] of Object.entries(exportsMap)) {
      const targets = exportTargets(entry);
      if (targets.length === 0)
        problems.push({
          package: name,
          subpath,
          problem: 'has no target outside the source condition',
        });
      for (const { target, conditions } of targets) {
        const where = `${conditions.join('.') || 'default'} -> ${target}`;
        if (!existsSync(join(dir, target)))
          problems.push({
            package: name,
            subpath,
            problem: `${where} does not exist (was the package built?)`,
          });
        else if (!coveredByFiles(target, manifest.files))
          problems.push({ package: name, subpath, problem: `${where} is not included by "files"` });
      }
      const runtime = targets.find(
        ({ target, conditions }) => /\.[cm]?js$/.test(target) && !conditions.includes('types'),
      );
      // Entries that only load inside a test runner (a vitest setup file) opt out of the load
      // check in package.json: "hicra": { "vitestOnlyExports": ["./testing/setup"] }.
      const vitestOnly = (manifest.hicra?.vitestOnlyExports ?? []).includes(subpath);
      if (
        load &&
        !vitestOnly &&
        runtime &&
        !subpath.includes('*') &&
        existsSync(join(dir, runtime.target))
      ) {
        const specifier = subpath === '.' ? name : `${name}/${subpath.slice(2)}`;
        const result = spawnSync(
          process.execPath,
          ['--input-type=module', '-e', `await import(${JSON.stringify(specifier)});`],
          {
            cwd: dir,
            encoding: 'utf8',
            env: { ...process.env, NODE_OPTIONS: '' },
          },
        );
        if (result.status !== 0) {
          const reason = (result.stderr || result.stdout).trim().split('\n').slice(0, 6).join('\n');
          problems.push({
            package: name,
            subpath,
            problem: `import(${JSON.stringify(specifier)}) failed:\n${reason}`,
          });
        }
      }
    }
    // A package may name a smoke script that exercises its built output as a consumer would.
    const smoke = manifest.hicra?.smoke;
    if (load && smoke) {
      const result = spawnSync(process.execPath, [join(dir, smoke)], {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, NODE_OPTIONS: '' },
      });
      if (result.status !== 0) {
        const reason = (result.stderr || result.stdout).trim().split('\n').slice(0, 6).join('\n');
        problems.push({ package: name, subpath: 'smoke', problem: `${smoke} failed:\n${reason}` });
      }
    }
    for (const field of ['main', 'types']) {
      if (manifest[field] && !existsSync(join(dir, manifest[field]))) {
        problems.push({
          package: name,
          subpath: field,
          problem: `"${field}": ${manifest[field]} does not exist`,
        });
      }
    }
  }
  return problems;
}
