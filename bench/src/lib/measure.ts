/** Timing and result comparison. */

/** What one run of an op hands back for comparison: scalars or arrays, by output name. */
export type Outputs = Record<string, number | ArrayLike<number>>;

export interface Timing {
  readonly timesMs: number[];
  readonly medianMs: number;
  /** The outputs of the last timed run. */
  readonly outputs: Outputs;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * `warmup` untimed runs, then `runs` timed ones. `run` must finish the work before it resolves
 * (for tfjs: await `.data()` of every result) and release what it allocated.
 */
export async function measure(
  run: () => Outputs | Promise<Outputs>,
  warmup: number,
  runs: number,
): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await run();
  const timesMs: number[] = [];
  let outputs: Outputs = {};
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    outputs = await run();
    timesMs.push(performance.now() - start);
  }
  return { timesMs, medianMs: median(timesMs), outputs };
}

export interface Agreement {
  /** The largest |ours - torch| over every output of the op. */
  readonly maxAbsDiff: number;
  /** Entries compared. */
  readonly compared: number;
  /** Entries that differ at all (useful for 0/1 masks). */
  readonly differing: number;
}

/** Compares our outputs with the peer's, output by output (the peer's keys must all exist). */
export function compare(ours: Outputs, theirs: Outputs): Agreement {
  let maxAbsDiff = 0;
  let compared = 0;
  let differing = 0;
  for (const [name, expected] of Object.entries(theirs)) {
    const actual = ours[name];
    if (actual === undefined) throw new Error(`our result has no output "${name}"`);
    const a = typeof actual === 'number' ? [actual] : actual;
    const e = typeof expected === 'number' ? [expected] : expected;
    if (a.length !== e.length) {
      throw new Error(`output "${name}": ours has ${a.length} entries, torch's ${e.length}`);
    }
    for (let i = 0; i < a.length; i++) {
      const d = Math.abs(a[i]! - e[i]!);
      // NaN on either side counts as a disagreement.
      if (!(d <= maxAbsDiff)) maxAbsDiff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
      if (a[i] !== e[i]) differing++;
    }
    compared += a.length;
  }
  return { maxAbsDiff, compared, differing };
}
