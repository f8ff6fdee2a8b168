/** The two splits. A problem belongs to exactly one, decided by its canonical key. */
export type CountdownSplit = 'train' | 'test';

export const COUNTDOWN_SPLITS: readonly CountdownSplit[] = ['train', 'test'];

/**
 * What a Countdown verifier needs: the numbers, the target and the rule. This is the shape a
 * reward function expects as `RewardInputV1.reference`.
 */
export interface CountdownReference {
  /** The given numbers (positive integers; repeats allowed, each copy usable once). */
  readonly numbers: readonly number[];
  /** The number to reach. */
  readonly target: number;
  /**
   * Whether every number must be used exactly once (TinyZero's rule, the default) or each at
   * most once (a subset is enough). Absent: the verifier's setting decides.
   */
  readonly useAllNumbers?: boolean;
}

/** A generated Countdown problem. */
export interface CountdownProblem extends CountdownReference {
  /** Stable id: `countdown-<level>-<split>-<seed>-<index>`. */
  readonly id: string;
  readonly useAllNumbers: boolean;
  /** One solution, as an expression with minimal parentheses (`3 * 8 - 2`). */
  readonly solution: string;
  /** The difficulty level (1-4), or `custom` for hand-set level settings. */
  readonly level: number | 'custom';
  readonly split: CountdownSplit;
}

/**
 * The canonical key of a problem: the sorted numbers and the target (`2,3,8>22`). Two
 * problems with the same key are the same puzzle, whatever the order the numbers were shown in.
 */
export function countdownProblemKey(
  problem: Pick<CountdownReference, 'numbers' | 'target'>,
): string {
  return `${[...problem.numbers].sort((a, b) => a - b).join(',')}>${problem.target}`;
}

/** FNV-1a over UTF-16 code units, then a final avalanche (murmur3's fmix32). */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The split a problem key belongs to: a salted hash of the key, below `testFraction` means
 * test. Because membership depends on the key alone, no puzzle can be in both splits, however
 * many problems are drawn from each.
 */
export function countdownSplitOf(
  key: string,
  testFraction: number,
  splitSeed: number,
): CountdownSplit {
  return hash32(`${splitSeed}|${key}`) / 2 ** 32 < testFraction ? 'test' : 'train';
}
