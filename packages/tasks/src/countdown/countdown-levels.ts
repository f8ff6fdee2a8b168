/**
 * The knobs of a difficulty level. Every value a problem or a trace shows (numbers, target,
 * intermediate results, slips) stays within `[0, maxValue]`, so a word-level vocabulary of
 * the numbers up to `maxValue` covers every trace.
 */
export interface CountdownLevelSettings {
  /** How many numbers the problem gives (2-6). */
  readonly numberCount: number;
  /** Smallest given number (>= 1). */
  readonly minNumber: number;
  /** Largest given number. */
  readonly maxNumber: number;
  /**
   * Operations in the constructed solution (the depth of the derivation), 1 to
   * `numberCount - 1`. With `useAllNumbers` it must be `numberCount - 1`; otherwise the
   * numbers not in the solution are distractors.
   */
  readonly solutionSteps: number;
  /** Largest target and largest intermediate value (<= 999). */
  readonly maxValue: number;
  /** Smallest target. */
  readonly minTarget: number;
}

/**
 * Built-in levels, easiest first. Level 1 keeps a whole example (prompt and trace with one
 * dead end and a recovery) under about 60 words; levels 3-4 need numbers up to 200.
 */
export const COUNTDOWN_LEVELS: Readonly<Record<1 | 2 | 3 | 4, CountdownLevelSettings>> = {
  1: {
    numberCount: 3,
    minNumber: 1,
    maxNumber: 20,
    solutionSteps: 2,
    maxValue: 100,
    minTarget: 10,
  },
  2: {
    numberCount: 4,
    minNumber: 1,
    maxNumber: 10,
    solutionSteps: 3,
    maxValue: 100,
    minTarget: 10,
  },
  3: {
    numberCount: 4,
    minNumber: 1,
    maxNumber: 25,
    solutionSteps: 3,
    maxValue: 200,
    minTarget: 10,
  },
  4: {
    numberCount: 5,
    minNumber: 1,
    maxNumber: 25,
    solutionSteps: 4,
    maxValue: 200,
    minTarget: 10,
  },
};

export type CountdownLevel = keyof typeof COUNTDOWN_LEVELS;
