import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ChangesetCheckError,
  checkChangesets,
  findBaseCommit,
  isPacked,
  manifestChangeShips,
  notSourceReason,
  parseChangeset,
} from '../src/check-changesets.mjs';
import { manifest } from './fixture.js';
import { changeset, type GitRepo, makeGitRepo } from './git-fixture.js';

const BIN = fileURLToPath(new URL('../bin/check-changesets.mjs', import.meta.url));
const shipped = ['dist', 'src', 'data', 'README.md', 'CHANGELOG.md'];

/** A workspace with two published packages, a private app and an ignored example. */
const workspace = {
  '.changeset/config.json': { ignore: ['@hicra/example-*'] },
  '.changeset/README.md': '# Changesets\n',
  '.gitignore': 'dist/\n',
  'packages/spec/package.json': manifest('@hicra/spec', {
    files: shipped,
    dependencies: {},
    devDependencies: { vitest: '^4.0.0' },
    scripts: { test: 'vitest run' },
  }),
  'packages/spec/src/index.ts': 'export const x = 1;\n',
  'packages/spec/test/index.test.ts': 'test("x", () => {});\n',
  'packages/spec/README.md': '# spec\n',
  'packages/spec/tsconfig.json': '{}\n',
  'packages/tasks/package.json': manifest('@hicra/tasks', { files: shipped }),
  'packages/tasks/src/index.ts': 'export const y = 2;\n',
  'packages/tasks/data/templates.json': '[]\n',
  'apps/reference/package.json': manifest('@hicra/reference', { private: true }),
  'apps/reference/src/main.ts': 'console.log(1);\n',
  'examples/demo/package.json': manifest('@hicra/example-demo'),
  'examples/demo/src/index.ts': 'export {};\n',
};

let repo: GitRepo | undefined;
afterEach(() => {
  repo?.dispose();
  repo = undefined;
});

/** A repository whose first commit is the workspace above. */
function start(): GitRepo {
  repo = makeGitRepo(workspace);
  repo.commit('root');
  return repo;
}

/** Commits `files` in a fresh repository and checks it. */
function checkAfter(files: Record<string, string | object | null>) {
  const r = start();
  r.write(files);
  r.commit('change');
  return checkChangesets(r.root);
}

describe('checkChangesets', () => {
  it('fails on a src change without a changeset, naming the package and the file', () => {
    const report = checkAfter({ 'packages/spec/src/index.ts': 'export const x = 2;\n' });
    expect(report.missing).toEqual([
      { package: '@hicra/spec', files: ['packages/spec/src/index.ts'] },
    ]);
    expect(report.errors).toEqual([]);
    expect(report.base.label).toMatch(/root commit/);
  });

  it('passes when a changeset names the package', () => {
    const report = checkAfter({
      'packages/spec/src/index.ts': 'export const x = 2;\n',
      'packages/spec/src/new.ts': 'export const z = 3;\n',
      '.changeset/spec-x.md': changeset({ '@hicra/spec': 'minor' }),
    });
    expect(report.missing).toEqual([]);
    expect(report.covered).toEqual([
      { package: '@hicra/spec', changesets: ['.changeset/spec-x.md'] },
    ]);
  });

  it('does not let a changeset for one package cover another', () => {
    const report = checkAfter({
      'packages/spec/src/index.ts': 'export const x = 2;\n',
      'packages/tasks/src/index.ts': 'export const y = 3;\n',
      '.changeset/spec-x.md': changeset({ '@hicra/spec': 'patch' }),
    });
    expect(report.missing.map((m) => m.package)).toEqual(['@hicra/tasks']);
  });

  it.each([
    ['a test', { 'packages/spec/test/index.test.ts': 'test("y", () => {});\n' }],
    ['the README', { 'packages/spec/README.md': '# spec, reworded\n' }],
    ['a test next to the source', { 'packages/spec/src/index.test.ts': 'test("z", () => {});\n' }],
    ['fixtures in src', { 'packages/spec/src/__fixtures__/a.json': '{}\n' }],
    ['a file outside "files"', { 'packages/spec/tsconfig.json': '{ "strict": true }\n' }],
    [
      'only the version, a devDependency and a dev script in package.json',
      {
        'packages/spec/package.json': manifest('@hicra/spec', {
          version: '0.1.0',
          files: shipped,
          dependencies: {},
          devDependencies: { vitest: '^4.1.0' },
          scripts: { test: 'vitest run --reporter=dot' },
        }),
      },
    ],
    ['a private package', { 'apps/reference/src/main.ts': 'console.log(2);\n' }],
    ['a package the changesets config ignores', { 'examples/demo/src/index.ts': 'export {}; \n' }],
    ['files outside any package', { 'docs/guide.md': '# guide\n', 'scripts/x.mjs': '1;\n' }],
  ])('passes when only %s changed', (_what, files) => {
    const report = checkAfter(files);
    expect(report.missing).toEqual([]);
    expect(report.covered).toEqual([]);
  });

  it.each([
    [
      'a dependency in package.json',
      'packages/spec/package.json',
      {
        'packages/spec/package.json': manifest('@hicra/spec', {
          files: shipped,
          dependencies: { zod: '^4.0.0' },
          devDependencies: { vitest: '^4.0.0' },
          scripts: { test: 'vitest run' },
        }),
      },
    ],
    [
      'data listed in "files"',
      'packages/tasks/data/templates.json',
      { 'packages/tasks/data/templates.json': '[1]\n' },
    ],
    [
      'a deleted source file',
      'packages/tasks/src/index.ts',
      { 'packages/tasks/src/index.ts': null },
    ],
  ])('fails on %s', (_what, file, files) => {
    const report = checkAfter(files);
    expect(report.missing).toEqual([
      { package: file.includes('spec') ? '@hicra/spec' : '@hicra/tasks', files: [file] },
    ]);
  });

  it('compares with the last "changeset version" commit: a consumed changeset no longer counts', () => {
    const r = start();
    r.write({
      'packages/spec/src/index.ts': 'export const x = 2;\n',
      '.changeset/spec-x.md': changeset({ '@hicra/spec': 'minor' }),
    });
    r.commit('spec: x = 2');
    r.write({
      '.changeset/spec-x.md': null,
      'packages/spec/CHANGELOG.md': '# @hicra/spec\n\n## 0.1.0\n\n- A change.\n',
      'packages/spec/package.json': manifest('@hicra/spec', {
        version: '0.1.0',
        files: shipped,
        dependencies: {},
        devDependencies: { vitest: '^4.0.0' },
        scripts: { test: 'vitest run' },
      }),
    });
    const version = r.commit('Version packages');
    expect(checkChangesets(r.root)).toMatchObject({ missing: [], covered: [] });

    r.write({ 'packages/spec/src/index.ts': 'export const x = 3;\n' });
    r.commit('spec: x = 3');
    const report = checkChangesets(r.root);
    expect(report.base.commit).toBe(version);
    expect(report.base.label).toMatch(/changeset version.*Version packages/);
    expect(report.missing).toEqual([
      { package: '@hicra/spec', files: ['packages/spec/src/index.ts'] },
    ]);
  });

  it('does not take a commit that deletes a changeset without versioning for a version commit', () => {
    const r = start();
    r.write({ '.changeset/oops.md': changeset({ '@hicra/spec': 'patch' }) });
    r.commit('add a changeset');
    r.write({ '.changeset/oops.md': null });
    r.commit('remove it again');
    expect(findBaseCommit(r.root).label).toMatch(/root commit/);
  });

  it('finds a version commit on a merged branch and sees changes a merge brings in', () => {
    // The branch adds and consumes its changeset, so the merge leaves .changeset/ as main had
    // it: git log's default history simplification would skip the branch.
    const r = start();
    r.git('checkout', '-q', '-b', 'release');
    r.write({ '.changeset/spec-x.md': changeset({ '@hicra/spec': 'patch' }) });
    r.write({ 'packages/spec/src/index.ts': 'export const x = 2;\n' });
    r.commit('spec: x = 2');
    r.write({ '.changeset/spec-x.md': null, 'packages/spec/CHANGELOG.md': '## 0.0.1\n' });
    const version = r.commit('Version packages');
    r.git('checkout', '-q', 'main');
    r.write({ 'packages/tasks/src/index.ts': 'export const y = 3;\n' });
    r.commit('tasks: y = 3, no changeset');
    r.git('merge', '-q', '--no-ff', '-m', 'Merge release', 'release');
    const report = checkChangesets(r.root);
    expect(report.base.commit).toBe(version);
    expect(report.missing).toEqual([
      { package: '@hicra/tasks', files: ['packages/tasks/src/index.ts'] },
    ]);
  });

  it('passes a package that moved folder unchanged, and flags the one file that changed in the move', () => {
    const r = start();
    r.git('mv', 'packages/tasks', 'packages/datasets');
    r.commit('move tasks');
    expect(checkChangesets(r.root).missing).toEqual([]);
    r.write({ 'packages/datasets/src/index.ts': 'export const y = 4;\n' });
    r.commit('tasks: y = 4');
    expect(checkChangesets(r.root).missing).toEqual([
      { package: '@hicra/tasks', files: ['packages/datasets/src/index.ts'] },
    ]);
  });

  it('asks a renamed package for a changeset under its new name', () => {
    const report = checkAfter({
      'packages/tasks/package.json': manifest('@hicra/datasets', { files: shipped }),
    });
    expect(report.missing).toEqual([
      { package: '@hicra/datasets', files: ['packages/tasks/package.json'] },
    ]);
  });

  it('notes a deleted package and needs no changeset for it', () => {
    const report = checkAfter({
      'packages/tasks/package.json': null,
      'packages/tasks/src/index.ts': null,
      'packages/tasks/data/templates.json': null,
    });
    expect(report).toMatchObject({ missing: [], errors: [], removed: ['@hicra/tasks'] });
  });

  it('counts committed changes only, and a changeset on disk before it is committed', () => {
    const r = start();
    r.write({ 'packages/spec/src/new.ts': 'export const n = 1;\n' });
    r.commit('spec: n');
    r.write({ 'packages/tasks/src/generated.ts': 'export {};\n' }); // untracked build output
    expect(checkChangesets(r.root).missing).toEqual([
      { package: '@hicra/spec', files: ['packages/spec/src/new.ts'] },
    ]);
    r.write({ '.changeset/spec-n.md': changeset({ '@hicra/spec': 'minor' }) });
    expect(checkChangesets(r.root).missing).toEqual([]);
  });

  it.each([
    ['no front matter', 'Just a summary.\n', /expected front matter/],
    ['an unclosed front matter', '---\n"@hicra/spec": patch\n\nSummary\n', /never closed/],
    [
      'a bad bump',
      '---\n"@hicra/spec": huge\n---\n\nSummary\n',
      /line 2: "@hicra\/spec" has bump "huge"/,
    ],
    ['a line that is no release', '---\n@hicra/spec patch\n---\n', /line 2: expected/],
    [
      'an unknown package',
      changeset({ '@hicra/nope': 'patch' }),
      /names "@hicra\/nope", which is no package/,
    ],
  ])('reports a changeset with %s, naming the file', (_what, text, message) => {
    const report = checkAfter({ '.changeset/bad.md': text });
    expect(report.errors).toHaveLength(1);
    expect(report.errors[0]!.file).toBe('.changeset/bad.md');
    expect(report.errors[0]!.message).toMatch(message);
  });

  it('refuses a shallow clone', () => {
    const r = start();
    r.write({ 'packages/spec/src/index.ts': 'export const x = 2;\n' });
    r.commit('two');
    const clone = mkdtempSync(join(tmpdir(), 'hicra-changesets-shallow-'));
    try {
      r.git('clone', '-q', '--depth', '1', `file://${r.root}`, clone);
      expect(() => checkChangesets(clone)).toThrow(ChangesetCheckError);
      expect(() => checkChangesets(clone)).toThrow(/shallow.*fetch --unshallow/);
    } finally {
      rmSync(clone, { recursive: true, force: true });
    }
  });

  it('refuses a folder with no commits', () => {
    const empty = mkdtempSync(join(tmpdir(), 'hicra-changesets-empty-'));
    try {
      expect(() => checkChangesets(empty)).toThrow(/not a git repository with at least one commit/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('check-changesets (command line)', () => {
  it('prints the package, its files, a count and the fix, and exits 1', () => {
    const r = start();
    r.write(
      Object.fromEntries(
        Array.from({ length: 7 }, (_, i) => [
          `packages/spec/src/f${i}.ts`,
          `export const f${i} = ${i};\n`,
        ]),
      ),
    );
    r.commit('seven files');
    const result = spawnSync(process.execPath, [BIN, r.root], { encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('@hicra/spec: source changed since');
    expect(result.stderr).toContain('  packages/spec/src/f0.ts\n');
    expect(result.stderr).not.toContain('f5.ts');
    expect(result.stderr).toContain('... and 2 more file(s)');
    expect(result.stderr).toContain('pnpm changeset');
  });

  it('exits 0 with one summary line when every change is covered', () => {
    const r = start();
    r.write({
      'packages/spec/src/index.ts': 'export const x = 2;\n',
      '.changeset/spec.md': changeset({ '@hicra/spec': 'patch' }),
    });
    r.commit('covered');
    const result = spawnSync(process.execPath, [BIN, r.root], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^check-changesets: compared with .*root commit.*: 1 published package\(s\) changed/,
      ),
    ]);
  });
});

describe('rules', () => {
  it('parses front matter as changesets writes it', () => {
    expect(
      parseChangeset('---\n\'@hicra/a\': minor\n"@hicra/b": patch\nplain: none\n---\n\nText.\n'),
    ).toEqual({
      releases: [
        { name: '@hicra/a', type: 'minor' },
        { name: '@hicra/b', type: 'patch' },
        { name: 'plain', type: 'none' },
      ],
      summary: 'Text.',
    });
    expect(parseChangeset('---\n---\n').releases).toEqual([]);
  });

  it('follows npm\'s "files": folders, globs and negations', () => {
    expect(isPacked('src/a.ts', ['src'])).toBe(true);
    expect(isPacked('srcx/a.ts', ['src'])).toBe(false);
    expect(isPacked('lib/a.js', ['lib/*.js'])).toBe(true);
    expect(isPacked('lib/deep/a.js', ['lib/**/*.js'])).toBe(true);
    expect(isPacked('src/secret.ts', ['src', '!src/secret.ts'])).toBe(false);
    expect(isPacked('anything', undefined)).toBe(true);
    expect(isPacked('package.json', [])).toBe(true);
  });

  it('keeps src/testing (an exported entry) as source', () => {
    expect(notSourceReason('src/testing/index.ts', { files: shipped })).toBeUndefined();
    expect(notSourceReason('test/a.ts', { files: ['test'] })).toBe('tests or benchmarks');
  });

  it('counts install scripts and dependencies in package.json, not dev ones', () => {
    expect(manifestChangeShips({ scripts: {} }, { scripts: { postinstall: 'x' } })).toBe(true);
    expect(manifestChangeShips({ exports: './a.js' }, { exports: './b.js' })).toBe(true);
    expect(manifestChangeShips({ version: '1.0.0' }, { version: '1.0.1' })).toBe(false);
  });
});
