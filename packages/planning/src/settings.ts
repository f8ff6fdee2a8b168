import { ConfigError, formatValue } from '@hicra/spec';
import { SOURCE } from './source.js';

/**
 * Checks that `settings` is a plain object whose keys are all in `known` (key -> short
 * description). An unknown key is a `ConfigError` whose path is the key and whose message
 * lists the valid settings.
 */
export function checkSettings(
  plugin: string,
  settings: unknown,
  known: Readonly<Record<string, string>>,
): Readonly<Record<string, unknown>> {
  if (settings === undefined) return {};
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
    throw new ConfigError('', `${plugin}: settings must be an object, got ${typeof settings}`, {
      source: SOURCE,
      details: { plugin },
    });
  }
  const names = Object.keys(known);
  for (const key of Object.keys(settings)) {
    if (!(key in known)) {
      throw new ConfigError(
        key,
        `${plugin}: unknown setting; valid settings: ${names.map((n) => `${n} (${known[n]})`).join('; ') || '(none)'}`,
        { source: SOURCE, details: { plugin, setting: key, known: names } },
      );
    }
  }
  return settings as Record<string, unknown>;
}

export interface NumberRule {
  readonly integer?: boolean;
  /** Inclusive bounds. */
  readonly min?: number;
  readonly max?: number;
  /** Exclusive bounds. */
  readonly greaterThan?: number;
  readonly lessThan?: number;
}

/** `value` (or `fallback` when undefined) checked against `rule`; a `ConfigError` names the key. */
export function numberSetting(
  plugin: string,
  key: string,
  value: unknown,
  fallback: number,
  rule: NumberRule = {},
): number {
  const v = value === undefined ? fallback : value;
  const fail = (expected: string): never => {
    throw new ConfigError(key, `${plugin}: expected ${expected}, got ${formatValue(v)}`, {
      source: SOURCE,
      details: { plugin, setting: key },
    });
  };
  if (typeof v !== 'number' || !Number.isFinite(v)) fail('a finite number');
  const n = v as number;
  if (rule.integer && !Number.isSafeInteger(n)) fail('an integer');
  if (rule.min !== undefined && n < rule.min) fail(`a number >= ${rule.min}`);
  if (rule.max !== undefined && n > rule.max) fail(`a number <= ${rule.max}`);
  if (rule.greaterThan !== undefined && !(n > rule.greaterThan))
    fail(`a number > ${rule.greaterThan}`);
  if (rule.lessThan !== undefined && !(n < rule.lessThan)) fail(`a number < ${rule.lessThan}`);
  return n;
}

/** `value` (or `fallback`) as one of `allowed`. */
export function oneOfSetting<T extends string>(
  plugin: string,
  key: string,
  value: unknown,
  fallback: T,
  allowed: readonly T[],
): T {
  const v = value === undefined ? fallback : value;
  if (typeof v !== 'string' || !allowed.includes(v as T)) {
    throw new ConfigError(
      key,
      `${plugin}: expected one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${formatValue(v)}`,
      { source: SOURCE, details: { plugin, setting: key } },
    );
  }
  return v as T;
}
