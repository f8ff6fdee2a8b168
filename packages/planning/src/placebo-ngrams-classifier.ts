import {
  ConfigError,
  definePlugin,
  defineSettings,
  type PlanningClassifierV1,
  type PlanningInputV1,
  type PlanningMatchV1,
  type PlanningResultV1,
  parsePluginSettings,
  type SettingsInputV1,
} from '@hicra/spec';
import { SeededGenerator } from '@hicra/tensor/kernels';
import { type CheckedPlanningInput, checkPlanningInput } from './check-planning-input.js';
import { normalizePhrase } from './lexicon.js';
import { SOURCE } from './source.js';
import { createStrategicGramsClassifier, lexiconSetting } from './strategic-grams-classifier.js';

/**
 * Settings of {@link createPlaceboNgramsClassifier}: `seed` of the placement, mixed with
 * `input.step` (the same seed, step and input give the same result), default 0; `lexicon` of
 * the Strategic-Gram classifier whose marked tokens the placebo copies (default the paper's).
 * `minN` and `maxN` are deprecated and ignored (span lengths come from the Strategic-Gram
 * matches of each response, decision 0069), still accepted and checked so that existing
 * configs keep validating.
 */
export const placeboNgramsSettings = defineSettings({
  seed: {
    type: 'number',
    integer: true,
    min: 0,
    default: 0,
    description: 'seed of the placement, mixed with the step',
  },
  minN: {
    type: 'number',
    integer: true,
    min: 1,
    default: 3,
    description: 'deprecated and ignored',
  },
  maxN: {
    type: 'number',
    integer: true,
    min: 1,
    default: 5,
    description: 'deprecated and ignored; >= minN',
  },
  lexicon: lexiconSetting,
});
export type PlaceboNgramsSettings = SettingsInputV1<typeof placeboNgramsSettings>;

export interface PlaceboNgramsClassifier extends PlanningClassifierV1 {
  readonly name: 'placebo-ngrams';
  readonly seed: number;
  /** @deprecated The `minN` setting as given (default 3); the placebo ignores it. */
  readonly minN: number;
  /** @deprecated The `maxN` setting as given (default 5); the placebo ignores it. */
  readonly maxN: number;
}

/**
 * The placebo of the paper (`placebo-ngrams`), built to isolate *where* HICRA's boost goes
 * (decision 0069). In each response it marks as many tokens as the Strategic-Gram classifier
 * marks there, in non-overlapping spans of consecutive tokens whose lengths are the token
 * lengths of that response's SG matches (each once, in random order; more drawn from the same
 * lengths if the SG mask holds more tokens than its matches; the span that reaches the target
 * is trimmed to it). The spans are placed uniformly at random over the whole response,
 * without regard to where the Strategic Grams are: they may cover SG tokens, never each other.
 *
 * The count is exact unless some tokens of the response share characters (byte-level BPE
 * splits one character over several tokens, which all carry its span): such tokens are
 * marked together, and the count may then miss the target by at most half the largest such
 * group, rounded down.
 *
 * Seeded: one generator per call from `seed` and `input.step` (default 0), one `split()` per
 * response, so the same seed, step and input give the same result and another step moves
 * the spans. Matches cover the marked tokens (from the first one's start to the last one's
 * end), with `gramId = -1` and `gram` = the covered text, normalised. Responses without SG
 * tokens get none.
 */
export function createPlaceboNgramsClassifier(
  settings: PlaceboNgramsSettings = {},
): PlaceboNgramsClassifier {
  const { seed, minN, maxN, lexicon } = parsePluginSettings(
    { name: 'placebo-ngrams', settings: placeboNgramsSettings },
    settings,
    { source: SOURCE },
  );
  if (maxN < minN) {
    throw new ConfigError('maxN', `placebo-ngrams: maxN (${maxN}) must be >= minN (${minN})`, {
      source: SOURCE,
      details: { plugin: 'placebo-ngrams', setting: 'maxN' },
    });
  }
  const strategicGrams = createStrategicGramsClassifier(lexicon === undefined ? {} : { lexicon });
  return {
    name: 'placebo-ngrams',
    seed,
    minN,
    maxN,
    classify(input: PlanningInputV1): PlanningResultV1 {
      const checked = checkPlanningInput(input, 'placebo-ngrams');
      const reference = strategicGrams.classify(input);
      const mask = new Uint8Array(checked.batchSize * checked.seqLen);
      const root = placementGenerator(seed, checked.step);
      const matches: PlanningMatchV1[][] = [];
      for (let i = 0; i < checked.batchSize; i++) {
        // Split for every response, so each response's stream is independent of the others.
        const generator = root.split();
        matches.push(placeRow(checked, i, reference, generator, mask));
      }
      return { mask, matches };
    },
  };
}

/**
 * The generator of one call: `SeededGenerator(seed)` at step 0; otherwise its state XOR the
 * (rotated) state of `SeededGenerator(step)`, so every (seed, step) pair has its own stream.
 */
function placementGenerator(seed: number, step: number): SeededGenerator {
  const generator = new SeededGenerator(seed);
  if (step === 0) return generator;
  const a = generator.getState().words;
  const b = new SeededGenerator(step).getState().words;
  const words: [number, number, number, number] = [
    (a[0] ^ b[1]) >>> 0,
    (a[1] ^ b[2]) >>> 0,
    (a[2] ^ b[3]) >>> 0,
    (a[3] ^ b[0]) >>> 0,
  ];
  if ((words[0] | words[1] | words[2] | words[3]) === 0) words[0] = 1;
  return SeededGenerator.fromState({ algorithm: 'xoshiro128**', words, spareNormal: null });
}

/** The placebo spans of one response; sets their tokens in `mask` and returns their matches. */
function placeRow(
  input: CheckedPlanningInput,
  row: number,
  reference: PlanningResultV1,
  generator: SeededGenerator,
  mask: Uint8Array,
): PlanningMatchV1[] {
  const { seqLen, tokenSpans, valid, texts } = input;
  const base = row * seqLen;
  let target = 0;
  for (let t = 0; t < seqLen; t++) target += reference.mask[base + t]!;
  if (target === 0) return [];

  // Markable tokens: valid, with a non-empty span (the only ones a character span can mark).
  const tokens: number[] = [];
  for (let t = 0; t < seqLen; t++) {
    const k = base + t;
    if (valid[k] === 1 && tokenSpans[2 * k]! < tokenSpans[2 * k + 1]!) tokens.push(k);
  }
  const n = tokens.length;
  const start = (q: number) => tokenSpans[2 * tokens[q]!]!;
  const end = (q: number) => tokenSpans[2 * tokens[q]! + 1]!;
  // The SG classifier marks only markable tokens, so this never lowers the target.
  target = Math.min(target, n);

  // Atoms: runs of markable tokens that share characters (a character split over several
  // tokens). A span either covers an atom whole or not at all, so the mask stays exactly the
  // tokens that overlap the matches. Ends never decrease, so the last end is the reach.
  const atomFirst: number[] = [];
  for (let q = 0; q < n; q++) if (q === 0 || start(q) >= end(q - 1)) atomFirst.push(q);
  atomFirst.push(n);

  const lengths = matchTokenLengths(reference.matches[row]!, n, start, end);
  const spanLengths = drawSpanLengths(lengths, target, generator);
  const spanStarts = placeSpans(spanLengths, n, generator);
  const m = spanLengths.length;

  // Walk the atoms in token coordinates, marking an atom when that brings the marked count
  // closer to the ideal count (the tokens the spans cover so far). With one token per atom
  // this marks exactly the spans' tokens.
  const matches: PlanningMatchV1[] = [];
  const text = texts[row]!;
  let marked = 0;
  let ideal = 0;
  let position = 0;
  let j = 0;
  let fresh = -1;
  let open = false;
  let openLabel = 0;
  let openStart = 0;
  let openEnd = 0;
  const close = () => {
    if (!open) return;
    matches.push({
      start: openStart,
      end: openEnd,
      gram: normalizePhrase(text.slice(openStart, openEnd)),
      gramId: -1,
    });
    open = false;
  };
  for (let a = 0; a + 1 < atomFirst.length; a++) {
    const first = atomFirst[a]!;
    const next = atomFirst[a + 1]!;
    const size = next - first;
    while (j < m && spanStarts[j]! + spanLengths[j]! <= position) j++;
    let covered = 0;
    let label: number | undefined;
    for (let x = j; x < m && spanStarts[x]! < position + size; x++) {
      const overlap =
        Math.min(spanStarts[x]! + spanLengths[x]!, position + size) -
        Math.max(spanStarts[x]!, position);
      if (overlap > 0) {
        covered += overlap;
        label ??= x;
      }
    }
    ideal += covered;
    const keepError = Math.abs(marked - ideal);
    const takeError = Math.abs(marked + size - ideal);
    const take = takeError < keepError || (takeError === keepError && covered > 0);
    position += size;
    if (!take) {
      close();
      continue;
    }
    marked += size;
    // An atom marked only to catch up joins the span before it, or starts one of its own.
    const atomLabel = label ?? (open ? openLabel : fresh--);
    if (!open || atomLabel !== openLabel) {
      close();
      open = true;
      openLabel = atomLabel;
      openStart = start(first);
    }
    openEnd = end(next - 1);
    for (let q = first; q < next; q++) mask[tokens[q]!] = 1;
  }
  close();
  return matches;
}

/**
 * The number of markable tokens each SG match overlaps (the rule of the SG mask), skipping
 * matches that overlap none. Matches are sorted and disjoint, token spans monotonic.
 */
function matchTokenLengths(
  matches: readonly PlanningMatchV1[],
  n: number,
  start: (q: number) => number,
  end: (q: number) => number,
): number[] {
  const lengths: number[] = [];
  let low = 0;
  for (const match of matches) {
    while (low < n && end(low) <= match.start) low++;
    let count = 0;
    for (let q = low; q < n && start(q) < match.end; q++) count++;
    if (count > 0) lengths.push(count);
  }
  return lengths;
}

/**
 * Span lengths summing to `target`: the SG matches' lengths, each once in random order, then
 * (if they fall short) more drawn uniformly from them; the span that reaches the target is
 * trimmed to it and the rest are dropped. Returned in random order, so a trimmed span is
 * anywhere. Without any length (no SG match overlaps a markable token) spans are one token.
 */
function drawSpanLengths(lengths: number[], target: number, generator: SeededGenerator): number[] {
  const pool = lengths.length > 0 ? lengths : [1];
  const out: number[] = [];
  let total = 0;
  for (const length of generator.shuffle([...pool])) {
    if (total >= target) break;
    const take = Math.min(length, target - total);
    out.push(take);
    total += take;
  }
  while (total < target) {
    const take = Math.min(pool[generator.nextInt(pool.length)]!, target - total);
    out.push(take);
    total += take;
  }
  return generator.shuffle(out);
}

/**
 * Start positions (in markable-token coordinates, increasing) of non-overlapping spans of the
 * given lengths, in that order, uniform over all such placements in `n` tokens: the spans and
 * the `n - sum` free tokens are arranged by choosing which of `free + m` slots hold the spans
 * (Floyd's sampling). Always fits, since the lengths sum to at most `n`.
 */
function placeSpans(lengths: readonly number[], n: number, generator: SeededGenerator): number[] {
  const m = lengths.length;
  let sum = 0;
  for (const length of lengths) sum += length;
  const slots = n - sum + m;
  const chosen = new Uint8Array(slots);
  for (let k = slots - m; k < slots; k++) {
    const t = generator.nextInt(k + 1);
    chosen[chosen[t] === 1 ? k : t] = 1;
  }
  const starts: number[] = [];
  let covered = 0;
  for (let slot = 0; slot < slots; slot++) {
    if (chosen[slot] === 0) continue;
    const index = starts.length;
    starts.push(slot - index + covered);
    covered += lengths[index]!;
  }
  return starts;
}

/** The default placebo: seed 0, token counts and span lengths from the paper lexicon. */
export const placeboNgrams: PlaceboNgramsClassifier = createPlaceboNgramsClassifier();

/** The registration of `placebo-ngrams`. */
export const placeboNgramsRegistration = definePlugin({
  kind: 'classifier',
  name: 'placebo-ngrams',
  description:
    "random spans covering as many tokens per response as strategic-grams, with its matches' lengths",
  settings: placeboNgramsSettings,
  create: (settings) => createPlaceboNgramsClassifier(settings),
});
