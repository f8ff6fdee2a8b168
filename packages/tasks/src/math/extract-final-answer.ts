import { InvalidArgumentError } from '@hicra/spec';
import { describe, SOURCE } from '../settings.js';

/**
 * Where a final answer can be written: `\boxed{...}`, an `Answer:` line, or GSM8K's
 * `#### <answer>` line (what verl's GSM8K prompt asks for).
 */
export type AnswerFormat = 'boxed' | 'answer-line' | 'gsm8k';

/** Every format {@link extractFinalAnswer} knows. */
export const KNOWN_ANSWER_FORMATS: readonly AnswerFormat[] = ['boxed', 'answer-line', 'gsm8k'];

/**
 * The formats looked for by default. `gsm8k` is opt-in: a Markdown heading (`#### Step 2`)
 * reads like a GSM8K answer line, so only data that asks for `####` should look for it.
 */
export const ANSWER_FORMATS: readonly AnswerFormat[] = ['boxed', 'answer-line'];

/** Why no final answer could be taken from a response. */
export type ExtractionFailureCode =
  | 'no-answer'
  | 'empty-answer'
  | 'unbalanced-braces'
  | 'answer-too-long';

export type ExtractionResult =
  | {
      readonly ok: true;
      /** The answer text, trimmed, with surrounding `$` and a final period removed. */
      readonly answer: string;
      readonly format: AnswerFormat;
      /** Offset of the answer marker (`\boxed`, `Answer:`) in the response. */
      readonly start: number;
      /** Offset just after the answer (for the Countdown verifier: steps come before it). */
      readonly end: number;
    }
  | { readonly ok: false; readonly code: ExtractionFailureCode; readonly reason: string };

export interface ExtractOptions {
  /** Formats to look for (default both). The marker that occurs last in the text wins. */
  readonly formats?: readonly AnswerFormat[];
  /** Longest answer accepted, in characters (default 1000). */
  readonly maxAnswerLength?: number;
}

type Candidate =
  | { ok: true; answer: string; format: AnswerFormat; start: number; end: number }
  | { ok: false; code: ExtractionFailureCode; reason: string; start: number };

/** The last `\boxed{...}` (or `\fbox{...}`, or `\boxed 5`), nested and escaped braces handled. */
function lastBoxed(text: string): Candidate | undefined {
  let from = text.length;
  for (;;) {
    const boxed = text.lastIndexOf('\\boxed', from);
    const fbox = text.lastIndexOf('\\fbox', from);
    const start = Math.max(boxed, fbox);
    if (start < 0) return undefined;
    const i = start + (start === boxed ? '\\boxed'.length : '\\fbox'.length);
    if (text[i] === '{') return braced(text, start, i);
    if (text[i] === ' ' || text[i] === undefined) return braceless(text, start, i);
    // `\boxeds`, `\fboxsep`...: another command, not an answer marker.
    from = start - 1;
    if (from < 0) return undefined;
  }
}

function braced(text: string, start: number, open: number): Candidate {
  let depth = 0;
  for (let j = open; j < text.length; j++) {
    const c = text[j];
    if (c === '\\') {
      j++; // an escaped character, `\{` included, is content
    } else if (c === '{') {
      depth++;
    } else if (c === '}') {
      depth--;
      if (depth === 0) {
        return { ok: true, answer: text.slice(open + 1, j), format: 'boxed', start, end: j + 1 };
      }
    }
  }
  return {
    ok: false,
    code: 'unbalanced-braces',
    reason: 'the last \\boxed{ has no matching }',
    start,
  };
}

function braceless(text: string, start: number, after: number): Candidate {
  let i = after;
  while (text[i] === ' ') i++;
  const match = /^[^\s$]+/.exec(text.slice(i, i + 1000));
  if (!match)
    return { ok: false, code: 'empty-answer', reason: 'the last \\boxed is empty', start };
  return { ok: true, answer: match[0], format: 'boxed', start, end: i + match[0].length };
}

const ANSWER_LINE = /^[ \t>*_#]*(?:final[ \t]+)?answer[ \t*_]*[:：][ \t*_]*(.*)$/gim;

function lastAnswerLine(text: string): Candidate | undefined {
  let last: RegExpExecArray | undefined;
  for (const match of text.matchAll(ANSWER_LINE)) last = match;
  if (!last) return undefined;
  const content = last[1]!;
  return {
    ok: true,
    answer: content,
    format: 'answer-line',
    start: last.index,
    end: last.index + last[0].length,
  };
}

const GSM8K_LINE = /^[ \t]*####[ \t]*(.*)$/gm;

/** The last `#### <answer>` line (GSM8K's answer marker). */
function lastGsm8kLine(text: string): Candidate | undefined {
  let last: RegExpExecArray | undefined;
  for (const match of text.matchAll(GSM8K_LINE)) last = match;
  if (!last) return undefined;
  return {
    ok: true,
    answer: last[1]!,
    format: 'gsm8k',
    start: last.index,
    end: last.index + last[0].length,
  };
}

const MARKERS: Record<AnswerFormat, string> = {
  boxed: '\\boxed{...}',
  'answer-line': '"Answer:"',
  gsm8k: '"#### "',
};

function tidy(answer: string): string {
  let out = answer.trim();
  for (;;) {
    const before = out;
    out = out.replace(/[.。]\s*$/, '').trim();
    if (/^\$+[^$]*\$+$/.test(out)) out = out.replace(/^\$+|\$+$/g, '').trim();
    if (/^\\\((.*)\\\)$/s.test(out)) out = out.slice(2, -2).trim();
    if (/^\\\[(.*)\\\]$/s.test(out)) out = out.slice(2, -2).trim();
    if (/^\*\*(.*)\*\*$/s.test(out)) out = out.slice(2, -2).trim();
    if (out === before) return out;
  }
}

/**
 * Takes the final answer of a response: the last `\boxed{...}` (nested braces, `\fbox`, the
 * brace-less `\boxed 5`) or the last `Answer:` line (`Final Answer:` too, markdown emphasis
 * allowed), or, when asked for, the last GSM8K `#### <answer>` line. When both formats occur, the one written last wins. A malformed last marker
 * (unbalanced braces, nothing inside) is reported as such, not skipped for an earlier one.
 * Runs in time linear in the response.
 */
export function extractFinalAnswer(
  response: string,
  options: ExtractOptions = {},
): ExtractionResult {
  if (typeof response !== 'string') {
    throw new InvalidArgumentError(
      `extractFinalAnswer: response must be a string, got ${describe(response)}`,
      {
        source: SOURCE,
        details: { argument: 'response' },
      },
    );
  }
  const formats = options.formats ?? ANSWER_FORMATS;
  const maxAnswerLength = options.maxAnswerLength ?? 1000;
  const candidates: Candidate[] = [];
  if (formats.includes('boxed')) {
    const boxed = lastBoxed(response);
    if (boxed) candidates.push(boxed);
  }
  if (formats.includes('answer-line')) {
    const line = lastAnswerLine(response);
    if (line) candidates.push(line);
  }
  if (formats.includes('gsm8k')) {
    const line = lastGsm8kLine(response);
    if (line) candidates.push(line);
  }
  if (candidates.length === 0) {
    return {
      ok: false,
      code: 'no-answer',
      reason: `no final answer (looked for ${formats.map((f) => MARKERS[f]).join(' and ')})`,
    };
  }
  const chosen = candidates.reduce((a, b) => (b.start > a.start ? b : a));
  if (!chosen.ok) return { ok: false, code: chosen.code, reason: chosen.reason };
  const answer = tidy(chosen.answer);
  if (answer === '' || /^\{\s*\}$/.test(answer)) {
    return {
      ok: false,
      code: 'empty-answer',
      reason:
        chosen.format === 'boxed'
          ? 'the last \\boxed{} is empty'
          : `the last ${chosen.format === 'gsm8k' ? '"####"' : '"Answer:"'} line is empty`,
    };
  }
  if (answer.length > maxAnswerLength) {
    return {
      ok: false,
      code: 'answer-too-long',
      reason: `the final answer has ${answer.length} characters, more than the limit of ${maxAnswerLength}`,
    };
  }
  return { ok: true, answer, format: chosen.format, start: chosen.start, end: chosen.end };
}
