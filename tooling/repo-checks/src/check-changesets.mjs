import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WORKSPACE_GLOBS } from './workspace.mjs';

/** Bump types a changeset may give a package (`none` records a change users do not see). */
export const BUMP_TYPES = ['major', 'minor', 'patch', 'none'];

/**
 * Fields of a package's package.json that do not change what an installed copy does: the
 * version (`changeset version` writes it), dev-only dependencies, and scripts other than the
 * ones npm runs when the package is installed.
 */
export const MANIFEST_FIELDS_NOT_SHIPPED = ['version', 'devDependencies'];
export const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall'];

/** Path segments (folders) whose files are tests, fixtures or benchmarks, even inside `files`. */
export const NON_SOURCE_DIRS = new Set([
  'test',
  'tests',
  '__tests__',
  '__mocks__',
  'fixtures',
  '__fixtures__',
  'bench',
  'benchmarks',
]);
/** File names that are tests, benchmarks or documentation, wherever they are. */
const NON_SOURCE_FILE = /(?:\.(?:test|spec|bench)\.[cm]?[jt]sx?|\.mdx?)$/i;

/** An error in the repository's state that stops the check (not a missing changeset). */
export class ChangesetCheckError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'ChangesetCheckError';
  }
}

/**
 * Runs git in `root`; throws with git's own message on failure.
 * @param {string} root
 * @param {string[]} args
 * @param {string} [input]
 * @returns {string}
 */
export function git(root, args, input) {
  const result = spawnSync(
    'git',
    ['-c', 'core.quotepath=false', '-c', 'diff.renameLimit=10000', ...args],
    { cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, input },
  );
  if (result.error) throw new ChangesetCheckError(`git ${args[0]}: ${result.error.message}`);
  if (result.status !== 0)
    throw new ChangesetCheckError(
      `git ${args.join(' ')} failed: ${(result.stderr || result.stdout).trim()}`,
    );
  return result.stdout;
}

/**
 * Parses a changeset's front matter the way `@changesets/parse` reads it: a block between
 * `---` lines, one `"package": bump` per line, then the summary.
 * @param {string} text
 * @returns {{ releases: { name: string, type: string }[], summary: string }}
 * @throws {Error} naming the line that is wrong
 */
export function parseChangeset(text) {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let start = 0;
  while (start < lines.length && lines[start]?.trim() === '') start++;
  if (lines[start]?.trim() !== '---')
    throw new Error(`expected front matter starting with "---" on line ${start + 1}`);
  const end = lines.findIndex((line, i) => i > start && line.trim() === '---');
  if (end === -1)
    throw new Error(`the front matter opened on line ${start + 1} is never closed by "---"`);
  /** @type {{ name: string, type: string }[]} */
  const releases = [];
  for (let i = start + 1; i < end; i++) {
    const line = /** @type {string} */ (lines[i]);
    if (line.trim() === '' || line.trim().startsWith('#')) continue;
    const match =
      /^\s*(?:"([^"]+)"|'([^']+)'|([^\s"':#][^:]*?))\s*:\s*(["']?)([^"'\s]*)\4\s*$/.exec(line);
    if (!match) throw new Error(`line ${i + 1}: expected "<package>": <bump>, got ${line.trim()}`);
    const name = /** @type {string} */ (match[1] ?? match[2] ?? match[3]);
    const type = /** @type {string} */ (match[5]);
    if (!BUMP_TYPES.includes(type))
      throw new Error(
        `line ${i + 1}: "${name}" has bump "${type}"; expected one of ${BUMP_TYPES.join(', ')}`,
      );
    if (releases.some((r) => r.name === name))
      throw new Error(`line ${i + 1}: "${name}" is named twice`);
    releases.push({ name, type });
  }
  return {
    releases,
    summary: lines
      .slice(end + 1)
      .join('\n')
      .trim(),
  };
}

/**
 * A changesets `ignore` pattern as a test (`*` stays inside one path segment, as micromatch
 * reads it for package names).
 * @param {string} pattern
 * @returns {(name: string) => boolean}
 */
export function namePattern(pattern) {
  const regex = new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]*')}$`,
  );
  return (name) => regex.test(name);
}

/**
 * Whether `path` (relative to the package folder) is packed under the package's `files`
 * field (npm's rule: a listed file, anything below a listed folder, or a glob match; `!`
 * entries exclude). Without `files`, everything is packed.
 * @param {string} path
 * @param {unknown} files
 */
export function isPacked(path, files) {
  if (path === 'package.json') return true;
  if (!Array.isArray(files)) return true;
  let packed = false;
  for (const entry of files) {
    if (typeof entry !== 'string') continue;
    const negated = entry.startsWith('!');
    const pattern = (negated ? entry.slice(1) : entry).replace(/^\.?\//, '').replace(/\/+$/, '');
    if (matchesFilesEntry(path, pattern)) packed = !negated;
  }
  return packed;
}

/**
 * @param {string} path
 * @param {string} pattern
 */
function matchesFilesEntry(path, pattern) {
  if (!/[*?[]/.test(pattern)) return path === pattern || path.startsWith(`${pattern}/`);
  const source = pattern
    .split(/(\*\*\/?|\*|\?)/)
    .map((part) => {
      if (part === '**/' || part === '**') return '(?:.*/)?';
      if (part === '*') return '[^/]*';
      if (part === '?') return '[^/]';
      return part.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    })
    .join('');
  // A glob may name a folder: then everything below it is packed too.
  return new RegExp(`^${source}(?:/.*)?$`).test(path);
}

/**
 * Why a changed file of a package is not source (tests, fixtures, benchmarks, docs, or not
 * packed at all), or `undefined` when it is source. `package.json` is judged by its content
 * elsewhere ({@link manifestChangeShips}).
 * @param {string} path relative to the package folder, with `/`
 * @param {Record<string, any>} manifest
 * @returns {string | undefined}
 */
export function notSourceReason(path, manifest) {
  if (path === 'package.json') return undefined;
  if (!isPacked(path, manifest.files)) return 'not in "files"';
  const segments = path.split('/');
  const name = /** @type {string} */ (segments.at(-1));
  if (segments.slice(0, -1).some((s) => NON_SOURCE_DIRS.has(s))) return 'tests or benchmarks';
  if (NON_SOURCE_FILE.test(name)) return 'a test or documentation file';
  return undefined;
}

/**
 * The parts of a manifest that reach users: everything but the version, devDependencies and
 * scripts npm does not run on install.
 * @param {Record<string, any> | undefined} manifest
 */
function shippedManifest(manifest) {
  if (manifest === undefined) return undefined;
  const copy = { ...manifest };
  for (const field of MANIFEST_FIELDS_NOT_SHIPPED) delete copy[field];
  const scripts = Object.fromEntries(
    Object.entries(manifest.scripts ?? {}).filter(([name]) => INSTALL_SCRIPTS.includes(name)),
  );
  delete copy.scripts;
  if (Object.keys(scripts).length > 0) copy.scripts = scripts;
  return copy;
}

/**
 * Whether a package.json change reaches users (not a version-only, devDependency or dev
 * script change). A manifest that is new or gone counts.
 * @param {Record<string, any> | undefined} before
 * @param {Record<string, any> | undefined} after
 */
export function manifestChangeShips(before, after) {
  if (before === undefined || after === undefined) return true;
  return !isDeepStrictEqualJson(shippedManifest(before), shippedManifest(after));
}

/**
 * @param {unknown} a
 * @param {unknown} b
 * @returns {boolean}
 */
function isDeepStrictEqualJson(a, b) {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every(
    (k) =>
      Object.hasOwn(b, k) &&
      isDeepStrictEqualJson(
        /** @type {Record<string, unknown>} */ (a)[k],
        /** @type {Record<string, unknown>} */ (b)[k],
      ),
  );
}

/**
 * Whether `commit` (not a merge) ran `changeset version`: it deletes at least one changeset
 * (`.changeset/*.md` other than README.md) and writes a CHANGELOG.md or a package.json
 * `version`.
 * @param {string} root
 * @param {string} commit
 */
export function isVersionCommit(root, commit) {
  const changes = parseNameStatus(
    git(root, [
      'diff-tree',
      '--no-commit-id',
      '-r',
      '-z',
      '--root',
      '--no-renames',
      '--name-status',
      commit,
    ]),
  );
  const consumed = changes.some(
    (c) =>
      c.status === 'D' &&
      /^\.changeset\/[^/]+\.md$/.test(c.path) &&
      c.path !== '.changeset/README.md',
  );
  if (!consumed) return false;
  for (const c of changes) {
    if (c.status === 'D') continue;
    if (/(^|\/)CHANGELOG\.md$/.test(c.path)) return true;
    if (/(^|\/)package\.json$/.test(c.path) && c.status === 'M') {
      const before = readJsonAt(root, `${commit}^`, c.path);
      const after = readJsonAt(root, commit, c.path);
      if (before?.version !== after?.version) return true;
    }
  }
  return false;
}

/**
 * The commit the check compares with: the newest ancestor of HEAD (HEAD included, in
 * topological order) that ran `changeset version` ({@link isVersionCommit}); else the root
 * commit; else, when HEAD has several roots (unrelated histories merged), the empty tree, so
 * every file counts as changed.
 * @param {string} root
 * @returns {{ commit: string, label: string }}
 */
export function findBaseCommit(root) {
  const candidates = git(root, [
    'log',
    '--topo-order',
    '--no-merges',
    '--full-history',
    '--no-renames',
    '--diff-filter=D',
    '--format=%H',
    'HEAD',
    '--',
    ':(glob).changeset/*.md',
  ])
    .split('\n')
    .filter(Boolean);
  for (const commit of candidates) {
    if (isVersionCommit(root, commit)) {
      const subject = git(root, ['log', '-1', '--format=%s', commit]).trim();
      return {
        commit,
        label: `${commit.slice(0, 10)}, the last "changeset version" commit ("${subject}")`,
      };
    }
  }
  const roots = git(root, ['rev-list', '--max-parents=0', 'HEAD']).split('\n').filter(Boolean);
  if (roots.length === 1) {
    const commit = /** @type {string} */ (roots[0]);
    return {
      commit,
      label: `${commit.slice(0, 10)}, the root commit (no "changeset version" commit yet)`,
    };
  }
  const empty = git(root, ['hash-object', '-t', 'tree', '--stdin'], '').trim();
  return {
    commit: empty,
    label: `the empty tree (HEAD has ${roots.length} root commits and no "changeset version" commit)`,
  };
}

/**
 * `git diff --name-status -z` output as records (renames and copies carry the old path).
 * @param {string} output
 * @returns {{ status: string, path: string, from?: string, score?: number }[]}
 */
function parseNameStatus(output) {
  const fields = output.split('\0');
  /** @type {{ status: string, path: string, from?: string, score?: number }[]} */
  const records = [];
  let i = 0;
  // Each record is a status field, then one path (two for renames and copies).
  while (i < fields.length) {
    const field = /** @type {string} */ (fields[i++]);
    if (!/^[ACDMRTUX][0-9]*$/.test(field)) continue;
    const status = field.charAt(0);
    if (status === 'R' || status === 'C') {
      const from = /** @type {string} */ (fields[i++]);
      const path = /** @type {string} */ (fields[i++]);
      records.push({ status, path, from, score: Number(field.slice(1)) });
    } else records.push({ status, path: /** @type {string} */ (fields[i++]) });
  }
  return records;
}

/**
 * @param {string} root
 * @param {string} rev
 * @param {string} path
 * @returns {Record<string, any> | undefined}
 */
function readJsonAt(root, rev, path) {
  const result = spawnSync('git', ['show', `${rev}:${path}`], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) return undefined;
  try {
    return JSON.parse(result.stdout);
  } catch {
    return undefined;
  }
}

/**
 * The workspace packages as they were at `commit`: `{ rel, manifest }`.
 * @param {string} root
 * @param {string} commit
 */
function packagesAt(root, commit) {
  const manifests = git(root, ['ls-tree', '-r', '-z', '--name-only', commit])
    .split('\0')
    .filter((path) =>
      WORKSPACE_GLOBS.some((glob) =>
        glob.endsWith('/*')
          ? new RegExp(`^${glob.slice(0, -2)}/[^/]+/package\\.json$`).test(path)
          : path === `${glob}/package.json`,
      ),
    );
  /** @type {{ rel: string, manifest: Record<string, any> }[]} */
  const packages = [];
  for (const path of manifests) {
    const manifest = readJsonAt(root, commit, path);
    if (manifest?.name) packages.push({ rel: path.slice(0, -'/package.json'.length), manifest });
  }
  return packages;
}

/**
 * @template {{ rel: string }} P
 * @param {P[]} packages
 * @param {string} path
 * @returns {P | undefined}
 */
function packageOf(packages, path) {
  return packages.find((p) => path.startsWith(`${p.rel}/`));
}

/**
 * Reads `.changeset/config.json` (the `ignore` list) and every pending changeset.
 * @param {string} root
 * @param {Set<string>} known workspace package names
 */
function readChangesets(root, known) {
  const dir = join(root, '.changeset');
  /** @type {string[]} */
  let ignore = [];
  const configPath = join(dir, 'config.json');
  if (existsSync(configPath)) {
    try {
      ignore = JSON.parse(readFileSync(configPath, 'utf8')).ignore ?? [];
    } catch (error) {
      throw new ChangesetCheckError(
        `.changeset/config.json is not valid JSON: ${/** @type {Error} */ (error).message}`,
      );
    }
  }
  /** @type {Map<string, string[]>} package name -> changeset files that name it */
  const named = new Map();
  /** @type {{ file: string, message: string }[]} */
  const errors = [];
  let count = 0;
  const files = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.md') && f !== 'README.md')
        .sort()
    : [];
  for (const name of files) {
    const file = `.changeset/${name}`;
    let releases;
    try {
      ({ releases } = parseChangeset(readFileSync(join(dir, name), 'utf8')));
    } catch (error) {
      errors.push({ file, message: /** @type {Error} */ (error).message });
      continue;
    }
    count++;
    for (const { name: pkg } of releases) {
      if (!known.has(pkg)) {
        errors.push({ file, message: `names "${pkg}", which is no package in this workspace` });
        continue;
      }
      named.set(pkg, [...(named.get(pkg) ?? []), file]);
    }
  }
  const ignored = ignore.map(namePattern);
  return {
    named,
    errors,
    count,
    isIgnored: (/** @type {string} */ n) => ignored.some((t) => t(n)),
  };
}

/**
 * @typedef {object} ChangesetReport
 * @property {{ commit: string, label: string }} base
 * @property {{ package: string, files: string[] }[]} missing published packages whose source changed, with no changeset naming them
 * @property {{ file: string, message: string }[]} errors malformed changesets
 * @property {{ package: string, changesets: string[] }[]} covered changed packages and the changesets that name them
 * @property {string[]} removed published packages at the base commit that are gone now
 * @property {number} changesets pending changesets read
 */

/**
 * Checks that every published package (not private, not in the changesets `ignore` list)
 * whose source changed since the last `changeset version` commit is named by a pending
 * changeset. The changes are the committed ones (that commit against HEAD: what the build
 * or tests write in the working tree never counts); the pending changesets are the files in
 * `.changeset/` on disk, so a changeset written by `pnpm changeset` counts before it is
 * committed.
 * @param {string} root the repository root
 * @returns {ChangesetReport}
 */
export function checkChangesets(root) {
  if (
    spawnSync('git', ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], { cwd: root })
      .status !== 0
  )
    throw new ChangesetCheckError(
      `${root} is not a git repository with at least one commit; the check compares commits`,
    );
  if (git(root, ['rev-parse', '--is-shallow-repository']).trim() === 'true')
    throw new ChangesetCheckError(
      'this clone is shallow, so the last "changeset version" commit and the root commit may be missing; ' +
        'fetch the full history (git fetch --unshallow, or fetch-depth: 0 in CI) and run the check again',
    );
  const base = findBaseCommit(root);
  const current = packagesAt(root, 'HEAD');
  const before = packagesAt(root, base.commit);
  const { named, errors, count, isIgnored } = readChangesets(
    root,
    new Set(current.map((p) => p.manifest.name)),
  );

  const changes = parseNameStatus(
    git(root, ['diff', '-z', '-M', '--name-status', '--no-ext-diff', base.commit, 'HEAD', '--']),
  );

  /** @type {Map<string, Set<string>>} package name -> changed source files (repository paths) */
  const changed = new Map();
  /** @type {Set<string>} */
  const removed = new Set();
  const beforeByName = new Map(before.map((p) => [p.manifest.name, p]));

  /**
   * Records one changed path: found in the package that holds it now, else in the package
   * that held it at the base commit (under its current name or folder).
   * @param {string} path
   * @param {string | undefined} oldPath the same file at the base commit, for package.json
   */
  const record = (path, oldPath) => {
    let pkg = packageOf(current, path);
    if (pkg === undefined) {
      const old = packageOf(before, path);
      if (old === undefined) return;
      pkg = current.find((p) => p.manifest.name === old.manifest.name);
      if (pkg === undefined) {
        if (!old.manifest.private && !isIgnored(old.manifest.name)) removed.add(old.manifest.name);
        return;
      }
      // The package moved: judge the old file by its place inside the package.
      path = `${pkg.rel}/${path.slice(old.rel.length + 1)}`;
    }
    const name = pkg.manifest.name;
    if (pkg.manifest.private || isIgnored(name)) return;
    const inside = path.slice(pkg.rel.length + 1);
    if (inside === 'package.json') {
      const previous =
        oldPath !== undefined
          ? readJsonAt(root, base.commit, oldPath)
          : beforeByName.get(name)?.manifest;
      if (!manifestChangeShips(previous, pkg.manifest)) return;
    } else if (notSourceReason(inside, pkg.manifest) !== undefined) return;
    changed.set(name, (changed.get(name) ?? new Set()).add(path));
  };

  for (const change of changes) {
    if (change.status === 'R' && change.from !== undefined) {
      const from = packageOf(before, change.from);
      const to = packageOf(current, change.path);
      const samePlace =
        from !== undefined &&
        to !== undefined &&
        from.manifest.name === to.manifest.name &&
        change.from.slice(from.rel.length) === change.path.slice(to.rel.length);
      if (samePlace && change.score === 100) continue; // the package moved; the file did not change
      if (samePlace) {
        record(change.path, change.from);
        continue;
      }
      record(change.from, change.from);
      record(change.path, undefined);
    } else if (change.status === 'D') {
      record(change.path, change.path);
    } else record(change.path, change.status === 'A' ? undefined : change.path);
  }

  /** @type {{ package: string, files: string[] }[]} */
  const missing = [];
  /** @type {{ package: string, changesets: string[] }[]} */
  const covered = [];
  for (const [name, files] of [...changed].sort(([a], [b]) => a.localeCompare(b))) {
    const changesets = named.get(name);
    if (changesets) covered.push({ package: name, changesets });
    else missing.push({ package: name, files: [...files].sort() });
  }
  return { base, missing, errors, covered, removed: [...removed].sort(), changesets: count };
}
