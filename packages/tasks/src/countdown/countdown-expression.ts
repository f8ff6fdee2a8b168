import { Rational } from '../rational.js';

/** The four Countdown operators, written in ASCII. */
export type CountdownOperator = '+' | '-' | '*' | '/';

/**
 * A Countdown expression: a binary tree whose leaves are numbers and whose inner nodes are
 * `+ - * /`. There is no unary minus: a Countdown expression can only combine the numbers it
 * was given.
 */
export type CountdownExpression =
  | { readonly kind: 'number'; readonly value: Rational }
  | {
      readonly kind: 'operation';
      readonly operator: CountdownOperator;
      readonly left: CountdownExpression;
      readonly right: CountdownExpression;
    };

export type ParseResult =
  | { readonly ok: true; readonly expression: CountdownExpression }
  | { readonly ok: false; readonly reason: string };

/** Longest expression text the parser accepts, in characters. */
export const MAX_EXPRESSION_LENGTH = 400;
const MAX_DEPTH = 64;

const OPERATOR_ALIASES: Readonly<Record<string, CountdownOperator>> = {
  '+': '+',
  '-': '-',
  '\u2212': '-',
  '*': '*',
  '\u00d7': '*',
  '\u00b7': '*',
  '/': '/',
  '\u00f7': '/',
};

type Token =
  | { kind: 'number'; text: string; at: number }
  | { kind: 'operator'; operator: CountdownOperator; at: number }
  | { kind: 'open' | 'close'; at: number };

function tokenize(text: string): Token[] | string {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t') {
      i++;
    } else if (/[0-9.]/.test(c)) {
      const match = /^(\d+(?:\.\d+)?|\.\d+)/.exec(text.slice(i, i + 64));
      if (!match) return `malformed number at character ${i}`;
      tokens.push({ kind: 'number', text: match[1]!, at: i });
      i += match[1]!.length;
    } else if (OPERATOR_ALIASES[c] !== undefined) {
      tokens.push({ kind: 'operator', operator: OPERATOR_ALIASES[c]!, at: i });
      i++;
    } else if (c === '(' || c === ')') {
      tokens.push({ kind: c === '(' ? 'open' : 'close', at: i });
      i++;
    } else {
      return `unexpected character ${JSON.stringify(c)} at character ${i}`;
    }
  }
  return tokens;
}

/**
 * Parses `3 * 8 - 2`, `(3 + 8) * 2`, with `×`, `÷`, `·` and `−` accepted for the ASCII
 * operators. Numbers are non-negative integers or decimals; unary minus is rejected.
 */
export function parseCountdownExpression(text: string): ParseResult {
  if (text.length > MAX_EXPRESSION_LENGTH) {
    return { ok: false, reason: `expression longer than ${MAX_EXPRESSION_LENGTH} characters` };
  }
  const tokens = tokenize(text);
  if (typeof tokens === 'string') return { ok: false, reason: tokens };
  if (tokens.length === 0) return { ok: false, reason: 'empty expression' };
  let position = 0;
  const fail = (reason: string): never => {
    throw new ParseFailure(reason);
  };
  const describeToken = (token: Token | undefined): string =>
    token === undefined
      ? 'the end'
      : token.kind === 'number'
        ? `number ${token.text}`
        : token.kind === 'operator'
          ? `operator ${token.operator}`
          : `"${token.kind === 'open' ? '(' : ')'}"`;

  const parseSum = (depth: number): CountdownExpression => {
    let left = parseProduct(depth);
    for (;;) {
      const token = tokens[position];
      if (token?.kind !== 'operator' || (token.operator !== '+' && token.operator !== '-'))
        return left;
      position++;
      left = { kind: 'operation', operator: token.operator, left, right: parseProduct(depth) };
    }
  };
  const parseProduct = (depth: number): CountdownExpression => {
    let left = parseFactor(depth);
    for (;;) {
      const token = tokens[position];
      if (token?.kind !== 'operator' || (token.operator !== '*' && token.operator !== '/'))
        return left;
      position++;
      left = { kind: 'operation', operator: token.operator, left, right: parseFactor(depth) };
    }
  };
  const parseFactor = (depth: number): CountdownExpression => {
    if (depth > MAX_DEPTH) fail(`parentheses nested deeper than ${MAX_DEPTH}`);
    const token = tokens[position];
    if (token?.kind === 'number') {
      position++;
      return { kind: 'number', value: Rational.parse(token.text)! };
    }
    if (token?.kind === 'open') {
      position++;
      const inner = parseSum(depth + 1);
      if (tokens[position]?.kind !== 'close') fail(`missing ")" for "(" at character ${token.at}`);
      position++;
      return inner;
    }
    if (token?.kind === 'operator' && token.operator === '-') {
      return fail(`unary minus at character ${token.at} (Countdown has no negative numbers)`);
    }
    return fail(`expected a number or "(" but found ${describeToken(token)}`);
  };

  try {
    const expression = parseSum(0);
    if (position < tokens.length)
      fail(`unexpected ${describeToken(tokens[position])} at character ${tokens[position]!.at}`);
    return { ok: true, expression };
  } catch (error) {
    if (error instanceof ParseFailure) return { ok: false, reason: error.message };
    throw error;
  }
}

class ParseFailure extends Error {}

const PRECEDENCE: Readonly<Record<CountdownOperator, number>> = { '+': 1, '-': 1, '*': 2, '/': 2 };

/**
 * Writes an expression with the fewest parentheses that keep its tree: `(3 + 8) * 2`,
 * `3 * 8 - 2`, `10 * (14 / 7)`. Parsing the text gives back the same tree (operators are
 * left-associative), so the steps a trace shows are the steps of the answer.
 */
export function formatCountdownExpression(expression: CountdownExpression): string {
  if (expression.kind === 'number') return expression.value.toString();
  const precedence = PRECEDENCE[expression.operator];
  const wrap = (child: CountdownExpression, right: boolean): string => {
    const text = formatCountdownExpression(child);
    if (child.kind === 'number') return text;
    const childPrecedence = PRECEDENCE[child.operator];
    const needs = right ? childPrecedence <= precedence : childPrecedence < precedence;
    return needs ? `(${text})` : text;
  };
  return `${wrap(expression.left, false)} ${expression.operator} ${wrap(expression.right, true)}`;
}

export type EvaluationResult =
  | { readonly ok: true; readonly value: Rational }
  | { readonly ok: false; readonly reason: string };

/** Applies one operator exactly; fails on division by zero. */
export function applyCountdownOperator(
  operator: CountdownOperator,
  left: Rational,
  right: Rational,
): EvaluationResult {
  const value =
    operator === '+'
      ? left.add(right)
      : operator === '-'
        ? left.subtract(right)
        : operator === '*'
          ? left.multiply(right)
          : left.divide(right);
  if (value !== undefined) return { ok: true, value };
  return {
    ok: false,
    reason:
      operator === '/' && right.numerator === 0n
        ? `division by zero in ${left} / ${right}`
        : 'number too large',
  };
}

/** The exact value of an expression (rational arithmetic, no rounding). */
export function evaluateCountdownExpression(expression: CountdownExpression): EvaluationResult {
  if (expression.kind === 'number') return { ok: true, value: expression.value };
  const left = evaluateCountdownExpression(expression.left);
  if (!left.ok) return left;
  const right = evaluateCountdownExpression(expression.right);
  if (!right.ok) return right;
  return applyCountdownOperator(expression.operator, left.value, right.value);
}

/** The numbers at the leaves, left to right. */
export function countdownLeaves(expression: CountdownExpression): Rational[] {
  return expression.kind === 'number'
    ? [expression.value]
    : [...countdownLeaves(expression.left), ...countdownLeaves(expression.right)];
}

/** Number of operators in the expression. */
export function countdownOperationCount(expression: CountdownExpression): number {
  return expression.kind === 'number'
    ? 0
    : 1 + countdownOperationCount(expression.left) + countdownOperationCount(expression.right);
}

/** A leaf holding an integer. */
export function countdownNumber(value: number): CountdownExpression {
  return { kind: 'number', value: Rational.fromInteger(value) };
}
