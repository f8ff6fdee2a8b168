/**
 * The Standard Schema interface (https://standardschema.dev, version 1), declared here so that
 * `@hicra/spec` stays free of dependencies: any validator that implements it (zod 3.24+ and 4,
 * valibot 1, arktype, effect schema, or the spec's own `defineSettings`) can describe a
 * plug-in's settings, and the settings type is inferred from it.
 */

/** A path segment of an issue: a key, or an object holding one. */
export type StandardSchemaPathSegmentV1 = PropertyKey | { readonly key: PropertyKey };

/** One problem a validator found. */
export interface StandardSchemaIssueV1 {
  readonly message: string;
  readonly path?: readonly StandardSchemaPathSegmentV1[] | undefined;
}

/** What `validate` returns: the parsed value, or the issues. */
export type StandardSchemaResultV1<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: readonly StandardSchemaIssueV1[] };

/** The `~standard` property every compliant schema carries. */
export interface StandardSchemaPropsV1<Input = unknown, Output = Input> {
  readonly version: 1;
  /** The library that made the schema (`"zod"`, `"valibot"`, `"hicra"`, ...). */
  readonly vendor: string;
  readonly validate: (
    value: unknown,
  ) => StandardSchemaResultV1<Output> | Promise<StandardSchemaResultV1<Output>>;
  /** Type carrier only (never read at run time). */
  readonly types?: { readonly input: Input; readonly output: Output } | undefined;
}

/** A schema of any library that implements Standard Schema v1. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': StandardSchemaPropsV1<Input, Output>;
}

/** The type a schema produces. */
export type InferSchemaOutputV1<S extends StandardSchemaV1> = NonNullable<
  S['~standard']['types']
>['output'];

/** True when `value` looks like a Standard Schema v1 (an object with a `~standard.validate`). */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false;
  const props = (value as { '~standard'?: unknown })['~standard'];
  return (
    typeof props === 'object' &&
    props !== null &&
    (props as { version?: unknown }).version === 1 &&
    typeof (props as { validate?: unknown }).validate === 'function'
  );
}

/** `a.b[2].c` from an issue's path (empty for none). */
export function formatIssuePath(path: StandardSchemaIssueV1['path']): string {
  let out = '';
  for (const segment of path ?? []) {
    const key = typeof segment === 'object' && segment !== null ? segment.key : segment;
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}
