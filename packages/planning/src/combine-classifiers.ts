import {
  describeValue,
  InvalidArgumentError,
  type PlanningClassifierV1,
  type PlanningInputV1,
  type PlanningMatchV1,
  type PlanningResultV1,
  ShapeError,
} from '@hicra/spec';
import { type CheckedPlanningInput, checkPlanningInput } from './check-planning-input.js';
import { SOURCE } from './source.js';

/** A classifier built from others; `classifiers` are the parts, in order. */
export interface CombinedClassifier extends PlanningClassifierV1 {
  readonly name: 'union' | 'intersection';
  readonly classifiers: readonly PlanningClassifierV1[];
}

/**
 * Union: a token is planning if any part marks it. Matches: every part's matches, sorted by
 * start then end (then part order), with exact repeats (same start, end, gram and gramId)
 * kept once (decision 0015).
 */
export function unionClassifiers(classifiers: readonly PlanningClassifierV1[]): CombinedClassifier {
  const parts = checkParts('unionClassifiers', classifiers);
  return {
    name: 'union',
    classifiers: parts,
    ...partsRequire(parts),
    classify(input: PlanningInputV1): PlanningResultV1 {
      const checked = checkPlanningInput(input, 'union');
      const results = runParts(parts, input, checked);
      const mask = new Uint8Array(checked.batchSize * checked.seqLen);
      for (const r of results)
        for (let k = 0; k < mask.length; k++) mask[k] = mask[k]! | r.mask[k]!;
      return { mask, matches: mergeMatches(results, checked.batchSize) };
    },
  };
}

/**
 * Intersection: a token is planning if every part marks it. Matches: the merged matches of
 * the parts (as in the union) that overlap at least one planning token of the intersection
 * (decision 0015).
 */
export function intersectClassifiers(
  classifiers: readonly PlanningClassifierV1[],
): CombinedClassifier {
  const parts = checkParts('intersectClassifiers', classifiers);
  return {
    name: 'intersection',
    classifiers: parts,
    ...partsRequire(parts),
    classify(input: PlanningInputV1): PlanningResultV1 {
      const checked = checkPlanningInput(input, 'intersection');
      const results = runParts(parts, input, checked);
      const mask = Uint8Array.from(checked.valid);
      for (const r of results)
        for (let k = 0; k < mask.length; k++) mask[k] = mask[k]! & r.mask[k]!;
      const merged = mergeMatches(results, checked.batchSize);
      const matches = merged.map((row, i) => keepOverlapping(row, i, checked, mask));
      return { mask, matches };
    },
  };
}

/** What the parts require, as the combination's own `requires`. */
function partsRequire(parts: readonly PlanningClassifierV1[]): { requires?: 'entropies'[] } {
  return parts.some((part) => part.requires?.includes('entropies'))
    ? { requires: ['entropies'] }
    : {};
}

function checkParts(
  where: string,
  classifiers: readonly PlanningClassifierV1[],
): readonly PlanningClassifierV1[] {
  if (!Array.isArray(classifiers) || classifiers.length === 0) {
    throw new InvalidArgumentError(
      `${where}: expected a non-empty array of planning classifiers, got ${describeValue(classifiers)}`,
      { source: SOURCE, details: { argument: 'classifiers' } },
    );
  }
  classifiers.forEach((c, i) => {
    if (typeof c !== 'object' || c === null || typeof c.classify !== 'function') {
      throw new InvalidArgumentError(
        `${where}: classifiers[${i}] is not a planning classifier (an object with classify()), got ${describeValue(c)}`,
        { source: SOURCE, details: { argument: 'classifiers', index: i } },
      );
    }
  });
  return Object.freeze([...classifiers]);
}

function runParts(
  parts: readonly PlanningClassifierV1[],
  input: PlanningInputV1,
  checked: CheckedPlanningInput,
): PlanningResultV1[] {
  const tokens = checked.batchSize * checked.seqLen;
  return parts.map((part, p) => {
    const result = part.classify(input);
    const label = `classifiers[${p}] (${String(part.name)})`;
    if (!(result?.mask instanceof Uint8Array) || result.mask.length !== tokens) {
      throw new ShapeError(
        `${label} returned a mask of ${describeValue(result?.mask)}; expected a Uint8Array of ${tokens} (batchSize·seqLen)`,
        { source: SOURCE, details: { index: p, field: 'mask', expected: tokens } },
      );
    }
    if (!Array.isArray(result.matches) || result.matches.length !== checked.batchSize) {
      throw new ShapeError(
        `${label} returned matches of ${describeValue(result.matches)}; expected one list per response (${checked.batchSize})`,
        { source: SOURCE, details: { index: p, field: 'matches', expected: checked.batchSize } },
      );
    }
    return result;
  });
}

function mergeMatches(
  results: readonly PlanningResultV1[],
  batchSize: number,
): PlanningMatchV1[][] {
  const out: PlanningMatchV1[][] = [];
  for (let i = 0; i < batchSize; i++) {
    const all = results.flatMap((r) => r.matches[i] ?? []);
    // Stable sort keeps part order among equal (start, end).
    all.sort((a, b) => a.start - b.start || a.end - b.end);
    const row: PlanningMatchV1[] = [];
    for (const m of all) {
      const duplicate = row.some(
        (x) => x.start === m.start && x.end === m.end && x.gram === m.gram && x.gramId === m.gramId,
      );
      if (!duplicate) row.push(m);
    }
    out.push(row);
  }
  return out;
}

function keepOverlapping(
  row: readonly PlanningMatchV1[],
  i: number,
  checked: CheckedPlanningInput,
  mask: Uint8Array,
): PlanningMatchV1[] {
  if (row.length === 0) return [];
  // prefix[c] = planning characters before c (characters covered by a planning token's span).
  const length = checked.texts[i]!.length;
  const covered = new Int32Array(length + 1);
  const { seqLen, tokenSpans } = checked;
  for (let t = 0; t < seqLen; t++) {
    const k = i * seqLen + t;
    if (mask[k] !== 1) continue;
    const s = tokenSpans[2 * k]!;
    const e = tokenSpans[2 * k + 1]!;
    covered[s] = covered[s]! + 1;
    covered[e] = covered[e]! - 1;
  }
  const prefix = new Int32Array(length + 1);
  let depth = 0;
  for (let c = 0; c < length; c++) {
    depth += covered[c]!;
    prefix[c + 1] = prefix[c]! + (depth > 0 ? 1 : 0);
  }
  return row.filter((m) => prefix[Math.min(m.end, length)]! - prefix[Math.max(0, m.start)]! > 0);
}
