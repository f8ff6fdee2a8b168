/**
 * Field-by-field comparison of JSON values: the same names, the same nesting, the same types
 * (values aside). Used to hold the client's requests and the server's responses against the
 * protocol's example files.
 */

export interface ShapeOptions {
  /** Paths (`a.b`, array items as `a[]`) where `null` on one side matches any type. */
  readonly nullable?: readonly string[];
  /** Paths of free-form records (`metrics`): keys are data; only the value types are compared. */
  readonly records?: readonly string[];
  /** Paths present in the example that the actual value may lack (another server's extras). */
  readonly optional?: readonly string[];
  /** Key prefix of extension fields the actual value may add. Default `hicra_`. */
  readonly extensionPrefix?: string;
  /** Extra paths the actual value may add (besides the extension prefix). */
  readonly extras?: readonly string[];
}

function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/**
 * The differences between `actual` and `expected` as messages (empty when they agree). Arrays
 * are compared item by item against the example's first item (every item of a JSON list of the
 * protocol has one type).
 */
export function shapeDifferences(
  actual: unknown,
  expected: unknown,
  options: ShapeOptions = {},
  path = '',
): string[] {
  const nullable = new Set(options.nullable ?? []);
  const records = new Set(options.records ?? []);
  const optional = new Set(options.optional ?? []);
  const extras = new Set(options.extras ?? []);
  const prefix = options.extensionPrefix ?? 'hicra_';
  const out: string[] = [];
  const at = (p: string) => p || '(root)';
  const walk = (a: unknown, e: unknown, p: string): void => {
    const ka = kind(a);
    const ke = kind(e);
    if (ka !== ke) {
      if ((ka === 'null' || ke === 'null') && nullable.has(p)) return;
      out.push(`${at(p)}: ${ka} where the example has ${ke}`);
      return;
    }
    if (ka === 'array') {
      const ea = e as unknown[];
      const aa = a as unknown[];
      if (ea.length === 0 || aa.length === 0) return;
      for (const item of aa) walk(item, ea[0], `${p}[]`);
      return;
    }
    if (ka !== 'object') return;
    const ao = a as Record<string, unknown>;
    const eo = e as Record<string, unknown>;
    if (records.has(p)) {
      const sample = Object.values(eo)[0];
      for (const [k, v] of Object.entries(ao)) {
        if (sample !== undefined && kind(v) !== kind(sample))
          out.push(`${at(p)}.${k}: ${kind(v)} where the example's values are ${kind(sample)}`);
      }
      return;
    }
    for (const key of Object.keys(eo)) {
      const child = p ? `${p}.${key}` : key;
      if (!(key in ao)) {
        if (!optional.has(child)) out.push(`${child}: missing (the example has it)`);
        continue;
      }
      walk(ao[key], eo[key], child);
    }
    for (const key of Object.keys(ao)) {
      const child = p ? `${p}.${key}` : key;
      if (key in eo || key.startsWith(prefix) || extras.has(child)) continue;
      out.push(`${child}: present, but not in the example`);
    }
  };
  walk(actual, expected, path);
  return out;
}
