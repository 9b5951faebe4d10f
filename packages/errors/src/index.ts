/**
 * The base of every service's typed business errors.
 *
 * A business failure is its own class with a stable `reason` (UPPER_SNAKE,
 * never renamed) and the gRPC status name it maps to. The platform's one
 * error mapper reads those fields structurally (plus `field` and `metadata`),
 * so a domain depends on this pure module and never on gRPC. Programmer
 * errors are not DomainErrors: they are assertions.
 */

/** gRPC status names a business error may map to. */
export type DomainGrpcCode =
  | 'INVALID_ARGUMENT'
  | 'FAILED_PRECONDITION'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'OUT_OF_RANGE'
  | 'RESOURCE_EXHAUSTED'
  | 'ABORTED'
  | 'UNAVAILABLE';

export interface DomainErrorExtra {
  /** The request field at fault, e.g. "legs[2].amount". */
  readonly field?: string;
  /** Extra facts for the caller's ErrorInfo; values are strings on the wire. */
  readonly metadata?: Record<string, string>;
}

export abstract class DomainError extends Error {
  abstract readonly reason: string;
  abstract readonly grpcCode: DomainGrpcCode;
  readonly field?: string;
  readonly metadata: Readonly<Record<string, string>>;

  constructor(message: string, extra: DomainErrorExtra = {}) {
    super(message);
    this.name = new.target.name;
    if (extra.field !== undefined) this.field = extra.field;
    this.metadata = extra.metadata ?? {};
  }
}
