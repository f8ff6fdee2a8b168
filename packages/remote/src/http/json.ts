/**
 * JSON text from values that hold typed arrays. `JSON.stringify` writes an `Int32Array` as an
 * object keyed by index; converting every array to a `number[]` first would copy each one
 * before the text is built. {@link encodeJson} writes a typed array straight into the text as
 * a JSON array, so the text is the only copy.
 */
import { InvalidValueError } from '@hicra/spec';

const SOURCE = '@hicra/remote';

/** What to do with NaN and ±Infinity, which JSON cannot carry. */
export type NonFiniteMode = 'throw' | 'null';

export interface EncodeJsonOptions {
  /**
   * `throw` (default): an `InvalidValueError` naming the path (`data[3].weights[7]`).
   * `null`: written as `null`, as `JSON.stringify` does.
   */
  readonly nonFinite?: NonFiniteMode;
  /** Prefixed to the path in error messages (`forward_backward request`). */
  readonly what?: string;
}

type TypedNumberArray =
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array;

/**
 * Serialises `value` as JSON text. Like `JSON.stringify` for plain data (objects, arrays,
 * strings, numbers, booleans, `null`; `undefined` properties and functions omitted, `toJSON`
 * honoured), except that typed arrays (`Int32Array`, `Float32Array`, ...) become JSON arrays
 * of their numbers, written directly, and non-finite numbers are refused by default. A
 * `Float32Array` element is written as the shortest decimal that reads back as the same
 * float32, so `Float32Array.from(JSON.parse(text))` gives the same bits back.
 *
 * Bigint arrays are refused (JSON numbers above 2^53 lose precision).
 */
export function encodeJson(value: unknown, options: EncodeJsonOptions = {}): string {
  const writer = new Writer(options.nonFinite ?? 'throw', options.what);
  writer.write(value);
  return writer.text();
}

class Writer {
  readonly #parts: string[] = [];
  readonly #path: (string | number)[] = [];
  readonly #nonFinite: NonFiniteMode;
  readonly #what: string | undefined;

  constructor(nonFinite: NonFiniteMode, what: string | undefined) {
    this.#nonFinite = nonFinite;
    this.#what = what;
  }

  text(): string {
    return this.#parts.join('');
  }

  write(value: unknown): void {
    if (value === null || value === undefined || typeof value === 'function') {
      this.#parts.push('null');
      return;
    }
    switch (typeof value) {
      case 'string':
        this.#parts.push(JSON.stringify(value));
        return;
      case 'number':
        this.#parts.push(this.#number(value));
        return;
      case 'boolean':
        this.#parts.push(value ? 'true' : 'false');
        return;
      case 'bigint':
        this.#fail('is a bigint; JSON numbers are doubles');
        return;
      case 'symbol':
        this.#parts.push('null');
        return;
    }
    if (ArrayBuffer.isView(value)) {
      if (value instanceof BigInt64Array || value instanceof BigUint64Array)
        this.#fail(`is a ${value.constructor.name}; JSON numbers are doubles`);
      if (value instanceof DataView) this.#fail('is a DataView; pass a typed array');
      this.#typedArray(value as TypedNumberArray);
      return;
    }
    if (Array.isArray(value)) {
      this.#parts.push('[');
      for (let i = 0; i < value.length; i++) {
        if (i > 0) this.#parts.push(',');
        this.#path.push(i);
        const item = value[i];
        this.write(item === undefined || typeof item === 'function' ? null : item);
        this.#path.pop();
      }
      this.#parts.push(']');
      return;
    }
    const withJson = value as { toJSON?: (key: string) => unknown };
    if (typeof withJson.toJSON === 'function') {
      this.write(withJson.toJSON(String(this.#path.at(-1) ?? '')));
      return;
    }
    this.#parts.push('{');
    let first = true;
    for (const key of Object.keys(value)) {
      const item = (value as Record<string, unknown>)[key];
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
      if (!first) this.#parts.push(',');
      first = false;
      this.#parts.push(JSON.stringify(key), ':');
      this.#path.push(key);
      this.write(item);
      this.#path.pop();
    }
    this.#parts.push('}');
  }

  #number(value: number, index?: number): string {
    if (Number.isFinite(value)) return String(value);
    if (this.#nonFinite === 'null') return 'null';
    return this.#fail(`is ${value}; JSON cannot carry NaN or ±Infinity`, index);
  }

  #typedArray(array: TypedNumberArray): void {
    if (array instanceof Float32Array) {
      this.#float32(array);
      return;
    }
    if (array instanceof Float64Array) {
      for (let i = 0; i < array.length; i++) {
        if (!Number.isFinite(array[i]!)) {
          this.#parts.push('[', Array.from(array, (v, k) => this.#number(v, k)).join(','), ']');
          return;
        }
      }
    }
    // TypedArray#join writes each element's shortest round-trip decimal, with no number[] copy.
    this.#parts.push('[', array.join(','), ']');
  }

  /**
   * Each value as the shortest decimal (of at most 9 significant digits) that reads back as
   * the same float32: `-0.0312`, not the double `-0.031199999153614044`. About half the bytes
   * of the double's digits; repeated values (advantages, weights) and integers cost nothing
   * extra.
   */
  #float32(array: Float32Array): void {
    const n = array.length;
    const parts = new Array<string>(n);
    let previous = Number.NaN;
    let previousText = '';
    for (let i = 0; i < n; i++) {
      const v = array[i]!;
      if (v === previous) {
        parts[i] = previousText;
        continue;
      }
      let text: string;
      if (Number.isInteger(v)) text = String(v);
      else if (!Number.isFinite(v)) text = this.#number(v, i);
      else text = shortestFloat32(v);
      parts[i] = text;
      previous = v;
      previousText = text;
    }
    this.#parts.push('[', parts.join(','), ']');
  }

  #fail(problem: string, index?: number): never {
    const path = formatPath(index === undefined ? this.#path : [...this.#path, index]);
    throw new InvalidValueError(
      `${this.#what === undefined ? '' : `${this.#what}: `}${path || 'the value'} ${problem}`,
      { source: SOURCE, details: { path } },
    );
  }
}

/** `['data', 3, 'weights', 7]` -> `data[3].weights[7]`. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out.length === 0 ? part : `.${part}`;
  }
  return out;
}

/** The shortest decimal (6 to 9 significant digits) whose float32 rounding is `value`. */
export function shortestFloat32(value: number): string {
  for (let digits = 6; digits < 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return String(candidate);
  }
  return String(Number(value.toPrecision(9)));
}
