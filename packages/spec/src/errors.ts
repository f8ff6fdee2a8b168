/**
 * Errors shared by every hicra package.
 *
 * One base class, {@link HicraError}, carries a stable machine-readable `code`, the package
 * that raised it and structured `details`. Type checks go through `isInstance`, which looks
 * for a marker symbol from the global symbol registry rather than the prototype chain, so an
 * error thrown by one copy of `@hicra/spec` is recognised by another (two copies in one
 * `node_modules` tree are common).
 */

const HICRA_ERROR_MARKER: unique symbol = Symbol.for('@hicra/spec/error') as never;

/**
 * Stable error codes. Codes are part of the public contract: they never change meaning and are
 * never reused. Match on `error.code`, not on messages.
 */
export const ErrorCode = {
  /** An argument has the wrong type, dtype or structure. */
  InvalidArgument: 'HICRA_INVALID_ARGUMENT',
  /** Array lengths or tensor shapes disagree with each other or with `batchSize`·`seqLen`. */
  ShapeMismatch: 'HICRA_SHAPE_MISMATCH',
  /** A value is out of its valid range or not finite (NaN, ±Infinity) where a number is required. */
  InvalidValue: 'HICRA_INVALID_VALUE',
  /** A registry lookup named something that is not registered. */
  UnknownName: 'HICRA_UNKNOWN_NAME',
  /** A configuration object or file is malformed or fails validation. */
  InvalidConfig: 'HICRA_INVALID_CONFIG',
  /** A requested compute backend is not installed or cannot start. */
  BackendUnavailable: 'HICRA_BACKEND_UNAVAILABLE',
  /** A checkpoint or data file is missing, truncated or inconsistent. */
  CorruptFile: 'HICRA_CORRUPT_FILE',
  /** A required optional input (for example a planning mask) is absent. */
  MissingInput: 'HICRA_MISSING_INPUT',
  /** A numerical computation produced a non-finite result (loss, gradient). */
  NonFinite: 'HICRA_NON_FINITE',
  /** A run directory is locked by another process (or another run in this one). */
  RunLocked: 'HICRA_RUN_LOCKED',
  /** A run directory holds another run than the one requested (its saved settings differ). */
  RunMismatch: 'HICRA_RUN_MISMATCH',
  /** The work would need more memory than the backend can address (checked before allocating). */
  ResourceLimit: 'HICRA_RESOURCE_LIMIT',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Structured context attached to an error: field names, indices, expected and actual sizes. */
export type ErrorDetails = Readonly<Record<string, unknown>>;

export interface HicraErrorOptions {
  /** The package that raised the error, e.g. `@hicra/advantage`. */
  readonly source?: string;
  /** Structured context; must be JSON-serialisable. */
  readonly details?: ErrorDetails;
  /** The underlying error, if this one wraps another. */
  readonly cause?: unknown;
}

/** The base class of every error thrown by a hicra package. */
export class HicraError extends Error {
  /** Marker read by {@link HicraError.isInstance}; survives duplicate package copies. */
  readonly [HICRA_ERROR_MARKER] = true;
  /** Stable machine-readable code, one of {@link ErrorCode}. */
  readonly code: ErrorCode;
  /** The package that raised the error (`@hicra/...`), or `undefined` if not given. */
  readonly source: string | undefined;
  /** Structured context, JSON-serialisable. */
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, options: HicraErrorOptions = {}) {
    const prefix = options.source ? `${options.source}: ` : '';
    super(
      `${prefix}${message}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = new.target.name;
    this.code = code;
    this.source = options.source;
    this.details = options.details ?? {};
  }

  /**
   * True for any hicra error, including one created by another copy of this package.
   * On a subclass, also requires the subclass's code (`ShapeError.isInstance(e)`).
   */
  static isInstance(value: unknown): value is HicraError {
    if (typeof value !== 'object' || value === null) return false;
    if ((value as Record<symbol, unknown>)[HICRA_ERROR_MARKER] !== true) return false;
    // `this` is the class isInstance was called on: a subclass also checks its own code.
    // biome-ignore lint/complexity/noThisInStatic: polymorphic on purpose
    const expected = (this as unknown as { readonly expectedCode?: ErrorCode }).expectedCode;
    return expected === undefined || (value as HicraError).code === expected;
  }

  /** A plain object for logs and JSON output. */
  toJSON(): {
    name: string;
    code: ErrorCode;
    message: string;
    source?: string;
    details: ErrorDetails;
  } {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      ...(this.source === undefined ? {} : { source: this.source }),
      details: this.details,
    };
  }
}

/** An argument has the wrong type, dtype or structure. */
export class InvalidArgumentError extends HicraError {
  static readonly expectedCode = ErrorCode.InvalidArgument;
  constructor(message: string, options?: HicraErrorOptions) {
    super(ErrorCode.InvalidArgument, message, options);
  }
}

/** Array lengths or shapes disagree. `details` names the field, the expected and actual size. */
export class ShapeError extends HicraError {
  static readonly expectedCode = ErrorCode.ShapeMismatch;
  constructor(message: string, options?: HicraErrorOptions) {
    super(ErrorCode.ShapeMismatch, message, options);
  }
}

/** A value is out of range or not finite. `details` names the field and the index. */
export class InvalidValueError extends HicraError {
  static readonly expectedCode = ErrorCode.InvalidValue;
  constructor(message: string, options?: HicraErrorOptions) {
    super(ErrorCode.InvalidValue, message, options);
  }
}

/** A registry lookup failed; `known` lists every registered name. */
export class UnknownNameError extends HicraError {
  static readonly expectedCode = ErrorCode.UnknownName;
  /** What kind of thing was looked up, e.g. `estimator`. */
  readonly kind: string;
  /** The name that was asked for. */
  readonly requested: string;
  /** Every name the registry knows, sorted. */
  readonly known: readonly string[];

  constructor(
    kind: string,
    requested: string,
    known: readonly string[],
    options?: HicraErrorOptions,
  ) {
    const sorted = [...known].sort();
    super(
      ErrorCode.UnknownName,
      `unknown ${kind} ${JSON.stringify(requested)}; known ${kind}s: ${sorted.map((k) => JSON.stringify(k)).join(', ') || '(none registered)'}`,
      { ...options, details: { kind, requested, known: sorted, ...options?.details } },
    );
    this.kind = kind;
    this.requested = requested;
    this.known = sorted;
  }
}

/** A configuration is malformed. `path` points at the offending key, e.g. `assigners[1].alpha`. */
export class ConfigError extends HicraError {
  static readonly expectedCode = ErrorCode.InvalidConfig;
  /** JSON path of the offending key (`''` for the whole config). */
  readonly path: string;

  constructor(path: string, message: string, options?: HicraErrorOptions) {
    super(ErrorCode.InvalidConfig, path ? `config key ${path}: ${message}` : `config: ${message}`, {
      ...options,
      details: { path, ...options?.details },
    });
    this.path = path;
  }
}

/** A compute backend is missing or failed to start; the message says how to install it. */
export class BackendUnavailableError extends HicraError {
  static readonly expectedCode = ErrorCode.BackendUnavailable;
  constructor(message: string, options?: HicraErrorOptions) {
    super(ErrorCode.BackendUnavailable, message, options);
  }
}

/** A checkpoint or data file is missing, truncated or inconsistent. */
export class CorruptFileError extends HicraError {
  static readonly expectedCode = ErrorCode.CorruptFile;
  constructor(message: string, options?: HicraErrorOptions) {
    super(ErrorCode.CorruptFile, message, options);
  }
}

/** An input that this operation needs (but the contract leaves optional) is absent. */
export class MissingInputError extends HicraError {
  static readonly expectedCode = ErrorCode.MissingInput;
  constructor(message: string, options?: HicraErrorOptions) {
    super(ErrorCode.MissingInput, message, options);
  }
}

/** A computation produced NaN or ±Infinity (a loss, a gradient norm). */
export class NonFiniteError extends HicraError {
  static readonly expectedCode = ErrorCode.NonFinite;
  constructor(message: string, options?: HicraErrorOptions) {
    super(ErrorCode.NonFinite, message, options);
  }
}

/**
 * A run directory is locked: another process (or another run in this process) writes to it.
 * `details`: `{ path, holder }`, the lock file and what it says about its holder
 * (`{ pid, host, command, startedAt }`, or `undefined` when the file cannot be read).
 */
export class RunLockedError extends HicraError {
  static readonly expectedCode = ErrorCode.RunLocked;
  constructor(message: string, options?: HicraErrorOptions) {
    super(ErrorCode.RunLocked, message, options);
  }
}

/**
 * A run directory holds another run than the one requested: its saved settings (`run.json`)
 * differ from the requested ones, or it holds run files but no settings to compare.
 * `details`: `{ runDir, differences }`, each difference `{ key, saved, requested }` with `key`
 * a path such as `config.credit.estimator.name` (`saved` or `requested` absent when the key is
 * missing on that side).
 */
export class RunMismatchError extends HicraError {
  static readonly expectedCode = ErrorCode.RunMismatch;
  constructor(message: string, options?: HicraErrorOptions) {
    super(ErrorCode.RunMismatch, message, options);
  }
}

/**
 * The work would need more memory than the compute backend can address, found before anything
 * is allocated (a model too large for the WASM backend's 4 GiB heap). `details`:
 * `{ neededBytes, limitBytes, backend }`.
 */
export class ResourceLimitError extends HicraError {
  static readonly expectedCode = ErrorCode.ResourceLimit;
  constructor(message: string, options?: HicraErrorOptions) {
    super(ErrorCode.ResourceLimit, message, options);
  }
}

/**
 * A warning: for a *valid* option that an implementation ignores (for example `values` given
 * to GRPO), or a valid setting or outcome that makes results easy to misread (RL sampling with
 * top-k/top-p, a training batch in which no response could be scored). Invalid values and
 * unknown names are errors, never warnings.
 */
export interface HicraWarningV1 {
  /** Stable code, kebab-case, e.g. `ignored-input`. */
  readonly code: string;
  /** Human-readable explanation naming the option and why it is ignored. */
  readonly message: string;
  /** The component that emitted it, e.g. `estimator:grpo`. */
  readonly source: string;
}
