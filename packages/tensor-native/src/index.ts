/**
 * @hicra/tensor-native: optional native CPU kernels for `@hicra/tensor`, a Node-API addon on
 * OpenBLAS (linked statically). This package holds only the binding and its loader; the tensor
 * core registers the kernels (`initBackend('native')`). It depends on no other package.
 *
 * The addon is looked up, in order, at `build/tensor_native.node` (a local source build,
 * `node scripts/build.mjs`) and `prebuilds/<platform>-<arch>/tensor_native.node` (shipped for
 * linux-x64). Loading never throws: {@link loadNative} says why it failed.
 *
 * @packageDocumentation
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The functions the addon exports. Every array is used in place; nothing is copied. */
export interface NativeBinding {
  /**
   * For each `i < batch`: `out[i] = op(a[i]) · op(b[i])`, row-major, where matrix `i` of `a`
   * starts at `i * strideA` (0 repeats one matrix over the batch), `op(a[i])` is `m × k`
   * (stored `k × m` when `transposeA`) and `op(b[i])` is `k × n` (stored `n × k` when
   * `transposeB`); `out` receives `batch · m · n` values. Throws a `RangeError` when an array
   * is too short for the sizes given.
   */
  matmul(
    a: Float32Array,
    b: Float32Array,
    out: Float32Array,
    batch: number,
    strideA: number,
    strideB: number,
    m: number,
    n: number,
    k: number,
    transposeA: boolean,
    transposeB: boolean,
  ): void;
  /** `out[i] = tanh(x[i])` for every element of `x` (glibc's vector tanhf); `out` may be `x`. */
  tanh(x: Float32Array, out: Float32Array): void;
  /**
   * `out = a (op) b` over the output `shape` (rank 1 to 8), reading `a` and `b` through
   * `stridesA` / `stridesB` (0 on a broadcast axis); `op` 0 add, 1 subtract, 2 multiply,
   * 3 divide, in plain IEEE single precision.
   */
  binary(
    op: 0 | 1 | 2 | 3,
    a: Float32Array,
    b: Float32Array,
    out: Float32Array,
    shape: Int32Array,
    stridesA: Int32Array,
    stridesB: Int32Array,
  ): void;
  /** `out[i] = exp(x[i])` for every element of `x` (glibc's vector expf); `out` may be `x`. */
  exp(x: Float32Array, out: Float32Array): void;
  /**
   * `x` is `[outer, axisSize, inner]` (4-byte words, bit for bit); `out[o, i, :] =
   * x[o, indices[i], :]`. Throws a `RangeError` naming the first index outside `[0, axisSize)`,
   * before writing anything.
   */
  gather(
    x: Float32Array,
    indices: Int32Array,
    out: Float32Array,
    outer: number,
    axisSize: number,
    inner: number,
  ): void;
  /** Softmax of each row of a `rows × cols` matrix (`out` may be `x`). */
  softmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  /**
   * For `o < outer`: copies `block` elements from `src[o · srcStride]` to `dst[o · dstStride]`,
   * bit for bit (any 4-byte dtype may pass through `Float32Array` views): split and
   * concatenation along an axis.
   */
  copyBlocks(
    src: Float32Array,
    dst: Float32Array,
    outer: number,
    block: number,
    srcStride: number,
    dstStride: number,
  ): void;
  /**
   * `out` = `x` (of `shape`) with its axes permuted: output axis `i` is input axis `perm[i]`.
   * Rank 1 to 8; bit for bit, so any 4-byte dtype may pass through `Float32Array` views.
   */
  transpose(x: Float32Array, out: Float32Array, shape: Int32Array, perm: Int32Array): void;
  /** Sets how many threads OpenBLAS may use (at least 1). */
  setThreads(threads: number): void;
  /** How many threads OpenBLAS may use. */
  getThreads(): number;
  /** OpenBLAS's build configuration and the CPU kernel it selected. */
  blasInfo(): { config: string; core: string };
}

/** The outcome of {@link loadNative}. */
export type NativeLoad =
  | { readonly ok: true; readonly binding: NativeBinding; readonly path: string }
  | { readonly ok: false; readonly reason: string; readonly tried: readonly string[] };

/** The platforms a prebuilt binary ships for, as `${process.platform}-${process.arch}`. */
export const PREBUILT_PLATFORMS: readonly string[] = ['linux-x64'];

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
let cached: NativeLoad | undefined;

/** The paths {@link loadNative} tries, in order. */
export function candidatePaths(
  platform: string = process.platform,
  arch: string = process.arch,
): string[] {
  return [
    join(packageRoot, 'build', 'tensor_native.node'),
    join(packageRoot, 'prebuilds', `${platform}-${arch}`, 'tensor_native.node'),
  ];
}

/**
 * Loads the addon once (later calls return the same outcome). Never throws: an absent binary,
 * a platform without a prebuild, or a load error (wrong libc, corrupt file) gives
 * `{ ok: false, reason }` naming what was tried and how to build from source.
 */
export function loadNative(): NativeLoad {
  cached ??= tryLoad();
  return cached;
}

function tryLoad(): NativeLoad {
  const tried = candidatePaths();
  const present = tried.filter((path) => existsSync(path));
  const platform = `${process.platform}-${process.arch}`;
  if (present.length === 0) {
    const prebuilt = PREBUILT_PLATFORMS.includes(platform)
      ? `the prebuilt binary for ${platform} is missing from the package (reinstall @hicra/tensor-native)`
      : `no prebuilt binary ships for ${platform} (only ${PREBUILT_PLATFORMS.join(', ')})`;
    return {
      ok: false,
      reason: `${prebuilt}; build it from source with \`node scripts/build.mjs\` in @hicra/tensor-native (needs gcc, Node's headers and a static OpenBLAS)`,
      tried,
    };
  }
  const require = createRequire(import.meta.url);
  const failures: string[] = [];
  for (const path of present) {
    try {
      const binding = require(path) as NativeBinding;
      if (typeof binding.matmul !== 'function') {
        failures.push(`${path}: not a tensor_native addon (no matmul export)`);
        continue;
      }
      return { ok: true, binding, path };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      failures.push(`${path}: ${message.split('\n')[0]}`);
    }
  }
  return {
    ok: false,
    reason: `the native addon failed to load (${failures.join('; ')}); rebuild it with \`node scripts/build.mjs\` in @hicra/tensor-native`,
    tried,
  };
}
