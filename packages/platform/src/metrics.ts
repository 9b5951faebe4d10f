/**
 * Prometheus metrics of a process, served on `/metrics` by the HTTP helper.
 * RED metrics of gRPC follow the names of go-grpc-prometheus so that existing
 * dashboards and alerts work unchanged.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { dbCommitsSent, dbStatementsSent } from './db/statement-count';

export interface Metrics {
  readonly registry: Registry;
  readonly grpcHandled: Counter<'grpc_service' | 'grpc_method' | 'grpc_code'>;
  readonly grpcHandlingSeconds: Histogram<'grpc_service' | 'grpc_method'>;
  readonly grpcClientHandled: Counter<'grpc_service' | 'grpc_method' | 'grpc_code'>;
}

export interface MetricsOptions {
  /** prom-client's process and Node.js metrics (default true). */
  readonly defaultMetrics?: boolean;
  /**
   * Sampling interval of the event-loop delay histogram behind
   * `nodejs_eventloop_lag_{min,max,mean,stddev,p50,p90,p99}_seconds`, ms
   * (default EVENT_LOOP_RESOLUTION_MS_DEFAULT). Node's histogram wakes the
   * process once per interval and records the time between wake-ups, so
   * those gauges read the interval plus the delay; subtract the interval to
   * read the delay. `nodejs_eventloop_lag_seconds` (a setImmediate timed at
   * scrape) is the delay itself. See ADR 0060.
   */
  readonly eventLoopResolutionMs?: number;
}

/**
 * 100 ms instead of prom-client's 10: at 10 ms the histogram's timer alone
 * costs an idle process about 0.3 % of a core (one wake-up every 10 ms),
 * at 100 ms about 0.04 %.
 */
export const EVENT_LOOP_RESOLUTION_MS_DEFAULT = 100;

export function createMetrics(serviceName: string, options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: serviceName });
  if (options.defaultMetrics ?? true) {
    collectDefaultMetrics({
      register: registry,
      eventLoopMonitoringPrecision: options.eventLoopResolutionMs ?? EVENT_LOOP_RESOLUTION_MS_DEFAULT,
    });
  }
  // Read at scrape time from a plain integer: no work per statement beyond the increment.
  new Counter({
    name: 'paycore_db_statements_total',
    help: 'SQL statements this process sent to Postgres (transaction boundaries included).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(dbStatementsSent());
    },
  });
  new Counter({
    name: 'paycore_db_commits_total',
    help: 'Transactions this process committed in Postgres (COMMITs plus statements outside a transaction block).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(dbCommitsSent());
    },
  });
  return {
    registry,
    grpcHandled: new Counter({
      name: 'grpc_server_handled_total',
      help: 'RPCs completed on the server, by status code.',
      labelNames: ['grpc_service', 'grpc_method', 'grpc_code'],
      registers: [registry],
    }),
    grpcHandlingSeconds: new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'Server-side latency of RPCs, seconds.',
      labelNames: ['grpc_service', 'grpc_method'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    grpcClientHandled: new Counter({
      name: 'grpc_client_handled_total',
      help: 'RPCs completed by clients of this process, by status code.',
      labelNames: ['grpc_service', 'grpc_method', 'grpc_code'],
      registers: [registry],
    }),
  };
}

/** Anything that reports counters the way OutboxRelay.stats() and InboxConsumer.stats() do. */
interface StatsSource {
  stats(): object;
}

/**
 * Exposes a worker's own counters as gauges read at scrape time, so the hot
 * path keeps plain integer increments and Prometheus still sees every figure.
 */
function registerStats(metrics: Metrics, prefix: string, help: string, source: StatsSource): void {
  const sample = source.stats() as Record<string, unknown>;
  for (const [key, value] of Object.entries(sample)) {
    if (typeof value !== 'number' && typeof value !== 'boolean') continue;
    const name = `${prefix}_${key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
    new Gauge({
      name,
      help: `${help}: ${key}`,
      registers: [metrics.registry],
      collect() {
        const current = (source.stats() as Record<string, unknown>)[key];
        this.set(
          typeof current === 'boolean' ? (current ? 1 : 0) : typeof current === 'number' ? current : 0,
        );
      },
    });
  }
}

export function registerRelayMetrics(metrics: Metrics, relay: StatsSource): void {
  registerStats(metrics, 'paycore_outbox_relay', 'transactional outbox relay', relay);
}

export function registerConsumerMetrics(metrics: Metrics, durable: string, consumer: StatsSource): void {
  registerStats(
    metrics,
    `paycore_inbox_${durable.replace(/[^a-zA-Z0-9_]/g, '_')}`,
    `inbox consumer ${durable}`,
    consumer,
  );
}
