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
  /** Dense mode: row offsets (state·A) of targets, bitwise-negated when the target has output. */
  #rows: Int32Array = new Int32Array(0);
  /** ASCII code -> symbol of its lower-case form (whitespace -> the space symbol). */
  readonly #asciiSymbols = new Int32Array(128);
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
    const rawEdges = new Map<number, number>();
    const rawTerminal = new Int32Array(maxStates).fill(-1);
    let states = 1;
    phrases.forEach((phrase, g) => {
      let s = 0;
      for (let k = 0; k < phrase.length; k++) {
        const key = s * A + this.#alphabet[phrase.charCodeAt(k)]!;
        let t = rawEdges.get(key);
        if (t === undefined) {
          t = states++;
          rawEdges.set(key, t);
        }
        s = t;
      }
      rawTerminal[s] = g;
    });
    // Number states breadth-first, so the shallow states a scan spends most of its steps in
    // sit together in the transition table (fewer cache misses).
    const rawChildren: number[][] = Array.from({ length: states }, () => []);
    for (const [key, t] of rawEdges) rawChildren[Math.floor(key / A)]!.push(t);
    const rank = new Int32Array(states);
    const bfs = [0];
    for (let h = 0; h < bfs.length; h++) {
      for (const child of rawChildren[bfs[h]!]!) {
        rank[child] = bfs.length;
        bfs.push(child);
      }
    }
    const edges = new Map<number, number>();
    for (const [key, t] of rawEdges)
      edges.set(rank[Math.floor(key / A)]! * A + (key % A), rank[t]!);
    const terminal = new Int32Array(states);
    for (let old = 0; old < states; old++) terminal[rank[old]!] = rawTerminal[old]!;
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
      this.#rows = delta;
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
    if (this.dense) {
      const rows = this.#rows;
      for (let x = 0; x < rows.length; x++) {
        const t = rows[x]!;
        rows[x] = this.#hasOutput[t] === 1 ? ~(t * A) : t * A;
      }
    }
    const space = this.#alphabet[0x20]!;
    for (let c = 0; c < 128; c++) {
      const lower = c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
      this.#asciiSymbols[c] = isAsciiSpace(c) ? space : this.#alphabet[lower]!;
    }
    if (this.dense && space !== 0) {
      // A state entered by a space is left unchanged by a second space: normalised text never
      // holds two spaces in a row, so these entries serve only the ASCII scan, where they fold
      // whitespace runs. (Phrases are trimmed: no output state is entered by a space.)
      const rows = this.#rows;
      for (const [key, t] of edges) if (key % A === space) rows[t * A + space] = t * A;
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
      const rows = this.#rows;
      const A = this.#alphabetSize;
      let row = 0;
      for (let p = 0; p < length; p++) {
        const v = rows[row + alphabet[units[p]!]!]!;
        if (v >= 0) row = v;
        else {
          row = ~v;
          this.#report(row / A, p, units, length, out);
        }
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

  /**
   * The same scan straight over the original text when it is ASCII (the common case): ASCII is
   * NFKC-stable and needs only lower-casing and whitespace folding, so normalisation fuses into
   * the automaton's loop and occurrences come out in original offsets. Returns the number of
   * occurrences, or -1 as soon as a non-ASCII character is met (the caller then normalises).
   * Dense mode only (-1 otherwise).
   */
  scanAscii(text: string, out: OccurrenceBuffer): number {
    out.count = 0;
    if (!this.dense) return -1;
    const rows = this.#rows;
    const symbols = this.#asciiSymbols;
    const A = this.#alphabetSize;
    const length = text.length;
    let row = 0;
    for (let i = 0; i < length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 128) return -1;
      // Whitespace maps to the space symbol; states entered by a space loop on it (see the
      // constructor), which folds a run of whitespace into one space without a branch.
      const v = rows[row + symbols[c]!]!;
      if (v >= 0) row = v;
      else {
        row = ~v;
        if (!this.#reportAscii(row / A, i, text, out)) return -1;
      }
    }
    return out.count;
  }

  /**
   * Reports the outputs of `state` ending at original position `i`. A phrase of L normalised
   * units starts L - 1 units back, where a whitespace run counts as one unit.
   */
  #reportAscii(state: number, i: number, text: string, out: OccurrenceBuffer): boolean {
    let s = this.#terminal[state]! >= 0 ? state : this.#dictionary[state]!;
    while (s >= 0) {
      const g = this.#terminal[s]!;
      const units = this.lengths[g]!;
      let pos = i;
      for (let walked = 1; walked < units; walked++) {
        pos--;
        if (isAsciiSpace(text.charCodeAt(pos)))
          while (pos > 0 && isAsciiSpace(text.charCodeAt(pos - 1))) pos--;
      }
      let ok = true;
      if (this.#needsLeft[g] === 1 && pos > 0) ok = !isAsciiWord(text.charCodeAt(pos - 1));
      if (ok && this.#needsRight[g] === 1 && i + 1 < text.length) {
        const next = text.charCodeAt(i + 1);
        if (next >= 128) return false;
        ok = !isAsciiWord(next);
      }
      if (ok) out.push(pos, i + 1, g);
      s = this.#dictionary[s]!;
    }
    return true;
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

function isAsciiSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function isAsciiWord(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}
