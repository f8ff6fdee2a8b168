/**
 * The `tokenizers` binding reports offsets in Unicode code points (Rust `char`s) of the
 * original text; JavaScript strings index UTF-16 code units. They differ after every
 * character outside the Basic Multilingual Plane (emoji, rare CJK, ...), which takes two code
 * units but is one code point. A lone surrogate is one code unit and one code point (the
 * binding sees it as U+FFFD).
 */

const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * `table[k]` = the UTF-16 index of code point `k` of `text`, for `k` in `[0, codePoints]`
 * (the last entry is `text.length`). `undefined` when the two units agree (no surrogates).
 */
export function codePointToUtf16Table(text: string): Int32Array | undefined {
  if (!SURROGATE.test(text)) return undefined;
  const table = new Int32Array(text.length + 1);
  let k = 0;
  let i = 0;
  while (i < text.length) {
    table[k++] = i;
    const unit = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    i += unit >= 0xd800 && unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff ? 2 : 1;
  }
  table[k] = text.length;
  return table.subarray(0, k + 1);
}
