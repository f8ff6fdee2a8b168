import { InvalidArgumentError } from '@hicra/spec';
import { isWordUnitAt } from './normalize-text.js';
import { SOURCE } from './source.js';

/** Occurrences as flat triplets `(start, end, gramId)` in normalised units, `end` exclusive. */
export class OccurrenceBuffer {
  data = new Int32Array(3 * 256);
  count = 0;

  push(start: number, end: number, gramId: number): void {
    if (3 * (this.count + 1) > this.data.length) {
      const grown = new Int32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    const k = 3 * this.count++;
    this.data[k] = start;
    this.data[k + 1] = end;
    this.data[k + 2] = gramId;
  }
}

export interface PhraseAutomatonOptions {
  /**
   * Largest dense transition table (states × alphabet entries) before the automaton falls
   * back to sparse transitions with failure links (large alphabets, e.g. CJK lexicons).
   * Default 2^24.
   */
  readonly maxDenseEntries?: number;
}

/**
 * Aho–Corasick automaton over normalised UTF-16 code units. Reports every occurrence of every
 * phrase, overlapping ones included, that passes the word-boundary rule: a phrase whose first
 * (last) code point is a letter, number or mark must not be preceded (followed) by one.
 *
 * Dense mode precomputes the full transition function (one table lookup per unit); sparse
 * mode keeps trie edges in a map and follows failure links.
 */
export class PhraseAutomaton {
  /** Number of phrases; gram ids are `0 .. phraseCount - 1`. */
  readonly phraseCount: number;
  /** Length in units of each phrase. */
  readonly lengths: Int32Array;
  readonly dense: boolean;
  readonly #alphabet = new Uint16Array(65536);
  readonly #alphabetSize: number;
  readonly #stateCount: number;
  #delta: Int32Array = new Int32Array(0);
  #edges: Map<number, number> = new Map();
  readonly #fail: Int32Array;
  readonly #terminal: Int32Array;
  readonly #dictionary: Int32Array;
  readonly #hasOutput: Uint8Array;
  readonly #needsLeft: Uint8Array;
  readonly #needsRight: Uint8Array;

  /** @param phrases normalised phrases (see `normalizePhrase`), non-empty and distinct */
  constructor(phrases: readonly string[], options: PhraseAutomatonOptions = {}) {
    const maxDense = options.maxDenseEntries ?? 2 ** 24;
    this.phraseCount = phrases.length;
    this.lengths = new Int32Array(phrases.length);
    this.#needsLeft = new Uint8Array(phrases.length);
    this.#needsRight = new Uint8Array(phrases.length);
    let symbols = 1;
    let totalUnits = 0;
    phrases.forEach((phrase, g) => {
      if (typeof phrase !== 'string' || phrase.length === 0) {
        throw new InvalidArgumentError(
          `PhraseAutomaton: phrases[${g}] must be a non-empty string`,
          {
            source: SOURCE,
            details: { argument: 'phrases', index: g },
          },
        );
      }
      this.lengths[g] = phrase.length;
      totalUnits += phrase.length;
      for (let k = 0; k < phrase.length; k++) {
        const u = phrase.charCodeAt(k);
        if (this.#alphabet[u] === 0) this.#alphabet[u] = symbols++;
      }
      const codeUnits = new Uint16Array(phrase.length);
      for (let k = 0; k < phrase.length; k++) codeUnits[k] = phrase.charCodeAt(k);
      const last =
        phrase.length >= 2 && isLowSurrogate(codeUnits[phrase.length - 1]!)
          ? phrase.length - 2
          : phrase.length - 1;
      this.#needsLeft[g] = isWordUnitAt(codeUnits, phrase.length, 0) ? 1 : 0;
      this.#needsRight[g] = isWordUnitAt(codeUnits, phrase.length, last) ? 1 : 0;
    });
    const A = symbols;
    this.#alphabetSize = A;
    const maxStates = totalUnits + 1;
    this.dense = maxStates * A <= maxDense;
    // Trie, with edges in a map first (the dense table is filled from it).
    const edges = new Map<number, number>();
    const terminal = new Int32Array(maxStates).fill(-1);
    let states = 1;
    phrases.forEach((phrase, g) => {
      let s = 0;
      for (let k = 0; k < phrase.length; k++) {
        const key = s * A + this.#alphabet[phrase.charCodeAt(k)]!;
        let t = edges.get(key);
        if (t === undefined) {
          t = states++;
          edges.set(key, t);
        }
        s = t;
      }
      terminal[s] = g;
    });
    this.#stateCount = states;
    this.#terminal = terminal.subarray(0, states);
    this.#fail = new Int32Array(states);
    this.#dictionary = new Int32Array(states).fill(-1);
    this.#hasOutput = new Uint8Array(states);
    // Children lists for the breadth-first pass.
    const children: number[][] = Array.from({ length: states }, () => []);
    for (const [key, t] of edges) children[Math.floor(key / A)]!.push(key % A, t);
    const queue = new Int32Array(states);
    let head = 0;
    let tail = 0;
    if (this.dense) {
      const delta = new Int32Array(states * A);
      const kids0 = children[0]!;
      for (let c = 0; c < kids0.length; c += 2) {
        delta[kids0[c]!] = kids0[c + 1]!;
        queue[tail++] = kids0[c + 1]!;
      }
      while (head < tail) {
        const s = queue[head++]!;
        const f = this.#fail[s]!;
        // Missing transitions follow the failure state's (already complete) row.
        delta.copyWithin(s * A, f * A, f * A + A);
        const kids = children[s]!;
        for (let c = 0; c < kids.length; c += 2) {
          const a = kids[c]!;
          const t = kids[c + 1]!;
          this.#fail[t] = delta[f * A + a]!;
          delta[s * A + a] = t;
          queue[tail++] = t;
        }
      }
      this.#delta = delta;
    } else {
      this.#edges = edges;
      const kids0 = children[0]!;
      for (let c = 0; c < kids0.length; c += 2) queue[tail++] = kids0[c + 1]!;
      while (head < tail) {
        const s = queue[head++]!;
        const kids = children[s]!;
        for (let c = 0; c < kids.length; c += 2) {
          const a = kids[c]!;
          const t = kids[c + 1]!;
          this.#fail[t] = this.#sparseStep(this.#fail[s]!, a);
          queue[tail++] = t;
        }
      }
    }
    // Dictionary links (nearest terminal on the failure chain), in breadth-first order.
    for (let q = 0; q < tail; q++) {
      const s = queue[q]!;
      const f = this.#fail[s]!;
      this.#dictionary[s] = this.#terminal[f]! >= 0 ? f : this.#dictionary[f]!;
      this.#hasOutput[s] = this.#terminal[s]! >= 0 || this.#dictionary[s]! >= 0 ? 1 : 0;
    }
  }

  /** Number of automaton states (trie nodes). */
  get stateCount(): number {
    return this.#stateCount;
  }

  #sparseStep(state: number, symbol: number): number {
    let s = state;
    for (;;) {
      const t = this.#edges.get(s * this.#alphabetSize + symbol);
      if (t !== undefined) return t;
      if (s === 0) return 0;
      s = this.#fail[s]!;
    }
  }

  /**
   * Appends every occurrence in `units[0 .. length)` to `out` (cleared first), in order of
   * end position. Returns the number of occurrences.
   */
  scan(units: Uint16Array, length: number, out: OccurrenceBuffer): number {
    out.count = 0;
    const alphabet = this.#alphabet;
    const hasOutput = this.#hasOutput;
    if (this.dense) {
      const delta = this.#delta;
      const A = this.#alphabetSize;
      let s = 0;
      for (let p = 0; p < length; p++) {
        s = delta[s * A + alphabet[units[p]!]!]!;
        if (hasOutput[s] === 1) this.#report(s, p, units, length, out);
      }
    } else {
      const A = this.#alphabetSize;
      const edges = this.#edges;
      const fail = this.#fail;
      let s = 0;
      for (let p = 0; p < length; p++) {
        const a = alphabet[units[p]!]!;
        if (a === 0) {
          s = 0;
          continue;
        }
        for (;;) {
          const t = edges.get(s * A + a);
          if (t !== undefined) {
            s = t;
            break;
          }
          if (s === 0) break;
          s = fail[s]!;
        }
        if (hasOutput[s] === 1) this.#report(s, p, units, length, out);
      }
    }
    return out.count;
  }

  #report(
    state: number,
    p: number,
    units: Uint16Array,
    length: number,
    out: OccurrenceBuffer,
  ): void {
    let s = this.#terminal[state]! >= 0 ? state : this.#dictionary[state]!;
    while (s >= 0) {
      const g = this.#terminal[s]!;
      const start = p - this.lengths[g]! + 1;
      const leftOk =
        this.#needsLeft[g] === 0 || start === 0 || !isWordUnitAt(units, length, start - 1);
      const rightOk =
        this.#needsRight[g] === 0 || p + 1 >= length || !isWordUnitAt(units, length, p + 1);
      if (leftOk && rightOk) out.push(start, p + 1, g);
      s = this.#dictionary[s]!;
    }
  }
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}
