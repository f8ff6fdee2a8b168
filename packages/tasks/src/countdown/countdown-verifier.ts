import { InvalidArgumentError, InvalidValueError } from '@hicra/spec';
import {
  type AnswerFormat,
  type ExtractionFailureCode,
  extractFinalAnswer,
} from '../math/extract-final-answer.js';
import { Rational } from '../rational.js';
import { describe, readBoolean, readSettings, SOURCE } from '../settings.js';
import {
  countdownLeaves,
  evaluateCountdownExpression,
  formatCountdownExpression,
  parseCountdownExpression,
} from './countdown-expression.js';
import type { CountdownReference } from './countdown-problem.js';

export interface CountdownVerifierSettings {
  /**
   * The rule when the reference does not carry its own `useAllNumbers`: every number exactly
   * once (default `true`) or each at most once.
   */
  readonly useAllNumbers?: boolean;
  /** A response without any arithmetic step is incorrect (default `false`: the answer decides). */
  readonly requireDerivation?: boolean;
}

/** One arithmetic step found in a response (`24 - 2 = 22`). */
export interface CountdownStepCheck {
  /** The step as written, normalised (`24 - 2 = 22`). */
  readonly text: string;
  /** The value the response claims. */
  readonly claimed: string;
  /** The true value of the left side, or undefined when it cannot be computed (÷ 0). */
  readonly actual: string | undefined;
  /** `claimed` equals `actual`. */
  readonly arithmeticCorrect: boolean;
}

export type CountdownVerdict =
  | {
      /** No final answer: the response cannot be scored. */
      readonly status: 'unscorable';
      readonly reason: string;
      readonly cause: ExtractionFailureCode;
    }
  | {
      readonly status: 'checked';
      readonly correct: boolean;
      /** Why the response is incorrect (absent when correct). */
      readonly reason?: string;
      /** The final answer as written. */
      readonly answer: string;
      /** Its exact value, when it is a valid expression. */
      readonly answerValue?: string;
      /** The answer is a valid expression over the given numbers that equals the target. */
      readonly answerCorrect: boolean;
      /** Every step found before the answer, in order. */
      readonly steps: readonly CountdownStepCheck[];
      /**
       * `absent`: no step; `correct`: some final run of steps (the last attempt) replays from
       * the given numbers, every step of it is right, it ends at the target and uses the
       * numbers as the rule says; `incorrect` otherwise.
       */
      readonly derivation: 'absent' | 'correct' | 'incorrect';
      /** Index of the first step of the last attempt, when the derivation is correct. */
      readonly attemptStart?: number;
    };

export interface CountdownVerifier {
  readonly settings: Required<CountdownVerifierSettings>;
  verify(response: string, reference: CountdownReference): CountdownVerdict;
}

const FORMATS: readonly AnswerFormat[] = ['answer-line', 'boxed'];

interface ParsedStep {
  readonly left: string;
  readonly leaves: Rational[];
  readonly claimed: Rational;
  readonly check: CountdownStepCheck;
}

const STEP_TOKEN = /(\d+(?:\.\d+)?|\.\d+)|([-+*/\u2212\u00d7\u00f7\u00b7()])|(=)|(\S)/g;

/**
 * Finds `<expression> = <number>` steps: the expression is the longest run of numbers,
 * operators and parentheses right before an `=` that parses and has an operator.
 */
function findSteps(text: string): ParsedStep[] {
  type Token = {
    kind: 'number' | 'symbol' | 'equals' | 'other';
    text: string;
    at: number;
    end: number;
  };
  const tokens: Token[] = [];
  for (const match of text.matchAll(STEP_TOKEN)) {
    const kind = match[1] ? 'number' : match[2] ? 'symbol' : match[3] ? 'equals' : 'other';
    tokens.push({ kind, text: match[0], at: match.index, end: match.index + match[0].length });
  }
  const steps: ParsedStep[] = [];
  for (let e = 0; e < tokens.length; e++) {
    if (tokens[e]!.kind !== 'equals') continue;
    let claimedText: string | undefined;
    const next = tokens[e + 1];
    if (next?.kind === 'number') claimedText = next.text;
    else if (next?.text === '-' || next?.text === '\u2212') {
      const after = tokens[e + 2];
      if (after?.kind === 'number') claimedText = `-${after.text}`;
    }
    if (claimedText === undefined) continue;
    let first = e;
    while (
      first > 0 &&
      (tokens[first - 1]!.kind === 'number' || tokens[first - 1]!.kind === 'symbol')
    )
      first--;
    for (let s = first; s < e; s++) {
      const source = text.slice(tokens[s]!.at, tokens[e - 1]!.end);
      const parsed = parseCountdownExpression(source);
      if (!parsed.ok || parsed.expression.kind === 'number') continue;
      const value = evaluateCountdownExpression(parsed.expression);
      const claimed = Rational.parse(claimedText)!;
      const left = formatCountdownExpression(parsed.expression);
      steps.push({
        left,
        leaves: countdownLeaves(parsed.expression),
        claimed,
        check: {
          text: `${left} = ${claimed}`,
          claimed: claimed.toString(),
          actual: value.ok ? value.value.toString() : undefined,
          arithmeticCorrect: value.ok && value.value.equals(claimed),
        },
      });
      break;
    }
  }
  return steps;
}

/** Removes each of `values` from `pool` (by value); false if one is missing. */
function take(pool: Rational[], values: readonly Rational[]): boolean {
  for (const value of values) {
    const at = pool.findIndex((p) => p.equals(value));
    if (at < 0) return false;
    pool.splice(at, 1);
  }
  return true;
}

function checkDerivation(
  steps: readonly ParsedStep[],
  numbers: readonly Rational[],
  target: Rational,
  useAll: boolean,
): { correct: true; start: number } | { correct: false; reason: string } {
  let firstReason: string | undefined;
  for (let start = 0; start < steps.length; start++) {
    const pool = [...numbers];
    let replayable = true;
    for (let i = start; i < steps.length && replayable; i++) {
      replayable = take(pool, steps[i]!.leaves);
      pool.push(steps[i]!.claimed);
    }
    if (!replayable) continue;
    const attempt = steps.slice(start);
    const wrong = attempt.findIndex((s) => !s.check.arithmeticCorrect);
    const last = attempt[attempt.length - 1]!;
    let reason: string | undefined;
    if (wrong >= 0) {
      const step = attempt[wrong]!;
      reason = `step ${start + wrong + 1} (${step.check.text}) is wrong: ${step.left} = ${step.check.actual ?? 'undefined'}`;
    } else if (!last.claimed.equals(target)) {
      reason = `the derivation ends at ${last.claimed}, not ${target}`;
    } else if (useAll && pool.length > 1) {
      reason = `the derivation leaves ${pool.slice(0, -1).join(', ')} unused`;
    }
    if (reason === undefined) return { correct: true, start };
    firstReason ??= reason;
  }
  return {
    correct: false,
    reason:
      firstReason ??
      `step ${steps.length} (${steps[steps.length - 1]!.check.text}) uses a number that is not available`,
  };
}

function checkReference(reference: CountdownReference): void {
  const fail = (message: string): never => {
    throw new InvalidArgumentError(`CountdownVerifier.verify: reference${message}`, {
      source: SOURCE,
      details: { argument: 'reference' },
    });
  };
  if (typeof reference !== 'object' || reference === null)
    fail(` must be { numbers, target }, got ${describe(reference)}`);
  if (!Array.isArray(reference.numbers) || reference.numbers.length === 0)
    fail(`.numbers must be a non-empty array, got ${describe(reference.numbers)}`);
  reference.numbers.forEach((n, i) => {
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new InvalidValueError(
        `CountdownVerifier.verify: reference.numbers[${i}] must be a non-negative integer, got ${describe(n)}`,
        { source: SOURCE, details: { argument: 'reference.numbers', index: i } },
      );
    }
  });
  if (!Number.isSafeInteger(reference.target))
    throw new InvalidValueError(
      `CountdownVerifier.verify: reference.target must be an integer, got ${describe(reference.target)}`,
      {
        source: SOURCE,
        details: { argument: 'reference.target' },
      },
    );
  if (reference.useAllNumbers !== undefined && typeof reference.useAllNumbers !== 'boolean')
    fail(`.useAllNumbers must be true, false or absent, got ${describe(reference.useAllNumbers)}`);
}

/** `3 * 8 - 2 = 22` -> `3 * 8 - 2`; `22 = 3 * 8 - 2` -> `3 * 8 - 2`. */
function answerExpression(answer: string): string {
  const sides = answer.split('=').map((s) => s.trim());
  if (sides.length === 1) return answer;
  const withOperator = sides.find((s) => /[-+*/\u2212\u00d7\u00f7\u00b7]/.test(s));
  return withOperator ?? sides[0]!;
}

/**
 * Creates a Countdown verifier. It reads the final answer (the last `Answer:` line, or a
 * `\boxed{}`), checks that it is an expression over the given numbers (each at most once, or
 * exactly once under `useAllNumbers`) whose exact value is the target, and checks the
 * derivation: the last attempt (a final run of `a op b = c` steps that replays from the given
 * numbers) must have every step right, end at the target and use the numbers by the rule.
 * Earlier attempts (dead ends the response backtracked from) are not judged. A response is
 * correct when its answer is correct and its derivation is correct or absent.
 */
export function createCountdownVerifier(settings?: CountdownVerifierSettings): CountdownVerifier {
  const where = 'createCountdownVerifier: settings';
  const raw = readSettings(settings, where, ['useAllNumbers', 'requireDerivation']);
  const resolved: Required<CountdownVerifierSettings> = {
    useAllNumbers: readBoolean(raw.useAllNumbers, `${where}.useAllNumbers`, true),
    requireDerivation: readBoolean(raw.requireDerivation, `${where}.requireDerivation`, false),
  };
  return {
    settings: resolved,
    verify(response, reference) {
      if (typeof response !== 'string') {
        throw new InvalidArgumentError(
          `CountdownVerifier.verify: response must be a string, got ${describe(response)}`,
          {
            source: SOURCE,
            details: { argument: 'response' },
          },
        );
      }
      checkReference(reference);
      const useAll = reference.useAllNumbers ?? resolved.useAllNumbers;
      const extracted = extractFinalAnswer(response, { formats: FORMATS, maxAnswerLength: 400 });
      if (!extracted.ok)
        return { status: 'unscorable', reason: extracted.reason, cause: extracted.code };
      const numbers = reference.numbers.map((n) => Rational.fromInteger(n));
      const target = Rational.fromInteger(reference.target);
      const answer = extracted.answer;

      let answerCorrect = false;
      let answerValue: string | undefined;
      let answerReason: string | undefined;
      const parsed = parseCountdownExpression(answerExpression(answer));
      if (!parsed.ok) {
        answerReason = `the answer is not a Countdown expression (${parsed.reason})`;
      } else {
        const value = evaluateCountdownExpression(parsed.expression);
        const pool = [...numbers];
        const leaves = countdownLeaves(parsed.expression);
        if (!value.ok) {
          answerReason = `the answer cannot be evaluated (${value.reason})`;
        } else {
          answerValue = value.value.toString();
          if (!take(pool, leaves)) {
            answerReason = `the answer uses numbers that are not given or uses one too often (${leaves.join(', ')} from ${reference.numbers.join(', ')})`;
          } else if (useAll && pool.length > 0) {
            answerReason = `the answer leaves ${pool.join(', ')} unused`;
          } else if (!value.value.equals(target)) {
            answerReason = `the answer equals ${answerValue}, not ${reference.target}`;
          } else {
            answerCorrect = true;
          }
        }
      }

      const steps = findSteps(response.slice(0, extracted.start));
      let derivation: 'absent' | 'correct' | 'incorrect' = 'absent';
      let attemptStart: number | undefined;
      let derivationReason: string | undefined;
      if (steps.length > 0) {
        const result = checkDerivation(steps, numbers, target, useAll);
        if (result.correct) {
          derivation = 'correct';
          attemptStart = result.start;
        } else {
          derivation = 'incorrect';
          derivationReason = result.reason;
        }
      } else if (resolved.requireDerivation) {
        derivationReason = 'the response shows no arithmetic step';
      }
      const derivationOk =
        derivation === 'correct' || (derivation === 'absent' && !resolved.requireDerivation);
      const correct = answerCorrect && derivationOk;
      const reason = answerReason ?? derivationReason;
      return {
        status: 'checked',
        correct,
        ...(correct || reason === undefined ? {} : { reason }),
        answer,
        ...(answerValue === undefined ? {} : { answerValue }),
        answerCorrect,
        steps: steps.map((s) => s.check),
        derivation,
        ...(attemptStart === undefined ? {} : { attemptStart }),
      };
    },
  };
}

/** The default verifier: every number exactly once (unless the reference says otherwise). */
export const countdownVerifier: CountdownVerifier = createCountdownVerifier();
