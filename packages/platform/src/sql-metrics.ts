/**
 * Figures read from Postgres when Prometheus scrapes `/metrics`, not counted
 * on the hot path: a collector is one SELECT returning label columns and a
 * `value` column, run under a statement timeout (SQL_COLLECTOR_TIMEOUT_MS) in
 * a read-only transaction, and a failing or slow one costs its own gauge only
 * (its series vanish for that scrape and `paycore_metrics_collector_errors_total`
 * counts it) — never the whole scrape.
 *
 * The platform registers the generic ones for every service with a schema
 * (runService): outbox lag (backlog and age of the oldest unpublished row)
 * and inbox dead letters, plus, from the live inbox consumers of
 * the process, events handled / duplicate / failed / dead-lettered per
 * consumer. Services add their business figures with `registerSqlGauges` from
 * their own adapters/metrics/collectors.ts.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { quoteSchema } from './db/identifiers';
import { liveInboxConsumers } from './events/inbox';
import type { Metrics } from './metrics';

export const SQL_COLLECTOR_TIMEOUT_MS = 2_000;
/** Rows one collector may turn into series; more are dropped (and counted as an error). */
const SERIES_PER_COLLECTOR_MAX = 500;

export interface SqlGaugeSpec {
  /** Metric name, e.g. paycore_cashier_payments. */
  readonly name: string;
  readonly help: string;
  /** Label names; the query returns a column of each name (text) and a numeric `value`. */
  readonly labelNames: readonly string[];
  readonly sql: string;
  readonly params?: readonly unknown[];
}

function collectorErrors(registry: Registry): Counter<'collector'> {
  const name = 'paycore_metrics_collector_errors_total';
  const existing = registry.getSingleMetric(name);
  if (existing instanceof Counter) return existing;
  return new Counter({
    name,
    help: 'Scrape-time collectors that failed (query error, timeout, too many series), by collector.',
    labelNames: ['collector'],
    registers: [registry],
  });
}

/** The last collector query queued per data source: a scrape takes one pool connection, not one per gauge. */
const queues = new WeakMap<DataSource, Promise<unknown>>();

function runBounded(
  dataSource: DataSource,
  sql: string,
  params: readonly unknown[],
): Promise<Record<string, unknown>[]> {
  const previous = queues.get(dataSource) ?? Promise.resolve();
  const next = previous.catch(() => undefined).then(() => runOne(dataSource, sql, params));
  queues.set(dataSource, next);
  return next;
}

async function runOne(
  dataSource: DataSource,
  sql: string,
  params: readonly unknown[],
): Promise<Record<string, unknown>[]> {
  return dataSource.transaction(async (manager) => {
    await manager.query(`SET TRANSACTION READ ONLY`);
    await manager.query(`SET LOCAL statement_timeout = ${SQL_COLLECTOR_TIMEOUT_MS}`);
    return manager.query<Record<string, unknown>[]>(sql, [...params]);
  });
}

function numeric(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' || typeof value === 'bigint') {
    const parsed = Number(value);
    return Number.isFinite(parsed) ? parsed : undefined;
  }
  return undefined;
}

function labelValue(value: unknown): string {
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return String(value);
  return '';
}

/** Registers one gauge per spec, each filled by its query at scrape time. */
export function registerSqlGauges(
  metrics: Metrics,
  dataSource: DataSource,
  specs: readonly SqlGaugeSpec[],
): void {
  const errors = collectorErrors(metrics.registry);
  for (const spec of specs) {
    new Gauge({
      name: spec.name,
      help: spec.help,
      labelNames: [...spec.labelNames],
      registers: [metrics.registry],
      async collect() {
        this.reset();
        if (!dataSource.isInitialized) return;
        let rows: Record<string, unknown>[];
        try {
          rows = await runBounded(dataSource, spec.sql, spec.params ?? []);
        } catch {
          errors.inc({ collector: spec.name });
          return;
        }
        if (rows.length > SERIES_PER_COLLECTOR_MAX) errors.inc({ collector: spec.name });
        for (const row of rows.slice(0, SERIES_PER_COLLECTOR_MAX)) {
          const value = numeric(row['value']);
          if (value === undefined) continue;
          const labels: Record<string, string> = {};
          for (const label of spec.labelNames) labels[label] = labelValue(row[label]);
          if (spec.labelNames.length === 0) this.set(value);
          else this.set(labels, value);
        }
      },
    });
  }
}

/** Outbox lag and inbox dead letters of one service's schema. */
export function registerPlatformSqlMetrics(metrics: Metrics, dataSource: DataSource, schema: string): void {
  const s = quoteSchema(schema);
  registerSqlGauges(metrics, dataSource, [
    {
      name: 'paycore_outbox_backlog',
      help: 'Outbox rows not yet published to NATS (counted up to 100000).',
      labelNames: [],
      sql: `SELECT count(*) AS value FROM (SELECT 1 FROM ${s}.outbox WHERE published_at IS NULL LIMIT 100000) u`,
    },
    {
      name: 'paycore_outbox_oldest_unpublished_age_seconds',
      help: 'Age of the oldest outbox row not yet published, seconds (0 when none is waiting).',
      labelNames: [],
      sql: `SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) AS value
              FROM ${s}.outbox WHERE published_at IS NULL`,
    },
    {
      name: 'paycore_inbox_dead_letters',
      help: 'Events dead-lettered and still recorded in inbox_dead_letter (all consumers of the service).',
      labelNames: [],
      sql: `SELECT count(*) AS value FROM ${s}.inbox_dead_letter`,
    },
  ]);
}

const INBOX_OUTCOMES = [
  ['handled', 'handled'],
  ['duplicate', 'duplicates'],
  ['failed', 'failures'],
  ['transient_failure', 'transientFailures'],
  ['dead_lettered', 'deadLettered'],
] as const;

/** Events consumed by this process's inbox consumers on `schema`, by consumer and outcome (since start). */
export function registerInboxMetrics(metrics: Metrics, schema: string): void {
  new Counter({
    name: 'paycore_inbox_events_total',
    help: 'Events taken from NATS by inbox consumers, by consumer and outcome, since the process started.',
    labelNames: ['consumer', 'outcome'],
    registers: [metrics.registry],
    collect() {
      this.reset();
      for (const consumer of liveInboxConsumers()) {
        if (consumer.schema !== schema) continue;
        const stats = consumer.stats();
        for (const [outcome, key] of INBOX_OUTCOMES)
          this.inc({ consumer: consumer.durable, outcome }, stats[key]);
      }
    },
  });
}
