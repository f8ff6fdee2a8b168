import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import ts from 'typescript';
import { listSourceFiles, listWorkspacePackages } from './workspace.mjs';

/**
 * The layers of DESIGN.md, lowest first. A package may import only packages of a lower layer
 * (and itself); packages of the middle layer do not import each other.
 */
export const LAYERS = [
  // @hicra/tensor-native holds only a native addon and its loader (no tfjs): the tensor core
  // loads it as an optional peer.
  ['@hicra/spec', '@hicra/tensor-native'],
  ['@hicra/tensor'],
  [
    '@hicra/planning',
    '@hicra/semantic-entropy',
    '@hicra/advantage',
    '@hicra/policy',
    '@hicra/tasks',
    '@hicra/remote',
  ],
  ['@hicra/trainer'],
  ['@hicra/reference'],
];

/**
 * Packages that import `@hicra/spec` alone of the layered packages: `@hicra/remote` speaks the
 * engine contracts over HTTP and must run where no tensor library can (a thin client).
 */
export const SPEC_ONLY = new Set(['@hicra/remote']);

/**
 * Imports the layers would allow but the design does not: the trainer reaches a remote engine
 * only through the contracts, so the application wires `@hicra/remote` in.
 * @type {ReadonlyMap<string, ReadonlyMap<string, string>>}
 */
export const FORBIDDEN_PAIRS = new Map([
  [
    '@hicra/trainer',
    new Map([
      [
        '@hicra/remote',
        'the trainer trains through the engine contracts and never imports @hicra/remote; the application wires a remote engine in',
      ],
    ]),
  ],
]);

/** The only package allowed to import `@tensorflow/*`. */
export const TENSOR_CORE = '@hicra/tensor';

/**
 * Narrower rules for a package's own source (`src/`, not its tests): the only subpaths of a
 * lower package it may import. The RL loop reaches models through the engine contracts of
 * `@hicra/spec` (issue 16), so the trainer's source takes typed-array kernels from the tensor
 * core, never the tfjs namespace or `DifferentiablePolicy`.
 * @type {Readonly<Record<string, Readonly<Record<string, { allowed: readonly string[], why: string }>>>>}
 */
export const SOURCE_SUBPATHS = {
  '@hicra/trainer': {
    '@hicra/tensor': {
      allowed: ['@hicra/tensor/kernels'],
      why: 'the trainer trains through TrainingClientV1 / SamplingClientV1; from the tensor core its source imports only the typed-array kernels (@hicra/tensor/kernels)',
    },
  },
};

/**
 * Why a source file of `from` may not import `specifier` under {@link SOURCE_SUBPATHS}, or
 * `undefined`.
 * @param {string} from
 * @param {string} specifier
 * @returns {string | undefined}
 */
export function sourceSubpathReason(from, specifier) {
  const rule = SOURCE_SUBPATHS[from]?.[packageNameOf(specifier)];
  if (rule === undefined || rule.allowed.includes(specifier)) return undefined;
  return rule.why;
}

/** @type {Map<string, number>} */
const layerOf = new Map(LAYERS.flatMap((names, layer) => names.map((name) => [name, layer])));

/**
 * `@scope/name/sub/path` -> `@scope/name`; `name/sub` -> `name`.
 * @param {string} specifier
 * @returns {string}
 */
export function packageNameOf(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/**
 * Every module specifier a file imports: static, type-only, side-effect, re-exports, dynamic
 * `import()`, `import x = require()`, `require()` and `import('x')` types. Comments and strings
 * are not imports (the TypeScript scanner tells them apart).
 * @param {string} text
 * @returns {{ specifier: string, line: number }[]}
 */
export function importsOf(text) {
  const info = ts.preProcessFile(text, true, true);
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lineStarts.push(i + 1);
  const lineOf = (/** @type {number} */ pos) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (/** @type {number} */ (lineStarts[mid]) <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  return info.importedFiles.map((ref) => ({ specifier: ref.fileName, line: lineOf(ref.pos) }));
}

/**
 * Why `from` may not depend on `to`, or `undefined` when it may.
 * Packages outside the layer table (tooling, examples, bench) sit above every layer.
 * @param {string} from
 * @param {string} to
 * @returns {string | undefined}
 */
export function forbiddenReason(from, to) {
  if (to.startsWith('@tensorflow/')) {
    return from === TENSOR_CORE
      ? undefined
      : `only ${TENSOR_CORE} may import @tensorflow/* (DESIGN.md convention 3)`;
  }
  if (from === to) return undefined;
  const target = layerOf.get(to);
  if (target === undefined) return undefined;
  const pair = FORBIDDEN_PAIRS.get(from)?.get(to);
  if (pair) return pair;
  if (SPEC_ONLY.has(from) && to !== '@hicra/spec')
    return `${from} imports @hicra/spec alone (a client and server of the engine contracts, no tensor library)`;
  const source = layerOf.get(from) ?? LAYERS.length;
  if (target < source) return undefined;
  if (target === source)
    return `${from} and ${to} are in the same layer and must not import each other`;
  return `${to} is above ${from} in the dependency direction (spec <- tensor <- middle <- trainer <- reference)`;
}

/**
 * Checks every workspace package under `root` against the dependency direction, in source
 * files (tests included) and in package.json dependencies.
 * @param {string} root
 * @returns {{ file: string, line: number, from: string, to: string, reason: string }[]}
 */
export function checkDependencyDirection(root) {
  /** @type {{ file: string, line: number, from: string, to: string, reason: string }[]} */
  const violations = [];
  for (const { dir, rel, manifest } of listWorkspacePackages(root)) {
    const from = manifest.name;
    for (const field of [
      'dependencies',
      'devDependencies',
      'peerDependencies',
      'optionalDependencies',
    ]) {
      for (const dep of Object.keys(manifest[field] ?? {})) {
        const reason = forbiddenReason(from, dep);
        if (reason)
          violations.push({
            file: `${rel}/package.json`,
            line: 0,
            from,
            to: dep,
            reason: `${field}: ${reason}`,
          });
      }
    }
    for (const file of listSourceFiles(dir)) {
      const text = readFileSync(file, 'utf8');
      for (const { specifier, line } of importsOf(text)) {
        if (specifier.startsWith('.') || specifier.startsWith('node:')) continue;
        const to = packageNameOf(specifier);
        const inSource = relative(dir, file).split(/[\\/]/)[0] === 'src';
        const reason =
          forbiddenReason(from, to) ??
          (inSource ? sourceSubpathReason(from, specifier) : undefined);
        if (reason) violations.push({ file: relative(root, file), line, from, to, reason });
      }
    }
  }
  return violations;
}
