import type { RunProgress } from '@hicra/trainer';

/** How a command talks to the user: `--json` prints the result on stdout, `--quiet` no progress. */
export interface Output {
  readonly json: boolean;
  readonly quiet: boolean;
}

/** A progress line on stderr (stdout is kept for `--json`). */
export function progress(output: Output, message: string): void {
  if (!output.quiet) process.stderr.write(`${message}\n`);
}

export function formatProgress(label: string, p: RunProgress): string {
  const eta = Number.isFinite(p.etaSeconds) ? `${Math.round(p.etaSeconds)} s` : '?';
  const accuracy = p.accuracy === undefined ? '' : ` train acc ${(p.accuracy * 100).toFixed(1)}%`;
  const evalAccuracy =
    p.evalAccuracy === undefined ? '' : ` eval acc ${(p.evalAccuracy * 100).toFixed(1)}%`;
  return `${label} step ${p.step}/${p.steps}  ${Math.round(p.tokensPerSecond)} tok/s  ETA ${eta}${accuracy}${evalAccuracy}`;
}

/** Numbers as JSON cannot write them (Infinity, NaN) become strings instead of `null`. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    typeof v === 'number' && !Number.isFinite(v) ? String(v) : v,
  );
}
