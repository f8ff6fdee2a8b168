import type { AdvantageEstimatorV1, CreditAssignerV1 } from './credit.js';
import type { PluginConfigV1 } from './credit-pipeline-config.js';
import { ConfigError, HicraError } from './errors.js';
import { formatValue } from './format-value.js';
import { isRegistryName } from './names.js';
import type { PlanningClassifierV1 } from './planning.js';
import type { RewardFunctionV1 } from './reward.js';
import {
  formatIssuePath,
  isStandardSchema,
  type StandardSchemaResultV1,
  type StandardSchemaV1,
} from './standard-schema.js';

/** One setting of a plug-in: its type, range and default, for validation and documentation. */
export type SettingSpecV1 =
  | {
      readonly type: 'number';
      readonly description: string;
      readonly default?: number;
      /** Inclusive bounds. */
      readonly min?: number;
      readonly max?: number;
      /** Exclusive lower bound (e.g. an epsilon > 0). */
      readonly greaterThan?: number;
      /** Exclusive upper bound (e.g. a share < 1). */
      readonly lessThan?: number;
      readonly integer?: boolean;
    }
  | { readonly type: 'boolean'; readonly description: string; readonly default?: boolean }
  | {
      readonly type: 'string';
      readonly description: string;
      readonly default?: string;
      /** The allowed values. */
      readonly oneOf?: readonly string[];
    }
  | CustomSettingSpecV1<unknown, unknown>;

/**
 * A setting no simple type describes (a list, a nested config, a lexicon): `parse` checks the
 * given value and returns what the plug-in receives. It throws a `HicraError` for bad input
 * (a `ConfigError` at the `path` it receives, or another kind, e.g. a file that cannot be
 * read); a plain `Error` is reported as a `ConfigError` at this setting's path. `In` is
 * what callers of the factory pass (a lexicon file path, say), `T` what the plug-in gets; at run
 * time `parse` receives whatever the config holds, so it must check it.
 */
export interface CustomSettingSpecV1<T, In = unknown> {
  readonly type: 'custom';
  readonly description: string;
  /** What `--help` and error messages show as the type, e.g. `"array of formats"`. */
  readonly expects?: string;
  /** Parses a given value; not called when the setting is absent (then `default` is used as is). */
  parse(value: In, path: string): T;
  readonly default?: T;
}

/** The settings a plug-in accepts, by name. */
export type SettingsSchemaV1 = Readonly<Record<string, SettingSpecV1>>;

/** Settings after validation: every key of the schema with a default is present. */
export type SettingsV1 = Readonly<Record<string, unknown>>;

/** The value type of one setting spec. */
export type SettingValueV1<S extends SettingSpecV1> = S extends { readonly type: 'number' }
  ? number
  : S extends { readonly type: 'boolean' }
    ? boolean
    : S extends { readonly type: 'string'; readonly oneOf: readonly (infer U)[] }
      ? U
      : S extends { readonly type: 'string' }
        ? string
        : S extends CustomSettingSpecV1<infer T, infer _In>
          ? T
          : never;

/** What a caller of a plug-in's factory passes for one setting (a custom setting's `In`). */
export type SettingInputValueV1<S extends SettingSpecV1> =
  S extends CustomSettingSpecV1<infer _T, infer In> ? In : SettingValueV1<S>;

/** The settings object a schema of the spec's own kind validates to (defaults make keys present). */
export type InferSettingsV1<S extends SettingsSchemaV1> = {
  readonly [K in keyof S]: S[K] extends { readonly default: unknown }
    ? SettingValueV1<S[K]>
    : SettingValueV1<S[K]> | undefined;
};

/**
 * What a plug-in's factory takes when called directly (every setting optional), from its
 * schema, so that a plug-in states its settings once.
 */
export type SettingsInputV1<S extends SettingsSchemaV1 | HicraSettingsSchemaV1> = {
  readonly [K in keyof FieldsOfV1<S>]?: SettingInputValueV1<FieldsOfV1<S>[K]>;
};
type FieldsOfV1<S> = S extends HicraSettingsSchemaV1<infer F> ? F : S;

/** A settings schema made by {@link defineSettings}: a Standard Schema that keeps its fields. */
export interface HicraSettingsSchemaV1<S extends SettingsSchemaV1 = SettingsSchemaV1>
  extends StandardSchemaV1<Readonly<Record<string, unknown>>, InferSettingsV1<S>> {
  /** The settings, for documentation (`--help`, error messages, generated docs). */
  readonly fields: S;
}

const HICRA_SETTINGS = Symbol.for('@hicra/spec.settings-schema');

/**
 * A settings schema from the spec's own setting specs, as a Standard Schema. The settings type
 * the plug-in's `create` receives is inferred from it:
 *
 * ```ts
 * const settings = defineSettings({
 *   beta: { type: 'number', min: 0, max: 1, default: 0.5, description: 'damping factor' },
 * });
 * // create(s) receives { readonly beta: number }
 * ```
 */
export function defineSettings<const S extends SettingsSchemaV1>(
  fields: S,
): HicraSettingsSchemaV1<S> {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields))
    throw new ConfigError(
      '',
      `defineSettings: expected an object of setting specs, got ${formatValue(fields)}`,
      {
        source: '@hicra/spec',
      },
    );
  return Object.freeze({
    fields,
    [HICRA_SETTINGS]: true,
    '~standard': Object.freeze({
      version: 1 as const,
      vendor: 'hicra',
      validate(value: unknown) {
        if (typeof value !== 'object' || value === null || Array.isArray(value))
          return { issues: [{ message: `settings must be an object, got ${formatValue(value)}` }] };
        try {
          return {
            value: validateSettings(fields, value as Record<string, unknown>) as InferSettingsV1<S>,
          };
        } catch (error) {
          if (!ConfigError.isInstance(error)) throw error;
          const setting = (error.details as { setting?: unknown } | undefined)?.setting;
          return {
            issues: [
              {
                message: error.message.replace(/^(@hicra\/[\w-]+: )?config( key [^:]*)?: /, ''),
                ...(typeof setting === 'string' ? { path: [setting] } : {}),
              },
            ],
          };
        }
      },
    }),
  }) as HicraSettingsSchemaV1<S>;
}

/** The fields of a settings schema made by `defineSettings` (or given as a plain record). */
export function settingsFields(schema: unknown): SettingsSchemaV1 | undefined {
  if (typeof schema !== 'object' || schema === null) return undefined;
  if ((schema as { [HICRA_SETTINGS]?: unknown })[HICRA_SETTINGS] === true)
    return (schema as HicraSettingsSchemaV1).fields;
  if (isStandardSchema(schema)) return undefined;
  return schema as SettingsSchemaV1;
}

/** What a registration's `settings` may be: any Standard Schema, or the spec's plain record. */
export type PluginSettingsSchemaV1<Settings = SettingsV1> =
  | StandardSchemaV1<unknown, Settings>
  | SettingsSchemaV1;

/** The four kinds of plug-in a registry holds. */
export const PLUGIN_KINDS = ['estimator', 'assigner', 'classifier', 'reward'] as const;
export type PluginKindV1 = (typeof PLUGIN_KINDS)[number];

/** What a registration of each kind builds. */
export interface PluginProductsV1 {
  readonly estimator: AdvantageEstimatorV1;
  readonly assigner: CreditAssignerV1;
  readonly classifier: PlanningClassifierV1;
  readonly reward: RewardFunctionV1;
}
export type PluginProductV1<K extends PluginKindV1> = PluginProductsV1[K];

/**
 * Behaviour a plug-in documents and the conformance kits check on every generated batch
 * (`checkConformance` of `@hicra/advantage/testing` reads a registration's `invariants`).
 */
export const PLUGIN_INVARIANTS = {
  /**
   * Estimators: adding a constant to every reward of a group (of two or more; a group of one
   * keeps its raw score by verl's rule) leaves the advantages unchanged.
   */
  'group-shift-invariant': 'estimator',
  /** Assigners: no advantage changes sign, and zero stays zero. */
  'never-flips-sign': 'assigner',
  /** Assigners: tokens outside the planning mask keep their advantage. */
  'execution-untouched': 'assigner',
  /** Assigners: advantages are returned unchanged (loss-mask strategies). */
  'advantages-unchanged': 'assigner',
  /** Assigners: the loss mask is returned unchanged. */
  'loss-mask-unchanged': 'assigner',
} as const satisfies Record<string, PluginKindV1>;
export type PluginInvariantV1 = keyof typeof PLUGIN_INVARIANTS;

/** What `create` receives besides its settings: a way to build nested plug-ins (a weighted reward's parts). */
export interface PluginContextV1 {
  /** The config path of this plug-in (`credit.assigners[0]`, `reward.components[1].reward`). */
  readonly path: string;
  /** Builds another plug-in from the same registry; `path` is where its config sits. */
  create<K extends PluginKindV1>(
    kind: K,
    config: string | PluginConfigV1,
    path: string,
  ): PluginProductV1<K>;
}

/**
 * The one registration shape of every plug-in kind: what a package exports so that users can
 * add its plug-in to a registry by name. A third-party plug-in needs only `@hicra/spec` to write
 * one, and its settings type is inferred from the schema:
 *
 * ```ts
 * export const myStrategy = definePlugin({
 *   kind: 'assigner',
 *   name: 'my-strategy',
 *   description: 'damps execution tokens',
 *   settings: defineSettings({
 *     beta: { type: 'number', min: 0, max: 1, default: 0.5, description: 'damping factor' },
 *   }),
 *   invariants: ['never-flips-sign'],
 *   create: ({ beta }) => createMyStrategy(beta), // beta: number
 * });
 * ```
 *
 * `settings` may be any Standard Schema (zod, valibot, ...) whose `validate` is synchronous;
 * plug-ins are created synchronously, so an asynchronous schema is refused with a clear error.
 */
export interface PluginRegistrationV1<
  K extends PluginKindV1 = PluginKindV1,
  Settings = SettingsV1,
  Name extends string = string,
> {
  readonly kind: K;
  /** Registry name, kebab-case. */
  readonly name: Name;
  /** One sentence for `--help` and error messages. */
  readonly description: string;
  readonly settings: PluginSettingsSchemaV1<Settings>;
  /** Behaviour the plug-in documents; the conformance kits check each one. */
  readonly invariants?: readonly PluginInvariantV1[];
  /** Builds the plug-in from validated settings (defaults filled in). */
  create(settings: Settings, context: PluginContextV1): PluginProductV1<K>;
}

export type EstimatorRegistrationV1<Settings = SettingsV1> = PluginRegistrationV1<
  'estimator',
  Settings
>;
export type CreditAssignerRegistrationV1<Settings = SettingsV1> = PluginRegistrationV1<
  'assigner',
  Settings
>;
export type ClassifierRegistrationV1<Settings = SettingsV1> = PluginRegistrationV1<
  'classifier',
  Settings
>;
export type RewardRegistrationV1<Settings = SettingsV1> = PluginRegistrationV1<'reward', Settings>;
/** A registration of any kind. */
export type AnyPluginRegistrationV1 = PluginRegistrationV1<PluginKindV1, unknown>;

/**
 * Types a registration and returns it unchanged: `create`'s settings are inferred from
 * `settings` (a `defineSettings` schema, any Standard Schema, or a plain record of specs).
 */
export function definePlugin<
  K extends PluginKindV1,
  const S extends SettingsSchemaV1,
  const N extends string,
>(
  registration: Omit<PluginRegistrationV1<K, InferSettingsV1<S>, N>, 'settings'> & {
    readonly settings: S;
  },
): PluginRegistrationV1<K, InferSettingsV1<S>, N>;
export function definePlugin<K extends PluginKindV1, Settings, const N extends string>(
  registration: Omit<PluginRegistrationV1<K, Settings, N>, 'settings'> & {
    readonly settings: StandardSchemaV1<unknown, Settings>;
  },
): PluginRegistrationV1<K, Settings, N>;
export function definePlugin(registration: AnyPluginRegistrationV1): AnyPluginRegistrationV1 {
  return registration;
}

/**
 * Validates a plug-in's settings (the config without `name`) with its registration's schema,
 * synchronously. Errors are `ConfigError`s whose path is `path.key` and whose message starts
 * with the plug-in's name; an asynchronous schema is refused.
 */
export function parsePluginSettings<Settings>(
  registration: Pick<PluginRegistrationV1<PluginKindV1, Settings>, 'name' | 'settings'>,
  values: Readonly<Record<string, unknown>> | undefined,
  options: { readonly path?: string; readonly source?: string } = {},
): Settings {
  const source = options.source ?? '@hicra/spec';
  const fields = settingsFields(registration.settings);
  const plugin = registration.name;
  if (values === undefined) values = {};
  if (typeof values !== 'object' || values === null || Array.isArray(values))
    throw new ConfigError(
      options.path ?? '',
      `${plugin}: settings must be an object, got ${formatValue(values)}`,
      { source, details: { plugin } },
    );
  if (fields !== undefined)
    return validateSettings(fields, values, { ...options, plugin, source }) as Settings;
  const schema = registration.settings as StandardSchemaV1<unknown, Settings>;
  const { name: _name, ...given } = values;
  const result = schema['~standard'].validate(given);
  if (typeof (result as { then?: unknown }).then === 'function') {
    throw new ConfigError(
      options.path ?? '',
      `${plugin}: its settings schema (${schema['~standard'].vendor}) validates asynchronously; plug-ins are created synchronously, so give a schema without async refinements or transforms`,
      { source, details: { plugin } },
    );
  }
  const done = result as StandardSchemaResultV1<Settings>;
  if (done.issues !== undefined) {
    const first = done.issues[0];
    const key = formatIssuePath(first?.path);
    const at = [options.path, key].filter((p) => p !== undefined && p !== '').join('.');
    const rest =
      done.issues.length > 1
        ? ` (and ${done.issues.length - 1} more: ${done.issues
            .slice(1, 4)
            .map((i) => `${formatIssuePath(i.path) || '(settings)'}: ${i.message}`)
            .join('; ')})`
        : '';
    throw new ConfigError(at, `${plugin}: ${first?.message ?? 'invalid settings'}${rest}`, {
      source,
      details: {
        plugin,
        issues: done.issues.map((i) => ({ path: formatIssuePath(i.path), message: i.message })),
      },
    });
  }
  return done.value;
}

/**
 * Validates `values` against `schema` and fills defaults. Unknown keys, wrong types and values
 * out of range are `ConfigError`s whose path names the key (`path.key`) and whose message
 * lists the valid settings. The `name` key (the registry name) is ignored.
 */
export function validateSettings(
  schema: SettingsSchemaV1,
  values: Readonly<Record<string, unknown>>,
  options: { readonly path?: string; readonly plugin?: string; readonly source?: string } = {},
): Record<string, unknown> {
  const source = options.source ?? '@hicra/spec';
  const at = (key: string) => (options.path ? `${options.path}.${key}` : key);
  const plugin = options.plugin ? `${options.plugin}: ` : '';
  const known = Object.keys(schema);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(values)) {
    if (key === 'name') continue;
    if (!(key in schema)) {
      throw new ConfigError(
        at(key),
        `${plugin}unknown setting; valid settings: ${known.length ? known.map(describeSetting(schema)).join('; ') : '(none)'}`,
        { source, details: { setting: key, known } },
      );
    }
  }
  for (const [key, spec] of Object.entries(schema)) {
    const value = values[key] === undefined ? spec.default : values[key];
    if (value === undefined) {
      out[key] = undefined;
      continue;
    }
    const fail = (expected: string): never => {
      throw new ConfigError(at(key), `${plugin}expected ${expected}, got ${formatValue(value)}`, {
        source,
        details: { setting: key },
      });
    };
    switch (spec.type) {
      case 'number': {
        if (typeof value !== 'number' || !Number.isFinite(value)) fail('a finite number');
        const n = value as number;
        if (spec.integer && !Number.isInteger(n)) fail('an integer');
        if (spec.min !== undefined && n < spec.min) fail(`a number >= ${spec.min}`);
        if (spec.max !== undefined && n > spec.max) fail(`a number <= ${spec.max}`);
        if (spec.greaterThan !== undefined && !(n > spec.greaterThan))
          fail(`a number > ${spec.greaterThan}`);
        if (spec.lessThan !== undefined && !(n < spec.lessThan))
          fail(`a number < ${spec.lessThan}`);
        out[key] = n;
        break;
      }
      case 'boolean':
        if (typeof value !== 'boolean') fail('true or false');
        out[key] = value as boolean;
        break;
      case 'string':
        if (typeof value !== 'string') fail('a string');
        if (spec.oneOf && !spec.oneOf.includes(value as string))
          fail(`one of ${spec.oneOf.map((v) => JSON.stringify(v)).join(', ')}`);
        out[key] = value as string;
        break;
      case 'custom':
        if (value === spec.default && values[key] === undefined) {
          out[key] = value;
          break;
        }
        try {
          out[key] = spec.parse(value, at(key));
        } catch (error) {
          // A HicraError (a ConfigError with its path, a CorruptFileError naming a file) is the
          // parser's own report; anything else is a bug or a plain Error, reported at the key.
          if (HicraError.isInstance(error) || !(error instanceof Error)) throw error;
          throw new ConfigError(
            at(key),
            `${plugin}${error.message.replace(/^@hicra\/[\w-]+: /, '')}`,
            {
              source,
              details: { setting: key },
              cause: error,
            },
          );
        }
        break;
    }
  }
  return out;
}

/** Checks a registration's own shape (kind, name, schema, factory, invariants); returns it. */
export function checkRegistration<R extends AnyPluginRegistrationV1>(
  registration: R,
  source = '@hicra/spec',
  kinds: readonly PluginKindV1[] = PLUGIN_KINDS,
): R {
  const fail = (message: string): never => {
    throw new ConfigError('', `plug-in registration: ${message}`, { source });
  };
  if (typeof registration !== 'object' || registration === null)
    fail(`expected an object, got ${formatValue(registration)}`);
  if (!(kinds as readonly unknown[]).includes(registration.kind))
    fail(
      `kind must be ${kinds.map((k) => `"${k}"`).join(' or ')}, got ${formatValue(registration.kind)}`,
    );
  if (!isRegistryName(registration.name))
    fail(`name must be kebab-case, got ${formatValue(registration.name)}`);
  if (typeof registration.create !== 'function')
    fail(`${registration.name}: create must be a function`);
  if (typeof registration.settings !== 'object' || registration.settings === null)
    fail(`${registration.name}: settings must be a Standard Schema or a record of setting specs`);
  if (!isStandardSchema(registration.settings)) {
    for (const [key, spec] of Object.entries(registration.settings as SettingsSchemaV1)) {
      if (
        typeof spec !== 'object' ||
        spec === null ||
        !['number', 'boolean', 'string', 'custom'].includes(
          (spec as { type?: unknown }).type as string,
        )
      )
        fail(
          `${registration.name}: settings.${key} must be a setting spec with type "number", "boolean", "string" or "custom", got ${formatValue(spec)}`,
        );
      if (spec.type === 'custom' && typeof spec.parse !== 'function')
        fail(`${registration.name}: settings.${key} is "custom" and needs a parse function`);
    }
  }
  if (registration.invariants !== undefined) {
    if (!Array.isArray(registration.invariants))
      fail(`${registration.name}: invariants must be an array of names`);
    for (const invariant of registration.invariants) {
      const kind = (PLUGIN_INVARIANTS as Record<string, PluginKindV1>)[invariant];
      if (kind === undefined)
        fail(
          `${registration.name}: unknown invariant ${formatValue(invariant)} (known: ${Object.keys(PLUGIN_INVARIANTS).join(', ')})`,
        );
      if (kind !== registration.kind)
        fail(
          `${registration.name}: invariant "${invariant}" applies to ${kind}s, not ${registration.kind}s`,
        );
    }
  }
  return registration;
}

function describeSetting(schema: SettingsSchemaV1) {
  return (key: string) => {
    const spec = schema[key]!;
    if (spec.type === 'custom')
      return `${key} (${spec.expects ?? spec.description}${spec.default !== undefined ? `, default ${formatValue(spec.default)}` : ''})`;
    const range =
      spec.type === 'number'
        ? `${spec.min !== undefined ? ` >= ${spec.min}` : ''}${spec.greaterThan !== undefined ? ` > ${spec.greaterThan}` : ''}${spec.max !== undefined ? ` <= ${spec.max}` : ''}${spec.lessThan !== undefined ? ` < ${spec.lessThan}` : ''}`
        : spec.type === 'string' && spec.oneOf
          ? ` in ${spec.oneOf.join('|')}`
          : '';
    return `${key} (${spec.type}${range}${spec.default !== undefined ? `, default ${JSON.stringify(spec.default)}` : ''})`;
  };
}
