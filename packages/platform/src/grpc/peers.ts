/**
 * What a service needs to call another besides the client (client.ts): where
 * the peer is, and what a failed call means.
 *
 * - `serviceAddress`: the explicit setting, else the peer's entry in the
 *   endpoints file that `make up` writes (ENDPOINTS_FILE); neither is an error
 *   at start-up, never a guessed default.
 * - `peerCallError`: a call that failed without a status, or with a status
 *   that says nothing about the request (unavailable, deadline, internal,
 *   unknown, resource exhausted, cancelled), is transient: the caller's flow
 *   stays where it is and is resumed, so it maps to the service's
 *   DEPENDENCY_UNAVAILABLE. Any other status is the peer refusing the request,
 *   with the peer's stable reason (ErrorInfo.reason, UNKNOWN when it sent
 *   none). Each service builds its own error types from the two messages.
 */
import { readFileSync } from 'node:fs';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { errorReason } from '../errors';

/** host:port of a service: the explicit setting, else its entry in the endpoints file. */
export function serviceAddress(
  name: string,
  explicit: string | undefined,
  endpointsFile: string | undefined,
): string {
  if (explicit !== undefined) return explicit;
  if (endpointsFile !== undefined) {
    const endpoints = JSON.parse(readFileSync(endpointsFile, 'utf8')) as Record<string, unknown>;
    const address = endpoints[name];
    if (typeof address === 'string' && address !== '') return address;
  }
  throw new Error(`the ${name} address is unknown: set its address setting or ENDPOINTS_FILE`);
}

/** Statuses that say nothing about the request itself: try again later. */
export const TRANSIENT_GRPC_CODES: ReadonlySet<number> = new Set<number>([
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.INTERNAL,
  GrpcStatus.UNKNOWN,
  GrpcStatus.RESOURCE_EXHAUSTED,
  GrpcStatus.CANCELLED,
]);

/** The gRPC status code of a failed call, or undefined when it has none (not a gRPC failure). */
export function grpcCodeOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/** True when a failed call may succeed later unchanged (see the module comment). */
export function isTransientCallFailure(err: unknown): boolean {
  const code = grpcCodeOf(err);
  return code === undefined || TRANSIENT_GRPC_CODES.has(code);
}

/** How a service turns a failed call to a peer into its own errors. */
export interface PeerFailures {
  /** A transient failure; `message` is "<peer> <method> failed: <error>". */
  readonly unavailable: (message: string) => Error;
  /** A refusal with the peer's reason; `message` is "<peer> <method> refused: <error>". */
  readonly refused: (reason: string, message: string) => Error;
}

/** The service's error for a failed call to `peer`'s `method`. */
export function peerCallError(peer: string, method: string, err: unknown, failures: PeerFailures): Error {
  const text = err instanceof Error ? err.message : String(err);
  if (isTransientCallFailure(err)) return failures.unavailable(`${peer} ${method} failed: ${text}`);
  return failures.refused(errorReason(err) ?? 'UNKNOWN', `${peer} ${method} refused: ${text}`);
}
