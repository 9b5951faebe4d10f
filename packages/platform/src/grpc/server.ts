/**
 * The gRPC server kit every paycore service starts with.
 *
 * Handlers stay thin: `(request, ctx) => Promise<response>`. Around each one
 * the kit, in this order: extracts the caller's trace and baggage and opens a
 * SERVER span; requires a deadline; authenticates the bearer token and checks
 * the RPC's declared scope; validates and installs the business context code
 * (AsyncLocalStorage, baggage, span attribute); runs the handler; maps any
 * error through the one error mapper; writes RED metrics and one info log
 * line per RPC (rpc, entity ids of the request and response, outcome,
 * duration_ms; trace and context code from the logger's mixin), and puts the
 * same entity ids on the span as `paycore.*` attributes.
 * The server also exposes grpc.health.v1 and server reflection, and shuts
 * down gracefully (NOT_SERVING first, then drain, then force).
 */
import {
  Server,
  ServerCredentials,
  status as GrpcStatus,
  type Metadata,
  type ServerUnaryCall,
  type sendUnaryData,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { loadSync } from '@grpc/proto-loader';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context as otelContext,
  isSpanContextValid,
  propagation,
  trace,
  type Context,
} from '@opentelemetry/api';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import {
  getBizBaggage,
  getGrpcBizCode,
  runWithBizCode,
  setSpanBizCode,
  withBizBaggage,
} from '@paycore/context';
import { HealthService } from '@paycore/proto/grpc/health/v1/health';
import { ApiError, isReasonedError, toServiceError } from '../errors';
import { requireScope, type Caller, type TokenVerifier } from '../auth';
import type { Metrics } from '../metrics';
import { HealthManager } from './health';
import { runWithFlowFields } from '../events/flow-context';
import { isTransientInfrastructureError } from '../events/inbox';
import { flowAttributes, flowFields, withResponseFields } from './flow-fields';
import { firstString, metadataGetter } from './metadata';

export interface RpcSpec {
  /** The scope the caller's token must carry; `null` for an unauthenticated RPC (rare: health-like). */
  readonly scope: string | null;
  /**
   * The state the flow reached, read from the response: set on the SERVER
   * span as `paycore.state` (and `paycore.amount` / `paycore.currency` when
   * the request named none), so `paycore trace` shows it. For services whose
   * state changes do not go through `SqlTx.transition` (which reports its own).
   */
  readonly flowState?: (response: never) => FlowState | undefined;
}

/** What `RpcSpec.flowState` reports. */
export interface FlowState {
  readonly state: string;
  readonly amountMinor?: bigint;
  readonly currency?: string;
}

/** The specs of `specs` with `flowState` readers added for some methods. */
export function withFlowStates<D>(
  specs: Specs<D>,
  readers: { readonly [K in keyof D]?: (response: ResponseOfDefinition<D[K]>) => FlowState | undefined },
): Specs<D> {
  const merged: Record<string, RpcSpec> = { ...(specs as Record<string, RpcSpec>) };
  for (const [name, reader] of Object.entries(readers)) {
    const spec = merged[name];
    if (spec !== undefined && reader !== undefined)
      merged[name] = { ...spec, flowState: reader as (response: never) => FlowState | undefined };
  }
  return merged as Specs<D>;
}

type ResponseOfDefinition<M> = M extends { responseSerialize: (value: infer R) => Buffer } ? R : never;

function flowStateAttributes(
  spec: RpcSpec,
  response: unknown,
  entities: Readonly<Record<string, string>>,
): Record<string, string> {
  if (spec.flowState === undefined || response === undefined) return {};
  const reached = spec.flowState(response as never);
  if (reached === undefined || reached.state === '') return {};
  const attributes: Record<string, string> = { 'paycore.state': reached.state };
  if (entities['amount'] === undefined && reached.amountMinor !== undefined) {
    attributes['paycore.amount'] = reached.amountMinor.toString();
    if (reached.currency !== undefined) attributes['paycore.currency'] = reached.currency;
  }
  return attributes;
}

export interface RpcContext {
  /** The authenticated caller; undefined only when auth is disabled or the RPC is public. */
  readonly caller: Caller | undefined;
  /** The context code of this call (metadata `x-biz-context`), if the caller sent one. */
  readonly bizCode: string | undefined;
  readonly deadline: Date;
  readonly metadata: Metadata;
  readonly logger: Logger;
  /** Full method path, e.g. /paycore.account.v1.AccountService/Transfer. */
  readonly method: string;
}

/** A handler may answer synchronously or asynchronously; a throw in either is mapped the same way. */
export type UnaryHandler<Req, Res> = (request: Req, ctx: RpcContext) => Promise<Res> | Res;

/**
 * A client-streaming handler reads the request messages as they arrive (one
 * at a time: grpc-js asks the peer for the next message only when the
 * iterator is read, so an unread stream applies back-pressure) and answers
 * once. It may answer before the stream ends; the rest is discarded.
 */
export type ClientStreamHandler<Req, Res> = (requests: AsyncIterable<Req>, ctx: RpcContext) => Promise<Res>;

interface MethodDefinition<Req, Res, Streaming extends boolean> {
  readonly path: string;
  readonly requestStream: Streaming;
  readonly responseStream: false;
  readonly requestDeserialize: (b: Buffer) => Req;
  readonly responseSerialize: (v: Res) => Buffer;
}
type UnaryDefinition<Req, Res> = MethodDefinition<Req, Res, false>;
type ClientStreamDefinition<Req, Res> = MethodDefinition<Req, Res, true>;

/** Maps each unary or client-streaming method of a ts-proto service definition to a typed handler. */
export type Handlers<D> = {
  [K in keyof D]: D[K] extends UnaryDefinition<infer Req, infer Res>
    ? UnaryHandler<Req, Res>
    : D[K] extends ClientStreamDefinition<infer Req, infer Res>
      ? ClientStreamHandler<Req, Res>
      : never;
};
export type Specs<D> = { readonly [K in keyof D]: RpcSpec };

export interface GrpcServerKitOptions {
  readonly serviceName: string;
  /** ErrorInfo domain, e.g. "account.paycore". */
  readonly errorDomain: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** null disables authentication (AUTH_DISABLED, local experiments only). */
  readonly verifier: TokenVerifier | null;
  /** Throws a reasoned error for a context code that is malformed or not in the catalogue. */
  readonly validateBizCode?: (code: string) => void;
  /** Directory holding paycore's .proto files, for reflection; found by walking up from this file when absent. */
  readonly protoRoot?: string;
  /** More proto roots to search (test fixtures keep theirs beside the tests). */
  readonly extraProtoRoots?: readonly string[];
  readonly maxReceiveMessageBytes?: number;
}

const tracer = trace.getTracer('@paycore/platform');

export function findProtoRoot(start: string = __dirname): string | undefined {
  const fromEnv = process.env['PAYCORE_PROTO_DIR'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  let dir = start;
  for (let i = 0; i < 12; i++) {
    if (existsSync(join(dir, 'proto', 'paycore'))) return join(dir, 'proto');
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

export class GrpcServerKit {
  readonly health = new HealthManager();
  private readonly server: Server;
  private readonly reflectedPackages = new Set<string>(['grpc.health.v1']);
  private started = false;
  private finalized = false;

  constructor(private readonly options: GrpcServerKitOptions) {
    this.server = new Server({
      'grpc.max_receive_message_length': options.maxReceiveMessageBytes ?? 4 * 1024 * 1024,
      'grpc.keepalive_time_ms': 60_000,
      'grpc.keepalive_timeout_ms': 20_000,
      'grpc.max_connection_age_grace_ms': 10_000,
    });
    this.server.addService(HealthService, this.health.implementation);
  }

  addService<D extends object>(definition: D, handlers: Handlers<D>, specs: Specs<D>): this {
    const impl: UntypedServiceImplementation = {};
    let serviceFullName = '';
    for (const key of Object.keys(definition) as (keyof D & string)[]) {
      const def = definition[key] as unknown as MethodDefinition<unknown, unknown, boolean>;
      const handler = handlers[key] as unknown as UnaryHandler<unknown, unknown>;
      const spec = specs[key];
      serviceFullName = def.path.split('/')[1] ?? '';
      impl[key] = this.wrap(def.path, handler, spec, def.requestStream);
    }
    this.server.addService(definition as unknown as ServiceDefinition, impl);
    this.health.register(serviceFullName);
    this.reflectedPackages.add(serviceFullName.split('.').slice(0, -1).join('.'));
    return this;
  }

  /** Adds server reflection for every package registered so far; call once, after the last addService. */
  finalize(): void {
    if (this.finalized) return;
    this.finalized = true;
    this.addReflection();
  }

  async start(host: string, port: number, credentials?: ServerCredentials): Promise<number> {
    const bound = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(`${host}:${port}`, credentials ?? ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      );
    });
    this.started = true;
    return bound;
  }

  /** NOT_SERVING first so load balancers stop sending, then drain in-flight calls, then force. */
  async shutdown(graceMs: number): Promise<void> {
    this.health.setAll(false);
    this.health.closeWatchers();
    if (!this.started) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      timer.unref();
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private addReflection(): void {
    const main = this.options.protoRoot ?? findProtoRoot();
    const roots = [...(main !== undefined ? [main] : []), ...(this.options.extraProtoRoots ?? [])];
    if (roots.length === 0) {
      this.options.logger.warn(
        'proto directory not found: server reflection disabled (set PAYCORE_PROTO_DIR)',
      );
      return;
    }
    const files: string[] = [];
    for (const pkg of this.reflectedPackages) {
      for (const root of roots) {
        const dir = join(root, ...pkg.split('.'));
        if (!existsSync(dir)) continue;
        for (const f of readdirSync(dir)) if (f.endsWith('.proto')) files.push(join(...pkg.split('.'), f));
      }
    }
    if (files.length === 0) return;
    const definition = loadSync(files, { includeDirs: roots, keepCase: true, longs: String, enums: String });
    new ReflectionService(definition).addToServer(this.server);
  }

  // eslint-disable-next-line max-lines-per-function -- one wrapper per RPC: auth, deadline, context, metrics and error mapping read best as one sequence
  private wrap(
    path: string,
    handler: UnaryHandler<unknown, unknown>,
    spec: RpcSpec,
    requestStream: boolean,
  ): (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => void {
    const [, service = '', method = ''] = path.split('/');
    const { logger, metrics, errorDomain } = this.options;
    // eslint-disable-next-line max-lines-per-function -- the per-call body of the wrapper above; splitting it scatters the order of checks
    return (call, callback) => {
      const startedAt = process.hrtime.bigint();
      const parent = propagation.extract(ROOT_CONTEXT, call.metadata, metadataGetter);
      const bizCode = getGrpcBizCode(call.metadata) ?? getBizBaggage(parent);
      const span = tracer.startSpan(
        `${service}/${method}`,
        {
          kind: SpanKind.SERVER,
          attributes: { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': method },
        },
        parent,
      );
      if (bizCode !== undefined) setSpanBizCode(span, bizCode);
      let ctx: Context = trace.setSpan(parent, span);
      if (bizCode !== undefined) ctx = withBizBaggage(ctx, bizCode);
      // Read once: the handler's events carry them, and the log line and span add the response's.
      const requestFields = flowFields(call.request);

      // One line per handled RPC at info (trace_id, span_id and biz_code come from the logger's
      // mixin, this call's span being active): the rpc, the entities it was about, the outcome.
      const finish = (code: GrpcStatus, err?: unknown, response?: unknown): void => {
        const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
        metrics.grpcHandled.inc({ grpc_service: service, grpc_method: method, grpc_code: GrpcStatus[code] });
        metrics.grpcHandlingSeconds.observe({ grpc_service: service, grpc_method: method }, seconds);
        span.setAttribute('rpc.grpc.status_code', code);
        const entities = withResponseFields(requestFields, response);
        span.setAttributes(flowAttributes(entities));
        if (code === GrpcStatus.OK) span.setAttributes(flowStateAttributes(spec, response, entities));
        const reason = err instanceof Error ? (err as { reason?: string }).reason : undefined;
        const spanContext = span.spanContext();
        const fields = {
          // Also from the mixin when a context manager runs; explicit here so no setup can lose them.
          ...(isSpanContextValid(spanContext)
            ? { trace_id: spanContext.traceId, span_id: spanContext.spanId }
            : {}),
          ...(bizCode !== undefined ? { biz_code: bizCode } : {}),
          rpc: path,
          grpc_method: path,
          grpc_code: GrpcStatus[code],
          outcome:
            code === GrpcStatus.OK ? 'OK' : `${GrpcStatus[code]}${reason !== undefined ? ` ${reason}` : ''}`,
          ...(reason !== undefined ? { reason } : {}),
          ...entities,
          duration_ms: Math.round(seconds * 1e6) / 1e3,
        };
        if (code === GrpcStatus.OK) {
          logger.info(fields, 'rpc ok');
        } else if (code === GrpcStatus.INTERNAL) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: 'internal' });
          if (err instanceof Error) span.recordException(err);
          logger.error({ ...fields, err }, 'rpc failed');
        } else {
          span.setStatus({ code: SpanStatusCode.ERROR, message: GrpcStatus[code] });
          if (reason !== undefined) span.setAttribute('paycore.reason', reason);
          logger.info(fields, 'rpc refused');
        }
        span.end();
      };

      const run = async (): Promise<unknown> => {
        const deadline = call.getDeadline();
        const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
        if (!Number.isFinite(deadlineMs)) {
          throw new ApiError(
            'INVALID_ARGUMENT',
            'DEADLINE_REQUIRED',
            'every paycore RPC requires a deadline',
          );
        }
        let caller: Caller | undefined;
        if (spec.scope !== null && this.options.verifier !== null) {
          caller = await this.options.verifier.verify(firstString(call.metadata, 'authorization'));
          requireScope(caller, spec.scope);
          span.setAttribute('enduser.id', caller.subject);
        }
        if (bizCode !== undefined) this.options.validateBizCode?.(bizCode);
        const rpcCtx: RpcContext = {
          caller,
          bizCode,
          deadline: new Date(deadlineMs),
          metadata: call.metadata,
          logger,
          method: path,
        };
        // A client-streaming call is itself the async iterable of request messages.
        return handler(requestStream ? call : call.request, rpcCtx);
      };

      otelContext.with(ctx, () => {
        // The request's entity ids travel with the events this RPC writes (events/flow-context.ts).
        const body = (): Promise<unknown> => runWithFlowFields(requestFields, run);
        const promise = bizCode !== undefined ? runWithBizCode(bizCode, body) : body();
        promise.then(
          (response) => {
            finish(GrpcStatus.OK, undefined, response);
            callback(null, response);
          },
          (err: unknown) => {
            const mapped = toServiceError(unreachableAsUnavailable(err), errorDomain);
            finish(mapped.code, err);
            callback(mapped.serviceError);
          },
        );
      });
    };
  }
}

/**
 * Postgres busy or out of reach (no connection slot, connection lost,
 * shutting down, serialization retries used up) is an operating error, not a
 * programmer error: answered UNAVAILABLE / DEPENDENCY_UNAVAILABLE, which
 * callers retry with the same request id, instead of INTERNAL. Such a retry is
 * safe either way (rolled back: evaluated afresh; committed: answered as a
 * replay); the original error is still logged.
 */
function unreachableAsUnavailable(err: unknown): unknown {
  if (isReasonedError(err) || !isTransientInfrastructureError(err)) return err;
  return new ApiError(
    'UNAVAILABLE',
    'DEPENDENCY_UNAVAILABLE',
    'the database is busy or unreachable; retry with the same request_id',
  );
}
