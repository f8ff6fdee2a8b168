import { ConfigError, InvalidArgumentError, InvalidValueError } from '@hicra/spec';

/** The package name every error of this package carries as its `source`. */
export const SOURCE = '@hicra/tasks';

/** A settings object (or `undefined` for all defaults) with no keys outside `known`. */
export function readSettings<T extends object>(
  value: T | undefined,
  where: string,
  known: readonly string[],
): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(`${where}: settings must be an object, got ${describe(value)}`, {
      source: SOURCE,
      details: { argument: where, actual: describe(value) },
    });
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      // `createX: settings` -> path `settings.key`, message prefixed with `createX`.
      const cut = where.lastIndexOf(': ');
      const owner = cut < 0 ? '' : `${where.slice(0, cut)}: `;
      const path = `${cut < 0 ? where : where.slice(cut + 2)}.${key}`;
      throw new ConfigError(
        path,
        `${owner}unknown setting; known settings: ${[...known].sort().join(', ')}`,
        { source: SOURCE, details: { known: [...known].sort() } },
      );
    }
  }
  return value;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value;
}

interface NumberRule {
  readonly min?: number;
  readonly max?: number;
  /** Lower bound excluded. */
  readonly minExclusive?: boolean;
  readonly integer?: boolean;
}

/** A finite number (or the default when absent), in range; errors name `where` and the value. */
export function readNumber(
  value: unknown,
  where: string,
  fallback: number | undefined,
  rule: NumberRule = {},
): number {
  if (value === undefined) {
    if (fallback === undefined) {
      throw new InvalidArgumentError(`${where} is required`, {
        source: SOURCE,
        details: { argument: where },
      });
    }
    return fallback;
  }
  if (typeof value !== 'number') {
    throw new InvalidArgumentError(`${where} must be a number, got ${describe(value)}`, {
      source: SOURCE,
      details: { argument: where, actual: describe(value) },
    });
  }
  const fail = (expected: string): never => {
    throw new InvalidValueError(`${where} must be ${expected}, got ${value}`, {
      source: SOURCE,
      details: { argument: where, value: Number.isFinite(value) ? value : String(value), expected },
    });
  };
  if (!Number.isFinite(value)) fail('finite');
  if (rule.integer && !Number.isInteger(value)) fail('an integer');
  if (rule.min !== undefined) {
    if (rule.minExclusive ? value <= rule.min : value < rule.min)
      fail(`${rule.minExclusive ? '>' : '>='} ${rule.min}`);
  }
  if (rule.max !== undefined && value > rule.max) fail(`<= ${rule.max}`);
  return value;
}

/** A probability in [0, 1]. */
export function readRate(value: unknown, where: string, fallback: number): number {
  return readNumber(value, where, fallback, { min: 0, max: 1 });
}

export function readBoolean(value: unknown, where: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new InvalidArgumentError(`${where} must be true or false, got ${describe(value)}`, {
      source: SOURCE,
      details: { argument: where, actual: describe(value) },
    });
  }
  return value;
}

/** One of `choices` (or the default when absent). */
export function readChoice<C extends string>(
  value: unknown,
  where: string,
  choices: readonly C[],
  fallback: C,
): C {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !choices.includes(value as C)) {
    throw new InvalidValueError(
      `${where} must be one of ${choices.map((c) => JSON.stringify(c)).join(', ')}, got ${describe(value)}`,
      { source: SOURCE, details: { argument: where, actual: describe(value), expected: choices } },
    );
  }
  return value as C;
}
