/**
 * One mapping from typed errors to gRPC statuses, used by every server.
 *
 * Domain code never imports gRPC. A business failure is a typed error that
 * carries two readonly fields, `reason` (a stable UPPER_SNAKE string) and
 * `grpcCode` (a gRPC status name); optionally `field` (the request field at
 * fault) and `metadata`. This module turns such an error into a status whose
 * `grpc-status-details-bin` trailer holds a `google.rpc.Status` with an
 * `ErrorInfo` (reason + domain + metadata) and, for field errors, a
 * `BadRequest` with field violations — the AIP-193 shape that grpc clients in
 * every language can read. Anything else is a programmer error: INTERNAL, with
 * the details kept in our logs and not sent to the caller.
 */
import { Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { Status } from '@paycore/proto/google/rpc/status';
import { BadRequest, ErrorInfo, PreconditionFailure } from '@paycore/proto/google/rpc/error_details';
import { Any } from '@paycore/proto/google/protobuf/any';

export type GrpcCodeName = Exclude<keyof typeof GrpcStatus, number>;

export const STATUS_DETAILS_KEY = 'grpc-status-details-bin';
const TYPE_PREFIX = 'type.googleapis.com/';

export interface FieldViolation {
  readonly field: string;
  readonly description: string;
  readonly reason?: string;
}

/** The shape the mapper understands; domain errors implement it structurally. */
export interface ReasonedError {
  readonly message: string;
  readonly reason: string;
  readonly grpcCode: GrpcCodeName;
  readonly field?: string | undefined;
  readonly metadata?: Readonly<Record<string, string>> | undefined;
  readonly fieldViolations?: readonly FieldViolation[] | undefined;
}

/** An error raised by transport code (validation, auth, idempotency) with an explicit status. */
export class ApiError extends Error implements ReasonedError {
  readonly reason: string;
  readonly grpcCode: GrpcCodeName;
  readonly metadata: Readonly<Record<string, string>>;
  readonly fieldViolations: readonly FieldViolation[];
  constructor(
    grpcCode: GrpcCodeName,
    reason: string,
    message: string,
    extra: { metadata?: Record<string, string>; fieldViolations?: readonly FieldViolation[] } = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.grpcCode = grpcCode;
    this.reason = reason;
    this.metadata = extra.metadata ?? {};
    this.fieldViolations = extra.fieldViolations ?? [];
  }
}

/** INVALID_ARGUMENT with one BadRequest violation per field. */
export function invalidArgument(violations: readonly FieldViolation[], message?: string): ApiError {
  const text = message ?? violations.map((v) => `${v.field}: ${v.description}`).join('; ');
  return new ApiError('INVALID_ARGUMENT', 'INVALID_FIELD', text, { fieldViolations: violations });
}

export function isReasonedError(err: unknown): err is ReasonedError {
  if (!(err instanceof Error)) return false;
  const e = err as Partial<ReasonedError>;
  return (
    typeof e.reason === 'string' &&
    typeof e.grpcCode === 'string' &&
    typeof (GrpcStatus as Record<string, unknown>)[e.grpcCode] === 'number'
  );
}

function pack(typeName: string, value: Uint8Array): Any {
  return { typeUrl: TYPE_PREFIX + typeName, value: Buffer.from(value) };
}

export interface MappedError {
  readonly code: GrpcStatus;
  readonly reason: string;
  readonly message: string;
  readonly internal: boolean;
  readonly serviceError: Partial<ServiceError> & { code: GrpcStatus; details: string; metadata: Metadata };
}

/**
 * Maps any thrown value to a grpc-js error object. `domain` names the service
 * in ErrorInfo (for example "account.paycore").
 */
export function toServiceError(err: unknown, domain: string): MappedError {
  if (!isReasonedError(err)) {
    const message =
      'internal error; the request may or may not have taken effect: retry with the same request_id';
    return build(GrpcStatus.INTERNAL, 'INTERNAL', message, domain, {}, [], true);
  }
  const violations: FieldViolation[] = [...(err.fieldViolations ?? [])];
  if (err.field !== undefined && !violations.some((v) => v.field === err.field)) {
    violations.push({ field: err.field, description: err.message, reason: err.reason });
  }
  return build(
    GrpcStatus[err.grpcCode],
    err.reason,
    err.message,
    domain,
    err.metadata ?? {},
    violations,
    false,
  );
}

function build(
  code: GrpcStatus,
  reason: string,
  message: string,
  domain: string,
  metadata: Readonly<Record<string, string>>,
  violations: readonly FieldViolation[],
  internal: boolean,
): MappedError {
  const details: Any[] = [
    pack('google.rpc.ErrorInfo', ErrorInfo.encode({ reason, domain, metadata: { ...metadata } }).finish()),
  ];
  if (violations.length > 0) {
    const badRequest = BadRequest.encode({
      fieldViolations: violations.map((v) => ({
        field: v.field,
        description: v.description,
        reason: v.reason ?? reason,
        localizedMessage: undefined,
      })),
    }).finish();
    details.push(pack('google.rpc.BadRequest', badRequest));
  }
  const statusBytes = Status.encode({ code, message, details }).finish();
  const md = new Metadata();
  md.set(STATUS_DETAILS_KEY, Buffer.from(statusBytes));
  return { code, reason, message, internal, serviceError: { code, details: message, metadata: md } };
}

export interface DecodedStatus {
  readonly code: number;
  readonly message: string;
  readonly errorInfo?: ErrorInfo;
  readonly badRequest?: BadRequest;
  readonly preconditionFailure?: PreconditionFailure;
}

/** Reads the rich status of a failed call, as a client of any paycore service would. */
export function decodeStatusDetails(err: {
  code?: number;
  details?: string;
  metadata?: Metadata;
}): DecodedStatus {
  const raw = err.metadata?.get(STATUS_DETAILS_KEY)[0];
  const code = err.code ?? GrpcStatus.UNKNOWN;
  if (!(raw instanceof Buffer)) return { code, message: err.details ?? '' };
  const st = Status.decode(raw);
  let out: DecodedStatus = { code: st.code, message: st.message };
  for (const any of st.details) {
    switch (any.typeUrl) {
      case `${TYPE_PREFIX}google.rpc.ErrorInfo`:
        out = { ...out, errorInfo: ErrorInfo.decode(any.value) };
        break;
      case `${TYPE_PREFIX}google.rpc.BadRequest`:
        out = { ...out, badRequest: BadRequest.decode(any.value) };
        break;
      case `${TYPE_PREFIX}google.rpc.PreconditionFailure`:
        out = { ...out, preconditionFailure: PreconditionFailure.decode(any.value) };
        break;
      default:
        break;
    }
  }
  return out;
}

/** The stable reason of a failed call, or undefined when the server sent none. */
export function errorReason(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  return decodeStatusDetails(err).errorInfo?.reason;
}
