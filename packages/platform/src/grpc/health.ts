/**
 * grpc.health.v1 with statuses that follow the real state of dependencies.
 * The kit polls the service's readiness checks (Postgres, NATS, …) and flips
 * every registered service name between SERVING and NOT_SERVING; Kubernetes'
 * gRPC probes and grpc-health-probe read it. Watch streams every change.
 */
import type { ServerWritableStream, sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import { status as GrpcStatus } from '@grpc/grpc-js';
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthServer,
} from '@paycore/proto/grpc/health/v1/health';

export { HealthCheckResponse_ServingStatus as ServingStatus } from '@paycore/proto/grpc/health/v1/health';

export class HealthManager {
  private readonly statuses = new Map<string, ServingStatus>([['', ServingStatus.NOT_SERVING]]);
  private readonly watchers = new Map<
    string,
    Set<ServerWritableStream<HealthCheckRequest, HealthCheckResponse>>
  >();

  register(serviceName: string): void {
    if (!this.statuses.has(serviceName)) this.statuses.set(serviceName, this.overall());
  }

  overall(): ServingStatus {
    return this.statuses.get('') ?? ServingStatus.NOT_SERVING;
  }

  /** Sets every registered service (and the server as a whole) to one status. */
  setAll(serving: boolean): void {
    const next = serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    for (const name of this.statuses.keys()) this.set(name, next);
  }

  set(serviceName: string, next: ServingStatus): void {
    const previous = this.statuses.get(serviceName);
    this.statuses.set(serviceName, next);
    if (previous === next) return;
    for (const call of this.watchers.get(serviceName) ?? []) call.write({ status: next });
  }

  get(serviceName: string): ServingStatus | undefined {
    return this.statuses.get(serviceName);
  }

  /** Ends every Watch stream (at shutdown). */
  closeWatchers(): void {
    for (const set of this.watchers.values()) for (const call of set) call.end();
    this.watchers.clear();
  }

  readonly implementation: HealthServer = {
    check: (
      call: ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>,
      callback: sendUnaryData<HealthCheckResponse>,
    ) => {
      const status = this.statuses.get(call.request.service);
      if (status === undefined) {
        callback({ code: GrpcStatus.NOT_FOUND, details: `unknown service "${call.request.service}"` });
        return;
      }
      callback(null, { status });
    },
    watch: (call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) => {
      const name = call.request.service;
      call.write({ status: this.statuses.get(name) ?? ServingStatus.SERVICE_UNKNOWN });
      let set = this.watchers.get(name);
      if (!set) {
        set = new Set();
        this.watchers.set(name, set);
      }
      set.add(call);
      call.on('cancelled', () => set.delete(call));
      call.on('close', () => set.delete(call));
    },
  };
}
