/**
 * A value as error messages print it: JSON, except that non-finite numbers read as `NaN`,
 * `Infinity` and `-Infinity` (JSON.stringify prints them as `null`, so a message would say
 * "reward is null" for an infinite reward), at any depth. `undefined` reads as `undefined`, a
 * bigint as `12n`, a typed array as `Float32Array(3)`, a function as `a function`; a value JSON
 * cannot print (a cycle) falls back to its type. Finite values print exactly as JSON.stringify
 * prints them.
 */
export function formatValue(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, (_key, v: unknown) => {
      if (typeof v === 'number' && !Number.isFinite(v)) return `${MARK}${String(v)}${MARK}`;
      if (typeof v === 'bigint') return `${MARK}${v}n${MARK}`;
      if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
        const length = (v as unknown as { length: number }).length;
        return `${MARK}${v.constructor.name}(${length})${MARK}`;
      }
      return v;
    });
  } catch {
    return typeof value === 'object' && value !== null
      ? (value.constructor?.name ?? 'object')
      : typeof value;
  }
  if (text === undefined) return typeof value === 'function' ? 'a function' : String(value);
  return text.replace(MARKED, '$1');
}

/**
 * A short description of a value's type for error messages, for where the value itself may be
 * large or unprintable: `null`, `undefined`, `Float32Array(12)` (as {@link formatValue} prints a
 * typed array), `Array(3)`, `number 5` (the number as {@link formatValue} prints it, so `number
 * NaN`), an object's class name (`Object`, `Map`), otherwise its `typeof` (`string`,
 * `function`).
 */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (ArrayBuffer.isView(value)) {
    const length = (value as unknown as { length?: number }).length;
    return `${value.constructor.name}(${length ?? value.byteLength})`;
  }
  if (Array.isArray(value)) return `Array(${value.length})`;
  if (typeof value === 'number') return `number ${formatValue(value)}`;
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}

/** Wraps replaced values; JSON escapes it as `\u0001`, which no JSON text of ours contains raw. */
const MARK = '\u0001';
const MARKED = /"\\u0001([^"\\]*)\\u0001"/g;
