/**
 * The contributor's path outside this repository (issue 20): the packages a strategy needs are
 * built and packed as a user would pack them, and the execution-damping example, copied into a
 * new npm project with its own configs, installs them from the tarballs and builds, type-checks
 * and passes its conformance tests there. Needs the npm registry for the third-party packages
 * (vitest, TypeScript, tsup, TensorFlow.js core).
 */
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const example = join(repo, 'examples', 'execution-damping');
/** What the example needs: its own dependency, the conformance kit, and what that imports. */
const PACKAGES = ['@hicra/spec', '@hicra/tensor', '@hicra/advantage'];
const root = mkdtempSync(join(tmpdir(), 'hicra-outside-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function run(command: string, args: string[], cwd: string) {
  const result = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    timeout: 240_000,
    env: {
      ...process.env,
      CI: 'true',
      NO_COLOR: '1',
      FORCE_COLOR: '0',
      npm_config_fund: 'false',
      npm_config_audit: 'false',
    },
  });
  const output = `${command} ${args.join(' ')} (in ${cwd}) exited ${result.status}:\n${result.stdout}\n${result.stderr}`;
  return { status: result.status, output };
}

describe('the execution-damping starter, outside the workspace', () => {
  it('installs the packed packages with npm, then builds, type-checks and passes its tests', () => {
    const packs = join(root, 'packs');
    const filters = PACKAGES.flatMap((name) => ['--filter', name]);
    const build = run('pnpm', [...filters, 'build'], repo);
    expect(build.status, build.output).toBe(0);
    for (const name of PACKAGES) {
      const pack = run('pnpm', ['--filter', name, 'pack', '--pack-destination', packs], repo);
      expect(pack.status, pack.output).toBe(0);
    }
    const tarballs = readdirSync(packs);
    expect(tarballs).toHaveLength(PACKAGES.length);

    // The starter: its sources, tests and own configs, and its package.json with the @hicra
    // packages taken from the tarballs (not yet on npm) and the rest from the registry.
    const project = join(root, 'my-strategy');
    mkdirSync(project);
    for (const entry of [
      'src',
      'test',
      'tsconfig.json',
      'tsup.config.ts',
      'vitest.config.ts',
      'README.md',
    ])
      cpSync(join(example, entry), join(project, entry), { recursive: true });
    const manifest = JSON.parse(readFileSync(join(example, 'package.json'), 'utf8'));
    const tarballOf = (name: string) =>
      `file:${join(packs, tarballs.find((t) => t.startsWith(`${name.slice(1).replace('/', '-')}-`))!)}`;
    const local = (deps: Record<string, string>) =>
      Object.fromEntries(
        Object.entries(deps).map(([name, range]) => [
          name,
          name.startsWith('@hicra/') ? tarballOf(name) : range,
        ]),
      );
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify(
        {
          ...manifest,
          name: 'my-strategy',
          dependencies: local(manifest.dependencies),
          // The kit's own dependency on @hicra/tensor comes from its tarball too.
          devDependencies: {
            ...local(manifest.devDependencies),
            '@hicra/tensor': tarballOf('@hicra/tensor'),
          },
        },
        null,
        2,
      ),
    );
    for (const json of ['tsconfig.json', 'package.json'])
      expect(readFileSync(join(project, json), 'utf8')).not.toMatch(
        /workspace:|@hicra\/(tsconfig|vitest-config|tsup-config)/,
      );

    const install = run('npm', ['install'], project);
    expect(install.status, install.output).toBe(0);
    for (const script of ['build', 'typecheck', 'test']) {
      const result = run('npm', ['run', script], project);
      expect(result.status, result.output).toBe(0);
      if (script === 'test') expect(result.output).toMatch(/Tests\s+\d+ passed/);
    }
    expect(readdirSync(join(project, 'dist'))).toContain('index.js');
  }, 600_000);
});
