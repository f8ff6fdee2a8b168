import { formatValue, InvalidArgumentError } from '@hicra/spec';
import { SeededGenerator } from '@hicra/tensor/kernels';
import { Rational } from '../rational.js';
import { describe, readNumber, readSettings, SOURCE } from '../settings.js';
import {
  ANSWER_FORMATS,
  type AnswerFormat,
  type ExtractionFailureCode,
  extractFinalAnswer,
  KNOWN_ANSWER_FORMATS,
} from './extract-final-answer.js';
import { type MathNode, mathEngine, resetMathEngine } from './math-engine.js';
import {
  type NormalisedAnswer,
  type NormalisedScalar,
  normaliseAnswer,
} from './normalise-answer.js';
import { runWithTimeLimit } from './run-with-time-limit.js';

export interface MathVerifierSettings {
  /**
   * Time limit of one comparison (normalisation, parsing, evaluation), in milliseconds,
   * enforced by interrupting the computation (see `runWithTimeLimit`). Default 2000.
   */
  readonly timeLimitMs?: number;
  /** Longest final answer compared, in characters; longer ones are unscorable. Default 1000. */
  readonly maxAnswerLength?: number;
  /**
   * Relative tolerance for answers that are not both rational (`\sqrt{2}/2` vs `0.70710678118`);
   * rationals are compared exactly. Default 1e-9.
   */
  readonly relativeTolerance?: number;
  /** Where the final answer may be written (default both `boxed` and `answer-line`). */
  readonly formats?: readonly AnswerFormat[];
}

export type EquivalenceResult =
  | { readonly status: 'equivalent' | 'different' }
  | { readonly status: 'timeout' | 'too-long'; readonly reason: string };

export type MathVerdict =
  | {
      readonly status: 'unscorable';
      readonly reason: string;
      /** What went wrong: no usable final answer, or the comparison timed out. */
      readonly cause: ExtractionFailureCode | 'timeout';
    }
  | {
      readonly status: 'checked';
      readonly correct: boolean;
      /** The extracted final answer. */
      readonly answer: string;
      readonly format: AnswerFormat;
    };

export interface MathVerifier {
  readonly settings: Required<MathVerifierSettings>;
  /** Whether two answers (LaTeX or plain) denote the same value. */
  equivalent(candidate: string, reference: string): EquivalenceResult;
  /** Extracts the final answer of `response` and compares it with `reference`. */
  verify(response: string, reference: string): MathVerdict;
}

const FUNCTIONS = new Set([
  'sqrt',
  'nthRoot',
  'sin',
  'cos',
  'tan',
  'sec',
  'csc',
  'cot',
  'asin',
  'acos',
  'atan',
  'sinh',
  'cosh',
  'tanh',
  'exp',
  'log',
  'log10',
  'log2',
  'abs',
]);
const CONSTANTS = new Set(['pi', 'e', 'Infinity']);
const OPERATORS = new Set([
  'add',
  'subtract',
  'multiply',
  'divide',
  'pow',
  'unaryMinus',
  'unaryPlus',
  'factorial',
]);

/** The free variables of an expression, or undefined if it uses anything outside the whitelist. */
function freeSymbols(node: MathNode, out: Set<string>): Set<string> | undefined {
  switch (node.type) {
    case 'ConstantNode':
      return typeof node.value === 'number' ? out : undefined;
    case 'SymbolNode':
      if (!CONSTANTS.has(node.name!)) out.add(node.name!);
      return out;
    case 'ParenthesisNode':
      return freeSymbols(node.content!, out);
    case 'OperatorNode':
      if (!OPERATORS.has(node.fn as string)) return undefined;
      for (const arg of node.args!) if (!freeSymbols(arg, out)) return undefined;
      return out;
    case 'FunctionNode': {
      const fn = node.fn as MathNode;
      if (fn.type !== 'SymbolNode' || !FUNCTIONS.has(fn.name!)) return undefined;
      for (const arg of node.args!) if (!freeSymbols(arg, out)) return undefined;
      return out;
    }
    default:
      return undefined;
  }
}

/** The exact value of an expression of rationals (`+ - * /`, integer powers), if it is one. */
function rationalValue(node: MathNode): Rational | undefined {
  switch (node.type) {
    case 'ConstantNode':
      return typeof node.value === 'number' && Number.isFinite(node.value)
        ? Rational.parse(String(node.value))
        : undefined;
    case 'ParenthesisNode':
      return rationalValue(node.content!);
    case 'OperatorNode': {
      const args = node.args!.map(rationalValue);
      if (args.some((a) => a === undefined)) return undefined;
      const [a, b] = args as Rational[];
      switch (node.fn) {
        case 'unaryMinus':
          return a!.negate();
        case 'unaryPlus':
          return a;
        case 'add':
          return a!.add(b!);
        case 'subtract':
          return a!.subtract(b!);
        case 'multiply':
          return a!.multiply(b!);
        case 'divide':
          return a!.divide(b!);
        case 'pow':
          return a!.pow(b!);
        default:
          return undefined;
      }
    }
    default:
      return undefined;
  }
}

function parse(expression: string): { node: MathNode; symbols: Set<string> } | undefined {
  if (expression === '' || expression.includes('\\')) return undefined;
  let node: MathNode;
  try {
    node = mathEngine().parse(expression);
  } catch {
    return undefined;
  }
  const symbols = freeSymbols(node, new Set());
  return symbols ? { node, symbols } : undefined;
}

function evaluate(node: MathNode, scope: Record<string, number>): number {
  try {
    const value = node.compile().evaluate({ ...scope });
    return typeof value === 'number' ? value : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

const SAMPLE_POINTS = 8;

function sameValue(a: string, b: string, tolerance: number): boolean {
  const left = parse(a);
  const right = parse(b);
  if (!left || !right) return false;
  const exactLeft = rationalValue(left.node);
  const exactRight = rationalValue(right.node);
  if (exactLeft && exactRight) return exactLeft.equals(exactRight);
  const close = (x: number, y: number) =>
    Math.abs(x - y) <= tolerance * Math.max(1, Math.abs(x), Math.abs(y));
  const symbols = [...new Set([...left.symbols, ...right.symbols])].sort();
  if (symbols.length === 0) {
    const x = evaluate(left.node, {});
    const y = evaluate(right.node, {});
    return Number.isFinite(x) && Number.isFinite(y) && close(x, y);
  }
  // Expressions in variables: equal at random points (fixed seed) where both are defined.
  const random = new SeededGenerator(20250903);
  let agreeing = 0;
  for (let k = 0; k < SAMPLE_POINTS; k++) {
    const scope: Record<string, number> = {};
    for (const symbol of symbols) scope[symbol] = 0.5 + 2 * random.nextFloat();
    const x = evaluate(left.node, scope);
    const y = evaluate(right.node, scope);
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    if (!close(x, y)) return false;
    agreeing++;
  }
  return agreeing >= 3;
}

function scalarsEquivalent(a: NormalisedScalar, b: NormalisedScalar, tolerance: number): boolean {
  // `50%` equals both `50` and `0.5`; two percentages compare their numbers.
  if (a.text === b.text) return true;
  const readings = (x: NormalisedScalar, other: NormalisedScalar) =>
    x.percent && !other.percent ? [x.expression, `(${x.expression})/100`] : [x.expression];
  for (const left of readings(a, b))
    for (const right of readings(b, a)) if (sameValue(left, right, tolerance)) return true;
  return false;
}

function answersEquivalent(a: NormalisedAnswer, b: NormalisedAnswer, tolerance: number): boolean {
  if (a.kind === 'scalar' || b.kind === 'scalar') {
    return a.kind === 'scalar' && b.kind === 'scalar' && scalarsEquivalent(a, b, tolerance);
  }
  if (a.items.length !== b.items.length) return false;
  const ordered = a.kind === 'tuple' || b.kind === 'tuple';
  if (a.kind === 'tuple' && b.kind === 'tuple' && (a.open !== b.open || a.close !== b.close))
    return false;
  if (a.kind !== b.kind && (a.kind === 'set' || b.kind === 'set') && ordered) return false;
  if (ordered) return a.items.every((item, i) => scalarsEquivalent(item, b.items[i]!, tolerance));
  const unused = [...b.items];
  for (const item of a.items) {
    const at = unused.findIndex((other) => scalarsEquivalent(item, other, tolerance));
    if (at < 0) return false;
    unused.splice(at, 1);
  }
  return true;
}

/**
 * Creates a math-answer verifier. Answers are normalised (see `normaliseAnswer`), compared
 * as text, then as values through mathjs: exactly when both are rational, within
 * `relativeTolerance` otherwise, and at eight seeded random points when they contain variables.
 * Each comparison runs under `timeLimitMs` (interrupted, reported as `timeout`) after a length
 * check (`maxAnswerLength`, reported as `too-long`).
 */
export function createMathVerifier(settings?: MathVerifierSettings): MathVerifier {
  const where = 'createMathVerifier: settings';
  const raw = readSettings(settings, where, [
    'timeLimitMs',
    'maxAnswerLength',
    'relativeTolerance',
    'formats',
  ]);
  const formats = raw.formats ?? ANSWER_FORMATS;
  if (
    !Array.isArray(formats) ||
    formats.length === 0 ||
    formats.some((f) => !KNOWN_ANSWER_FORMATS.includes(f as AnswerFormat))
  ) {
    throw new InvalidArgumentError(
      `${where}.formats must be a non-empty array of ${KNOWN_ANSWER_FORMATS.map((f) => `"${f}"`).join(', ')}, got ${formatValue(formats)}`,
      { source: SOURCE, details: { argument: `${where}.formats` } },
    );
  }
  const resolved: Required<MathVerifierSettings> = {
    timeLimitMs: readNumber(raw.timeLimitMs, `${where}.timeLimitMs`, 2000, {
      integer: true,
      min: 1,
    }),
    maxAnswerLength: readNumber(raw.maxAnswerLength, `${where}.maxAnswerLength`, 1000, {
      integer: true,
      min: 1,
    }),
    relativeTolerance: readNumber(raw.relativeTolerance, `${where}.relativeTolerance`, 1e-9, {
      min: 0,
      max: 0.1,
    }),
    formats: [...formats],
  };

  const equivalent = (candidate: string, reference: string): EquivalenceResult => {
    for (const [name, value] of [
      ['candidate', candidate],
      ['reference', reference],
    ] as const) {
      if (typeof value !== 'string') {
        throw new InvalidArgumentError(
          `MathVerifier.equivalent: ${name} must be a string, got ${describe(value)}`,
          {
            source: SOURCE,
            details: { argument: name },
          },
        );
      }
    }
    if (candidate.length > resolved.maxAnswerLength) {
      return {
        status: 'too-long',
        reason: `the answer has ${candidate.length} characters, more than the limit of ${resolved.maxAnswerLength}`,
      };
    }
    mathEngine(); // loaded outside the time limit
    const outcome = runWithTimeLimit(
      () =>
        answersEquivalent(
          normaliseAnswer(candidate),
          normaliseAnswer(reference),
          resolved.relativeTolerance,
        ),
      resolved.timeLimitMs,
    );
    if (!outcome.completed) {
      resetMathEngine();
      return {
        status: 'timeout',
        reason: `the math verifier timed out after ${resolved.timeLimitMs} ms`,
      };
    }
    return { status: outcome.value ? 'equivalent' : 'different' };
  };

  return {
    settings: resolved,
    equivalent,
    verify(response, reference) {
      if (typeof response !== 'string') {
        throw new InvalidArgumentError(
          `MathVerifier.verify: response must be a string, got ${describe(response)}`,
          {
            source: SOURCE,
            details: { argument: 'response' },
          },
        );
      }
      const extracted = extractFinalAnswer(response, {
        formats: resolved.formats,
        maxAnswerLength: resolved.maxAnswerLength,
      });
      if (!extracted.ok)
        return { status: 'unscorable', reason: extracted.reason, cause: extracted.code };
      const result = equivalent(extracted.answer, reference);
      if (result.status === 'timeout')
        return { status: 'unscorable', reason: result.reason, cause: 'timeout' };
      if (result.status === 'too-long')
        return { status: 'unscorable', reason: result.reason, cause: 'answer-too-long' };
      return {
        status: 'checked',
        correct: result.status === 'equivalent',
        answer: extracted.answer,
        format: extracted.format,
      };
    },
  };
}

/** The default verifier: 2 s per comparison, answers up to 1000 characters, tolerance 1e-9. */
export const mathVerifier: MathVerifier = createMathVerifier();
