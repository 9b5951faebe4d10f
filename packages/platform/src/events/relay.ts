/**
 * The outbox relay: moves committed outbox rows to JetStream.
 *
 * When it runs: the relay waits on a wake-up (../wakeup.ts) between batches.
 * writeOutbox signals it right after the writing transaction commits (in
 * this process; other processes through LISTEN/NOTIFY when a PgWakeups hub
 * is running), and a backstop poll (`pollIntervalMs`, default 2 s) catches
 * anything else, e.g. rows written by a process without a hub. A backstop
 * wake first asks with one autocommit statement whether anything is
 * unpublished, so an idle relay costs one statement per interval.
 *
 * One batch = one Postgres transaction of three statements (four when rows
 * were published): START TRANSACTION, then
 *   1.+2. in one statement, take a transaction-scoped advisory lock for the
 *      schema (try, not wait), so that of several replicas exactly one relays
 *      at a time, and SELECT the oldest unpublished rows FOR UPDATE SKIP
 *      LOCKED — none when the lock is taken; a relay that finds the lock
 *      taken tries again after `lockBusyRetryMs`;
 *   3. publish them with `Nats-Msg-Id` = msg_id, at most
 *      `publishConcurrencyMax` in flight, started in id order, and await every
 *      PubAck;
 *   4. set published_at on the acknowledged rows and COMMIT.
 *
 * Delivery guarantee: at least once, exactly once in the stream within the
 * duplicate window. If the process dies between 3 and 4, or a PubAck is lost,
 * the rows stay unpublished and go out again with the same msg id; JetStream
 * drops the repeat (PubAck.duplicate). After the duplicate window a repeat is
 * stored again, which the consumers' inbox absorbs.
 *
 * Order guarantee: a single relay publishes in outbox id order over one
 * connection, so without failures the stream holds events in id order. For
 * one aggregate, id order is commit order as long as the writer inserts the
 * outbox row while holding the aggregate's row lock (the next transaction on
 * that aggregate can only draw a higher id). When a publish fails, the failed
 * event is retried in a later batch and can land after events with higher
 * ids of the same batch. Consumers therefore must not assume strict order
 * across a failure; they get redeliveries anyway and should check aggregate
 * versions where order matters.
 *
 * While NATS is unreachable the relay backs off exponentially (capped) and
 * retries forever: nothing is lost, events wait in Postgres.
 */
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import type { DataSource, EntityManager } from 'typeorm';
import { advisoryLockKey, quoteSchema } from '../db/identifiers';
import { errorMessage, SILENT_LOG_SINK, type PlatformLogSink } from '../db/logging';
import { inTransaction } from '../db/transaction';
import { Wakeup } from '../wakeup';
import { assertIntegerInRange, backoffDelayMs, mapSettledBounded, Sleeper } from './bounded';
import { outboxWakeupChannel } from './outbox';
import { BIZ_CODE_SPAN_ATTRIBUTE } from './biz-context';
import { bizCodeOf, extractTraceContext, toNatsHeaders, type EventHeaders } from './headers';

export interface OutboxRelayOptions {
  readonly dataSource: DataSource;
  readonly schema: string;
  readonly js: JetStreamClient;
  /** Rows per batch (one transaction). Default 500. */
  readonly batchSizeMax?: number;
  /**
   * The backstop: the longest the relay sleeps when the outbox is drained
   * and no wake-up came. Default 2000.
   */
  readonly pollIntervalMs?: number;
  /**
   * What wakes the relay when an event was written (PgWakeups.wakeup of
   * outboxWakeupChannel(schema), so that peers' writes wake it too). When
   * absent the relay waits on an in-process Wakeup of that channel: writes
   * of this process wake it, others wait for the backstop. The relay closes
   * it on stop().
   */
  readonly wakeup?: Wakeup;
  /** Retry delay when another relay holds the schema's lock. Default 100. */
  readonly lockBusyRetryMs?: number;
  /** Publishes in flight within a batch. Default 64. */
  readonly publishConcurrencyMax?: number;
  /** Bound on each PubAck wait. Default 5000. */
  readonly publishTimeoutMs?: number;
  /** Ceiling of the backoff after failures. Default 2000. */
  readonly backoffMaxMs?: number;
  /** Published rows older than this are deleted. Default 24 h. */
  readonly retentionMs?: number;
  /** How often the purge runs. Default 60000. */
  readonly purgeIntervalMs?: number;
  /** Rows deleted per purge statement. Default 5000. */
  readonly purgeBatchSizeMax?: number;
  readonly logger?: PlatformLogSink;
}

export interface OutboxRelayStats {
  /** Events JetStream acknowledged (duplicates included). */
  readonly published: number;
  /** Of those, acknowledged as duplicates of an earlier publish (a republish after a crash or lost ack). */
  readonly duplicates: number;
  /** Failed publishes plus failed batches. */
  readonly failures: number;
  readonly batches: number;
  readonly purged: number;
  /** Age of the oldest unpublished event at the last poll; 0 when the outbox was empty. */
  readonly lagMs: number;
  /** Waits ended by a wake-up signal. */
  readonly wakeSignals: number;
  /** Waits ended by the backstop timer. */
  readonly wakeBackstops: number;
  /** Backstop checks that found nothing to relay (one statement each). */
  readonly idleChecks: number;
  readonly running: boolean;
}

export interface RelayBatchOutcome {
  /** Rows taken from the outbox. */
  readonly selected: number;
  /** Another relay held the schema's lock: nothing was selected. */
  readonly lockBusy?: boolean;
  readonly published: number;
  readonly failed: number;
  /** The first publish error of the batch, when any failed. */
  readonly firstError?: unknown;
}

interface OutboxSelectRow {
  id: string;
  msg_id: string;
  subject: string;
  payload: Buffer;
  headers: unknown;
  age_ms: string;
}

interface OutboxBatchRow extends Partial<OutboxSelectRow> {
  locked: boolean;
}

const tracer = trace.getTracer('@paycore/platform');
const BACKOFF_BASE_MS = 50;
const PURGE_STATEMENTS_PER_RUN_MAX = 100;

export class OutboxRelay {
  private readonly table: string;
  private readonly lockKey: string;
  private readonly batchSizeMax: number;
  private readonly pollIntervalMs: number;
  private readonly lockBusyRetryMs: number;
  private readonly wakeup: Wakeup;
  private readonly publishConcurrencyMax: number;
  private readonly publishTimeoutMs: number;
  private readonly backoffMaxMs: number;
  private readonly retentionMs: number;
  private readonly purgeIntervalMs: number;
  private readonly purgeBatchSizeMax: number;
  private readonly logger: PlatformLogSink;
  private readonly sleeper = new Sleeper();
  private loop: Promise<void> | undefined;
  private stopping = false;
  private stopped = false;
  private nextPurgeAtMs = 0;
  private counters = {
    published: 0,
    duplicates: 0,
    failures: 0,
    batches: 0,
    purged: 0,
    lagMs: 0,
    wakeSignals: 0,
    wakeBackstops: 0,
    idleChecks: 0,
  };

  constructor(private readonly options: OutboxRelayOptions) {
    this.table = `${quoteSchema(options.schema)}.outbox`;
    this.lockKey = advisoryLockKey(`paycore:outbox-relay:${options.schema}`);
    this.batchSizeMax = assertIntegerInRange('batchSizeMax', options.batchSizeMax ?? 500, 1, 10_000);
    this.pollIntervalMs = assertIntegerInRange('pollIntervalMs', options.pollIntervalMs ?? 2_000, 1, 60_000);
    this.lockBusyRetryMs = assertIntegerInRange('lockBusyRetryMs', options.lockBusyRetryMs ?? 100, 1, 60_000);
    this.wakeup =
      options.wakeup ??
      new Wakeup(outboxWakeupChannel(options.schema), { backstopIntervalMs: this.pollIntervalMs });
    this.publishConcurrencyMax = assertIntegerInRange(
      'publishConcurrencyMax',
      options.publishConcurrencyMax ?? 64,
      1,
      1_024,
    );
    this.publishTimeoutMs = assertIntegerInRange(
      'publishTimeoutMs',
      options.publishTimeoutMs ?? 5_000,
      100,
      120_000,
    );
    this.backoffMaxMs = assertIntegerInRange(
      'backoffMaxMs',
      options.backoffMaxMs ?? 2_000,
      BACKOFF_BASE_MS,
      60_000,
    );
    this.retentionMs = assertIntegerInRange(
      'retentionMs',
      options.retentionMs ?? 24 * 3_600_000,
      0,
      365 * 24 * 3_600_000,
    );
    this.purgeIntervalMs = assertIntegerInRange(
      'purgeIntervalMs',
      options.purgeIntervalMs ?? 60_000,
      100,
      24 * 3_600_000,
    );
    this.purgeBatchSizeMax = assertIntegerInRange(
      'purgeBatchSizeMax',
      options.purgeBatchSizeMax ?? 5_000,
      1,
      100_000,
    );
    this.logger = options.logger ?? SILENT_LOG_SINK;
  }

  start(): void {
    if (this.loop) return;
    if (this.stopped) throw new Error('an OutboxRelay cannot start again after stop(); make a new one');
    this.stopping = false;
    this.loop = this.run();
  }

  /** Finishes the batch in hand (its publishes and its commit), then returns. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopped = true;
    this.sleeper.interrupt();
    this.wakeup.close();
    await this.loop;
    this.loop = undefined;
  }

  stats(): OutboxRelayStats {
    return { ...this.counters, running: this.loop !== undefined && !this.stopping };
  }

  private async run(): Promise<void> {
    let consecutiveFailures = 0;
    this.nextPurgeAtMs = Date.now();
    while (!this.stopping) {
      if (Date.now() >= this.nextPurgeAtMs) {
        this.nextPurgeAtMs = Date.now() + this.purgeIntervalMs;
        await this.purgePublished().catch((error: unknown) => {
          this.logger.warn({ err: errorMessage(error), schema: this.options.schema }, 'outbox purge failed');
        });
      }
      let outcome: RelayBatchOutcome;
      try {
        outcome = await this.runOnce();
      } catch (error) {
        outcome = { selected: 0, published: 0, failed: 1, firstError: error };
        this.counters.failures++;
      }
      if (outcome.failed > 0) {
        consecutiveFailures++;
        const delayMs = backoffDelayMs(consecutiveFailures, BACKOFF_BASE_MS, this.backoffMaxMs);
        this.logger.warn(
          {
            err: errorMessage(outcome.firstError),
            failed: outcome.failed,
            published: outcome.published,
            delayMs,
          },
          'outbox relay batch incomplete; backing off',
        );
        await this.sleeper.sleep(delayMs);
        continue;
      }
      consecutiveFailures = 0;
      if (outcome.lockBusy === true) {
        // Another relay is at work; it may have started before our rows committed.
        await this.sleeper.sleep(this.lockBusyRetryMs);
        continue;
      }
      // A full batch means more may be waiting: go again at once.
      if (outcome.selected >= this.batchSizeMax) continue;
      await this.waitForWork();
    }
  }

  /**
   * Returns when there may be work: at a wake-up signal at once (a signal
   * latched during the batch counts), at the backstop after one cheap check.
   */
  private async waitForWork(): Promise<void> {
    while (!this.stopping) {
      const reason = await this.wakeup.wait();
      if (reason === 'closed') return;
      if (reason === 'signal') {
        this.counters.wakeSignals++;
        return;
      }
      this.counters.wakeBackstops++;
      if (Date.now() >= this.nextPurgeAtMs) return;
      const waiting = await this.hasUnpublished().catch(() => true);
      if (waiting) return;
      this.counters.idleChecks++;
    }
  }

  private async hasUnpublished(): Promise<boolean> {
    const rows = await this.options.dataSource.query<{ waiting: boolean }[]>(
      `SELECT EXISTS (SELECT 1 FROM ${this.table} WHERE published_at IS NULL) AS waiting`,
    );
    return rows[0]?.waiting === true;
  }

  /** Relays one batch. Exposed for tests and for a drain on shutdown. */
  async runOnce(): Promise<RelayBatchOutcome> {
    const outcome = await inTransaction(this.options.dataSource, (manager) => this.relayBatch(manager), {
      isolation: 'READ COMMITTED',
      name: 'outbox.relay',
      // A retry would republish the whole batch; the next loop turn does that anyway.
      retriesMax: 0,
    });
    this.counters.batches++;
    return outcome;
  }

  private async relayBatch(manager: EntityManager): Promise<RelayBatchOutcome> {
    // One round trip: the lock CTE is evaluated once (it calls a volatile function, so it is
    // materialised); the LEFT JOIN keeps one row with locked=false when the lock is taken.
    const batch = await manager.query<OutboxBatchRow[]>(
      `WITH lock AS (SELECT pg_try_advisory_xact_lock($1::bigint) AS locked),
            batch AS (
              SELECT o.id, o.msg_id, o.subject, o.payload, o.headers, o.created_at
                FROM ${this.table} o
               WHERE (SELECT locked FROM lock) AND o.published_at IS NULL
               ORDER BY o.id
               LIMIT $2
                 FOR UPDATE SKIP LOCKED
            )
       SELECT lock.locked, b.id::text AS id, b.msg_id::text AS msg_id, b.subject, b.payload, b.headers,
              floor(extract(epoch FROM clock_timestamp() - b.created_at) * 1000)::bigint::text AS age_ms
         FROM lock LEFT JOIN batch b ON true
        ORDER BY b.id`,
      [this.lockKey, this.batchSizeMax],
    );
    if (batch[0]?.locked !== true) return { selected: 0, published: 0, failed: 0, lockBusy: true };
    const rows = batch.filter(
      (row): row is OutboxBatchRow & OutboxSelectRow => row.id !== undefined && row.id !== null,
    );
    this.counters.lagMs = rows[0] ? Number(rows[0].age_ms) : 0;
    if (rows.length === 0) return { selected: 0, published: 0, failed: 0 };

    const results = await mapSettledBounded(rows, this.publishConcurrencyMax, (row) => this.publish(row));
    const ackedIds: string[] = [];
    let firstError: unknown;
    results.forEach((result, index) => {
      const row = rows[index];
      if (!row) return;
      if (result.ok) {
        ackedIds.push(row.id);
        if (result.value.duplicate) this.counters.duplicates++;
      } else if (firstError === undefined) {
        firstError = result.error;
      }
    });
    if (ackedIds.length > 0) {
      await manager.query(`UPDATE ${this.table} SET published_at = now() WHERE id = ANY($1::bigint[])`, [
        ackedIds,
      ]);
    }
    const failed = rows.length - ackedIds.length;
    this.counters.published += ackedIds.length;
    this.counters.failures += failed;
    return {
      selected: rows.length,
      published: ackedIds.length,
      failed,
      ...(firstError !== undefined ? { firstError } : {}),
    };
  }

  /**
   * Publishes one row inside a PRODUCER span whose parent is the trace
   * context captured when the row was written; the message carries the
   * producer span's context, so the consumer's span continues this trace.
   */
  private publish(row: OutboxSelectRow): Promise<PubAck> {
    const stored = storedHeaders(row.headers);
    const bizCode = bizCodeOf(stored);
    return tracer.startActiveSpan(
      `${row.subject} publish`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          'messaging.system': 'nats',
          'messaging.operation.type': 'send',
          'messaging.destination.name': row.subject,
          'messaging.message.id': row.msg_id,
          ...(bizCode !== undefined ? { [BIZ_CODE_SPAN_ATTRIBUTE]: bizCode } : {}),
        },
      },
      extractTraceContext(stored),
      async (span) => {
        try {
          const outgoing: EventHeaders = { ...stored };
          propagation.inject(context.active(), outgoing);
          const ack = await this.options.js.publish(row.subject, row.payload, {
            msgID: row.msg_id,
            headers: toNatsHeaders(outgoing),
            timeout: this.publishTimeoutMs,
          });
          span.setAttribute('messaging.nats.stream_sequence', ack.seq);
          if (ack.duplicate) span.setAttribute('messaging.nats.duplicate', true);
          return ack;
        } catch (error) {
          span.recordException(error instanceof Error ? error : new Error(String(error)));
          span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(error) });
          throw error;
        } finally {
          span.end();
        }
      },
    );
  }

  /** Deletes published rows past retention, in bounded statements. Returns the count. */
  async purgePublished(): Promise<number> {
    let total = 0;
    for (let i = 0; i < PURGE_STATEMENTS_PER_RUN_MAX; i++) {
      // Wrapped in a SELECT because TypeORM returns [rows, count] for a bare DELETE.
      const result = await this.options.dataSource.query<{ deleted: number }[]>(
        `WITH doomed AS (
           SELECT id FROM ${this.table}
            WHERE published_at IS NOT NULL AND published_at < now() - ($1::bigint * interval '1 millisecond')
            ORDER BY published_at
            LIMIT $2
         ), gone AS (
           DELETE FROM ${this.table} o USING doomed WHERE o.id = doomed.id RETURNING 1
         )
         SELECT count(*)::int AS deleted FROM gone`,
        [this.retentionMs, this.purgeBatchSizeMax],
      );
      const deleted = result[0]?.deleted ?? 0;
      total += deleted;
      if (deleted < this.purgeBatchSizeMax || this.stopping) break;
    }
    this.counters.purged += total;
    return total;
  }
}

/** Stored headers come from jsonb; keep only string values (the writer stores nothing else). */
function storedHeaders(value: unknown): EventHeaders {
  const out: EventHeaders = {};
  if (typeof value !== 'object' || value === null) return out;
  for (const [name, headerValue] of Object.entries(value))
    if (typeof headerValue === 'string') out[name] = headerValue;
  return out;
}
