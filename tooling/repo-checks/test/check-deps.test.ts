import { describe, expect, it } from 'vitest';
import { checkDependencyDirection, forbiddenReason, importsOf } from '../src/check-deps.mjs';
import { makeWorkspace, manifest } from './fixture.js';

const clean = {
  'packages/spec/package.json': manifest('@hicra/spec'),
  'packages/spec/src/index.ts': 'export const x = 1;\n',
  'packages/tensor/package.json': manifest('@hicra/tensor', {
    dependencies: { '@hicra/spec': 'workspace:*', '@tensorflow/tfjs-core': '4.22.0' },
  }),
  'packages/tensor/src/index.ts':
    "import * as tf from '@tensorflow/tfjs-core';\nimport type { X } from '@hicra/spec';\nexport { tf };\n",
  'packages/advantage/package.json': manifest('@hicra/advantage'),
  'packages/advantage/src/index.ts': [
    "import { tf } from '@hicra/tensor';",
    "// import { y } from '@hicra/planning';   <- a comment, not an import",
    '/* await import("@hicra/trainer") */',
    'const s = "import \'@hicra/trainer\'";',
    "export * from '@hicra/advantage/testing';",
  ].join('\n'),
};

describe('checkDependencyDirection', () => {
  it('passes a workspace that follows the direction (comments and strings are not imports)', () => {
    const ws = makeWorkspace(clean);
    try {
      expect(checkDependencyDirection(ws.root)).toEqual([]);
    } finally {
      ws.dispose();
    }
  });

  it.each([
    [
      'a type-only import in a test',
      'packages/spec/test/a.test.ts',
      "import type { T } from '@hicra/tensor';\n",
      '@hicra/spec',
      '@hicra/tensor',
      1,
    ],
    [
      'a side-effect import',
      'packages/tensor/src/b.ts',
      "\n\nimport '@hicra/advantage/register';\n",
      '@hicra/tensor',
      '@hicra/advantage',
      3,
    ],
    [
      'a dynamic import',
      'packages/advantage/src/c.ts',
      "export const load = () => import('@hicra/trainer');\n",
      '@hicra/advantage',
      '@hicra/trainer',
      1,
    ],
    [
      'a sibling import in the middle layer',
      'packages/advantage/src/d.ts',
      "export { classify } from '@hicra/planning';\n",
      '@hicra/advantage',
      '@hicra/planning',
      1,
    ],
    [
      'tfjs outside the tensor core',
      'packages/advantage/src/e.mjs',
      "const tf = require('@tensorflow/tfjs-core');\n",
      '@hicra/advantage',
      '@tensorflow/tfjs-core',
      1,
    ],
    [
      'an import type query',
      'packages/spec/src/f.ts',
      "export type Tf = typeof import('@hicra/tensor');\n",
      '@hicra/spec',
      '@hicra/tensor',
      1,
    ],
  ])('fails on %s', (_name, path, text, from, to, line) => {
    const ws = makeWorkspace({ ...clean, [path]: text });
    try {
      const violations = checkDependencyDirection(ws.root);
      expect(violations).toHaveLength(1);
      expect(violations[0]).toMatchObject({ file: path, line, from, to });
    } finally {
      ws.dispose();
    }
  });

  it("keeps the tfjs namespace out of the trainer's source (kernels only; tests may)", () => {
    const ws = makeWorkspace({
      ...clean,
      'packages/trainer/package.json': manifest('@hicra/trainer'),
      'packages/trainer/src/loop.ts':
        "import { SeededGenerator } from '@hicra/tensor/kernels';\nimport { tf } from '@hicra/tensor';\n",
      'packages/trainer/test/loop.test.ts': "import { tf } from '@hicra/tensor';\n",
    });
    try {
      const violations = checkDependencyDirection(ws.root);
      expect(violations).toHaveLength(1);
      expect(violations[0]).toMatchObject({
        file: 'packages/trainer/src/loop.ts',
        line: 2,
        from: '@hicra/trainer',
        to: '@hicra/tensor',
      });
      expect(violations[0]!.reason).toMatch(/TrainingClientV1/);
    } finally {
      ws.dispose();
    }
  });

  it('keeps @hicra/remote on @hicra/spec alone, and out of the trainer', () => {
    const ws = makeWorkspace({
      ...clean,
      'packages/remote/package.json': manifest('@hicra/remote', {
        dependencies: { '@hicra/spec': 'workspace:^', fastify: '^5.0.0' },
        devDependencies: { '@hicra/tsconfig': 'workspace:*' },
      }),
      'packages/remote/src/client.ts':
        "import type { TrainingClientV1 } from '@hicra/spec';\nimport { tf } from '@hicra/tensor';\nimport Fastify from 'fastify';\n",
      'packages/trainer/package.json': manifest('@hicra/trainer'),
      'packages/trainer/src/engine.ts': "import { TinkerClient } from '@hicra/remote';\n",
    });
    try {
      const violations = checkDependencyDirection(ws.root);
      expect(violations.map((v) => [v.file, v.line, v.to])).toEqual([
        ['packages/remote/src/client.ts', 2, '@hicra/tensor'],
        ['packages/trainer/src/engine.ts', 1, '@hicra/remote'],
      ]);
      expect(violations[0]!.reason).toMatch(/@hicra\/spec alone/);
      expect(violations[1]!.reason).toMatch(/application wires/);
    } finally {
      ws.dispose();
    }
  });

  it('fails on a manifest dependency against the direction', () => {
    const ws = makeWorkspace({
      ...clean,
      'packages/spec/package.json': manifest('@hicra/spec', {
        devDependencies: { '@hicra/advantage': 'workspace:*' },
      }),
    });
    try {
      const [violation] = checkDependencyDirection(ws.root);
      expect(violation).toMatchObject({
        file: 'packages/spec/package.json',
        to: '@hicra/advantage',
      });
      expect(violation!.reason).toContain('devDependencies');
    } finally {
      ws.dispose();
    }
  });

  it('lets examples and bench use any @hicra package, but not tfjs', () => {
    expect(forbiddenReason('example-strategy', '@hicra/advantage')).toBeUndefined();
    expect(forbiddenReason('@hicra/bench', '@hicra/trainer')).toBeUndefined();
    expect(forbiddenReason('@hicra/bench', '@tensorflow/tfjs-core')).toMatch(/only @hicra\/tensor/);
    expect(forbiddenReason('@hicra/trainer', '@hicra/policy')).toBeUndefined();
    expect(forbiddenReason('@hicra/trainer', '@hicra/reference')).toMatch(/above/);
  });
});

describe('importsOf', () => {
  it('finds every kind of import with its line', () => {
    const text = [
      "import a from 'a';",
      "import type { B } from 'b';",
      "import 'c';",
      "export * from 'd';",
      "const e = await import('e');",
      "import f = require('f');",
      '// import g from "g";',
    ].join('\n');
    expect(importsOf(text)).toEqual([
      { specifier: 'a', line: 1 },
      { specifier: 'b', line: 2 },
      { specifier: 'c', line: 3 },
      { specifier: 'd', line: 4 },
      { specifier: 'e', line: 5 },
      { specifier: 'f', line: 6 },
    ]);
  });
});
