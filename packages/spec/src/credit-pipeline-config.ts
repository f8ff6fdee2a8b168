import { ConfigError } from './errors.js';
import { formatValue } from './format-value.js';
import { isRegistryName } from './names.js';

/** One stage of a credit pipeline: a registry name and that plug-in's settings. */
export interface PluginConfigV1 {
  /** Registry name (`grpo`, `hicra`, or a third-party name). */
  readonly name: string;
  /** The plug-in's settings, validated by the plug-in itself (e.g. `alpha` for `hicra`). */
  readonly [setting: string]: unknown;
}

/**
 * A credit pipeline as JSON: one estimator, then assigners applied in order.
 *
 * ```json
 * { "estimator": { "name": "grpo", "normByStd": true },
 *   "assigners": [{ "name": "hicra", "alpha": 0.2 }] }
 * ```
 */
export interface CreditPipelineConfigV1 {
  readonly estimator: PluginConfigV1;
  /** Applied in order; default `[]` (plain estimator). */
  readonly assigners: readonly PluginConfigV1[];
}

/**
 * Checks the *shape* of a credit-pipeline config (object, names, arrays) and returns it with
 * defaults filled. Whether a name is registered and whether its settings are valid is checked
 * by the registry that builds the pipeline, which knows every name.
 */
export function parseCreditPipelineConfig(value: unknown, path = ''): CreditPipelineConfigV1 {
  const at = (key: string): string => (path ? `${path}.${key}` : key);
  if (!isPlainObject(value)) {
    throw new ConfigError(
      path,
      `expected an object with "estimator" and "assigners", got ${typeName(value)}`,
      {
        source: '@hicra/spec',
      },
    );
  }
  for (const key of Object.keys(value)) {
    if (key !== 'estimator' && key !== 'assigners') {
      throw new ConfigError(
        at(key),
        'unknown key; a credit pipeline has only "estimator" and "assigners"',
        {
          source: '@hicra/spec',
        },
      );
    }
  }
  const estimator = parsePluginConfig(value.estimator, at('estimator'));
  const rawAssigners = value.assigners ?? [];
  if (!Array.isArray(rawAssigners)) {
    throw new ConfigError(at('assigners'), `expected an array, got ${typeName(rawAssigners)}`, {
      source: '@hicra/spec',
    });
  }
  const assigners = rawAssigners.map((entry, i) =>
    parsePluginConfig(entry, `${at('assigners')}[${i}]`),
  );
  return { estimator, assigners };
}

function parsePluginConfig(value: unknown, path: string): PluginConfigV1 {
  if (!isPlainObject(value)) {
    throw new ConfigError(path, `expected an object with a "name", got ${typeName(value)}`, {
      source: '@hicra/spec',
    });
  }
  if (!isRegistryName(value.name)) {
    throw new ConfigError(
      `${path}.name`,
      `expected a kebab-case registry name, got ${formatValue(value.name)}`,
      { source: '@hicra/spec' },
    );
  }
  return value as PluginConfigV1;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
