import {
  InvalidArgumentError,
  type PlanningClassifierV1,
  type PlanningInputV1,
  type PlanningMatchV1,
  type PlanningResultV1,
} from '@hicra/spec';
import {
  type CheckedPlanningInput,
  checkPlanningInput,
  describe,
  markOverlappingTokens,
} from './check-planning-input.js';
import {
  type LexiconInput,
  type LexiconV1,
  normalizePhrase,
  paperLexicon,
  resolveLexicon,
} from './lexicon.js';
import { NormalizationBuffers, normalizeInto } from './normalize-text.js';
import { OccurrenceBuffer, PhraseAutomaton } from './phrase-automaton.js';
import { checkSettings } from './settings.js';
import { SOURCE } from './source.js';

/** Settings of {@link createStrategicGramsClassifier}. */
export interface StrategicGramsSettings {
  /**
   * The phrases: a lexicon object, a list of phrases (or `{ phrase, classId?, score? }`), or
   * the path of a lexicon JSON file. Default: the paper's 249 phrases ({@link paperLexicon}).
   */
  readonly lexicon?: LexiconInput;
}

/** One occurrence of a phrase, overlapping ones included (what the mask is built from). */
export interface PhraseOccurrence extends PlanningMatchV1 {}

/** The Strategic-Gram classifier, with helpers that work on a single text. */
export interface StrategicGramsClassifier extends PlanningClassifierV1 {
  readonly name: 'strategic-grams';
  /** The checked lexicon; `gramId` indexes `lexicon.grams`. */
  readonly lexicon: LexiconV1;
  /** The counting matches of one text (longest, then leftmost, non-overlapping), sorted by start. */
  findMatches(text: string): PlanningMatchV1[];
  /** Every occurrence in one text, overlapping ones included, sorted by start then end. */
  findOccurrences(text: string): PhraseOccurrence[];
}

/**
 * Per-call working memory: normalisation buffers, occurrence triplets, and interval scratch.
 * Reused across the responses of one call, so a batch allocates O(longest text) once.
 */
class Scratch {
  readonly normalization = new NormalizationBuffers();
  readonly occurrences = new OccurrenceBuffer();
  order = new Int32Array(256);
  intervalStarts = new Int32Array(256);
  intervalEnds = new Int32Array(256);
  component = new Int32Array(64);
  accepted = new Int32Array(64);

  grow(count: number): void {
    if (this.order.length >= count) return;
    const size = Math.max(count, this.order.length * 2);
    this.order = new Int32Array(size);
    this.intervalStarts = new Int32Array(size);
    this.intervalEnds = new Int32Array(size);
    this.component = new Int32Array(size);
    this.accepted = new Int32Array(size);
  }
}

/**
 * The Strategic-Gram classifier (`strategic-grams`, HICRA.md section 2): a token is a planning
 * token iff its character span overlaps an occurrence of a lexicon phrase in the decoded text.
 *
 * Matching (decision 0010): over the normalised text (NFKC, lower case, curly quotes folded,
 * whitespace runs as one space), with word boundaries at a phrase's alphanumeric edges and
 * punctuation matched literally, by one Aho–Corasick automaton over all phrases. The **mask**
 * uses every occurrence, overlapping ones included; the **matches** keep, among overlapping
 * occurrences, the longest (then the leftmost) and drop those it overlaps. Match offsets are
 * into the original text.
 */
export function createStrategicGramsClassifier(
  settings: StrategicGramsSettings = {},
): StrategicGramsClassifier {
  checkSettings('strategic-grams', settings, { lexicon: 'lexicon' });
  const lexicon = settings.lexicon === undefined ? paperLexicon : resolveLexicon(settings.lexicon);
  const automaton = new PhraseAutomaton(lexicon.grams.map((g) => normalizePhrase(g.phrase)));
  const phrases = lexicon.grams.map((g) => g.phrase);
  const classIds = lexicon.grams.map((g) => g.classId);

  const makeMatch = (start: number, end: number, gramId: number): PlanningMatchV1 => {
    const classId = classIds[gramId];
    return classId === undefined
      ? { start, end, gram: phrases[gramId]!, gramId }
      : { start, end, gram: phrases[gramId]!, gramId, classId };
  };

  /** Normalises and scans one text; returns the occurrence count, sorted by start in `scratch.order`. */
  const scanText = (text: string, scratch: Scratch): number => {
    const n = normalizeInto(text, scratch.normalization);
    const count = automaton.scan(scratch.normalization.units, n, scratch.occurrences);
    if (count === 0) return 0;
    scratch.grow(count);
    const data = scratch.occurrences.data;
    const order = scratch.order;
    // Occurrences arrive by end position, so they are nearly sorted by start: insertion sort
    // by (start, end) runs in O(count + inversions).
    for (let q = 0; q < count; q++) {
      const start = data[3 * q]!;
      const end = data[3 * q + 1]!;
      let r = q - 1;
      while (r >= 0) {
        const o = order[r]!;
        const os = data[3 * o]!;
        if (os < start || (os === start && data[3 * o + 1]! <= end)) break;
        order[r + 1] = o;
        r--;
      }
      order[r + 1] = q;
    }
    return count;
  };

  /** Longest-then-leftmost non-overlapping selection; calls `emit` in order of start. */
  const selectMatches = (
    count: number,
    scratch: Scratch,
    emit: (start: number, end: number, gramId: number) => void,
  ): void => {
    const data = scratch.occurrences.data;
    const order = scratch.order;
    const component = scratch.component;
    const accepted = scratch.accepted;
    let q = 0;
    while (q < count) {
      // A component: occurrences connected by overlap (sorted by start).
      let size = 0;
      let maxEnd = data[3 * order[q]! + 1]!;
      component[size++] = order[q]!;
      q++;
      while (q < count && data[3 * order[q]!]! < maxEnd) {
        const o = order[q]!;
        component[size++] = o;
        if (data[3 * o + 1]! > maxEnd) maxEnd = data[3 * o + 1]!;
        q++;
      }
      if (size === 1) {
        const o = component[0]!;
        emit(data[3 * o]!, data[3 * o + 1]!, data[3 * o + 2]!);
        continue;
      }
      const members = Array.from(component.subarray(0, size));
      members.sort((a, b) => {
        const la = data[3 * a + 1]! - data[3 * a]!;
        const lb = data[3 * b + 1]! - data[3 * b]!;
        return lb - la || data[3 * a]! - data[3 * b]!;
      });
      let kept = 0;
      for (const o of members) {
        const s = data[3 * o]!;
        const e = data[3 * o + 1]!;
        let free = true;
        for (let a = 0; a < kept; a++) {
          const x = accepted[a]!;
          if (s < data[3 * x + 1]! && data[3 * x]! < e) {
            free = false;
            break;
          }
        }
        if (free) accepted[kept++] = o;
      }
      const chosen = Array.from(accepted.subarray(0, kept)).sort(
        (a, b) => data[3 * a]! - data[3 * b]!,
      );
      for (const o of chosen) emit(data[3 * o]!, data[3 * o + 1]!, data[3 * o + 2]!);
    }
  };

  const classifyRow = (
    input: CheckedPlanningInput,
    row: number,
    scratch: Scratch,
    mask: Uint8Array,
  ): PlanningMatchV1[] => {
    const count = scanText(input.texts[row]!, scratch);
    if (count === 0) return [];
    const { starts, ends } = scratch.normalization;
    const data = scratch.occurrences.data;
    const order = scratch.order;
    // Union of every occurrence, as sorted disjoint intervals in original offsets.
    const ivStarts = scratch.intervalStarts;
    const ivEnds = scratch.intervalEnds;
    let intervals = 0;
    let curStart = -1;
    let curEnd = -1;
    for (let q = 0; q < count; q++) {
      const o = order[q]!;
      const s = data[3 * o]!;
      const e = data[3 * o + 1]!;
      if (s <= curEnd) {
        if (e > curEnd) curEnd = e;
      } else {
        if (curEnd >= 0) {
          ivStarts[intervals] = starts[curStart]!;
          ivEnds[intervals++] = ends[curEnd - 1]!;
        }
        curStart = s;
        curEnd = e;
      }
    }
    ivStarts[intervals] = starts[curStart]!;
    ivEnds[intervals++] = ends[curEnd - 1]!;
    markOverlappingTokens(input, row, ivStarts, ivEnds, intervals, mask);
    const matches: PlanningMatchV1[] = [];
    selectMatches(count, scratch, (s, e, g) =>
      matches.push(makeMatch(starts[s]!, ends[e - 1]!, g)),
    );
    return matches;
  };

  return {
    name: 'strategic-grams',
    lexicon,
    classify(input: PlanningInputV1): PlanningResultV1 {
      const checked = checkPlanningInput(input, 'strategic-grams');
      const mask = new Uint8Array(checked.batchSize * checked.seqLen);
      const scratch = new Scratch();
      const matches: PlanningMatchV1[][] = [];
      for (let i = 0; i < checked.batchSize; i++)
        matches.push(classifyRow(checked, i, scratch, mask));
      return { mask, matches };
    },
    findMatches(text: string): PlanningMatchV1[] {
      checkText(text);
      const scratch = new Scratch();
      const count = scanText(text, scratch);
      const { starts, ends } = scratch.normalization;
      const out: PlanningMatchV1[] = [];
      selectMatches(count, scratch, (s, e, g) => out.push(makeMatch(starts[s]!, ends[e - 1]!, g)));
      return out;
    },
    findOccurrences(text: string): PhraseOccurrence[] {
      checkText(text);
      const scratch = new Scratch();
      const count = scanText(text, scratch);
      const { starts, ends } = scratch.normalization;
      const data = scratch.occurrences.data;
      const out: PhraseOccurrence[] = [];
      for (let q = 0; q < count; q++) {
        const o = scratch.order[q]!;
        out.push(makeMatch(starts[data[3 * o]!]!, ends[data[3 * o + 1]! - 1]!, data[3 * o + 2]!));
      }
      return out;
    },
  };
}

function checkText(text: unknown): void {
  if (typeof text !== 'string') {
    throw new InvalidArgumentError(
      `strategic-grams: text must be a string, got ${describe(text)}`,
      {
        source: SOURCE,
        details: { classifier: 'strategic-grams', argument: 'text' },
      },
    );
  }
}

/** The default Strategic-Gram classifier, on the paper's lexicon. */
export const strategicGrams: StrategicGramsClassifier = createStrategicGramsClassifier();
