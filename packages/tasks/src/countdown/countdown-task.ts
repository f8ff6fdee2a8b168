import { formatValue, InvalidArgumentError, InvalidValueError } from '@hicra/spec';
import { SeededGenerator } from '@hicra/tensor/kernels';
import { describe, readBoolean, readNumber, readSettings, SOURCE } from '../settings.js';
import { formatCountdownExpression } from './countdown-expression.js';
import {
  COUNTDOWN_LEVELS,
  type CountdownLevel,
  type CountdownLevelSettings,
} from './countdown-levels.js';
import {
  COUNTDOWN_SPLITS,
  type CountdownProblem,
  type CountdownSplit,
  countdownProblemKey,
  countdownSplitOf,
} from './countdown-problem.js';
import { solveCountdown } from './countdown-solver.js';
import { randomTree } from './countdown-tree.js';

/** Settings of a Countdown task. */
export interface CountdownTaskSettings {
  /** A built-in level (1-4, default 1) or level settings of your own. */
  readonly level?: CountdownLevel | CountdownLevelSettings;
  /**
   * Every number must be used exactly once (default `true`, as TinyZero and most Countdown RL
   * work) or each at most once (`false`, the game show's rule).
   */
  readonly useAllNumbers?: boolean;
  /** Share of the problem space that belongs to the test split, in (0, 1). Default 0.2. */
  readonly testFraction?: number;
  /** Salt of the split assignment: another value gives another partition. Default 0. */
  readonly splitSeed?: number;
}

export interface ResolvedCountdownTaskSettings {
  readonly level: CountdownLevel | 'custom';
  readonly levelSettings: CountdownLevelSettings;
  readonly useAllNumbers: boolean;
  readonly testFraction: number;
  readonly splitSeed: number;
}

/** Where a stream of problems comes from: its split and its seed. */
export interface CountdownStreamOptions {
  readonly split: CountdownSplit;
  /** Non-negative safe integer; the same seed gives the same problems in the same order. */
  readonly seed: number;
}

/** A Countdown task: a seeded problem generator with disjoint splits, and its prompt format. */
export interface CountdownTask {
  readonly settings: ResolvedCountdownTaskSettings;
  /**
   * An endless stream of distinct problems of one split, deterministic in (settings, split,
   * seed). Throws `InvalidValueError` when the split has no new problem left to give.
   */
  problems(options: CountdownStreamOptions): Generator<CountdownProblem>;
  /** The first `count` problems of {@link problems}. */
  generate(options: CountdownStreamOptions & { readonly count: number }): CountdownProblem[];
  /** The split a problem (by its numbers and target) belongs to under these settings. */
  splitOf(problem: Pick<CountdownProblem, 'numbers' | 'target'>): CountdownSplit;
  /** The prompt shown to the policy: `Use 3, 8, 2 to make 22.` */
  prompt(problem: Pick<CountdownProblem, 'numbers' | 'target'>): string;
}

/** The prompt of a Countdown problem: `Use 3, 8, 2 to make 22.` */
export function formatCountdownPrompt(
  problem: Pick<CountdownProblem, 'numbers' | 'target'>,
): string {
  return `Use ${problem.numbers.join(', ')} to make ${problem.target}.`;
}

const LEVEL_KEYS = [
  'numberCount',
  'minNumber',
  'maxNumber',
  'solutionSteps',
  'maxValue',
  'minTarget',
] as const;

function resolveLevel(
  level: unknown,
  useAllNumbers: boolean,
): { level: CountdownLevel | 'custom'; settings: CountdownLevelSettings } {
  if (level === undefined) return { level: 1, settings: COUNTDOWN_LEVELS[1] };
  if (typeof level === 'number') {
    const builtin = COUNTDOWN_LEVELS[level as CountdownLevel];
    if (builtin === undefined) {
      throw new InvalidValueError(
        `createCountdownTask: settings.level must be 1, 2, 3, 4 or level settings, got ${level}`,
        { source: SOURCE, details: { argument: 'settings.level', value: level } },
      );
    }
    return { level: level as CountdownLevel, settings: builtin };
  }
  if (typeof level !== 'object' || level === null || Array.isArray(level)) {
    throw new InvalidArgumentError(
      `createCountdownTask: settings.level must be a level number or an object, got ${describe(level)}`,
      { source: SOURCE, details: { argument: 'settings.level', actual: describe(level) } },
    );
  }
  const raw = readSettings(level as CountdownLevelSettings, 'settings.level', LEVEL_KEYS);
  const where = (key: string) => `createCountdownTask: settings.level.${key}`;
  const integer = { integer: true };
  const maxValue = readNumber(raw.maxValue, where('maxValue'), undefined, {
    ...integer,
    min: 2,
    max: 999,
  });
  const numberCount = readNumber(raw.numberCount, where('numberCount'), undefined, {
    ...integer,
    min: 2,
    max: 6,
  });
  const minNumber = readNumber(raw.minNumber, where('minNumber'), undefined, {
    ...integer,
    min: 1,
    max: maxValue,
  });
  const maxNumber = readNumber(raw.maxNumber, where('maxNumber'), undefined, {
    ...integer,
    min: minNumber,
    max: maxValue,
  });
  const solutionSteps = readNumber(raw.solutionSteps, where('solutionSteps'), numberCount - 1, {
    ...integer,
    min: useAllNumbers ? numberCount - 1 : 1,
    max: numberCount - 1,
  });
  const minTarget = readNumber(raw.minTarget, where('minTarget'), 1, {
    ...integer,
    min: 1,
    max: maxValue,
  });
  return {
    level: 'custom',
    settings: { numberCount, minNumber, maxNumber, solutionSteps, maxValue, minTarget },
  };
}

/** How many draws in a row may fail before a stream gives up. */
const MAX_DRAW_ATTEMPTS = 10_000;
const MAX_REJECTED_IN_A_ROW = 50_000;

/**
 * Creates a Countdown task. Problems are built from a random expression tree (so each has a
 * solution), confirmed by the solver, assigned to a split by a salted hash of their canonical
 * key (so train and test never share a puzzle), and drawn without repeats within a stream.
 */
export function createCountdownTask(settings?: CountdownTaskSettings): CountdownTask {
  const raw = readSettings(settings, 'createCountdownTask: settings', [
    'level',
    'useAllNumbers',
    'testFraction',
    'splitSeed',
  ]);
  const useAllNumbers = readBoolean(
    raw.useAllNumbers,
    'createCountdownTask: settings.useAllNumbers',
    true,
  );
  const { level, settings: levelSettings } = resolveLevel(raw.level, useAllNumbers);
  const testFraction = readNumber(
    raw.testFraction,
    'createCountdownTask: settings.testFraction',
    0.2,
    {
      min: 0,
      minExclusive: true,
      max: 0.999,
    },
  );
  const splitSeed = readNumber(raw.splitSeed, 'createCountdownTask: settings.splitSeed', 0, {
    integer: true,
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
  });
  const resolved: ResolvedCountdownTaskSettings = {
    level,
    levelSettings,
    useAllNumbers,
    testFraction,
    splitSeed,
  };
  const { numberCount, minNumber, maxNumber, solutionSteps, maxValue, minTarget } = levelSettings;

  const splitOf = (problem: Pick<CountdownProblem, 'numbers' | 'target'>): CountdownSplit =>
    countdownSplitOf(countdownProblemKey(problem), testFraction, splitSeed);

  const draw = (random: SeededGenerator) => {
    for (let attempt = 0; attempt < MAX_DRAW_ATTEMPTS; attempt++) {
      const numbers = Array.from(
        { length: numberCount },
        () => minNumber + random.nextInt(maxNumber - minNumber + 1),
      );
      const used = random.shuffle([...numbers]).slice(0, solutionSteps + 1);
      const tree = randomTree(used, random, maxValue);
      if (!tree || tree.value < minTarget || numbers.includes(tree.value)) continue;
      return { numbers, target: tree.value, expression: tree.expression };
    }
    throw new InvalidValueError(
      `createCountdownTask: no valid problem in ${MAX_DRAW_ATTEMPTS} draws; the level settings are too tight (${formatValue(levelSettings)})`,
      { source: SOURCE, details: { levelSettings } },
    );
  };

  function* problems(options: CountdownStreamOptions): Generator<CountdownProblem> {
    checkStreamOptions(options);
    const { split, seed } = options;
    // Splits partition the problem space, so both may draw from the same stream of the seed.
    const random = new SeededGenerator(seed);
    const seen = new Set<string>();
    let rejectedInARow = 0;
    for (let index = 0; ; ) {
      const { numbers, target, expression } = draw(random);
      const key = countdownProblemKey({ numbers, target });
      if (seen.has(key) || countdownSplitOf(key, testFraction, splitSeed) !== split) {
        if (++rejectedInARow > MAX_REJECTED_IN_A_ROW) {
          throw new InvalidValueError(
            `createCountdownTask: the ${split} split ran out of new problems after ${index} (level ${level}); ask for fewer or use a larger level`,
            { source: SOURCE, details: { split, seed, produced: index, level } },
          );
        }
        continue;
      }
      rejectedInARow = 0;
      if (!solveCountdown(numbers, target, { useAllNumbers, maxValue })) {
        throw new Error(`@hicra/tasks: internal error, the solver found no solution for ${key}`);
      }
      seen.add(key);
      yield {
        id: `countdown-${level}-${split}-${seed}-${index}`,
        numbers,
        target,
        useAllNumbers,
        solution: formatCountdownExpression(expression),
        level,
        split,
      };
      index++;
    }
  }

  return {
    settings: resolved,
    problems,
    generate(options) {
      checkStreamOptions(options);
      const count = readNumber(options.count, 'CountdownTask.generate: count', undefined, {
        integer: true,
        min: 0,
      });
      const out: CountdownProblem[] = [];
      if (count === 0) return out;
      for (const problem of problems(options)) {
        out.push(problem);
        if (out.length === count) break;
      }
      return out;
    },
    splitOf,
    prompt: formatCountdownPrompt,
  };
}

function checkStreamOptions(options: CountdownStreamOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(
      `CountdownTask: options must be an object with split and seed, got ${describe(options)}`,
      { source: SOURCE, details: { argument: 'options' } },
    );
  }
  if (!COUNTDOWN_SPLITS.includes(options.split)) {
    throw new InvalidValueError(
      `CountdownTask: options.split must be "train" or "test", got ${describe(options.split)}`,
      { source: SOURCE, details: { argument: 'options.split', actual: describe(options.split) } },
    );
  }
  readNumber(options.seed, 'CountdownTask: options.seed', undefined, {
    integer: true,
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
  });
}

/** The default task: level 1, every number used once, 20% of the problem space held out. */
export const countdownTask: CountdownTask = createCountdownTask();
