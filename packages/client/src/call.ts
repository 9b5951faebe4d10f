/**
 * One promise-returning method per unary RPC of a ts-proto service
 * definition, with the behaviour every paycore caller needs:
 *
 * - a deadline on every attempt (the call's `deadlineMs`, else the client's
 *   default) — paycore servers refuse calls without one;
 * - an idempotency key: a request with a `requestId` field that the caller
 *   left empty gets a fresh UUID, generated once per logical call and sent
 *   again on every retry, so a retried payment is the same payment;
 * - retries only for idempotent calls — reads (Get/List/Query/Check) and
 *   requests carrying a `requestId` — on UNAVAILABLE and DEADLINE_EXCEEDED,
 *   with exponential backoff and full jitter, at most `attemptsMax` attempts;
 * - a bearer token from the TokenProvider, fetched per attempt;
 * - one W3C traceparent per logical call (the caller's, the `propagate`
 *   hook's, or a new one) and the context code in `x-biz-context`;
 * - failures as PaycoreError (reason, domain, metadata, field violations).
 */
import { randomUUID } from 'node:crypto';
import { Metadata, status as GrpcStatus, type Client, type ServiceError } from '@grpc/grpc-js';
import { assertBizCode, BIZ_CONTEXT_METADATA_KEY } from './context-code';
import { toPaycoreError } from './errors';
import { REQUEST_TYPES } from './generated/requests';
import type { TokenProvider } from './token';
import { newTraceparent, TRACEPARENT_METADATA_KEY } from './trace';

/** The shape of one unary method in a ts-proto `outputServices=grpc-js` definition. */
export interface UnaryMethodDefinition<Req, Res> {
  readonly path: string;
  readonly requestStream: false;
  readonly responseStream: false;
  readonly requestSerialize: (value: Req) => Buffer;
  readonly requestDeserialize: (value: Buffer) => Req;
  readonly responseDeserialize: (value: Buffer) => Res;
}

type RequestOf<M> = M extends { requestDeserialize: (value: Buffer) => infer R } ? R : never;
type ResponseOf<M> = M extends { responseDeserialize: (value: Buffer) => infer R } ? R : never;
type UnaryKeys<D> = {
  [K in keyof D]: D[K] extends { requestStream: false; responseStream: false } ? K : never;
}[keyof D];

type Builtin = Date | Uint8Array | string | number | boolean | bigint | undefined | null;

/**
 * A message with every field optional, nested messages and the elements of
 * repeated fields included (ts-proto's `DeepPartial`): a field added to a
 * proto never breaks a caller's build.
 */
export type DeepPartial<T> = T extends Builtin
  ? T
  : T extends ReadonlyArray<infer U>
    ? ReadonlyArray<DeepPartial<U>>
    : T extends object
      ? { [K in keyof T]?: DeepPartial<T[K]> }
      : T;

/** A request as callers give it: any field may be left out and takes its proto default on the wire. */
export type RequestInput<Req> = DeepPartial<Req>;

export interface RetryPolicy {
  /** Attempts in all, the first included (1 = never retry; at most 10). */
  readonly attemptsMax: number;
  readonly initialBackoffMs: number;
  readonly backoffMaxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attemptsMax: 4, initialBackoffMs: 100, backoffMaxMs: 2_000 };
export const DEFAULT_DEADLINE_MS = 10_000;
const ATTEMPTS_MAX = 10;
const DEADLINE_MS_MAX = 10 * 60_000;
const RETRYABLE_CODES: ReadonlySet<GrpcStatus> = new Set([
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DEADLINE_EXCEEDED,
]);
const READ_METHOD = /^(get|list|query|check)/;

export interface CallOptions {
  /** Deadline of each attempt, ms from its start (default: the client's). */
  readonly deadlineMs?: number;
  /** Context code for `x-biz-context` (default: the client's `bizCode` hook). */
  readonly bizCode?: string;
  /** W3C traceparent to continue (default: the `propagate` hook's, else a new trace). */
  readonly traceparent?: string;
  /** `false` disables retries for this call even when it is idempotent. */
  readonly retry?: false;
  /** Extra ASCII metadata entries. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Called once with the traceparent the call carries (to print or store the trace id). */
  readonly onTraceparent?: (traceparent: string) => void;
}

export interface CallSettings {
  readonly token?: TokenProvider;
  readonly defaultDeadlineMs?: number;
  readonly retry?: RetryPolicy;
  /** The context code of calls that give none (for example from your own request context). */
  readonly bizCode?: () => string | undefined;
  /** Adds your tracer's headers (traceparent, baggage) to outgoing metadata. */
  readonly propagate?: (metadata: Metadata) => void;
  /** Methods that are idempotent although their request has no requestId (upserts). */
  readonly alsoIdempotent?: readonly string[];
  /** Sleep used between attempts (tests replace it). */
  readonly sleep?: (ms: number) => Promise<void>;
}

export type ServiceClient<D> = {
  readonly [K in UnaryKeys<D>]: (
    request: RequestInput<RequestOf<D[K]>>,
    options?: CallOptions,
  ) => Promise<ResponseOf<D[K]>>;
};

function checkPolicy(policy: RetryPolicy): RetryPolicy {
  if (!Number.isInteger(policy.attemptsMax) || policy.attemptsMax < 1 || policy.attemptsMax > ATTEMPTS_MAX) {
    throw new RangeError(`retry.attemptsMax must be an integer in 1..${ATTEMPTS_MAX}`);
  }
  if (!(policy.initialBackoffMs >= 0) || !(policy.backoffMaxMs >= policy.initialBackoffMs)) {
    throw new RangeError('retry backoff must satisfy 0 <= initialBackoffMs <= backoffMaxMs');
  }
  return policy;
}

function checkDeadline(deadlineMs: number): number {
  if (!Number.isFinite(deadlineMs) || deadlineMs <= 0 || deadlineMs > DEADLINE_MS_MAX) {
    throw new RangeError(`deadlineMs must be in (0, ${DEADLINE_MS_MAX}]`);
  }
  return deadlineMs;
}

/** Full-jitter exponential backoff before attempt `attempt` (2, 3, ...). */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.backoffMaxMs, policy.initialBackoffMs * 2 ** (attempt - 2));
  return Math.floor(random() * ceiling);
}

function unaryOnce<Req, Res>(
  client: Client,
  method: UnaryMethodDefinition<Req, Res>,
  request: Req,
  metadata: Metadata,
  deadlineMs: number,
): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    client.makeUnaryRequest<Req, Res>(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      metadata,
      { deadline: Date.now() + deadlineMs },
      (err: ServiceError | null, response?: Res) => {
        if (err) reject(err);
        else if (response === undefined) reject(new Error(`${method.path}: empty response`));
        else resolve(response);
      },
    );
  });
}

/**
 * Completes a partial request: the message's generated `fromPartial` for a
 * paycore RPC (every level, repeated elements included), else a shallow
 * merge over the decoded defaults (grpc.health and other foreign services).
 */
function completer(
  path: string,
  defaults: Record<string, unknown>,
): (input: Record<string, unknown>) => Record<string, unknown> {
  const type = REQUEST_TYPES[path];
  if (type === undefined) return (input) => ({ ...defaults, ...input });
  return (input) => type.fromPartial(input as never) as Record<string, unknown>;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Builds the promise client of one service definition over one grpc-js channel. */
export function bindService<D extends object>(
  definition: D,
  channel: () => Client,
  settings: CallSettings,
): ServiceClient<D> {
  checkPolicy(settings.retry ?? DEFAULT_RETRY); // a bad policy fails when the client is made, not at its first call
  const defaultDeadlineMs = checkDeadline(settings.defaultDeadlineMs ?? DEFAULT_DEADLINE_MS);
  const alsoIdempotent = new Set(settings.alsoIdempotent ?? []);
  const methods: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(definition)) {
    const method = value as UnaryMethodDefinition<Record<string, unknown>, unknown>;
    if (method.requestStream || method.responseStream) continue;
    // The proto defaults of every field: decoding zero bytes yields them.
    const defaults = method.requestDeserialize(Buffer.alloc(0));
    const complete = completer(method.path, defaults);
    const hasRequestId = 'requestId' in defaults;
    const idempotent = hasRequestId || READ_METHOD.test(name) || alsoIdempotent.has(name);
    methods[name] = async (input: Record<string, unknown>, options: CallOptions = {}): Promise<unknown> => {
      const request = complete(input);
      if (hasRequestId && (request['requestId'] === undefined || request['requestId'] === '')) {
        request['requestId'] = randomUUID();
      }
      const deadlineMs = checkDeadline(options.deadlineMs ?? defaultDeadlineMs);
      return withAttempts(settings, options, method.path, idempotent, (metadata) =>
        unaryOnce(channel(), method, request, metadata, deadlineMs),
      );
    };
  }
  return methods as ServiceClient<D>;
}

/** The metadata every attempt of one logical call shares: caller's entries, traceparent, context code. */
function callMetadata(settings: CallSettings, options: CallOptions): Metadata {
  const base = new Metadata();
  for (const [key, entry] of Object.entries(options.metadata ?? {})) base.set(key, entry);
  if (options.traceparent === undefined) settings.propagate?.(base);
  const traceparent = options.traceparent ?? firstString(base, TRACEPARENT_METADATA_KEY) ?? newTraceparent();
  base.set(TRACEPARENT_METADATA_KEY, traceparent);
  options.onTraceparent?.(traceparent);
  const bizCode = options.bizCode ?? settings.bizCode?.();
  if (bizCode !== undefined && bizCode !== '') base.set(BIZ_CONTEXT_METADATA_KEY, assertBizCode(bizCode));
  return base;
}

/**
 * Runs one logical call: one attempt, or for an idempotent call (unless `options.retry` is false)
 * up to the policy's `attemptsMax` (retrying UNAVAILABLE and DEADLINE_EXCEEDED
 * with backoff), each with the shared metadata and a bearer token fetched for it; a failure
 * becomes a PaycoreError. Used by the unary methods and the client-streaming upload.
 */
export async function withAttempts<Res>(
  settings: CallSettings,
  options: CallOptions,
  path: string,
  idempotent: boolean,
  attempt: (metadata: Metadata) => Promise<Res>,
): Promise<Res> {
  const policy = checkPolicy(settings.retry ?? DEFAULT_RETRY);
  const sleep = settings.sleep ?? defaultSleep;
  const base = callMetadata(settings, options);
  const attemptsMax = idempotent && options.retry !== false ? policy.attemptsMax : 1;
  for (let n = 1; ; n += 1) {
    const metadata = base.clone();
    try {
      if (settings.token) metadata.set('authorization', `Bearer ${await settings.token.token()}`);
      return await attempt(metadata);
    } catch (err) {
      const code = (err as Partial<ServiceError>).code;
      const retryable = typeof code === 'number' && RETRYABLE_CODES.has(code);
      if (!retryable || n >= attemptsMax) throw toPaycoreError(err, path, n);
      await sleep(backoffMs(policy, n + 1));
    }
  }
}

/** `deadlineMs` checked against the client's bounds (0 < ms <= 10 min). */
export { checkDeadline };

function firstString(metadata: Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return typeof value === 'string' ? value : undefined;
}
