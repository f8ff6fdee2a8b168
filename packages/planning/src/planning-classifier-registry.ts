import {
  ConfigError,
  formatValue,
  InvalidArgumentError,
  isRegistryName,
  PLANNING_CLASSIFIER_NAMES,
  type PlanningClassifierV1,
  UnknownNameError,
} from '@hicra/spec';
import {
  createEntropyForksClassifier,
  type EntropyForksClassifier,
  type EntropyForksSettings,
} from './entropy-forks-classifier.js';
import {
  createPlaceboNgramsClassifier,
  type PlaceboNgramsClassifier,
  type PlaceboNgramsSettings,
} from './placebo-ngrams-classifier.js';
import { SOURCE } from './source.js';
import {
  createStrategicGramsClassifier,
  type StrategicGramsClassifier,
  type StrategicGramsSettings,
} from './strategic-grams-classifier.js';

/** A classifier config: its registry name plus that classifier's settings. */
export interface PlanningClassifierConfig {
  readonly name: string;
  readonly [setting: string]: unknown;
}

/** Configs of the built-in classifiers, by name. */
export type BuiltinPlanningClassifierConfig =
  | ({ readonly name: 'strategic-grams' } & StrategicGramsSettings)
  | ({ readonly name: 'entropy-forks' } & EntropyForksSettings)
  | ({ readonly name: 'placebo-ngrams' } & PlaceboNgramsSettings);

/** Builds a classifier from its settings (the config without `name`). */
export type PlanningClassifierFactory = (
  settings: Readonly<Record<string, unknown>>,
) => PlanningClassifierV1;

/** Classifiers by name: the built-ins, plus whatever a user registers. */
export interface PlanningClassifierRegistry {
  /** Every registered name, sorted. */
  readonly names: readonly string[];
  has(name: string): boolean;
  /** Adds a classifier under a new kebab-case name; returns the registry. */
  register(name: string, factory: PlanningClassifierFactory): PlanningClassifierRegistry;
  /** Creates a classifier from `{ name, ...settings }`; an unknown name lists the known ones. */
  create(
    config: { readonly name: 'strategic-grams' } & StrategicGramsSettings,
  ): StrategicGramsClassifier;
  create(config: { readonly name: 'entropy-forks' } & EntropyForksSettings): EntropyForksClassifier;
  create(
    config: { readonly name: 'placebo-ngrams' } & PlaceboNgramsSettings,
  ): PlaceboNgramsClassifier;
  create(config: PlanningClassifierConfig): PlanningClassifierV1;
}

const BUILTINS: Readonly<
  Record<(typeof PLANNING_CLASSIFIER_NAMES)[number], PlanningClassifierFactory>
> = {
  'strategic-grams': (s) => createStrategicGramsClassifier(s as StrategicGramsSettings),
  'entropy-forks': (s) => createEntropyForksClassifier(s as EntropyForksSettings),
  'placebo-ngrams': (s) => createPlaceboNgramsClassifier(s as PlaceboNgramsSettings),
};

/**
 * A new registry holding the built-in classifiers: `strategic-grams` (the paper's phrases),
 * `entropy-forks` (top-q tokens by entropy) and `placebo-ngrams` (random spans covering as many
 * tokens per response as `strategic-grams`, with its matches' lengths, new each `input.step`).
 */
export function createPlanningClassifierRegistry(): PlanningClassifierRegistry {
  const factories = new Map<string, PlanningClassifierFactory>(
    PLANNING_CLASSIFIER_NAMES.map((name) => [name, BUILTINS[name]]),
  );
  const registry: PlanningClassifierRegistry = {
    get names() {
      return [...factories.keys()].sort();
    },
    has: (name) => factories.has(name),
    register(name, factory) {
      if (!isRegistryName(name)) {
        throw new InvalidArgumentError(
          `register: classifier name must be kebab-case (e.g. "my-classifier"), got ${formatValue(name)}`,
          { source: SOURCE, details: { argument: 'name' } },
        );
      }
      if (factories.has(name)) {
        throw new InvalidArgumentError(
          `register: planning classifier "${name}" is already registered`,
          {
            source: SOURCE,
            details: { argument: 'name', name },
          },
        );
      }
      if (typeof factory !== 'function') {
        throw new InvalidArgumentError(`register: factory of "${name}" must be a function`, {
          source: SOURCE,
          details: { argument: 'factory', name },
        });
      }
      factories.set(name, factory);
      return registry;
    },
    create(config: { readonly name: string }): never {
      if (typeof config !== 'object' || config === null || Array.isArray(config)) {
        throw new ConfigError(
          '',
          `a planning classifier config must be an object { name, ...settings }, got ${config === null ? 'null' : typeof config}`,
          {
            source: SOURCE,
          },
        );
      }
      if (typeof config.name !== 'string') {
        throw new ConfigError(
          'name',
          `expected the classifier's registry name (a string), got ${formatValue(config.name)}`,
          {
            source: SOURCE,
          },
        );
      }
      const factory = factories.get(config.name);
      if (factory === undefined) {
        throw new UnknownNameError('planning classifier', config.name, [...factories.keys()], {
          source: SOURCE,
        });
      }
      const { name: _name, ...settings } = config as PlanningClassifierConfig;
      return factory(settings) as never;
    },
  };
  return registry;
}

const defaultRegistry = createPlanningClassifierRegistry();

/** Creates a built-in classifier from `{ name, ...settings }` (e.g. `{ name: 'entropy-forks', q: 0.2 }`). */
export function createPlanningClassifier(
  config: { readonly name: 'strategic-grams' } & StrategicGramsSettings,
): StrategicGramsClassifier;
export function createPlanningClassifier(
  config: { readonly name: 'entropy-forks' } & EntropyForksSettings,
): EntropyForksClassifier;
export function createPlanningClassifier(
  config: { readonly name: 'placebo-ngrams' } & PlaceboNgramsSettings,
): PlaceboNgramsClassifier;
export function createPlanningClassifier(config: PlanningClassifierConfig): PlanningClassifierV1;
export function createPlanningClassifier(config: { readonly name: string }): PlanningClassifierV1 {
  return defaultRegistry.create(config as PlanningClassifierConfig);
}
