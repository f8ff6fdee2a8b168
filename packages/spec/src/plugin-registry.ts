import type { PluginConfigV1 } from './credit-pipeline-config.js';
import { ConfigError, UnknownNameError } from './errors.js';
import { formatValue } from './format-value.js';
import {
  type AnyPluginRegistrationV1,
  checkRegistration,
  PLUGIN_KINDS,
  type PluginKindV1,
  type PluginProductV1,
  type PluginRegistrationV1,
  parsePluginSettings,
} from './plugin-registration.js';

/** How error messages name each kind. */
const KIND_LABEL: Readonly<Record<PluginKindV1, string>> = {
  estimator: 'estimator',
  assigner: 'assigner',
  classifier: 'planning classifier',
  reward: 'reward',
};

/** The method each kind's product must have, checked when a plug-in is created. */
const PRODUCT_METHOD: Readonly<Record<PluginKindV1, string>> = {
  estimator: 'estimate',
  assigner: 'assign',
  classifier: 'classify',
  reward: 'score',
};

/** Plug-ins of every kind by (kind, name): the one registry shape of the project. */
export interface PluginRegistryV1 {
  /** True for a registry that cannot change (a package's default one). */
  readonly sealed: boolean;
  /**
   * Adds a registration. A name already taken for that kind is an error unless `replace` is set
   * (to swap a built-in for your own deliberately). Throws on a sealed registry.
   */
  register(registration: AnyPluginRegistrationV1, options?: { readonly replace?: boolean }): this;
  has(kind: PluginKindV1, name: string): boolean;
  /** The names of one kind, sorted. */
  names(kind: PluginKindV1): string[];
  /** Every registration of one kind (or all), sorted by kind then name. */
  list(kind?: PluginKindV1): AnyPluginRegistrationV1[];
  /** The registration of a name (its description and settings schema); unknown names list the known. */
  get<K extends PluginKindV1>(kind: K, name: string): PluginRegistrationV1<K>;
  /**
   * Builds a plug-in from `'name'` or `{ name, ...settings }`: the settings are validated by the
   * registration's schema (errors name `path.key`), then `create` runs.
   */
  create<K extends PluginKindV1>(
    kind: K,
    config: string | PluginConfigV1,
    options?: { readonly path?: string },
  ): PluginProductV1<K>;
  /** A new, unsealed registry holding the same registrations (the way to add to a sealed one). */
  extend(): PluginRegistryV1;
}

export interface CreateRegistryOptions {
  /** Registrations to start with (a package's built-ins). */
  readonly registrations?: readonly AnyPluginRegistrationV1[];
  /** The kinds this registry takes (default all four): a credit registry takes estimators and assigners. */
  readonly kinds?: readonly PluginKindV1[];
  /** A sealed registry refuses `register` (the default instance a package exports). */
  readonly sealed?: boolean;
  /** What error sources name (`@hicra/advantage`, ...). Default `@hicra/spec`. */
  readonly source?: string;
  /**
   * How a sealed registry's error tells users to get one they can add to. Default
   * `registry.extend() gives one that starts with the built-ins`.
   */
  readonly extendHint?: string;
}

/**
 * A plug-in registry. Packages export a sealed default built with their built-ins; users call
 * `registry.extend()` (or `createRegistry({ registrations })`) for one they can add to, so
 * importing a plug-in never changes what other modules resolve.
 */
export function createRegistry(options: CreateRegistryOptions = {}): PluginRegistryV1 {
  const kinds = options.kinds ?? PLUGIN_KINDS;
  const source = options.source ?? '@hicra/spec';
  const sealed = options.sealed ?? false;
  const tables = new Map<PluginKindV1, Map<string, AnyPluginRegistrationV1>>(
    kinds.map((kind) => [kind, new Map()]),
  );
  const tableOf = (kind: PluginKindV1, path: string) => {
    const table = tables.get(kind);
    if (table === undefined)
      throw new ConfigError(
        path,
        `this registry holds ${kinds.join(' and ')} plug-ins, not ${formatValue(kind)}`,
        { source },
      );
    return table;
  };
  const add = (registration: AnyPluginRegistrationV1, replace: boolean) => {
    checkRegistration(registration, source, kinds);
    const table = tableOf(registration.kind, '');
    if (table.has(registration.name) && !replace) {
      throw new ConfigError(
        '',
        `${registration.kind === 'assigner' || registration.kind === 'estimator' ? 'an' : 'a'} ${registration.kind} named "${registration.name}" is already registered; pass { replace: true } to replace it`,
        { source, details: { name: registration.name, kind: registration.kind } },
      );
    }
    table.set(registration.name, registration);
  };
  for (const registration of options.registrations ?? []) add(registration, false);

  const registry: PluginRegistryV1 = {
    sealed,
    register(registration, registerOptions = {}) {
      if (sealed)
        throw new ConfigError(
          '',
          `the default registry holds the built-ins and cannot change (importing a plug-in must not change what other modules resolve); register "${(registration as { name?: unknown })?.name}" in your own: ${options.extendHint ?? 'registry.extend() gives one that starts with the built-ins'}`,
          { source },
        );
      add(registration, registerOptions.replace ?? false);
      return this;
    },
    has: (kind, name) => tables.get(kind)?.has(name) ?? false,
    names: (kind) => [...tableOf(kind, '').keys()].sort(),
    list: (kind) =>
      (kind === undefined ? kinds : [kind]).flatMap((k) =>
        [...tableOf(k, '').values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
      ),
    get(kind, name) {
      const registration = tableOf(kind, '').get(name);
      if (registration === undefined)
        throw new UnknownNameError(KIND_LABEL[kind], name, registry.names(kind), { source });
      return registration as never;
    },
    create(kind, config, createOptions = {}) {
      const path = createOptions.path ?? '';
      const at = (key: string) => (path ? `${path}.${key}` : key);
      const table = tableOf(kind, path);
      const entry = typeof config === 'string' ? { name: config } : config;
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
        throw new ConfigError(
          path,
          `a ${KIND_LABEL[kind]} config must be a name or an object { name, ...settings }, got ${formatValue(entry)}`,
          { source },
        );
      if (typeof entry.name !== 'string')
        throw new ConfigError(
          at('name'),
          `expected the ${KIND_LABEL[kind]}'s registry name (a string), got ${formatValue(entry.name)}`,
          { source },
        );
      const registration = table.get(entry.name);
      if (registration === undefined)
        throw new UnknownNameError(KIND_LABEL[kind], entry.name, registry.names(kind), {
          source,
          details: { path: at('name') },
        });
      const settings = parsePluginSettings(registration, entry, { path, source });
      const product = registration.create(settings, {
        path,
        create: (nestedKind, nested, nestedPath) =>
          registry.create(nestedKind, nested, { path: nestedPath }),
      });
      const method = PRODUCT_METHOD[kind];
      if (
        typeof product !== 'object' ||
        product === null ||
        typeof (product as unknown as Record<string, unknown>)[method] !== 'function'
      )
        throw new ConfigError(
          path,
          `${kind} "${entry.name}": create() returned ${formatValue(product)}, expected an object with ${method}()`,
          { source },
        );
      return product as PluginProductV1<typeof kind>;
    },
    extend: () =>
      createRegistry({
        registrations: registry.list(),
        kinds,
        source,
      }),
  };
  return Object.freeze(registry);
}
