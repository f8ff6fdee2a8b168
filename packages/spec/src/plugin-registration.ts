import type { AdvantageEstimatorV1, CreditAssignerV1 } from './credit.js';
import { ConfigError } from './errors.js';
import { formatValue } from './format-value.js';
import { isRegistryName } from './names.js';

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
      readonly integer?: boolean;
    }
  | { readonly type: 'boolean'; readonly description: string; readonly default?: boolean }
  | {
      readonly type: 'string';
      readonly description: string;
      readonly default?: string;
      /** The allowed values. */
      readonly oneOf?: readonly string[];
    };

/** The settings a plug-in accepts, by name. */
export type SettingsSchemaV1 = Readonly<Record<string, SettingSpecV1>>;

/** Settings after validation: every key of the schema with a default is present. */
export type SettingsV1 = Readonly<Record<string, number | boolean | string | undefined>>;

/**
 * What a package exports so that users can add its plug-in to a registry by name. A third-party
 * strategy needs only `@hicra/spec` to write one:
 *
 * ```ts
 * export const myStrategy: CreditAssignerRegistrationV1 = {
 *   kind: 'assigner', name: 'my-strategy', description: '...',
 *   settings: { beta: { type: 'number', min: 0, max: 1, default: 0.5, description: '...' } },
 *   create: (settings) => createMyStrategy(settings),
 * };
 * ```
 */
export interface PluginRegistrationV1<K extends 'estimator' | 'assigner', T> {
  readonly kind: K;
  /** Registry name, kebab-case. */
  readonly name: string;
  /** One sentence for `--help` and error messages. */
  readonly description: string;
  readonly settings: SettingsSchemaV1;
  /** Builds the plug-in from validated settings (defaults filled in). */
  create(settings: SettingsV1): T;
}

export type EstimatorRegistrationV1 = PluginRegistrationV1<'estimator', AdvantageEstimatorV1>;
export type CreditAssignerRegistrationV1 = PluginRegistrationV1<'assigner', CreditAssignerV1>;

/**
 * Validates `values` against `schema` and fills defaults. Unknown keys, wrong types and values
 * out of range are `ConfigError`s whose path names the key (`path.key`) and whose message
 * lists the valid settings. The `name` key (the registry name) is ignored.
 */
export function validateSettings(
  schema: SettingsSchemaV1,
  values: Readonly<Record<string, unknown>>,
  options: { readonly path?: string; readonly plugin?: string; readonly source?: string } = {},
): SettingsV1 {
  const source = options.source ?? '@hicra/spec';
  const at = (key: string) => (options.path ? `${options.path}.${key}` : key);
  const plugin = options.plugin ? `${options.plugin}: ` : '';
  const known = Object.keys(schema);
  const out: Record<string, number | boolean | string | undefined> = {};
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
    }
  }
  return out;
}

/** Checks a registration's own shape (name, kind, schema, factory); returns it. */
export function checkRegistration<
  R extends PluginRegistrationV1<'estimator' | 'assigner', unknown>,
>(registration: R, source = '@hicra/spec'): R {
  const fail = (message: string): never => {
    throw new ConfigError('', `plug-in registration: ${message}`, { source });
  };
  if (typeof registration !== 'object' || registration === null) fail('expected an object');
  if (registration.kind !== 'estimator' && registration.kind !== 'assigner')
    fail(`kind must be "estimator" or "assigner", got ${formatValue(registration.kind)}`);
  if (!isRegistryName(registration.name))
    fail(`name must be kebab-case, got ${formatValue(registration.name)}`);
  if (typeof registration.create !== 'function')
    fail(`${registration.name}: create must be a function`);
  if (typeof registration.settings !== 'object' || registration.settings === null)
    fail(`${registration.name}: settings must be an object`);
  return registration;
}

function describeSetting(schema: SettingsSchemaV1) {
  return (key: string) => {
    const spec = schema[key]!;
    const range =
      spec.type === 'number'
        ? `${spec.min !== undefined ? ` >= ${spec.min}` : ''}${spec.greaterThan !== undefined ? ` > ${spec.greaterThan}` : ''}${spec.max !== undefined ? ` <= ${spec.max}` : ''}`
        : spec.type === 'string' && spec.oneOf
          ? ` in ${spec.oneOf.join('|')}`
          : '';
    return `${key} (${spec.type}${range}${spec.default !== undefined ? `, default ${JSON.stringify(spec.default)}` : ''})`;
  };
}
