import {
  definePlugin,
  defineSettings,
  describeValue,
  InvalidArgumentError,
  type PlanningClassifierV1,
  type PlanningInputV1,
  type PlanningMatchV1,
  type PlanningResultV1,
  parsePluginSettings,
  type SettingsInputV1,
} from '@hicra/spec';
import {
  type CheckedPlanningInput,
  checkPlanningInput,
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
import { SOURCE } from './source.js';

/**
 * The lexicon setting: a lexicon object, a list of phrases (or `{ phrase, classId?, score? }`),
 * or the path of a lexicon JSON file; checked and loaded when the classifier is created.
 */
export const lexiconSetting = {
  type: 'custom',
  description:
    "the phrases: a lexicon object, a list of phrases (or { phrase, classId?, score? }), or the path of a lexicon JSON file; default the paper's 249",
  expects: 'lexicon object, phrase list or file path; default the paper lexicon',
  parse: (value: LexiconInput) => resolveLexicon(value),
} as const;

/** Settings of {@link createStrategicGramsClassifier}: the lexicon (default: the paper's 249 phrases, {@link paperLexicon}). */
export const strategicGramsSettings = defineSettings({ lexicon: lexiconSetting });
export type StrategicGramsSettings = SettingsInputV1<typeof strategicGramsSettings>;

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
  const given = parsePluginSettings(
    { name: 'strategic-grams', settings: strategicGramsSettings },
    settings,
    { source: SOURCE },
  );
  const lexicon = given.lexicon ?? paperLexicon;
  // Built on first use, so importing the package (which creates the default instances) stays cheap.
  let automaton: PhraseAutomaton | undefined;
  const getAutomaton = (): PhraseAutomaton => {
    automaton ??= new PhraseAutomaton(lexicon.grams.map((g) => normalizePhrase(g.phrase)));
    return automaton;
  };
  const phrases = lexicon.grams.map((g) => g.phrase);
  const classIds = lexicon.grams.map((g) => g.classId);

  const makeMatch = (start: number, end: number, gramId: number): PlanningMatchV1 => {
    const classId = classIds[gramId];
    return classId === undefined
      ? { start, end, gram: phrases[gramId]!, gramId }
      : { start, end, gram: phrases[gramId]!, gramId, classId };
  };

  /**
   * Finds every occurrence in one text as `(start, end, gramId)` triplets in original offsets,
   * and sorts their indices by (start, end) into `scratch.order`. Returns the count.
   */
  const scanText = (text: string, scratch: Scratch): number => {
    const automaton = getAutomaton();
    const occurrences = scratch.occurrences;
    let count = automaton.scanAscii(text, occurrences);
    if (count < 0) {
      const buffers = scratch.normalization;
      const n = normalizeInto(text, buffers);
      count = automaton.scan(buffers.units, n, occurrences);
      const data = occurrences.data;
      for (let q = 0; q < count; q++) {
        data[3 * q] = buffers.starts[data[3 * q]!]!;
        data[3 * q + 1] = buffers.ends[data[3 * q + 1]! - 1]!;
      }
    }
    if (count === 0) return 0;
    scratch.grow(count);
    const data = occurrences.data;
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

  /**
   * Longest (in normalised characters: the phrase's length) then leftmost non-overlapping
   * selection; calls `emit` in order of start.
   */
  const selectMatches = (
    count: number,
    scratch: Scratch,
    emit: (start: number, end: number, gramId: number) => void,
  ): void => {
    const lengths = getAutomaton().lengths;
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
      if (size > 8) {
        selectLarge(data, component.subarray(0, size), lengths, maxEnd, emit);
        continue;
      }
      // Small components (the usual two or three occurrences): repeatedly take the longest,
      // then leftmost, member that overlaps nothing taken so far.
      let kept = 0;
      for (;;) {
        let best = -1;
        for (let c = 0; c < size; c++) {
          const o = component[c]!;
          if (o < 0) continue;
          if (
            best >= 0 &&
            (lengths[data[3 * o + 2]!]! < lengths[data[3 * best + 2]!]! ||
              (lengths[data[3 * o + 2]!]! === lengths[data[3 * best + 2]!]! &&
                data[3 * o]! >= data[3 * best]!))
          )
            continue;
          const s = data[3 * o]!;
          const e = data[3 * o + 1]!;
          let free = true;
          for (let x = 0; x < kept; x++) {
            const y = accepted[x]!;
            if (s < data[3 * y + 1]! && data[3 * y]! < e) {
              free = false;
              break;
            }
          }
          if (free) best = o;
        }
        if (best < 0) break;
        // Insert by start, so the accepted list stays sorted.
        let x = kept++;
        while (x > 0 && data[3 * accepted[x - 1]!]! > data[3 * best]!) {
          accepted[x] = accepted[x - 1]!;
          x--;
        }
        accepted[x] = best;
        for (let c = 0; c < size; c++) if (component[c] === best) component[c] = -1;
      }
      for (let x = 0; x < kept; x++) {
        const o = accepted[x]!;
        emit(data[3 * o]!, data[3 * o + 1]!, data[3 * o + 2]!);
      }
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
    const data = scratch.occurrences.data;
    const order = scratch.order;
    // Union of every occurrence, as sorted disjoint intervals.
    const ivStarts = scratch.intervalStarts;
    const ivEnds = scratch.intervalEnds;
    let intervals = 0;
    let curStart = data[3 * order[0]!]!;
    let curEnd = data[3 * order[0]! + 1]!;
    for (let q = 1; q < count; q++) {
      const o = order[q]!;
      const s = data[3 * o]!;
      const e = data[3 * o + 1]!;
      if (s <= curEnd) {
        if (e > curEnd) curEnd = e;
      } else {
        ivStarts[intervals] = curStart;
        ivEnds[intervals++] = curEnd;
        curStart = s;
        curEnd = e;
      }
    }
    ivStarts[intervals] = curStart;
    ivEnds[intervals++] = curEnd;
    markOverlappingTokens(input, row, ivStarts, ivEnds, intervals, mask);
    const matches: PlanningMatchV1[] = [];
    selectMatches(count, scratch, (s, e, g) => matches.push(makeMatch(s, e, g)));
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
      const out: PlanningMatchV1[] = [];
      selectMatches(count, scratch, (s, e, g) => out.push(makeMatch(s, e, g)));
      return out;
    },
    findOccurrences(text: string): PhraseOccurrence[] {
      checkText(text);
      const scratch = new Scratch();
      const count = scanText(text, scratch);
      const data = scratch.occurrences.data;
      const out: PhraseOccurrence[] = [];
      for (let q = 0; q < count; q++) {
        const o = scratch.order[q]!;
        out.push(makeMatch(data[3 * o]!, data[3 * o + 1]!, data[3 * o + 2]!));
      }
      return out;
    },
  };
}

/**
 * The same selection for a large component (repetitive text such as "but wait, but wait, ..."):
 * sort by (length desc, start asc), then accept greedily against a character occupancy map.
 */
function selectLarge(
  data: Int32Array,
  members: Int32Array,
  lengths: Int32Array,
  end: number,
  emit: (start: number, end: number, gramId: number) => void,
): void {
  const order = Array.from(members).sort(
    (a, b) =>
      lengths[data[3 * b + 2]!]! - lengths[data[3 * a + 2]!]! || data[3 * a]! - data[3 * b]!,
  );
  let first = data[3 * order[0]!]!;
  for (const o of order) if (data[3 * o]! < first) first = data[3 * o]!;
  const taken = new Uint8Array(end - first);
  const accepted: number[] = [];
  for (const o of order) {
    const s = data[3 * o]! - first;
    const e = data[3 * o + 1]! - first;
    let free = true;
    for (let c = s; c < e; c++) {
      if (taken[c] === 1) {
        free = false;
        break;
      }
    }
    if (!free) continue;
    taken.fill(1, s, e);
    accepted.push(o);
  }
  accepted.sort((a, b) => data[3 * a]! - data[3 * b]!);
  for (const o of accepted) emit(data[3 * o]!, data[3 * o + 1]!, data[3 * o + 2]!);
}

function checkText(text: unknown): void {
  if (typeof text !== 'string') {
    throw new InvalidArgumentError(
      `strategic-grams: text must be a string, got ${describeValue(text)}`,
      {
        source: SOURCE,
        details: { classifier: 'strategic-grams', argument: 'text' },
      },
    );
  }
}

/** The default Strategic-Gram classifier, on the paper's lexicon. */
export const strategicGrams: StrategicGramsClassifier = createStrategicGramsClassifier();

/** The registration of `strategic-grams`. */
export const strategicGramsRegistration = definePlugin({
  kind: 'classifier',
  name: 'strategic-grams',
  description: "the paper's Strategic Grams: tokens overlapping a lexicon phrase",
  settings: strategicGramsSettings,
  create: (settings) => createStrategicGramsClassifier(settings),
});
