#!/usr/bin/env node
// Builds the addon from src/tensor_native.c with gcc against the running Node's headers,
// linking OpenBLAS statically, so the result needs no system library at run time.
//
//   node scripts/build.mjs            -> build/tensor_native.node (loaded before the prebuild)
//   node scripts/build.mjs --prebuild -> prebuilds/<platform>-<arch>/tensor_native.node
//
// Environment: CC (default gcc); OPENBLAS_STATIC, the static library (default: Debian's
// libopenblas-pthread-dev, /usr/lib/<triplet>/openblas-pthread/libopenblas.a);
// OPENBLAS_INCLUDE, the folder holding cblas.h; NODE_INCLUDE, Node's headers (default:
// <prefix of process.execPath>/include/node).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const prebuild = process.argv.includes('--prebuild');
const triplet = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[process.arch] ?? '';
const nodeInclude =
  process.env.NODE_INCLUDE ?? join(dirname(dirname(process.execPath)), 'include', 'node');
const blasLibrary =
  process.env.OPENBLAS_STATIC ?? `/usr/lib/${triplet}/openblas-pthread/libopenblas.a`;
const blasInclude = process.env.OPENBLAS_INCLUDE ?? `/usr/include/${triplet}/openblas-pthread`;

const missing = [
  [join(nodeInclude, 'node_api.h'), 'Node-API headers (set NODE_INCLUDE)'],
  [
    blasLibrary,
    'static OpenBLAS (apt-get install libopenblas-pthread-dev, or set OPENBLAS_STATIC)',
  ],
  [join(blasInclude, 'cblas.h'), 'cblas.h (set OPENBLAS_INCLUDE)'],
].filter(([path]) => !existsSync(path));
if (missing.length > 0) {
  for (const [path, what] of missing) console.error(`missing ${what}: ${path}`);
  process.exit(1);
}

const outDir = prebuild
  ? join(root, 'prebuilds', `${process.platform}-${process.arch}`)
  : join(root, 'build');
mkdirSync(outDir, { recursive: true });
const output = join(outDir, 'tensor_native.node');
const cc = process.env.CC ?? 'gcc';
const run = (args) => {
  console.log(`${cc} ${args.join(' ')}`);
  execFileSync(cc, args, { stdio: 'inherit' });
};
// The elementwise kernels are compiled alone with -ffast-math (so tanhf vectorises through
// glibc's libmvec); the link step below does not pass it, so the process keeps IEEE modes.
const elementwise = join(outDir, 'elementwise.o');
run([
  '-O3',
  '-ffast-math',
  '-fPIC',
  '-fvisibility=hidden',
  '-c',
  join(root, 'src', 'elementwise.c'),
  '-o',
  elementwise,
]);
run([
  '-O2',
  '-fPIC',
  '-shared',
  '-fvisibility=hidden',
  '-DNODE_GYP_MODULE_NAME=tensor_native',
  `-I${nodeInclude}`,
  `-I${blasInclude}`,
  join(root, 'src', 'tensor_native.c'),
  elementwise,
  '-o',
  output,
  blasLibrary,
  // OpenBLAS's symbols stay private to the addon: no clash with another BLAS in the process.
  '-Wl,--exclude-libs,ALL',
  '-Wl,--gc-sections',
  '-Wl,-z,noexecstack',
  '-s',
  '-lmvec',
  '-lpthread',
  '-lm',
]);
rmSync(elementwise);
console.log(`wrote ${output} (${(statSync(output).size / 2 ** 20).toFixed(1)} MiB)`);
