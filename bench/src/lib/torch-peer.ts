/**
 * The PyTorch peer: Debian's python3-torch on the system interpreter, one thread.
 *
 * The peer must be present; the benchmark installs it with apt when it can (root and apt-get
 * available) and otherwise stops with the exact command to run. It never skips it silently.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** The system interpreter: the python3 first on PATH may be another one without torch. */
export const PYTHON = '/usr/bin/python3';
export const APT_PACKAGES = ['python3-torch', 'libopenblas0-pthread', 'python3-numpy'] as const;
const INSTALL_COMMAND = `apt-get install -y ${APT_PACKAGES.join(' ')}`;

/** What the peer prints on stdout. */
export interface TorchReport {
  readonly python: string;
  readonly executable: string;
  readonly torch: string;
  readonly debianPackages: Record<string, string | null>;
  readonly numpy: string;
  readonly threads: number;
  readonly config: { readonly first_lines: string[]; readonly blas_info: string | null };
  readonly blasLibraries: string[];
  readonly runs: number;
  readonly warmup: number;
  readonly ops: Record<string, TorchOp>;
}

export interface TorchOp {
  readonly times_ms: number[];
  readonly median_ms: number;
  readonly outputs: Record<string, TorchOutput>;
}

export type TorchOutput =
  | { readonly value: number }
  | { readonly file: string; readonly dtype: string; readonly length: number };

/** The environment of the peer: one thread, and no OpenBLAS core-type overrides. */
export function peerEnvironment(
  base: NodeJS.ProcessEnv = process.env,
  threads = 1,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  env.OMP_NUM_THREADS = String(threads);
  env.OPENBLAS_NUM_THREADS = String(threads);
  env.MKL_NUM_THREADS = String(threads);
  return env;
}

/** Why the peer cannot run, or undefined when it can. */
function peerProblem(): string | undefined {
  if (!existsSync(PYTHON)) return `${PYTHON} does not exist`;
  const probe = spawnSync(PYTHON, ['-c', 'import torch, numpy; print(torch.__version__)'], {
    env: peerEnvironment(),
    encoding: 'utf8',
  });
  if (probe.error) return `${PYTHON} could not start (${probe.error.message})`;
  if (probe.status !== 0) {
    const last = probe.stderr.trim().split('\n').pop() ?? '';
    return `${PYTHON} cannot import torch and numpy (${last})`;
  }
  // `${Status}` is dpkg-query's format syntax, escaped here.
  const dpkg = spawnSync('dpkg-query', ['-W', `-f=\${Status}`, 'libopenblas0-pthread'], {
    encoding: 'utf8',
  });
  if (!dpkg.error && !dpkg.stdout.includes('install ok installed')) {
    return 'libopenblas0-pthread is not installed';
  }
  return undefined;
}

function canUseApt(): boolean {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const apt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' });
  return root && !apt.error && apt.status === 0;
}

function apt(args: string[]): boolean {
  console.error(`$ apt-get ${args.join(' ')}`);
  const result = spawnSync('apt-get', args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return !result.error && result.status === 0;
}

/**
 * Makes sure the peer can run: installs it with apt when it is missing and apt and root are
 * available; otherwise prints how to install it and exits with status 1.
 */
export function ensureTorchPeer(): void {
  let problem = peerProblem();
  if (problem === undefined) return;
  console.error(`bench: the PyTorch peer is not ready: ${problem}.`);
  if (canUseApt()) {
    console.error(`bench: installing it with apt (${APT_PACKAGES.join(', ')}) ...`);
    const installed =
      apt(['install', '-y', ...APT_PACKAGES]) ||
      (apt(['update']) && apt(['install', '-y', ...APT_PACKAGES]));
    problem = installed ? peerProblem() : 'apt-get install failed';
    if (problem === undefined) return;
  }
  console.error(
    [
      `bench: cannot run the PyTorch peer: ${problem}.`,
      'The benchmark compares every op with PyTorch measured in the same run, so it needs',
      "Debian's PyTorch and OpenBLAS for the system interpreter /usr/bin/python3. Install them with:",
      '',
      `    sudo ${INSTALL_COMMAND}`,
      '',
      '(without sudo when you are root; Debian 12 or a derivative), then rerun the benchmark.',
    ].join('\n'),
  );
  process.exit(1);
}

/** Runs the peer script on the exchanged inputs; its JSON report, or throws with its stderr. */
export function runTorchPeer(
  script: string,
  dataDir: string,
  options: { runs: number; warmup: number; groups: readonly string[] },
): TorchReport {
  const args = [
    script,
    '--data',
    dataDir,
    '--runs',
    String(options.runs),
    '--warmup',
    String(options.warmup),
    '--groups',
    options.groups.join(','),
  ];
  const result = spawnSync(PYTHON, args, {
    env: peerEnvironment(),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw new Error(`the PyTorch peer could not start: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(`the PyTorch peer failed (exit status ${result.status}); see its output above`);
  }
  try {
    return JSON.parse(result.stdout) as TorchReport;
  } catch {
    throw new Error(`the PyTorch peer printed no JSON report:\n${result.stdout.slice(0, 2000)}`);
  }
}
