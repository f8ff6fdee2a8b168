import {
  describeValue,
  InvalidArgumentError,
  InvalidValueError,
  MissingInputError,
  type PlanningMatchV1,
  ShapeError,
  TRAIN_METRIC_KEYS,
} from '@hicra/spec';
import { checkCount, checkList, SOURCE } from './check.js';
import { type GramClassMap, toClassMap } from './class-map.js';
import { ContinuationTable } from './continuation-table.js';
import { CountMap } from './count-map.js';
import { CountLogCountSum, type EntropyOptions, logBaseDivisor } from './entropy-from-counts.js';

/** Default n of the conditional procedural entropy: execution words taken after each phrase. */
export const DEFAULT_CONTINUATION_LENGTH = 3;

/**
 * Validates a batch and returns the function that counts it (for StepMetricsAccumulator, which
 * checks every input before adding any; not exported from the package).
 */
export let prepareStrategy: (acc: StrategyAccumulator, input: StrategyInput) => () => void;

const noCommit = (): void => {};

/** gramIds up to this are remembered as a shortcut to their slot (lexicons are far smaller). */
const SLOT_BY_ID_LIMIT = 1 << 20;

/**
 * Per-slot occurrence counts of the batch being prepared: scratch reused across calls (calls
 * are synchronous), so that a batch allocates nothing per match. Entries below `slotCountsUsed`
 * may hold an earlier batch's counts (also one abandoned by an error) and are zeroed on reuse.
 */
let slotCounts = new Float64Array(256);
let slotCountsUsed = 0;

/** The scratch counts, zeroed, for at least `slots` slots. */
function beginSlotCounts(slots: number): Float64Array {
  slotCounts.fill(0, 0, slotCountsUsed);
  slotCountsUsed = 0;
  return growSlotCounts(slots);
}

/** The scratch counts, for at least `slots` slots (the counts so far kept). */
function growSlotCounts(slots: number): Float64Array {
  if (slotCounts.length < slots) {
    const grown = new Float64Array(Math.max(slots, 2 * slotCounts.length));
    grown.set(slotCounts);
    slotCounts = grown;
  }
  if (slots > slotCountsUsed) slotCountsUsed = slots;
  return slotCounts;
}

export interface StrategySettings {
  /**
   * `gram -> classId` for the clustered strategy entropy (the miner's lexicon provides it).
   * When given, every matched gram must be in it, and it wins over a match's own `classId`.
   * Without it, each match's `classId` is used.
   */
  readonly classOf?: GramClassMap;
  /**
   * n of the conditional procedural entropy: how many execution words after each phrase
   * form its continuation (default 3). See docs/decisions/0032.
   */
  readonly continuationLength?: number;
}

/** One batch (or micro-batch) of classifier output. */
export interface StrategyInput {
  /** `[B]`: per response, its planning-phrase matches sorted by `start` (`PlanningResultV1.matches`). */
  readonly planningMatches: readonly (readonly PlanningMatchV1[])[];
  /**
   * `[B]`: the response texts the matches point into. Needed for the conditional procedural
   * entropy only; without them that metric is left out.
   */
  readonly responseTexts?: readonly string[];
}

/** Conditional procedural entropy of one phrase. */
export interface GramProceduralEntropy {
  /** Occurrences of the phrase followed by at least one execution word. */
  readonly occurrences: number;
  /** Entropy of the continuations that followed it. */
  readonly entropy: number;
}

/** Serialised {@link StrategyAccumulator} (`toJSON`), for merging across workers. */
export interface StrategyAccumulatorJson {
  readonly version: 1;
  readonly continuationLength: number;
  readonly responses: number;
  readonly responsesWithTexts: number;
  readonly matches: number;
  readonly classifiedMatches: number;
  readonly grams: [string, number][];
  readonly classes: [number, number][];
  /** Per phrase, its continuations and their counts. */
  readonly continuations: [string, [string, number][]][];
}

/**
 * Mergeable counts behind the strategy-diversity metrics: matched phrases, their classes, and
 * for each phrase the execution words that follow it. `add` a batch, `merge` micro-batches or
 * workers in any order or grouping: every metric equals the one-shot value over all the data,
 * bit for bit (the counts are integers and entropies depend only on their multisets).
 *
 * Not to be confused with answer-level semantic entropy (`answerSemanticEntropy`): this one
 * measures the diversity of planning phrases, the paper's "semantic entropy" of strategies.
 */
export class StrategyAccumulator {
  readonly continuationLength: number;
  #classOf: ReadonlyMap<string, number> | undefined;
  #responses = 0;
  #responsesWithTexts = 0;
  #matches = 0;
  #classifiedMatches = 0;
  readonly #grams = new CountMap<string>();
  readonly #classes = new CountMap<number>();
  /** Phrase -> slot, and back: the continuation table and per-batch counts use slots. */
  readonly #slots = new Map<string, number>();
  readonly #slotGrams: string[] = [];
  /** Per slot, whether its phrase passed the once-per-phrase checks of `add` (classOf). */
  readonly #slotChecked: boolean[] = [];
  /** gramId -> slot + 1 (0: not known), a shortcut that is checked against the gram before use. */
  #slotById = new Int32Array(0);
  /** Per slot, the continuations that followed the phrase. */
  readonly #continuations = new ContinuationTable();

  constructor(settings: StrategySettings = {}) {
    const where = 'StrategyAccumulator';
    if (typeof settings !== 'object' || settings === null) {
      throw new InvalidArgumentError(
        `${where}: settings must be an object, got ${describeValue(settings)}`,
        { source: SOURCE, details: { where, argument: 'settings' } },
      );
    }
    this.continuationLength = checkContinuationLength(settings.continuationLength, where);
    this.#classOf =
      settings.classOf === undefined ? undefined : toClassMap(settings.classOf, where);
  }

  /** A copy of the occurrence counts by phrase. */
  get grams(): CountMap<string> {
    return this.#grams.clone();
  }

  /** A copy of the occurrence counts by class id. */
  get classes(): CountMap<number> {
    return this.#classes.clone();
  }

  /** Responses added. */
  get responses(): number {
    return this.#responses;
  }

  /** Responses added together with their texts. */
  get responsesWithTexts(): number {
    return this.#responsesWithTexts;
  }

  /** Phrase occurrences added. */
  get matches(): number {
    return this.#matches;
  }

  /** Occurrences whose class was known (from `classOf` or the match's `classId`). */
  get classifiedMatches(): number {
    return this.#classifiedMatches;
  }

  /** Counts one batch. Throws on malformed input before changing any count. */
  add(input: StrategyInput): this {
    this.#prepare(input, true)();
    return this;
  }

  /** Checks one batch as {@link StrategyAccumulator.add} would, without counting it. */
  validate(input: StrategyInput): void {
    this.#prepare(input, false);
  }

  static {
    prepareStrategy = (acc, input) => acc.#prepare(input, true);
  }

  /** The slot of `gram`, made when new. */
  #slotOf(gram: string): number {
    let slot = this.#slots.get(gram);
    if (slot === undefined) {
      slot = this.#slotGrams.length;
      this.#slots.set(gram, slot);
      this.#slotGrams.push(gram);
      this.#slotChecked.push(false);
    }
    return slot;
  }

  /**
   * Validates a batch and, when `count` is set, gathers its counts in scratch space, in one
   * pass over the matches; returns the function that adds them. Nothing changes before that
   * function runs (new phrases get a slot, which is not a count), so a bad batch, whose error
   * is thrown here, changes nothing.
   */
  #prepare(input: StrategyInput, count: boolean): () => void {
    const where = 'StrategyAccumulator.add';
    if (typeof input !== 'object' || input === null) {
      throw new InvalidArgumentError(
        `${where}: input must be an object, got ${describeValue(input)}`,
        {
          source: SOURCE,
          details: { where, argument: 'input' },
        },
      );
    }
    const { planningMatches, responseTexts } = input;
    if (!Array.isArray(planningMatches)) {
      throw new InvalidArgumentError(
        `${where}: planningMatches must be an array (one list per response), got ${describeValue(planningMatches)}`,
        { source: SOURCE, details: { where, argument: 'planningMatches' } },
      );
    }
    const batchSize = planningMatches.length;
    if (responseTexts !== undefined) {
      checkList(where, 'responseTexts', responseTexts, batchSize);
      for (let i = 0; i < batchSize; i++) {
        if (typeof responseTexts[i] !== 'string') {
          throw new InvalidArgumentError(
            `${where}: responseTexts[${i}] must be a string, got ${describeValue(responseTexts[i])}`,
            { source: SOURCE, details: { where, argument: 'responseTexts', index: i } },
          );
        }
      }
    }
    const classOf = this.#classOf;
    const n = this.continuationLength;
    const table = this.#continuations;
    const stage = count && responseTexts !== undefined;
    if (stage) {
      let expected = 0;
      for (let i = 0; i < batchSize; i++) {
        const list = planningMatches[i];
        if (Array.isArray(list)) expected += list.length;
      }
      table.beginBatch(expected);
    }
    // Occurrences per slot in this batch (scratch), and per classId when the matches carry them.
    let perSlot = beginSlotCounts(this.#slotGrams.length);
    const perClass = classOf === undefined ? new CountMap<number>() : undefined;
    let matches = 0;
    for (let i = 0; i < batchSize; i++) {
      const list = planningMatches[i];
      if (!Array.isArray(list)) {
        throw new InvalidArgumentError(
          `${where}: planningMatches[${i}] must be an array of matches, got ${describeValue(list)}`,
          { source: SOURCE, details: { where, argument: 'planningMatches', index: i } },
        );
      }
      const text = responseTexts === undefined ? undefined : responseTexts[i]!;
      const textLength = text === undefined ? -1 : text.length;
      let previousStart = 0;
      // A match's continuation ends where the next match starts: it is staged once the next
      // match has been checked (or the list has ended).
      let pendingSlot = -1;
      let pendingEnd = 0;
      for (let j = 0; j < list.length; j++) {
        const match = list[j] as PlanningMatchV1;
        if (typeof match !== 'object' || match === null) {
          throw new InvalidArgumentError(
            `${where}: planningMatches[${i}][${j}] must be a match object, got ${describeValue(match)}`,
            {
              source: SOURCE,
              details: { where, argument: 'planningMatches', response: i, match: j },
            },
          );
        }
        const { start, end, gram } = match;
        if (
          !Number.isSafeInteger(start) ||
          !Number.isSafeInteger(end) ||
          start < 0 ||
          end < start
        ) {
          throw new InvalidValueError(
            `${where}: planningMatches[${i}][${j}] has start ${String(start)} and end ${String(end)}; expected integers with 0 <= start <= end`,
            { source: SOURCE, details: { where, response: i, match: j, start, end } },
          );
        }
        if (textLength >= 0 && end > textLength) {
          throw new ShapeError(
            `${where}: planningMatches[${i}][${j}] ends at ${end}, past the end of responseTexts[${i}] (length ${textLength})`,
            {
              source: SOURCE,
              details: { where, response: i, match: j, expected: textLength, actual: end },
            },
          );
        }
        if (start < previousStart) {
          throw new InvalidValueError(
            `${where}: planningMatches[${i}] is not sorted by start (match ${j} starts at ${start}, before ${previousStart})`,
            { source: SOURCE, details: { where, response: i, match: j } },
          );
        }
        previousStart = start;
        // The slot: through gramId, a hint checked against the gram itself (the same string
        // object, as a rule, so one comparison), else the map.
        const id = match.gramId;
        const known = (id | 0) === id && id >= 0 && id < this.#slotById.length;
        let slot = known ? this.#slotById[id]! - 1 : -1;
        if (slot < 0 || this.#slotGrams[slot] !== gram) {
          slot = this.#checkedSlot(gram, i, j, where);
          if ((id | 0) === id && id >= 0 && id < SLOT_BY_ID_LIMIT) this.#rememberSlot(id, slot);
          if (slot >= slotCountsUsed) perSlot = growSlotCounts(slot + 1);
        }
        if (classOf === undefined && match.classId !== undefined) {
          if (!Number.isSafeInteger(match.classId)) {
            throw new InvalidValueError(
              `${where}: planningMatches[${i}][${j}].classId must be an integer when present, got ${String(match.classId)}`,
              { source: SOURCE, details: { where, response: i, match: j } },
            );
          }
          perClass!.increment(match.classId);
        }
        perSlot[slot]! += 1;
        if (stage) {
          if (pendingSlot >= 0) table.stage(pendingSlot, text!, pendingEnd, start, n);
          pendingSlot = slot;
          pendingEnd = end;
        }
      }
      if (stage && pendingSlot >= 0) table.stage(pendingSlot, text!, pendingEnd, textLength, n);
      matches += list.length;
    }
    if (!count) return noCommit;
    const slots = this.#slotGrams.length;
    const counts = perSlot.slice(0, slots);
    return () => {
      if (stage) table.commitBatch();
      for (let slot = 0; slot < slots; slot++) {
        const c = counts[slot]!;
        if (c === 0) continue;
        const gram = this.#slotGrams[slot]!;
        this.#grams.increment(gram, c);
        if (classOf !== undefined) {
          this.#classes.increment(classOf.get(gram)!, c);
          this.#classifiedMatches += c;
        }
      }
      if (perClass !== undefined) {
        this.#classes.merge(perClass);
        this.#classifiedMatches += perClass.total;
      }
      this.#matches += matches;
      this.#responses += batchSize;
      if (responseTexts !== undefined) this.#responsesWithTexts += batchSize;
    };
  }

  #rememberSlot(id: number, slot: number): void {
    if (id >= this.#slotById.length) {
      const grown = new Int32Array(Math.min(SLOT_BY_ID_LIMIT, Math.max(64, 2 * id + 1)));
      grown.set(this.#slotById);
      this.#slotById = grown;
    }
    this.#slotById[id] = slot + 1;
  }

  /** The slot of a matched `gram`, after the checks a phrase needs once per accumulator. */
  #checkedSlot(gram: unknown, i: number, j: number, where: string): number {
    if (typeof gram !== 'string' || gram === '') {
      throw new InvalidValueError(
        `${where}: planningMatches[${i}][${j}].gram must be a non-empty string, got ${typeof gram === 'string' ? JSON.stringify(gram) : describeValue(gram)}`,
        { source: SOURCE, details: { where, response: i, match: j } },
      );
    }
    const slot = this.#slotOf(gram);
    if (!this.#slotChecked[slot]) {
      const classOf = this.#classOf;
      if (classOf !== undefined && !classOf.has(gram)) {
        throw new MissingInputError(
          `${where}: planningMatches[${i}][${j}].gram ${JSON.stringify(gram)} has no class in classOf (${classOf.size} grams)`,
          { source: SOURCE, details: { where, response: i, match: j, gram } },
        );
      }
      this.#slotChecked[slot] = true;
    }
    return slot;
  }

  /** Adds the counts of `other` (same `continuationLength`); returns this. */
  merge(other: StrategyAccumulator): this {
    if (!(other instanceof StrategyAccumulator)) {
      throw new InvalidArgumentError(
        `StrategyAccumulator.merge: other must be a StrategyAccumulator, got ${describeValue(other)}`,
        { source: SOURCE, details: { argument: 'other' } },
      );
    }
    if (other.continuationLength !== this.continuationLength) {
      throw new InvalidArgumentError(
        `StrategyAccumulator.merge: continuationLength differs (${this.continuationLength} vs ${other.continuationLength}); only counts gathered with the same settings merge`,
        {
          source: SOURCE,
          details: { expected: this.continuationLength, actual: other.continuationLength },
        },
      );
    }
    this.#responses += other.#responses;
    this.#responsesWithTexts += other.#responsesWithTexts;
    this.#matches += other.#matches;
    this.#classifiedMatches += other.#classifiedMatches;
    this.#grams.merge(other.#grams);
    this.#classes.merge(other.#classes);
    other.#continuations.forEach((slot, key, count) => {
      this.#continuations.add(this.#slotOf(other.#slotGrams[slot]!), key, count);
    });
    return this;
  }

  /** An independent copy with the same settings and counts. */
  clone(): StrategyAccumulator {
    return this.cloneEmpty().merge(this);
  }

  /** A new accumulator with the same settings and no counts. */
  cloneEmpty(): StrategyAccumulator {
    const copy = new StrategyAccumulator({ continuationLength: this.continuationLength });
    copy.#classOf = this.#classOf;
    return copy;
  }

  /** Strategy semantic entropy: entropy of the phrase counts. 0 when nothing matched. */
  semanticEntropy(options: EntropyOptions = {}): number {
    return this.#grams.entropy(options);
  }

  /**
   * Clustered strategy semantic entropy: entropy of the class counts. 0 when nothing matched.
   * Throws `MissingInputError` when some occurrence had no class (no `classOf` entry and no
   * `classId` on the match).
   */
  clusteredSemanticEntropy(options: EntropyOptions = {}): number {
    this.#requireClasses('clusteredSemanticEntropy');
    return this.#classes.entropy(options);
  }

  /**
   * Conditional procedural entropy H(continuation | phrase) = Σ_g w_g·H_g, where H_g is the
   * entropy of the continuations that followed phrase g and w_g its share of the occurrences
   * that had a continuation (docs/decisions/0032). 0 when no occurrence had one. Throws
   * `MissingInputError` when responses were added without their texts.
   */
  conditionalProceduralEntropy(options: EntropyOptions = {}): number {
    const divisor = logBaseDivisor(options.base, 'conditionalProceduralEntropy');
    this.#requireTexts('conditionalProceduralEntropy');
    // H(X|G) = (Σ_g N_g ln N_g - Σ_{g,x} c_gx ln c_gx) / N, each sum in multiset order.
    const total = this.#continuations.total;
    if (total === 0) return 0;
    const joint = new CountLogCountSum();
    const perSlot = new Float64Array(this.#slotGrams.length);
    this.#continuations.sumCounts(joint, perSlot);
    // Slots without a continuation add 0, as they contribute 0 (and 1s too).
    const perGram = new CountLogCountSum();
    for (const count of perSlot) perGram.add(count);
    const h = (perGram.value - joint.value) / total;
    return h > 0 ? h / divisor : 0;
  }

  /** Occurrences followed by at least one execution word (the weights' denominator). */
  get continuedMatches(): number {
    return this.#continuations.total;
  }

  /** The continuation counts of `gram` (empty when it never had one). */
  continuationsOf(gram: string): Map<string, number> {
    const out = new Map<string, number>();
    const slot = this.#slots.get(gram);
    this.#continuations.forEach((s, key, count) => {
      if (s === slot) out.set(key, count);
    });
    return out;
  }

  #continuationsBySlot(): Map<number, CountMap<string>> {
    const bySlot = new Map<number, CountMap<string>>();
    this.#continuations.forEach((slot, key, count) => {
      let counts = bySlot.get(slot);
      if (counts === undefined) {
        counts = new CountMap<string>();
        bySlot.set(slot, counts);
      }
      counts.increment(key, count);
    });
    return bySlot;
  }

  /** Per phrase: occurrences with a continuation and the entropy of those continuations. */
  proceduralEntropyByGram(options: EntropyOptions = {}): Map<string, GramProceduralEntropy> {
    logBaseDivisor(options.base, 'proceduralEntropyByGram');
    this.#requireTexts('proceduralEntropyByGram');
    const out = new Map<string, GramProceduralEntropy>();
    for (const [slot, counts] of this.#continuationsBySlot()) {
      out.set(this.#slotGrams[slot]!, {
        occurrences: counts.total,
        entropy: counts.entropy(options),
      });
    }
    return out;
  }

  /** Mean number of phrase occurrences per response; undefined before any response. */
  matchesPerResponse(): number | undefined {
    return this.responses === 0 ? undefined : this.matches / this.responses;
  }

  /**
   * The strategy metrics under their `TRAIN_METRIC_KEYS`, each omitted when undefined
   * (docs/decisions/0031): no response, no match, no class information, no texts, or no
   * occurrence followed by an execution word.
   */
  metrics(options: EntropyOptions = {}): Record<string, number> {
    logBaseDivisor(options.base, 'StrategyAccumulator.metrics');
    const out: Record<string, number> = {};
    const perResponse = this.matchesPerResponse();
    if (perResponse !== undefined) out[TRAIN_METRIC_KEYS.planningMatchesPerResponse] = perResponse;
    if (this.matches === 0) return out;
    out[TRAIN_METRIC_KEYS.strategySemanticEntropy] = this.semanticEntropy(options);
    if (this.classifiedMatches > 0)
      out[TRAIN_METRIC_KEYS.strategySemanticEntropyClustered] =
        this.clusteredSemanticEntropy(options);
    if (this.responsesWithTexts > 0 && this.continuedMatches > 0)
      out[TRAIN_METRIC_KEYS.conditionalProceduralEntropy] =
        this.conditionalProceduralEntropy(options);
    return out;
  }

  /** The counts as plain JSON, for another worker's {@link StrategyAccumulator.fromJSON}. */
  toJSON(): StrategyAccumulatorJson {
    return {
      version: 1,
      continuationLength: this.continuationLength,
      responses: this.responses,
      responsesWithTexts: this.responsesWithTexts,
      matches: this.matches,
      classifiedMatches: this.classifiedMatches,
      grams: this.#grams.toJSON(),
      classes: this.#classes.toJSON(),
      continuations: Array.from(this.#continuationsBySlot(), ([slot, counts]) => [
        this.#slotGrams[slot]!,
        counts.toJSON(),
      ]),
    };
  }

  /**
   * Reads counts written by `toJSON`, validated: counts must be non-negative integers and
   * consistent with each other. `settings.classOf` is used by later `add` calls only.
   */
  static fromJSON(
    json: StrategyAccumulatorJson,
    settings: Pick<StrategySettings, 'classOf'> = {},
  ): StrategyAccumulator {
    const where = 'StrategyAccumulator.fromJSON';
    if (typeof json !== 'object' || json === null || json.version !== 1) {
      throw new InvalidArgumentError(
        `${where}: expected an object with version 1 (from toJSON), got ${describeValue(json)}`,
        { source: SOURCE, details: { where } },
      );
    }
    const acc = new StrategyAccumulator({
      continuationLength: json.continuationLength,
      ...(settings.classOf === undefined ? {} : { classOf: settings.classOf }),
    });
    for (const field of [
      'responses',
      'responsesWithTexts',
      'matches',
      'classifiedMatches',
    ] as const) {
      checkCount(where, field, json[field]);
    }
    acc.#responses = json.responses;
    acc.#responsesWithTexts = json.responsesWithTexts;
    acc.#matches = json.matches;
    acc.#classifiedMatches = json.classifiedMatches;
    acc.#grams.merge(CountMap.from(json.grams, 'grams'));
    acc.#classes.merge(CountMap.from<number>(json.classes, 'classes'));
    if (!Array.isArray(json.continuations)) {
      throw new InvalidArgumentError(
        `${where}: continuations must be [gram, [continuation, count][]] pairs, got ${describeValue(json.continuations)}`,
        { source: SOURCE, details: { where, argument: 'continuations' } },
      );
    }
    for (const entry of json.continuations) {
      if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string') {
        throw new InvalidArgumentError(
          `${where}: each continuations entry must be a [gram, [continuation, count][]] pair, got ${describeValue(entry)}`,
          { source: SOURCE, details: { where, argument: 'continuations' } },
        );
      }
      const counts = CountMap.from(entry[1], `continuations[${JSON.stringify(entry[0])}]`);
      if (counts.size === 0) continue;
      const slot = acc.#slotOf(entry[0]);
      for (const [key, count] of counts.entries()) acc.#continuations.add(slot, key, count);
    }
    const continued = acc.continuedMatches;
    const inconsistent =
      acc.#grams.total !== acc.matches ||
      acc.#classes.total !== acc.classifiedMatches ||
      acc.classifiedMatches > acc.matches ||
      acc.responsesWithTexts > acc.responses ||
      continued > acc.matches;
    if (inconsistent) {
      throw new InvalidValueError(
        `${where}: the counts are inconsistent (grams total ${acc.#grams.total} vs matches ${acc.matches}, classes total ${acc.#classes.total} vs classifiedMatches ${acc.classifiedMatches}, continuations total ${continued} vs matches ${acc.matches})`,
        { source: SOURCE, details: { where } },
      );
    }
    return acc;
  }

  #requireClasses(what: string): void {
    if (this.classifiedMatches < this.matches) {
      throw new MissingInputError(
        `${what}: ${this.matches - this.classifiedMatches} of ${this.matches} phrase occurrences have no class; pass classOf (gram -> classId) or matches with classId`,
        {
          source: SOURCE,
          details: { what, matches: this.matches, classifiedMatches: this.classifiedMatches },
        },
      );
    }
  }

  #requireTexts(what: string): void {
    if (this.responsesWithTexts < this.responses) {
      throw new MissingInputError(
        `${what}: responseTexts were given for ${this.responsesWithTexts} of ${this.responses} responses; the continuations after each phrase need every response's text`,
        {
          source: SOURCE,
          details: { what, responses: this.responses, responsesWithTexts: this.responsesWithTexts },
        },
      );
    }
  }
}

/** Throws unless n is a positive integer; returns the default 3 for undefined. */
export function checkContinuationLength(value: unknown, where: string): number {
  if (value === undefined) return DEFAULT_CONTINUATION_LENGTH;
  if (!Number.isSafeInteger(value) || (value as number) < 1) {
    throw new InvalidValueError(
      `${where}: continuationLength must be a positive integer, got ${String(value)}`,
      { source: SOURCE, details: { where, argument: 'continuationLength' } },
    );
  }
  return value as number;
}
