/**
 * The one error type of @paycore/context.
 *
 * Every failure is bad input (a malformed or unknown context code, a broken
 * catalogue file), mapped to gRPC INVALID_ARGUMENT. The platform's error
 * mapper reads `reason`, `grpcCode` and `field` structurally, so this package
 * never imports the mapper.
 */

/** Stable reasons; never renamed or reused, callers may branch on them. */
export const ContextErrorReason = {
  /** Not 20 ASCII digits, or a part given to formatBizCode/withRoute is malformed. */
  INVALID_BIZ_CODE: 'INVALID_BIZ_CODE',
  /** Well-formed but not allowed by the catalogue (same name as proto ErrorReason). */
  UNKNOWN_BIZ_CODE: 'UNKNOWN_BIZ_CODE',
  /** withRoute on a code whose channel parts are already set. */
  ALREADY_ROUTED: 'ALREADY_ROUTED',
  /** The catalogue file is unreadable or inconsistent; `field` is the JSON path. */
  INVALID_CATALOGUE: 'INVALID_CATALOGUE',
} as const;

export type ContextErrorReason = (typeof ContextErrorReason)[keyof typeof ContextErrorReason];

export class ContextError extends Error {
  readonly reason: ContextErrorReason;
  readonly grpcCode = 'INVALID_ARGUMENT' as const;
  /** The request field, code part or catalogue JSON path at fault. */
  readonly field?: string;

  constructor(reason: ContextErrorReason, message: string, field?: string) {
    super(message);
    this.name = 'ContextError';
    this.reason = reason;
    if (field !== undefined) this.field = field;
  }
}
