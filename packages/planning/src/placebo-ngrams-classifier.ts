import type {
  PlanningClassifierV1,
  PlanningInputV1,
  PlanningMatchV1,
  PlanningResultV1,
} from '@hicra/spec';
import { ConfigError } from '@hicra/spec';
import { SeededGenerator } from '@hicra/tensor/kernels';
import { checkPlanningInput, markOverlappingTokens } from './check-planning-input.js';
import { type LexiconInput, normalizePhrase } from './lexicon.js';
import { checkSettings, numberSetting } from './settings.js';
import { SOURCE } from './source.js';
import { createStrategicGramsClassifier } from './strategic-grams-classifier.js';

/** Settings of {@link createPlaceboNgramsClassifier}. */
export interface PlaceboNgramsSettings {
  /** Seed of the placement; the same seed and input give the same result. Default 0. */
  readonly seed?: number;
  /** Shortest n-gram, in words. Default 3. */
  readonly minN?: number;
  /** Longest n-gram, in words. Default 5. */
  readonly maxN?: number;
  /** Lexicon of the Strategic-Gram classifier whose match counts the placebo copies. Default: the paper's. */
  readonly lexicon?: LexiconInput;
}

export interface PlaceboNgramsClassifier extends PlanningClassifierV1 {
  readonly name: 'placebo-ngrams';
  readonly seed: number;
  readonly minN: number;
  readonly maxN: number;
}

/** Words: runs of letters, numbers and marks, with inner apostrophes or hyphens (`let's`, `re-check`). */
const WORD = /[\p{L}\p{N}\p{M}]+(?:['\u2019-][\p{L}\p{N}\p{M}]+)*/gu;

/** Character spans `[start, end)` of the words of `text`, flat. */
export function wordSpans(text: string): Int32Array {
  const spans: number[] = [];
  for (const m of text.matchAll(WORD)) spans.push(m.index, m.index + m[0].length);
  return Int32Array.from(spans);
}

/**
 * The placebo of the paper (`placebo-ngrams`): in each response, as many random word n-grams
 * (n uniform in [minN, maxN], default [3, 5]) as the Strategic-Gram classifier found matches
 * there, placed uniformly at random among the response's own words, without regard to where
 * the Strategic Grams are (decision 0012). Placements avoid each other when they can (up to 32
 * draws per n-gram), then may overlap, so the count always equals the SG count when the
 * response has a word. Seeded: a fresh `SeededGenerator(seed)` per call, one split per
 * response, so the result depends only on the seed and the input.
 *
 * Matches carry `gramId = -1` (they are not lexicon phrases) and `gram` = the n-gram's
 * normalised text.
 */
export function createPlaceboNgramsClassifier(
  settings: PlaceboNgramsSettings = {},
): PlaceboNgramsClassifier {
  const s = checkSettings('placebo-ngrams', settings, {
    seed: 'non-negative integer, default 0',
    minN: 'integer >= 1, default 3',
    maxN: 'integer >= minN, default 5',
    lexicon: 'lexicon object, phrase list or file path; default the paper lexicon',
  });
  const seed = numberSetting('placebo-ngrams', 'seed', s.seed, 0, { integer: true, min: 0 });
  const minN = numberSetting('placebo-ngrams', 'minN', s.minN, 3, { integer: true, min: 1 });
  const maxN = numberSetting('placebo-ngrams', 'maxN', s.maxN, 5, { integer: true, min: 1 });
  if (maxN < minN) {
    throw new ConfigError('maxN', `placebo-ngrams: maxN (${maxN}) must be >= minN (${minN})`, {
      source: SOURCE,
      details: { plugin: 'placebo-ngrams', setting: 'maxN' },
    });
  }
  const strategicGrams = createStrategicGramsClassifier(
    s.lexicon === undefined ? {} : { lexicon: s.lexicon as LexiconInput },
  );
  return {
    name: 'placebo-ngrams',
    seed,
    minN,
    maxN,
    classify(input: PlanningInputV1): PlanningResultV1 {
      const checked = checkPlanningInput(input, 'placebo-ngrams');
      const reference = strategicGrams.classify(input);
      const { batchSize, seqLen } = checked;
      const mask = new Uint8Array(batchSize * seqLen);
      const root = new SeededGenerator(seed);
      const matches: PlanningMatchV1[][] = [];
      for (let i = 0; i < batchSize; i++) {
        const generator = root.split();
        const count = reference.matches[i]!.length;
        const text = checked.texts[i]!;
        const words = count === 0 ? new Int32Array(0) : wordSpans(text);
        const wordCount = words.length / 2;
        if (count === 0 || wordCount === 0) {
          matches.push([]);
          continue;
        }
        const taken = new Uint8Array(wordCount);
        const chosen: [number, number][] = [];
        for (let j = 0; j < count; j++) {
          const n = Math.min(minN + generator.nextInt(maxN - minN + 1), wordCount);
          let first = 0;
          for (let attempt = 0; attempt < 32; attempt++) {
            first = generator.nextInt(wordCount - n + 1);
            let free = true;
            for (let w = first; w < first + n; w++) {
              if (taken[w] === 1) {
                free = false;
                break;
              }
            }
            if (free) break;
          }
          for (let w = first; w < first + n; w++) taken[w] = 1;
          chosen.push([first, n]);
        }
        chosen.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        const rowMatches: PlanningMatchV1[] = chosen.map(([first, n]) => {
          const start = words[2 * first]!;
          const end = words[2 * (first + n - 1) + 1]!;
          return { start, end, gram: normalizePhrase(text.slice(start, end)), gramId: -1 };
        });
        matches.push(rowMatches);
        const ivStarts = new Int32Array(rowMatches.length);
        const ivEnds = new Int32Array(rowMatches.length);
        let intervals = 0;
        for (const m of rowMatches) {
          if (intervals > 0 && m.start <= ivEnds[intervals - 1]!) {
            if (m.end > ivEnds[intervals - 1]!) ivEnds[intervals - 1] = m.end;
          } else {
            ivStarts[intervals] = m.start;
            ivEnds[intervals++] = m.end;
          }
        }
        markOverlappingTokens(checked, i, ivStarts, ivEnds, intervals, mask);
      }
      return { mask, matches };
    },
  };
}

/** The default placebo: seed 0, n in [3, 5], counts from the paper lexicon. */
export const placeboNgrams: PlaceboNgramsClassifier = createPlaceboNgramsClassifier();
