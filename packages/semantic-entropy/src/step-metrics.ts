import {
  describeValue,
  InvalidArgumentError,
  InvalidValueError,
  MissingInputError,
  type PlanningMatchV1,
} from '@hicra/spec';
import { checkCount, checkLayout, checkList, SOURCE } from './check.js';
import { type LogBase, logBaseDivisor } from './entropy-from-counts.js';
import {
  prepareStrategy,
  StrategyAccumulator,
  type StrategyAccumulatorJson,
  type StrategyInput,
  type StrategySettings,
} from './strategy-accumulator.js';
import {
  prepareTokens,
  TokenClassAccumulator,
  type TokenClassAccumulatorJson,
  type TokenClassInput,
  type TokenClassSettings,
} from './token-class-accumulator.js';

/** Settings of {@link stepMetrics} and {@link StepMetricsAccumulator}; every field optional. */
export interface StepMetricsSettings extends StrategySettings, TokenClassSettings {
  /**
   * Log base of the strategy entropies: `'e'` (nats, default; what docs/formats.md documents
   * for the metric keys) or `2` (bits). Token entropies are the inputs' nats either way, and
   * perplexity does not depend on the base.
   */
  readonly base?: LogBase;
}

/**
 * One training step's batch: the per-token arrays of `RolloutBatchV1` (same names, so a batch
 * spreads into it) plus the planning classifier's matches. Every optional input enables the
 * metrics that need it and nothing else.
 *
 * ```ts
 * stepMetrics({ ...batch, logProbs: batch.oldLogProbs, planningMask: planning.mask, planningMatches: planning.matches });
 * ```
 */
export interface StepMetricsInput extends TokenClassInput {
  /** `[B]`: per response, its planning-phrase matches sorted by `start` (`PlanningResultV1.matches`). */
  readonly planningMatches?: readonly (readonly PlanningMatchV1[])[];
  /** `[B]`: decoded responses, for the conditional procedural entropy. */
  readonly responseTexts?: readonly string[];
}

/** Serialised {@link StepMetricsAccumulator}. */
export interface StepMetricsAccumulatorJson {
  readonly version: 1;
  readonly base: LogBase;
  /** Responses added (with or without matches). */
  readonly responses: number;
  readonly strategy: StrategyAccumulatorJson;
  readonly tokens: TokenClassAccumulatorJson;
}

/**
 * Everything the trainer logs per step from this package, accumulated over micro-batches or
 * workers: strategy diversity ({@link StrategyAccumulator}) and token-class statistics with the
 * fork-token overlap ({@link TokenClassAccumulator}). `metrics()` returns the record under the
 * keys of `TRAIN_METRIC_KEYS`, undefined metrics omitted (never NaN).
 */
export class StepMetricsAccumulator {
  readonly base: LogBase;
  #strategy: StrategyAccumulator;
  #tokens: TokenClassAccumulator;
  #responses = 0;

  constructor(settings: StepMetricsSettings = {}) {
    const where = 'StepMetricsAccumulator';
    if (typeof settings !== 'object' || settings === null) {
      throw new InvalidArgumentError(
        `${where}: settings must be an object, got ${describeValue(settings)}`,
        {
          source: SOURCE,
          details: { where, argument: 'settings' },
        },
      );
    }
    logBaseDivisor(settings.base, where);
    this.base = settings.base ?? 'e';
    this.#strategy = new StrategyAccumulator(settings);
    this.#tokens = new TokenClassAccumulator(settings);
  }

  /** Responses added. */
  get responses(): number {
    return this.#responses;
  }

  /** The strategy counts (read them; add through this accumulator). */
  get strategy(): StrategyAccumulator {
    return this.#strategy;
  }

  /** The token-class sums (read them; add through this accumulator). */
  get tokens(): TokenClassAccumulator {
    return this.#tokens;
  }

  /** Adds one batch (or micro-batch). Every input is validated before any count changes. */
  add(input: StepMetricsInput): this {
    const where = 'StepMetricsAccumulator.add';
    if (typeof input !== 'object' || input === null) {
      throw new InvalidArgumentError(
        `${where}: input must be an object, got ${describeValue(input)}`,
        {
          source: SOURCE,
          details: { where, argument: 'input' },
        },
      );
    }
    checkLayout(where, input.batchSize, input.seqLen);
    const { planningMatches, responseTexts } = input;
    if (planningMatches !== undefined)
      checkList(where, 'planningMatches', planningMatches, input.batchSize);
    if (responseTexts !== undefined)
      checkList(where, 'responseTexts', responseTexts, input.batchSize);
    const strategyInput: StrategyInput | undefined =
      planningMatches === undefined
        ? undefined
        : { planningMatches, ...(responseTexts === undefined ? {} : { responseTexts }) };
    // Everything is checked before anything is counted: a bad input changes nothing.
    const commitTokens = prepareTokens(this.#tokens, input);
    const commitStrategy = strategyInput
      ? prepareStrategy(this.#strategy, strategyInput)
      : undefined;
    commitStrategy?.();
    commitTokens();
    this.#responses += input.batchSize;
    return this;
  }

  /** Adds everything `other` accumulated (same settings); returns this. */
  merge(other: StepMetricsAccumulator): this {
    if (!(other instanceof StepMetricsAccumulator)) {
      throw new InvalidArgumentError(
        `StepMetricsAccumulator.merge: other must be a StepMetricsAccumulator, got ${describeValue(other)}`,
        { source: SOURCE, details: { argument: 'other' } },
      );
    }
    if (other.base !== this.base) {
      throw new InvalidArgumentError(
        `StepMetricsAccumulator.merge: base differs (${this.base} vs ${other.base})`,
        { source: SOURCE, details: { argument: 'other' } },
      );
    }
    // Check both before changing either.
    this.#strategy.cloneEmpty().merge(other.#strategy.cloneEmpty());
    this.#tokens.clone().merge(other.#tokens.clone());
    this.#strategy.merge(other.#strategy);
    this.#tokens.merge(other.#tokens);
    this.#responses += other.#responses;
    return this;
  }

  /** An independent copy. */
  clone(): StepMetricsAccumulator {
    const copy = new StepMetricsAccumulator({ base: this.base });
    copy.#strategy = this.#strategy.clone();
    copy.#tokens = this.#tokens.clone();
    copy.#responses = this.#responses;
    return copy;
  }

  /**
   * The step's metrics under `TRAIN_METRIC_KEYS` (docs/formats.md), each present only when
   * defined (docs/decisions/0031):
   *
   * | key | needs |
   * | --- | --- |
   * | `token_entropy/{all,planning,execution}` | `entropies` (+ `planningMask`), tokens in the class |
   * | `perplexity/{all,planning,execution}` | `logProbs` (+ `planningMask`), tokens in the class |
   * | `strategy/matches_per_response` | `planningMatches`, at least one response |
   * | `strategy/semantic_entropy` | at least one match |
   * | `strategy/semantic_entropy_clustered` | at least one match, and `classOf` or `classId`s |
   * | `strategy/conditional_procedural_entropy` | `responseTexts`, one phrase followed by a word |
   * | `fork_overlap/planning_in_top_entropy` | `entropies`, `planningMask`, a planning token |
   * | `fork_overlap/top_entropy_is_planning` | `entropies`, `planningMask`, a response token |
   *
   * Throws `MissingInputError` when an input was given with some batches and not others.
   */
  metrics(): Record<string, number> {
    if (this.#strategy.responses > 0 && this.#strategy.responses < this.#responses) {
      throw new MissingInputError(
        `StepMetricsAccumulator.metrics: planningMatches were given for ${this.#strategy.responses} of ${this.#responses} responses added; give them with every batch or with none`,
        {
          source: SOURCE,
          details: { responses: this.#responses, withMatches: this.#strategy.responses },
        },
      );
    }
    return { ...this.#tokens.metrics(), ...this.#strategy.metrics({ base: this.base }) };
  }

  /** Everything accumulated, as plain JSON for another worker's {@link StepMetricsAccumulator.fromJSON}. */
  toJSON(): StepMetricsAccumulatorJson {
    return {
      version: 1,
      base: this.base,
      responses: this.#responses,
      strategy: this.#strategy.toJSON(),
      tokens: this.#tokens.toJSON(),
    };
  }

  /** Reads what `toJSON` wrote, validated; `settings.classOf` serves later `add` calls. */
  static fromJSON(
    json: StepMetricsAccumulatorJson,
    settings: Pick<StrategySettings, 'classOf'> = {},
  ): StepMetricsAccumulator {
    const where = 'StepMetricsAccumulator.fromJSON';
    if (typeof json !== 'object' || json === null || json.version !== 1) {
      throw new InvalidArgumentError(
        `${where}: expected an object with version 1 (from toJSON), got ${describeValue(json)}`,
        { source: SOURCE, details: { where } },
      );
    }
    checkCount(where, 'responses', json.responses);
    const strategy = StrategyAccumulator.fromJSON(json.strategy, settings);
    const tokens = TokenClassAccumulator.fromJSON(json.tokens);
    if (strategy.responses > json.responses) {
      throw new InvalidValueError(
        `${where}: strategy.responses (${strategy.responses}) exceeds responses (${json.responses})`,
        { source: SOURCE, details: { where } },
      );
    }
    const acc = new StepMetricsAccumulator({ base: json.base });
    acc.#strategy = strategy;
    acc.#tokens = tokens;
    acc.#responses = json.responses;
    return acc;
  }
}

/** A {@link StepMetricsAccumulator} with the given settings. */
export function createStepMetricsAccumulator(
  settings: StepMetricsSettings = {},
): StepMetricsAccumulator {
  return new StepMetricsAccumulator(settings);
}

/**
 * Every per-step strategy and token-class metric of one batch, as a record under the keys of
 * `TRAIN_METRIC_KEYS` that the trainer writes as it is. Undefined metrics are omitted, never
 * NaN (see {@link StepMetricsAccumulator.metrics} for what each key needs). An empty batch
 * (`batchSize = 0`) gives `{}`.
 */
export function stepMetrics(
  input: StepMetricsInput,
  settings: StepMetricsSettings = {},
): Record<string, number> {
  return new StepMetricsAccumulator(settings).add(input).metrics();
}
