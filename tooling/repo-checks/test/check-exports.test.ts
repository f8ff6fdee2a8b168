import { describe, expect, it } from 'vitest';
import { checkExports, exportTargets } from '../src/check-exports.mjs';
import { makeWorkspace, manifest } from './fixture.js';

const goodPackage = {
  'packages/spec/package.json': manifest('@hicra/spec', {
    exports: {
      '.': {
        '@hicra/source': './src/index.ts',
        types: './dist/index.d.ts',
        import: './dist/index.js',
      },
      './package.json': './package.json',
    },
    files: ['dist'],
  }),
  'packages/spec/src/index.ts': 'export const x = 1;\n',
  'packages/spec/dist/index.js': 'export const x = 1;\n',
  'packages/spec/dist/index.d.ts': 'export declare const x: 1;\n',
  'tooling/private/package.json': manifest('@hicra/private', {
    private: true,
    exports: './missing.js',
  }),
};

describe('checkExports', () => {
  it('passes when every target exists, is published and loads', () => {
    const ws = makeWorkspace(goodPackage);
    try {
      expect(checkExports(ws.root)).toEqual([]);
    } finally {
      ws.dispose();
    }
  });

  it('fails on a missing build output', () => {
    const ws = makeWorkspace({ ...goodPackage, 'packages/spec/dist/index.js': undefined as never });
    try {
      const problems = checkExports(ws.root);
      expect(problems.map((p) => p.problem)).toEqual([
        'import -> ./dist/index.js does not exist (was the package built?)',
      ]);
    } finally {
      ws.dispose();
    }
  });

  it('fails on a target left out of "files"', () => {
    const pkg = goodPackage['packages/spec/package.json'];
    const ws = makeWorkspace({
      ...goodPackage,
      'packages/spec/package.json': { ...pkg, files: ['src'] },
    });
    try {
      const problems = checkExports(ws.root);
      expect(problems.length).toBe(2);
      expect(problems[0]!.problem).toContain('is not included by "files"');
    } finally {
      ws.dispose();
    }
  });

  it('fails on an entry that throws when loaded', () => {
    const ws = makeWorkspace({
      ...goodPackage,
      'packages/spec/dist/index.js': "import 'no-such-package';\n",
    });
    try {
      const [problem] = checkExports(ws.root);
      expect(problem!.problem).toMatch(/import\("@hicra\/spec"\) failed/);
      expect(problem!.problem).toContain('no-such-package');
    } finally {
      ws.dispose();
    }
  });

  it('skips the source condition when listing targets', () => {
    expect(
      exportTargets({
        '@hicra/source': './src/a.ts',
        types: './dist/a.d.ts',
        import: './dist/a.js',
      }),
    ).toEqual([
      { target: './dist/a.d.ts', conditions: ['types'] },
      { target: './dist/a.js', conditions: ['import'] },
    ]);
  });
});

describe('checkExports options in package.json', () => {
  it('skips the load check of vitest-only entries and runs a smoke script', () => {
    const pkg = goodPackage['packages/spec/package.json'] as unknown as {
      exports: Record<string, unknown>;
    };
    const withSetup = {
      ...goodPackage,
      'packages/spec/package.json': {
        ...pkg,
        exports: { ...pkg.exports, './setup': './dist/setup.js' },
        hicra: { vitestOnlyExports: ['./setup'], smoke: 'smoke.mjs' },
      },
      'packages/spec/dist/setup.js': "throw new Error('only inside vitest');\n",
      'packages/spec/smoke.mjs':
        "import { x } from '@hicra/spec';\nif (x !== 1) process.exit(1);\n",
    };
    const ws = makeWorkspace(withSetup);
    try {
      expect(checkExports(ws.root)).toEqual([]);
    } finally {
      ws.dispose();
    }
    const failing = makeWorkspace({
      ...withSetup,
      'packages/spec/smoke.mjs': "console.error('gradient is wrong'); process.exit(1);\n",
    });
    try {
      const problems = checkExports(failing.root);
      expect(problems).toHaveLength(1);
      expect(problems[0]!.problem).toContain('smoke.mjs failed:\ngradient is wrong');
    } finally {
      failing.dispose();
    }
  });
});
