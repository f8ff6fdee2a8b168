/** One normalised value: a number, an expression or a word. */
export interface NormalisedScalar {
  /** Canonical text for exact comparison: no whitespace; words lower-cased. */
  readonly text: string;
  /** The value in mathjs syntax (`((1)/(2))`, `sqrt(2)`, `2*pi`); may not parse. */
  readonly expression: string;
  /** Written with a percent sign (`50%`, `50\%`); `expression` is without it. */
  readonly percent: boolean;
}

/**
 * A normalised final answer. `tuple` keeps order and brackets (`(1, 2)`, `[0, 1)`); `set`
 * (`\{1, 2\}`) and `list` (`1, 2`, several roots) ignore order.
 */
export type NormalisedAnswer =
  | ({ readonly kind: 'scalar' } & NormalisedScalar)
  | {
      readonly kind: 'tuple';
      readonly open: string;
      readonly close: string;
      readonly items: readonly NormalisedScalar[];
    }
  | { readonly kind: 'set' | 'list'; readonly items: readonly NormalisedScalar[] };

const SET_OPEN = '\u27e6';
const SET_CLOSE = '\u27e7';
const TEXT_COMMANDS = 'text|textbf|textrm|textit|textnormal|mathrm|mathbf|mathit|mbox|operatorname';

const COMMANDS: Readonly<Record<string, string>> = {
  cdot: '*',
  times: '*',
  ast: '*',
  div: '/',
  pi: ' pi ',
  infty: ' Infinity ',
  infinity: ' Infinity ',
  sin: ' sin',
  cos: ' cos',
  tan: ' tan',
  sec: ' sec',
  csc: ' csc',
  cot: ' cot',
  arcsin: ' asin',
  arccos: ' acos',
  arctan: ' atan',
  sinh: ' sinh',
  cosh: ' cosh',
  tanh: ' tanh',
  exp: ' exp',
  ln: ' log',
  log: ' log',
};
const GREEK =
  'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi rho sigma tau upsilon phi chi psi omega'.split(
    ' ',
  );

/** Reads one LaTeX argument at `i`: a brace group, a command, or one character. */
function readArgument(s: string, i: number): { text: string; next: number } {
  let j = i;
  while (s[j] === ' ') j++;
  if (s[j] === '{') {
    let depth = 0;
    for (let k = j; k < s.length; k++) {
      if (s[k] === '{') depth++;
      else if (s[k] === '}' && --depth === 0) return { text: s.slice(j + 1, k), next: k + 1 };
    }
    return { text: s.slice(j + 1), next: s.length };
  }
  if (s[j] === '\\') {
    const command = /^\\[A-Za-z]+/.exec(s.slice(j));
    if (command) return { text: command[0], next: j + command[0].length };
  }
  return { text: s[j] ?? '', next: j + 1 };
}

/** LaTeX to mathjs syntax: `\frac`, `\sqrt`, `^{}`, `_{}`, operators, functions, braces. */
function convertLatex(s: string): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === '\\') {
      const name = /^\\([A-Za-z]+)/.exec(s.slice(i))?.[1];
      if (name === undefined) {
        out += s.slice(i, i + 2);
        i += 2;
      } else if (name === 'frac') {
        const numerator = readArgument(s, i + 5);
        const denominator = readArgument(s, numerator.next);
        out += `((${convertLatex(numerator.text)})/(${convertLatex(denominator.text)}))`;
        i = denominator.next;
      } else if (name === 'sqrt') {
        let j = i + 5;
        let degree: string | undefined;
        if (s[j] === '[') {
          const close = s.indexOf(']', j);
          degree = s.slice(j + 1, close < 0 ? s.length : close);
          j = close < 0 ? s.length : close + 1;
        }
        const radicand = readArgument(s, j);
        out +=
          degree === undefined
            ? `sqrt(${convertLatex(radicand.text)})`
            : `nthRoot(${convertLatex(radicand.text)}, ${convertLatex(degree)})`;
        i = radicand.next;
      } else if (COMMANDS[name] !== undefined) {
        out += COMMANDS[name];
        i += name.length + 1;
      } else if (GREEK.includes(name)) {
        out += ` ${name} `;
        i += name.length + 1;
      } else {
        out += `\\${name}`;
        i += name.length + 1;
      }
    } else if (c === '^') {
      const exponent = readArgument(s, i + 1);
      out += `^(${convertLatex(exponent.text)})`;
      i = exponent.next;
    } else if (c === '_') {
      const subscript = readArgument(s, i + 1);
      out += `_${convertLatex(subscript.text).replace(/[^A-Za-z0-9]/g, '')}`;
      i = subscript.next;
    } else if (c === '{') {
      out += '(';
      i++;
    } else if (c === '}') {
      out += ')';
      i++;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Removes presentation: delimiters, spacing, degrees, currency, units in `\text{}`, `x =`. */
function clean(raw: string): string {
  let s = raw.trim();
  const boxed = /^\\(?:boxed|fbox)\s*\{([\s\S]*)\}$/.exec(s);
  if (boxed) s = boxed[1]!;
  s = s
    .replace(/^\$+|\$+$/g, '')
    .replace(/^\\\(|\\\)$/g, '')
    .replace(/^\\\[|\\\]$/g, '')
    .replace(/\\(?:left|right|bigg|Bigg|big|Big)(?![A-Za-z])\.?/g, '')
    .replace(/\\displaystyle|\\mathrm\{\s*\}/g, '')
    .replace(/\\[,;:! ]|\\q?quad(?![A-Za-z])|~/g, ' ')
    .replace(/\{,\}/g, ',')
    .replace(/\\[dt]frac/g, '\\frac')
    .replace(/\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\u00b0|\\degree/g, '')
    .replace(/\\\$|\$/g, '')
    .replace(/\\%/g, '%')
    .trim();
  const unit = new RegExp(`^(.*\\d.*?)\\s*\\\\(?:${TEXT_COMMANDS})\\s*\\{[^{}]*\\}\\s*$`, 's').exec(
    s,
  );
  if (unit) s = unit[1]!.trim();
  s = s.replace(new RegExp(`\\\\(?:${TEXT_COMMANDS})\\s*\\{([^{}]*)\\}`, 'g'), '$1').trim();
  s = s.replace(/[.\s]+$/, '');
  while (s.startsWith('{') && s.endsWith('}') && wrapped(s)) s = s.slice(1, -1).trim();
  const assignment = /^[A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?\s*=\s*([^=][\s\S]*)$/.exec(s);
  if (assignment && !assignment[1]!.includes('=')) s = assignment[1]!.trim();
  return s;
}

/** Splits at commas outside brackets. */
function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if ('([{'.includes(c) || c === SET_OPEN) depth++;
    else if (')]}'.includes(c) || c === SET_CLOSE) depth--;
    else if (c === ',' && depth === 0) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  return parts.map((p) => p.trim());
}

/** True when the bracket opened at 0 closes at the last character. */
function wrapped(s: string): boolean {
  if (s.length < 2 || !('([{'.includes(s[0]!) || s[0] === SET_OPEN)) return false;
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if ('([{'.includes(c) || c === SET_OPEN) depth++;
    else if (')]}'.includes(c) || c === SET_CLOSE) depth--;
    if (depth === 0 && i < s.length - 1) return false;
  }
  return depth === 0 && (')]}'.includes(s[s.length - 1]!) || s[s.length - 1] === SET_CLOSE);
}

function scalar(raw: string): NormalisedScalar {
  let s = raw.trim().replace(/^\+(?=\s*[\d.])/, '');
  const thousands = /^([+-]?)(\d{1,3}(?:([, ])\d{3})(?:\3\d{3})*)(\.\d+)?(%?)$/.exec(s);
  if (thousands)
    s = `${thousands[1]}${thousands[2]!.replace(/[, ]/g, '')}${thousands[4] ?? ''}${thousands[5]}`;
  let percent = false;
  if (s.endsWith('%')) {
    percent = true;
    s = s.slice(0, -1).trim();
  }
  const choice = /^\(\s*([A-Ea-e])\s*\)$/.exec(s);
  if (choice) s = choice[1]!.toUpperCase();
  const mixed = /^(\d+)\s*\\frac\s*\{(\d+)\}\s*\{(\d+)\}$/.exec(s);
  const expression = mixed
    ? `(${mixed[1]} + (${mixed[2]})/(${mixed[3]}))`
    : convertLatex(s).replace(/\s+/g, ' ').trim();
  let text = expression.replace(/\s+/g, '');
  if (/^[A-Za-z][A-Za-z ]*$/.test(expression) && expression.length > 1) text = text.toLowerCase();
  return { text, expression, percent };
}

/**
 * Normalises a final answer for comparison: strips `\boxed{}`, `$`, `\left`/`\right`, LaTeX
 * spacing, degrees, currency signs, units written in `\text{}` after a number, a final period
 * and a leading `x =`; reads thousands separators (`1,000`, `1\,000`, `1{,}000`), percentages,
 * multiple-choice letters (`(B)`), mixed numbers (`2\frac{1}{4}` = 9/4) and LaTeX (`\frac`,
 * `\dfrac`, `\sqrt`, `^{}`, `\cdot`, `\pi`, functions) into mathjs syntax; and splits lists,
 * tuples and sets at top-level commas.
 */
export function normaliseAnswer(raw: string): NormalisedAnswer {
  const s = clean(raw).replace(/\\\{/g, SET_OPEN).replace(/\\\}/g, SET_CLOSE);
  const whole = scalar(s);
  const unwrappedParts = wrapped(s) ? splitTopLevel(s.slice(1, -1)) : undefined;
  if (unwrappedParts && unwrappedParts.length > 1) {
    const items = unwrappedParts.map(scalar);
    if (s[0] === SET_OPEN) return { kind: 'set', items };
    return { kind: 'tuple', open: s[0]!, close: s[s.length - 1]!, items };
  }
  if (/^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?%?$/.test(s)) return { kind: 'scalar', ...whole };
  const parts = splitTopLevel(s);
  if (parts.length > 1) return { kind: 'list', items: parts.map(scalar) };
  if (wrapped(s) && s[0] === SET_OPEN) return { kind: 'set', items: [scalar(s.slice(1, -1))] };
  return { kind: 'scalar', ...whole };
}
