import { InvalidValueError } from '@hicra/spec';
import type { SeededGenerator } from '@hicra/tensor/kernels';
import { readNumber, readRate, readSettings, SOURCE } from '../settings.js';
import {
  type CountdownExpression,
  type CountdownOperator,
  formatCountdownExpression,
  parseCountdownExpression,
} from './countdown-expression.js';
import type { CountdownReference } from './countdown-problem.js';
import { COUNTDOWN_TEMPLATES } from './countdown-templates.js';
import { allTrees, randomTree, type TreeItem } from './countdown-tree.js';
import { COUNTDOWN_ANSWER_PREFIX } from './countdown-vocabulary.js';

/**
 * Error rates of generated traces. Each is drawn independently per trace, so the share of
 * traces with each kind of error matches its setting.
 */
export interface CountdownTraceSettings {
  /**
   * Probability that one step of the final approach has wrong arithmetic (an execution slip):
   * its result is off by a small amount and later steps carry the wrong value forward.
   * Default 0.
   */
  readonly slipRate?: number;
  /**
   * Probability that the trace first follows a dead-end approach (a strategic error): a
   * correctly computed combination that misses the target. Default 0.
   */
  readonly strategicErrorRate?: number;
  /**
   * Given a dead end, probability that the trace notices it, backtracks with a planning
   * phrase and then solves the problem; otherwise it answers with the dead end. Default 0.5.
   */
  readonly recoveryRate?: number;
  /** Largest value a trace may show (slips and dead ends stay within it). Default 100. */
  readonly maxValue?: number;
}

/** A planning phrase in a trace: `[start, end)` UTF-16 offsets into `text`. */
export interface PlanningSpan {
  readonly phrase: string;
  readonly start: number;
  readonly end: number;
}

/** A generated solution trace and the errors injected into it. */
export interface CountdownTrace {
  /** The response text, steps on their own lines, ending with `Answer: <expression>`. */
  readonly text: string;
  /** The expression on the answer line. */
  readonly answer: string;
  /** One step of the final approach has wrong arithmetic. */
  readonly slip: boolean;
  /** The trace started with a dead-end approach. */
  readonly deadEnd: boolean;
  /** After the dead end it backtracked and solved the problem. */
  readonly recovered: boolean;
  /** True exactly when no uncorrected error was injected: `!slip && (!deadEnd || recovered)`. */
  readonly expectedCorrect: boolean;
  /** Where each planning phrase sits in `text`. */
  readonly planningSpans: readonly PlanningSpan[];
}

export interface CountdownTraceGenerator {
  readonly settings: Required<CountdownTraceSettings>;
  /**
   * A trace for `problem` (which must carry a solution), using and advancing `random`.
   * Deterministic in the problem and the generator's state.
   */
  generate(
    problem: CountdownReference & { readonly solution: string },
    random: SeededGenerator,
  ): CountdownTrace;
}

/** A binary step of an approach; operands are given numbers or results of earlier steps. */
interface Step {
  readonly operator: CountdownOperator;
  readonly left: Operand;
  readonly right: Operand;
}
type Operand =
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'step'; readonly index: number };

function stepsOf(expression: CountdownExpression): Step[] {
  const steps: Step[] = [];
  const walk = (node: CountdownExpression): Operand => {
    if (node.kind === 'number') return { kind: 'number', value: node.value.toNumber() };
    const left = walk(node.left);
    const right = walk(node.right);
    steps.push({ operator: node.operator, left, right });
    return { kind: 'step', index: steps.length - 1 };
  };
  walk(expression);
  return steps;
}

const apply = (
  operator: CountdownOperator,
  a: number,
  b: number,
  maxValue: number,
): number | undefined => {
  const value =
    operator === '+' ? a + b : operator === '-' ? a - b : operator === '*' ? a * b : a / b;
  return Number.isInteger(value) && value >= 1 && value <= maxValue ? value : undefined;
};

/** Values written for each step when step `slipAt` is off by `delta` (undefined if invalid). */
function replay(
  steps: readonly Step[],
  maxValue: number,
  slipAt = -1,
  delta = 0,
): number[] | undefined {
  const written: number[] = [];
  const operandValue = (operand: Operand) =>
    operand.kind === 'number' ? operand.value : written[operand.index]!;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    const actual = apply(
      step.operator,
      operandValue(step.left),
      operandValue(step.right),
      maxValue,
    );
    if (actual === undefined) return undefined;
    const value = i === slipAt ? actual + delta : actual;
    if (value < 1 || value > maxValue) return undefined;
    written.push(value);
  }
  return written;
}

const SLIP_DELTAS = [1, -1, 2, -2, 3, -3, 10, -10];

/**
 * Creates a trace generator. A trace is one or two approaches, each a list of arithmetic steps
 * (`3 * 8 = 24`) preceded by planning phrases copied from the paper's lexicon, and ends with
 * `Answer: <expression>`:
 *
 * ```text
 * maybe 3 + 8 = 11
 * next 11 + 2 = 13
 * that can't be right
 * alternatively 3 * 8 = 24
 * so 24 - 2 = 22
 * Answer: 3 * 8 - 2
 * ```
 */
export function createCountdownTraceGenerator(
  settings?: CountdownTraceSettings,
): CountdownTraceGenerator {
  const where = 'createCountdownTraceGenerator: settings';
  const raw = readSettings(settings, where, [
    'slipRate',
    'strategicErrorRate',
    'recoveryRate',
    'maxValue',
  ]);
  const resolved: Required<CountdownTraceSettings> = {
    slipRate: readRate(raw.slipRate, `${where}.slipRate`, 0),
    strategicErrorRate: readRate(raw.strategicErrorRate, `${where}.strategicErrorRate`, 0),
    recoveryRate: readRate(raw.recoveryRate, `${where}.recoveryRate`, 0.5),
    maxValue: readNumber(raw.maxValue, `${where}.maxValue`, 100, {
      integer: true,
      min: 2,
      max: 999,
    }),
  };
  const { maxValue } = resolved;

  const deadEndTree = (
    problem: CountdownReference,
    useAll: boolean,
    random: SeededGenerator,
  ): TreeItem => {
    const numbers = [...problem.numbers];
    for (let attempt = 0; attempt < 200; attempt++) {
      const size = useAll ? numbers.length : 2 + random.nextInt(numbers.length - 1);
      const tree = randomTree(random.shuffle([...numbers]).slice(0, size), random, maxValue);
      if (tree && tree.value !== problem.target) return tree;
    }
    for (const tree of allTrees(numbers, maxValue)) if (tree.value !== problem.target) return tree;
    throw new InvalidValueError(
      `CountdownTraceGenerator.generate: no dead end exists for ${numbers.join(', ')} -> ${problem.target} within maxValue ${maxValue}`,
      { source: SOURCE, details: { numbers, target: problem.target, maxValue } },
    );
  };

  return {
    settings: resolved,
    generate(problem, random) {
      const parsed = parseCountdownExpression(problem.solution);
      if (!parsed.ok) {
        throw new InvalidValueError(
          `CountdownTraceGenerator.generate: problem.solution ${JSON.stringify(problem.solution)} is not an expression (${parsed.reason})`,
          { source: SOURCE, details: { argument: 'problem.solution' } },
        );
      }
      const solutionSteps = stepsOf(parsed.expression);
      if (!replay(solutionSteps, maxValue)) {
        throw new InvalidValueError(
          `CountdownTraceGenerator.generate: problem.solution ${JSON.stringify(problem.solution)} has a step outside the positive integers up to maxValue ${maxValue}`,
          { source: SOURCE, details: { argument: 'problem.solution', maxValue } },
        );
      }
      const useAll = problem.useAllNumbers ?? true;
      const deadEnd = random.nextFloat() < resolved.strategicErrorRate;
      const recovered = deadEnd && random.nextFloat() < resolved.recoveryRate;
      const slip = random.nextFloat() < resolved.slipRate;

      const pick = (list: readonly string[]) => list[random.nextInt(list.length)]!;
      let text = '';
      const planningSpans: PlanningSpan[] = [];
      const writePhrase = (phrase: string) => {
        planningSpans.push({ phrase, start: text.length, end: text.length + phrase.length });
        text += phrase;
      };
      const writeApproach = (
        steps: readonly Step[],
        written: readonly number[],
        opener: string,
      ) => {
        const operandValue = (operand: Operand) =>
          operand.kind === 'number' ? operand.value : written[operand.index]!;
        steps.forEach((step, i) => {
          writePhrase(i === 0 ? opener : pick(COUNTDOWN_TEMPLATES.continue));
          text += ` ${operandValue(step.left)} ${step.operator} ${operandValue(step.right)} = ${written[i]}\n`;
        });
      };

      let finalExpression = parsed.expression;
      let finalSteps = solutionSteps;
      let firstOpener = pick(COUNTDOWN_TEMPLATES.open);
      if (deadEnd) {
        const tree = deadEndTree(problem, useAll, random);
        const steps = stepsOf(tree.expression);
        if (recovered) {
          writeApproach(steps, replay(steps, maxValue)!, firstOpener);
          writePhrase(pick(COUNTDOWN_TEMPLATES.deadEnd));
          text += '\n';
          firstOpener = pick(COUNTDOWN_TEMPLATES.retry);
        } else {
          finalExpression = tree.expression;
          finalSteps = steps;
        }
      }
      let written = replay(finalSteps, maxValue)!;
      if (slip) written = slipped(finalSteps, written, problem.target, random);
      writeApproach(finalSteps, written, firstOpener);
      const answer = formatCountdownExpression(finalExpression);
      text += `${COUNTDOWN_ANSWER_PREFIX} ${answer}`;
      return {
        text,
        answer,
        slip,
        deadEnd,
        recovered,
        expectedCorrect: !slip && (!deadEnd || recovered),
        planningSpans,
      };
    },
  };

  function slipped(
    steps: readonly Step[],
    correct: number[],
    target: number,
    random: SeededGenerator,
  ): number[] {
    const positions = random.shuffle(steps.map((_, i) => i));
    for (const at of positions) {
      for (const delta of random.shuffle([...SLIP_DELTAS])) {
        const written = replay(steps, maxValue, at, delta);
        if (written && written[written.length - 1] !== target) return written;
      }
    }
    // The last step has no dependants: any other value in range is a valid slip there.
    const last = steps.length - 1;
    const actual = correct[last]!;
    const options = SLIP_DELTAS.map((d) => actual + d).filter(
      (v) => v >= 1 && v <= maxValue && v !== target,
    );
    const value =
      options.length > 0 ? options[random.nextInt(options.length)]! : actual === 1 ? 2 : 1;
    return [...correct.slice(0, last), value];
  }
}

/** Clean traces: no slips, no dead ends. */
export const countdownTraceGenerator: CountdownTraceGenerator = createCountdownTraceGenerator();
