/**
 * gRPC clients for calling other paycore services (and for tests and tools).
 *
 * Every call gets a deadline (the caller's, or the client's default), the
 * caller's trace (W3C traceparent + baggage in metadata, under a CLIENT span),
 * the current business context code (`x-biz-context`) and the service token.
 * Retries happen only for methods the caller marks idempotent (queries, and
 * mutations whose request_id makes a replay safe), through grpc-js's own
 * retry policy in the channel's service config: on UNAVAILABLE only, with
 * bounded attempts and exponential backoff.
 */
import {
  InterceptingCall,
  Metadata,
  credentials as grpcCredentials,
  status as GrpcStatus,
  type CallOptions,
  type ChannelCredentials,
  type ClientUnaryCall,
  type Interceptor,
  type ServiceError,
} from '@grpc/grpc-js';
import { SpanKind, SpanStatusCode, context as otelContext, propagation, trace } from '@opentelemetry/api';
import { currentBizCode, setGrpcBizCode, setSpanBizCode } from '@paycore/context';
import type { Metrics } from '../metrics';
import { metadataSetter } from './metadata';

export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

export interface ClientOptions<D> {
  readonly address: string;
  /** Deadline given to calls that carry none, ms. */
  readonly defaultDeadlineMs?: number;
  /** Returns the bearer token to send, or undefined for none. */
  readonly token?: () => string | undefined;
  /** Methods (keys of the service definition) that are safe to retry. */
  readonly idempotent?: readonly (keyof D & string)[];
  readonly retry?: RetryPolicy;
  readonly credentials?: ChannelCredentials;
  readonly metrics?: Metrics;
}

interface ClientConstructor<C> {
  new (address: string, credentials: ChannelCredentials, options?: Record<string, unknown>): C;
  readonly service: object;
}

const tracer = trace.getTracer('@paycore/platform');

function serviceConfig(definition: object, idempotent: readonly string[], retry: RetryPolicy): string {
  const names = idempotent.map((key) => {
    const path = (definition as Record<string, { path: string }>)[key]?.path ?? '';
    const [, service = '', method = ''] = path.split('/');
    return { service, method };
  });
  return JSON.stringify({
    methodConfig:
      names.length === 0
        ? []
        : [
            {
              name: names,
              retryPolicy: {
                maxAttempts: retry.maxAttempts,
                initialBackoff: `${retry.initialBackoffMs / 1000}s`,
                maxBackoff: `${retry.maxBackoffMs / 1000}s`,
                backoffMultiplier: 2,
                retryableStatusCodes: ['UNAVAILABLE'],
              },
            },
          ],
  });
}

export function propagationInterceptor<D>(options: ClientOptions<D>): Interceptor {
  const defaultDeadlineMs = options.defaultDeadlineMs ?? 5_000;
  return (callOptions, nextCall) => {
    const path = callOptions.method_definition.path;
    const [, service = '', method = ''] = path.split('/');
    const withDeadline =
      callOptions.deadline === undefined
        ? { ...callOptions, deadline: Date.now() + defaultDeadlineMs }
        : callOptions;
    const span = tracer.startSpan(`${service}/${method}`, {
      kind: SpanKind.CLIENT,
      attributes: { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': method },
    });
    const bizCode = currentBizCode();
    if (bizCode !== undefined) setSpanBizCode(span, bizCode);
    return new InterceptingCall(nextCall(withDeadline), {
      start(metadata, _listener, next) {
        propagation.inject(trace.setSpan(otelContext.active(), span), metadata, metadataSetter);
        if (bizCode !== undefined && metadata.get('x-biz-context').length === 0)
          setGrpcBizCode(metadata, bizCode);
        const token = options.token?.();
        if (token !== undefined && metadata.get('authorization').length === 0) {
          metadata.set('authorization', `Bearer ${token}`);
        }
        next(metadata, {
          onReceiveStatus(status, nextStatus) {
            span.setAttribute('rpc.grpc.status_code', status.code);
            if (status.code !== GrpcStatus.OK)
              span.setStatus({ code: SpanStatusCode.ERROR, message: status.details });
            span.end();
            options.metrics?.grpcClientHandled.inc({
              grpc_service: service,
              grpc_method: method,
              grpc_code: GrpcStatus[status.code],
            });
            nextStatus(status);
          },
          onReceiveMessage(message, nextMessage) {
            nextMessage(message);
          },
          onReceiveMetadata(md, nextMd) {
            nextMd(md);
          },
        });
      },
    });
  };
}

/** Creates a ts-proto generated client with the kit's interceptors and retry policy. */
export function createClient<C, D extends object>(
  Client: ClientConstructor<C> & { readonly service: D },
  options: ClientOptions<D>,
): C {
  const retry = options.retry ?? { maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 2_000 };
  return new Client(options.address, options.credentials ?? grpcCredentials.createInsecure(), {
    interceptors: [propagationInterceptor(options)],
    'grpc.service_config': serviceConfig(Client.service, options.idempotent ?? [], retry),
    'grpc.enable_retries': 1,
    'grpc.keepalive_time_ms': 60_000,
  });
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

/**
 * Promise form of a generated unary method: `await unary(client.getAccount.bind(client), req)`.
 * `deadlineMs` overrides the client's default for this call.
 */
export function unary<Req, Res>(
  method: UnaryMethod<Req, Res>,
  request: Req,
  options: { metadata?: Metadata; deadlineMs?: number } = {},
): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    const callOptions: Partial<CallOptions> =
      options.deadlineMs !== undefined ? { deadline: Date.now() + options.deadlineMs } : {};
    method(request, options.metadata ?? new Metadata(), callOptions, (err, res) =>
      err ? reject(err) : resolve(res),
    );
  });
}
