/**
 * Errors of paycore calls, decoded from the gRPC status.
 *
 * A paycore server puts a `google.rpc.Status` in the `grpc-status-details-bin`
 * trailer (AIP-193): an `ErrorInfo` whose `reason` is a stable name from the
 * generated reason constants (see reasons.ts) and whose `domain` names the
 * service (for example "cashier.paycore"), and for bad fields a `BadRequest`
 * with one violation per field. `PaycoreError` carries all of it, so callers
 * branch on `reason`, never on message text.
 */
import { Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { BadRequest, ErrorInfo } from '@paycore/proto/google/rpc/error_details';
import { Status } from '@paycore/proto/google/rpc/status';

export const STATUS_DETAILS_METADATA_KEY = 'grpc-status-details-bin';
const ERROR_INFO_TYPE = 'type.googleapis.com/google.rpc.ErrorInfo';
const BAD_REQUEST_TYPE = 'type.googleapis.com/google.rpc.BadRequest';
/** A details trailer larger than this is not decoded (a hostile or broken peer). */
const STATUS_DETAILS_BYTES_MAX = 64 * 1024;

export interface FieldViolation {
  readonly field: string;
  readonly description: string;
  readonly reason: string;
}

export type GrpcCodeName = Exclude<keyof typeof GrpcStatus, number>;

export class PaycoreError extends Error {
  /** The numeric gRPC status code. */
  readonly code: GrpcStatus;
  /** The status code's name, e.g. `FAILED_PRECONDITION`. */
  readonly codeName: GrpcCodeName | 'UNKNOWN';
  /** The ErrorInfo reason, e.g. `INSUFFICIENT_BALANCE`; `''` when the server sent none. */
  readonly reason: string;
  /** The ErrorInfo domain, e.g. `cashier.paycore`; `''` when none. */
  readonly domain: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly fieldViolations: readonly FieldViolation[];
  /** The RPC's full path, e.g. `/paycore.cashier.v1.CashierService/Pay`. */
  readonly method: string;
  /** How many attempts the client made before giving up (1 = no retry). */
  readonly attempts: number;

  constructor(fields: {
    code: GrpcStatus;
    message: string;
    reason: string;
    domain: string;
    metadata: Readonly<Record<string, string>>;
    fieldViolations: readonly FieldViolation[];
    method: string;
    attempts: number;
    cause?: unknown;
  }) {
    super(fields.message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = 'PaycoreError';
    this.code = fields.code;
    const name = GrpcStatus[fields.code] as GrpcCodeName | undefined;
    this.codeName = name ?? 'UNKNOWN';
    this.reason = fields.reason;
    this.domain = fields.domain;
    this.metadata = fields.metadata;
    this.fieldViolations = fields.fieldViolations;
    this.method = fields.method;
    this.attempts = fields.attempts;
  }
}

function isServiceError(err: unknown): err is ServiceError {
  return (
    err instanceof Error &&
    typeof (err as Partial<ServiceError>).code === 'number' &&
    (err as Partial<ServiceError>).metadata instanceof Metadata
  );
}

interface DecodedDetails {
  reason: string;
  domain: string;
  metadata: Record<string, string>;
  fieldViolations: FieldViolation[];
  message: string | undefined;
}

/** Decodes a `grpc-status-details-bin` value; undefined when it is absent or not a Status. */
export function decodeStatusDetails(value: Buffer | undefined): DecodedDetails | undefined {
  if (value === undefined || value.length === 0 || value.length > STATUS_DETAILS_BYTES_MAX) return undefined;
  let status: Status;
  try {
    status = Status.decode(value);
  } catch {
    return undefined;
  }
  const decoded: DecodedDetails = {
    reason: '',
    domain: '',
    metadata: {},
    fieldViolations: [],
    message: status.message === '' ? undefined : status.message,
  };
  for (const detail of status.details) {
    try {
      if (detail.typeUrl === ERROR_INFO_TYPE) {
        const info = ErrorInfo.decode(detail.value);
        decoded.reason = info.reason;
        decoded.domain = info.domain;
        decoded.metadata = { ...info.metadata };
      } else if (detail.typeUrl === BAD_REQUEST_TYPE) {
        for (const violation of BadRequest.decode(detail.value).fieldViolations) {
          decoded.fieldViolations.push({
            field: violation.field,
            description: violation.description,
            reason: violation.reason,
          });
        }
      }
    } catch {
      // A detail we cannot decode is skipped; the status code still stands.
    }
  }
  return decoded;
}

/** Wraps whatever a call rejected with into a PaycoreError (a PaycoreError passes through). */
export function toPaycoreError(err: unknown, method: string, attempts: number): PaycoreError {
  if (err instanceof PaycoreError) return err;
  if (!isServiceError(err)) {
    return new PaycoreError({
      code: GrpcStatus.UNKNOWN,
      message: err instanceof Error ? err.message : String(err),
      reason: '',
      domain: '',
      metadata: {},
      fieldViolations: [],
      method,
      attempts,
      cause: err,
    });
  }
  const raw = err.metadata.get(STATUS_DETAILS_METADATA_KEY)[0];
  const details = decodeStatusDetails(Buffer.isBuffer(raw) ? raw : undefined);
  return new PaycoreError({
    code: err.code,
    message: details?.message ?? err.details,
    reason: details?.reason ?? '',
    domain: details?.domain ?? '',
    metadata: details?.metadata ?? {},
    fieldViolations: details?.fieldViolations ?? [],
    method,
    attempts,
    cause: err,
  });
}

/** The ErrorInfo reason of any error (PaycoreError or raw grpc-js error); undefined when none. */
export function reasonOf(err: unknown): string | undefined {
  const reason = toPaycoreError(err, '', 1).reason;
  return reason === '' ? undefined : reason;
}
