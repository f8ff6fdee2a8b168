import { InvalidArgumentError } from './errors.js';
import { formatValue } from './format-value.js';

/**
 * The units a character span can count in. `utf16`: UTF-16 code units, JavaScript string
 * indices (what this project computes with). `codepoint`: Unicode code points, Python `str`
 * indices and Hugging Face `offset_mapping` (what Python readers and exporters use). The two
 * agree on text without characters outside the Basic Multilingual Plane (emoji, rare CJK).
 */
export const SPAN_UNITS = ['utf16', 'codepoint'] as const;
export type SpanUnit = (typeof SPAN_UNITS)[number];

/** Checks a span-unit name; `where` names the setting in the error. */
export function checkSpanUnit(value: unknown, where: string): SpanUnit {
  if (!(SPAN_UNITS as readonly unknown[]).includes(value))
    throw new InvalidArgumentError(
      `${where} must be one of ${SPAN_UNITS.map((u) => `"${u}"`).join(', ')}, got ${formatValue(value)}`,
      { source: '@hicra/spec', details: { argument: where } },
    );
  return value as SpanUnit;
}

const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff;

/** The length of `text` in `unit`s. */
export function textLength(text: string, unit: SpanUnit): number {
  if (unit === 'utf16') return text.length;
  let n = 0;
  for (let u = 0; u < text.length; u++) {
    if (!(isLow(text.charCodeAt(u)) && u > 0 && isHigh(text.charCodeAt(u - 1)))) n++;
  }
  return n;
}

/**
 * Converts flat `[start, end)` pairs over `text` from one unit to the other, into a new
 * Int32Array. `(-1, -1)` (a token with no text, such as an added special token) stays as it
 * is. A UTF-16 offset inside a surrogate pair (a byte-level token that splits an emoji) maps to
 * the code point that pair encodes, so `start <= end` holds after conversion. Offsets beyond
 * the text are an error naming the pair.
 */
export function convertSpans(
  text: string,
  spans: ArrayLike<number>,
  from: SpanUnit,
  to: SpanUnit,
): Int32Array {
  const out = Int32Array.from(spans);
  if (from === to) return out;
  // utf16Of[k]: the UTF-16 offset of code point k (k = 0..cpLength); cpOf[u]: the code point
  // an UTF-16 offset falls in (u = 0..text.length).
  const cpOf = new Int32Array(text.length + 1);
  const utf16Of: number[] = [];
  let k = 0;
  for (let u = 0; u < text.length; u++) {
    const inside = u > 0 && isLow(text.charCodeAt(u)) && isHigh(text.charCodeAt(u - 1));
    if (inside) cpOf[u] = k - 1;
    else {
      cpOf[u] = k;
      utf16Of.push(u);
      k++;
    }
  }
  cpOf[text.length] = k;
  utf16Of.push(text.length);
  const limit = from === 'utf16' ? text.length : k;
  for (let i = 0; i < out.length; i += 2) {
    const start = out[i]!;
    const end = out[i + 1]!;
    if (start === -1 && end === -1) continue;
    if (start < 0 || end < start || end > limit)
      throw new InvalidArgumentError(
        `span ${i / 2} [${start}, ${end}) is not within the text's ${limit} ${from === 'utf16' ? 'UTF-16 code units' : 'code points'}`,
        { source: '@hicra/spec', details: { index: i / 2 } },
      );
    if (from === 'utf16') {
      out[i] = cpOf[start]!;
      out[i + 1] = cpOf[end]!;
    } else {
      out[i] = utf16Of[start]!;
      out[i + 1] = utf16Of[end]!;
    }
  }
  return out;
}
