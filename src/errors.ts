/**
 * The error catalogue. Every error Streamfold raises on purpose has a stable code here.
 * Domain and adapter code throw these without any notion of HTTP; `src/http/problem.ts`
 * alone maps codes to statuses and writes RFC 9457 problem+json.
 */

export const ErrorCodes = {
  /** A request or command failed schema validation. */
  VALIDATION: 'STREAMFOLD_VALIDATION',
  /** The thing addressed does not exist (stream, order, product, document). */
  NOT_FOUND: 'STREAMFOLD_NOT_FOUND',
  /** The stream's revision is not the one the writer expected. */
  CONFLICT: 'STREAMFOLD_CONFLICT',
  /** The command is well formed but a business rule forbids it. */
  RULE_VIOLATION: 'STREAMFOLD_RULE_VIOLATION',
  /** The process is shedding load or shutting down; retry later. */
  OVERLOADED: 'STREAMFOLD_OVERLOADED',
  /** A read-your-writes wait ran out before the read model caught up. */
  NOT_CAUGHT_UP: 'STREAMFOLD_NOT_CAUGHT_UP',
  /** A query asked for a field the collection does not index. */
  NOT_INDEXED: 'STREAMFOLD_NOT_INDEXED',
  /** A configuration value is missing or malformed. */
  CONFIG: 'STREAMFOLD_CONFIG',
  /** An adapter was used after close(). */
  CLOSED: 'STREAMFOLD_CLOSED',
  /** A request with this Idempotency-Key is still being handled; retry later. */
  IDEMPOTENCY_IN_FLIGHT: 'STREAMFOLD_IDEMPOTENCY_IN_FLIGHT',
  /** This Idempotency-Key was first used for a different request (method, path or body). */
  IDEMPOTENCY_MISMATCH: 'STREAMFOLD_IDEMPOTENCY_MISMATCH',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class StreamfoldError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Readonly<Record<string, unknown>> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options?.details;
  }
}

export class ValidationError extends StreamfoldError {
  constructor(message: string, details?: Readonly<Record<string, unknown>>) {
    super(ErrorCodes.VALIDATION, message, details === undefined ? undefined : { details });
  }
}

export class NotFoundError extends StreamfoldError {
  constructor(message: string, details?: Readonly<Record<string, unknown>>) {
    super(ErrorCodes.NOT_FOUND, message, details === undefined ? undefined : { details });
  }
}

/** The append's expected revision did not match the stream. Adapters wrap vendor errors in it. */
export class ConflictError extends StreamfoldError {
  readonly streamId: string;
  readonly expected: string;
  readonly actual: string;

  constructor(streamId: string, expected: string, actual: string, cause?: unknown) {
    super(
      ErrorCodes.CONFLICT,
      `Stream ${streamId} is at revision ${actual}, the writer expected ${expected}`,
      { cause, details: { streamId, expected, actual } },
    );
    this.streamId = streamId;
    this.expected = expected;
    this.actual = actual;
  }
}

/** A business rule forbids the command; `rule` is a stable, machine-readable reason. */
export class RuleViolation extends StreamfoldError {
  readonly rule: string;

  constructor(rule: string, message: string, details?: Readonly<Record<string, unknown>>) {
    super(ErrorCodes.RULE_VIOLATION, message, { details: { rule, ...details } });
    this.rule = rule;
  }
}

export class OverloadedError extends StreamfoldError {
  constructor(message: string) {
    super(ErrorCodes.OVERLOADED, message);
  }
}

export class NotCaughtUpError extends StreamfoldError {
  constructor(message: string, details?: Readonly<Record<string, unknown>>) {
    super(ErrorCodes.NOT_CAUGHT_UP, message, details === undefined ? undefined : { details });
  }
}

export class NotIndexedError extends StreamfoldError {
  constructor(collection: string, field: string) {
    super(
      ErrorCodes.NOT_INDEXED,
      `Collection ${collection} has no index on "${field}"; declare it in the projection's indexes`,
      { details: { collection, field } },
    );
  }
}

export class ConfigError extends StreamfoldError {
  constructor(message: string, details?: Readonly<Record<string, unknown>>) {
    super(ErrorCodes.CONFIG, message, details === undefined ? undefined : { details });
  }
}

export class ClosedError extends StreamfoldError {
  constructor(what: string) {
    super(ErrorCodes.CLOSED, `${what} is closed`);
  }
}
