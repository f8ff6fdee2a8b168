import {
  type BuiltinPlanningClassifierName,
  type ClassifierRegistrationV1,
  createRegistry,
  definePlugin,
  InvalidArgumentError,
  type PlanningClassifierV1,
  type PluginRegistryV1,
  type StandardSchemaV1,
} from '@hicra/spec';
import {
  type EntropyForksClassifier,
  type EntropyForksSettings,
  entropyForksRegistration,
} from './entropy-forks-classifier.js';
import {
  type PlaceboNgramsClassifier,
  type PlaceboNgramsSettings,
  placeboNgramsRegistration,
} from './placebo-ngrams-classifier.js';
import { SOURCE } from './source.js';
import {
  type StrategicGramsClassifier,
  type StrategicGramsSettings,
  strategicGramsRegistration,
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

/**
 * Builds a classifier from its settings (the config without `name`).
 * @deprecated Register a `ClassifierRegistrationV1` (`definePlugin({ kind: 'classifier', ... })`),
 * whose settings schema validates the config; `register(name, factory)` is kept for one release.
 */
export type PlanningClassifierFactory = (
  settings: Readonly<Record<string, unknown>>,
) => PlanningClassifierV1;

/**
 * Registrations of the built-in classifiers, each defined in its classifier's file, under the
 * names of `@hicra/spec` (typed against them, so a name cannot drift).
 */
export const builtinClassifiers: readonly ClassifierRegistrationV1[] = [
  strategicGramsRegistration,
  entropyForksRegistration,
  placeboNgramsRegistration,
] satisfies readonly (ClassifierRegistrationV1 & {
  readonly name: BuiltinPlanningClassifierName;
})[];

/** Classifiers by name: the built-ins, plus whatever a user registers. */
export interface PlanningClassifierRegistry {
  /** Every registered name, sorted. */
  readonly names: readonly string[];
  /** The plug-in registry underneath (`@hicra/spec`'s one shape), e.g. to list settings. */
  readonly plugins: PluginRegistryV1;
  has(name: string): boolean;
  /** Adds a classifier registration (a name already taken is an error unless `replace`); returns the registry. */
  register(
    registration: ClassifierRegistrationV1,
    options?: { readonly replace?: boolean },
  ): PlanningClassifierRegistry;
  /** @deprecated Register a `ClassifierRegistrationV1` instead; kept for one release. */
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

/** A schema that hands any settings object through, for the deprecated `(name, factory)` form. */
const passThrough: StandardSchemaV1<unknown, Readonly<Record<string, unknown>>> = {
  '~standard': {
    version: 1,
    vendor: 'hicra',
    validate: (value) => ({ value: value as Readonly<Record<string, unknown>> }),
  },
};

function wrap(plugins: PluginRegistryV1): PlanningClassifierRegistry {
  const registry: PlanningClassifierRegistry = {
    get names() {
      return plugins.names('classifier');
    },
    plugins,
    has: (name) => plugins.has('classifier', name),
    register(
      registration: ClassifierRegistrationV1 | string,
      second?: PlanningClassifierFactory | { readonly replace?: boolean },
    ) {
      if (typeof registration === 'string') {
        const factory = second;
        if (typeof factory !== 'function')
          throw new InvalidArgumentError(
            `register: factory of "${registration}" must be a function`,
            { source: SOURCE, details: { argument: 'factory', name: registration } },
          );
        plugins.register(
          definePlugin({
            kind: 'classifier',
            name: registration,
            description: `${registration} (registered with a factory)`,
            settings: passThrough,
            create: (settings) => factory(settings),
          }),
        );
      } else {
        plugins.register(registration, typeof second === 'object' ? second : {});
      }
      return registry;
    },
    create(config: PlanningClassifierConfig): never {
      return plugins.create('classifier', config) as never;
    },
  };
  return registry;
}

/**
 * A new registry holding the built-in classifiers: `strategic-grams` (the paper's phrases),
 * `entropy-forks` (top-q tokens by entropy) and `placebo-ngrams` (random spans covering as many
 * tokens per response as `strategic-grams`, with its matches' lengths, new each `input.step`).
 */
export function createPlanningClassifierRegistry(): PlanningClassifierRegistry {
  return wrap(
    createRegistry({ kinds: ['classifier'], registrations: builtinClassifiers, source: SOURCE }),
  );
}

/**
 * The registry of the built-in classifiers. It cannot change: `register` on it throws. Add
 * classifiers to your own, `createPlanningClassifierRegistry()`, which starts with the built-ins.
 */
export const planningClassifierRegistry: PlanningClassifierRegistry = wrap(
  createRegistry({
    kinds: ['classifier'],
    registrations: builtinClassifiers,
    source: SOURCE,
    sealed: true,
    extendHint: 'createPlanningClassifierRegistry() starts with the built-ins',
  }),
);

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
  return planningClassifierRegistry.create(config as PlanningClassifierConfig);
}
