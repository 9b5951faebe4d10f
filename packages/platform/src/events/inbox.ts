/**
 * The inbox consumer: idempotent handling of JetStream events.
 *
 * For each message, ONE Postgres transaction inserts (consumer, msg id) into
 * the inbox and runs the handler with the same EntityManager; commit, then
 * ack. If the inbox row already exists the message was handled before (a
 * redelivery after a lost ack, or a republish past the duplicate window), so
 * the handler is skipped and the message acked. Effects of the handler and
 * the inbox row commit or roll back together, which is what makes handling
 * exactly once in effect under at-least-once delivery.
 *
 * Failures: the transaction rolls back and the message is nak'ed with the
 * next backoff delay. When the handler itself failed on a delivery numbered
 * `maxDeliver` or later, the message is written to `inbox_dead_letter` and
 * terminated, so one poison message never blocks a consumer. A failure of
 * Postgres itself (before the handler ran, or a connection / shutdown /
 * resource error inside it) is transient: it is retried with backoff for as
 * long as it lasts and never dead-letters a good message. The server-side
 * max_deliver is unlimited for the same reason: the server must not drop a
 * message that we could not even dead-letter. The price: a handler that
 * crashes the whole process is redelivered every ack wait until fixed —
 * loud (restarts), not silent.
 *
 * Batch mode (`batchHandler`, for consumers that must keep up with bulk
 * traffic): the messages of one pull (up to batchSizeMax; a partial pull
 * ends after fetchExpiresMs, the latency a trickle pays) are handled in ONE
 * transaction: one statement inserts their inbox rows, the batch handler
 * gets the new ones in stream order, commit, then every message is acked. A
 * batch that fails on Postgres availability is nak'ed whole; one that fails
 * otherwise is handled again one message per transaction with `handler`,
 * so a poison message is isolated, retried and dead-lettered exactly as
 * above and never holds back the rest. Still one log line per event.
 *
 * Concurrent mode (`handlerConcurrencyMax` > 1, for consumers whose handler
 * waits on other I/O): up to that many messages of a pull are handled at
 * once, each still in its own inbox transaction, acked after its commit.
 * Messages with the same `orderingKey` (an aggregate id) are handled one
 * after another in stream order; others may finish out of order, which
 * consumers already tolerate (redeliveries and failed publishes reorder too).
 * The next pull starts when every message of the current one is settled.
 *
 * Idle: a pull that brought nothing is followed by a long pull for one
 * message (idleFetchExpiresMs, default 30 s): an idle consumer asks the
 * server twice a minute instead of once per fetchExpiresMs (with the
 * client's heartbeats at half the expiry), and the first message after a
 * quiet spell is handled as soon as it arrives; the pulls after it are
 * batches again.
 *
 * Written for NATS 2.9: a consumer has one filter subject there, so several
 * filter subjects become one server-side filter of the whole stream plus a
 * client-side match (non-matching messages are acked unhandled).
 */
import { SpanKind, SpanStatusCode, isSpanContextValid, trace } from '@opentelemetry/api';
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  ReplayPolicy,
  type Consumer,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import type { DataSource, EntityManager } from 'typeorm';
import { quoteSchema } from '../db/identifiers';
import { errorMessage, SILENT_LOG_SINK, type PlatformLogSink } from '../db/logging';
import { inTransaction, sqlState, type IsolationLevel } from '../db/transaction';
import { BIZ_CODE_SPAN_ATTRIBUTE, runWithIncomingBizCode } from './biz-context';
import { assertIntegerInRange, backoffDelayMs, Sleeper } from './bounded';
import { flowAttributes } from '../grpc/flow-fields';
import { runWithFlowFields } from './flow-context';
import { bizCodeOf, extractTraceContext, flowFieldsOf, fromNatsHeaders, type EventHeaders } from './headers';
import { subjectFilter } from './naming';

export interface InboxMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: EventHeaders;
  /** `Nats-Msg-Id` (the outbox msg_id), or `seq:<stream sequence>` when absent. */
  readonly msgId: string;
  /** 1 on first delivery. */
  readonly deliveryCount: number;
  readonly streamSequence: number;
}

export type InboxHandler = (message: InboxMessage, manager: EntityManager) => Promise<void>;
/** Handles several new messages, in stream order, inside one transaction. */
export type InboxBatchHandler = (messages: readonly InboxMessage[], manager: EntityManager) => Promise<void>;

export interface InboxConsumerOptions {
  readonly dataSource: DataSource;
  readonly schema: string;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly stream: string;
  /** Durable consumer name; also the `consumer` column of the inbox. */
  readonly durable: string;
  readonly filterSubjects: readonly string[];
  /** One message per transaction; in batch mode the fallback for a batch that failed. */
  readonly handler: InboxHandler;
  /**
   * Messages of one pull handled at once, each in its own transaction (see
   * the header). Default 1: one at a time, in stream order. Each one in
   * flight holds a pooled connection (two if the handler opens its own
   * transaction), so keep it well below the pool size.
   */
  readonly handlerConcurrencyMax?: number;
  /** With handlerConcurrencyMax > 1: messages with the same key are handled in stream order. */
  readonly orderingKey?: (message: InboxMessage) => string | undefined;
  /**
   * Messages the handler would do nothing with (a state it waits past):
   * acked without a transaction and without an inbox row, counted as
   * filteredOut. Only for messages whose handling is a no-op whatever the
   * database holds, so skipping one can never lose an effect.
   */
  readonly ignore?: (message: InboxMessage) => boolean;
  /** Batch mode (see the header): the messages of a pull in one transaction. */
  readonly batchHandler?: InboxBatchHandler;
  /** Handler attempts before dead-lettering. Default 10. */
  readonly maxDeliver?: number;
  /** nak delay after failed attempt n is backoffMs[min(n, len) - 1]. Default [1000, 5000, 30000]. */
  readonly backoffMs?: readonly number[];
  /** Redelivery when a message is neither acked nor nak'ed in time. Default 30000. */
  readonly ackWaitMs?: number;
  /** Messages per pull. Default 100. */
  readonly batchSizeMax?: number;
  /** Unacknowledged messages the server lets out at once. Default 1000. */
  readonly maxAckPending?: number;
  /** How long one pull waits for messages. Default 5000 (server minimum 1000). */
  readonly fetchExpiresMs?: number;
  /** How long the one-message pull after an empty one waits. Default 30000. */
  readonly idleFetchExpiresMs?: number;
  /**
   * Inbox rows of this consumer older than this are deleted. Must exceed how
   * long a message can still come back (the stream's max age). Default 14 days.
   */
  readonly inboxRetentionMs?: number;
  /** How often the inbox purge runs. Default 600000. */
  readonly purgeIntervalMs?: number;
  /** Isolation of the handler transaction. Default READ COMMITTED. */
  readonly isolation?: IsolationLevel;
  readonly logger?: PlatformLogSink;
}

export interface InboxConsumerStats {
  /** Messages whose handler committed. */
  readonly handled: number;
  /** Messages skipped because the inbox already had them. */
  readonly duplicates: number;
  /** Failed handler attempts (each one nak'ed or dead-lettered). */
  readonly failures: number;
  /** Attempts that failed on Postgres availability (connection, shutdown, resources); never dead-lettered. */
  readonly transientFailures: number;
  readonly deadLettered: number;
  /** Messages outside filterSubjects (only with several filter subjects) or ignored (`ignore`). */
  readonly filteredOut: number;
  /** Failed pulls (NATS unreachable and the like). */
  readonly fetchErrors: number;
  readonly running: boolean;
}

export class InboxConfigConflictError extends Error {
  override readonly name = 'InboxConfigConflictError';
}

const tracer = trace.getTracer('@paycore/platform');
const MS_TO_NANOS = 1_000_000;
const FETCH_BACKOFF_BASE_MS = 100;
const FETCH_BACKOFF_MAX_MS = 2_000;
const DEAD_LETTER_ERROR_LENGTH_MAX = 2_000;
const MSG_ID_HEADER = 'Nats-Msg-Id';
const DAY_MS = 24 * 3_600_000;
const PURGE_BATCH_SIZE_MAX = 5_000;
const PURGE_STATEMENTS_PER_RUN_MAX = 100;
const OUTCOME_ERROR_LENGTH_MAX = 200;
const HANDLER_CONCURRENCY_LIMIT = 64;

/** Consumers between start() and stop(), for the process's metrics (sql-metrics.ts); bounded by what a process starts. */
const live = new Set<InboxConsumer>();

export function liveInboxConsumers(): readonly InboxConsumer[] {
  return [...live];
}

export class InboxConsumer {
  private readonly schemaSql: string;
  private readonly maxDeliver: number;
  private readonly backoffMs: readonly number[];
  private readonly ackWaitMs: number;
  private readonly batchSizeMax: number;
  private readonly maxAckPending: number;
  private readonly handlerConcurrencyMax: number;
  private readonly fetchExpiresMs: number;
  private readonly idleFetchExpiresMs: number;
  private readonly serverFilter: string | undefined;
  /** Whether a delivered subject is one of filterSubjects (the server filters when there is one). */
  private readonly wanted: (subject: string) => boolean;
  private readonly inboxRetentionMs: number;
  private readonly purgeIntervalMs: number;
  private readonly logger: PlatformLogSink;
  private readonly sleeper = new Sleeper();
  private loop: Promise<void> | undefined;
  private stopping = false;
  private current: ConsumerMessages | undefined;
  private counters = {
    handled: 0,
    duplicates: 0,
    failures: 0,
    transientFailures: 0,
    deadLettered: 0,
    filteredOut: 0,
    fetchErrors: 0,
  };

  constructor(private readonly options: InboxConsumerOptions) {
    this.schemaSql = quoteSchema(options.schema);
    this.maxDeliver = assertIntegerInRange('maxDeliver', options.maxDeliver ?? 10, 1, 1_000);
    this.backoffMs = options.backoffMs ?? [1_000, 5_000, 30_000];
    if (this.backoffMs.length === 0) throw new RangeError('backoffMs needs at least one delay');
    this.backoffMs.forEach((ms, i) => assertIntegerInRange(`backoffMs[${i}]`, ms, 0, 24 * 3_600_000));
    this.ackWaitMs = assertIntegerInRange('ackWaitMs', options.ackWaitMs ?? 30_000, 1_000, 3_600_000);
    this.batchSizeMax = assertIntegerInRange('batchSizeMax', options.batchSizeMax ?? 100, 1, 10_000);
    this.maxAckPending = assertIntegerInRange('maxAckPending', options.maxAckPending ?? 1_000, 1, 100_000);
    this.handlerConcurrencyMax = assertIntegerInRange(
      'handlerConcurrencyMax',
      options.handlerConcurrencyMax ?? 1,
      1,
      HANDLER_CONCURRENCY_LIMIT,
    );
    if (this.handlerConcurrencyMax > 1 && options.batchHandler !== undefined)
      throw new RangeError('handlerConcurrencyMax > 1 and batchHandler exclude each other');
    this.fetchExpiresMs = assertIntegerInRange(
      'fetchExpiresMs',
      options.fetchExpiresMs ?? 5_000,
      1_000,
      300_000,
    );
    this.idleFetchExpiresMs = assertIntegerInRange(
      'idleFetchExpiresMs',
      options.idleFetchExpiresMs ?? 30_000,
      1_000,
      300_000,
    );
    if (options.filterSubjects.length === 0)
      throw new RangeError('filterSubjects needs at least one subject');
    this.serverFilter = options.filterSubjects.length === 1 ? options.filterSubjects[0] : undefined;
    this.wanted = this.serverFilter !== undefined ? () => true : subjectFilter(options.filterSubjects);
    this.inboxRetentionMs = assertIntegerInRange(
      'inboxRetentionMs',
      options.inboxRetentionMs ?? 14 * DAY_MS,
      0,
      3_650 * DAY_MS,
    );
    this.purgeIntervalMs = assertIntegerInRange(
      'purgeIntervalMs',
      options.purgeIntervalMs ?? 600_000,
      100,
      DAY_MS,
    );
    this.logger = options.logger ?? SILENT_LOG_SINK;
  }

  /** Creates or updates the durable consumer, then starts pulling in the background. */
  async start(): Promise<void> {
    if (this.loop) return;
    await this.ensureConsumer();
    this.stopping = false;
    this.loop = this.run();
    live.add(this);
  }

  get durable(): string {
    return this.options.durable;
  }

  get schema(): string {
    return this.options.schema;
  }

  /** Handles what was already pulled, acks it, and returns. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.sleeper.interrupt();
    // Ends the pull early; messages already received are still yielded and handled.
    void this.current?.close();
    await this.loop;
    this.loop = undefined;
    live.delete(this);
  }

  stats(): InboxConsumerStats {
    return { ...this.counters, running: this.loop !== undefined && !this.stopping };
  }

  private async ensureConsumer(): Promise<void> {
    const { jsm, stream, durable } = this.options;
    const updatable = {
      ack_wait: this.ackWaitMs * MS_TO_NANOS,
      max_deliver: -1,
      max_ack_pending: this.maxAckPending,
    };
    const existing = await jsm.consumers.info(stream, durable).catch((error: unknown) => {
      if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound)
        return undefined;
      throw error;
    });
    if (existing) {
      // NATS 2.9 cannot change a consumer's filter; say so instead of consuming the wrong subjects.
      const existingFilter = existing.config.filter_subject ?? '';
      if (existingFilter !== (this.serverFilter ?? '')) {
        throw new InboxConfigConflictError(
          `consumer ${durable} on ${stream} filters ${JSON.stringify(existingFilter)}, wanted ${JSON.stringify(this.serverFilter ?? '')}; delete it to change the filter`,
        );
      }
      await jsm.consumers.update(stream, durable, updatable);
      return;
    }
    const config: Partial<ConsumerConfig> = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      replay_policy: ReplayPolicy.Instant,
      ...updatable,
      ...(this.serverFilter !== undefined ? { filter_subject: this.serverFilter } : {}),
    };
    await jsm.consumers.add(stream, config);
  }

  private async run(): Promise<void> {
    let consecutiveFailures = 0;
    let nextPurgeAtMs = Date.now();
    // Looked up once (a consumer info request) and again only after a failure.
    let consumer: Consumer | undefined;
    // Whether the last pull brought nothing: the next one is a long pull for one message.
    let idle = false;
    while (!this.stopping) {
      if (Date.now() >= nextPurgeAtMs) {
        nextPurgeAtMs = Date.now() + this.purgeIntervalMs;
        await this.purgeInbox().catch((error: unknown) => {
          this.logger.warn({ err: errorMessage(error), durable: this.options.durable }, 'inbox purge failed');
        });
      }
      try {
        consumer ??= await this.options.js.consumers.get(this.options.stream, this.options.durable);
        const messages = await consumer.fetch(
          idle
            ? { max_messages: 1, expires: this.idleFetchExpiresMs }
            : { max_messages: this.batchSizeMax, expires: this.fetchExpiresMs },
        );
        this.current = messages;
        if (this.stopping) void messages.close();
        let received = 0;
        if (this.options.batchHandler !== undefined) received = await this.handleInBatches(messages);
        else if (this.handlerConcurrencyMax > 1) received = await this.handleConcurrently(messages);
        else {
          for await (const message of messages) {
            received++;
            await this.handle(message);
          }
        }
        idle = received === 0;
        consecutiveFailures = 0;
      } catch (error) {
        if (this.stopping) break;
        consumer = undefined;
        idle = false;
        consecutiveFailures++;
        this.counters.fetchErrors++;
        const delayMs = backoffDelayMs(consecutiveFailures, FETCH_BACKOFF_BASE_MS, FETCH_BACKOFF_MAX_MS);
        this.logger.warn(
          { err: errorMessage(error), durable: this.options.durable, delayMs },
          'inbox pull failed; backing off',
        );
        await this.sleeper.sleep(delayMs);
      } finally {
        this.current = undefined;
      }
    }
  }

  /**
   * Batch mode: collects what the pull yields until it ends (fulfilled at
   * batchSizeMax, or expired after fetchExpiresMs), and only then handles
   * the batch: no pull is open (its heartbeats unread) while a long
   * transaction runs, and no pull is cut short (messages in flight to a
   * closed pull would wait out the ack wait).
   */
  private async handleInBatches(messages: ConsumerMessages): Promise<number> {
    const buffer: JsMsg[] = [];
    try {
      for await (const message of messages) buffer.push(message);
    } catch (error) {
      // A pull that failed midway (heartbeats missed): what arrived is still handled now.
      if (buffer.length > 0) await this.handleBatch(buffer);
      throw error;
    }
    if (buffer.length > 0) await this.handleBatch(buffer);
    return buffer.length;
  }

  /**
   * Concurrent mode: starts each message as it arrives, with at most
   * handlerConcurrencyMax in flight; a message waits for the one before it
   * with the same ordering key. Returns when every message of the pull is
   * settled (acked, nak'ed or dead-lettered), also when the pull failed.
   */
  private async handleConcurrently(messages: ConsumerMessages): Promise<number> {
    let received = 0;
    const inFlight = new Set<Promise<void>>();
    /** Per ordering key, the last message started: the next one with that key waits for it. */
    const tails = new Map<string, Promise<void>>();
    try {
      for await (const message of messages) {
        received++;
        while (inFlight.size >= this.handlerConcurrencyMax) await Promise.race(inFlight);
        const key = this.orderingKeyOf(message);
        const previous = key === undefined ? undefined : tails.get(key);
        const run = (previous ?? Promise.resolve())
          .then(() => this.handle(message))
          .catch((error: unknown) => {
            // handle() settles the message itself; this only guards the loop.
            this.logger.warn(
              { err: errorMessage(error), durable: this.options.durable },
              'event handling threw',
            );
          });
        const tracked: Promise<void> = run.finally(() => {
          inFlight.delete(tracked);
          if (key !== undefined && tails.get(key) === tracked) tails.delete(key);
        });
        inFlight.add(tracked);
        if (key !== undefined) tails.set(key, tracked);
      }
    } finally {
      await Promise.all(inFlight);
    }
    return received;
  }

  /** The ignore predicate; a message it cannot judge (it throws) is handled as usual. */
  private ignored(message: InboxMessage): boolean {
    const ignore = this.options.ignore;
    if (ignore === undefined) return false;
    try {
      return ignore(message);
    } catch {
      return false;
    }
  }

  private orderingKeyOf(message: JsMsg): string | undefined {
    const keyOf = this.options.orderingKey;
    if (keyOf === undefined) return undefined;
    try {
      return keyOf(this.inboxMessageOf(message));
    } catch {
      // An undecodable message has no key; the handler fails it and it is retried or dead-lettered.
      return undefined;
    }
  }

  /**
   * One line per consumed event of a committed batch, as a message handled
   * alone gets: the producer's trace id, the business code, the entity ids,
   * DUPLICATE for a copy already handled; the duration is the batch's.
   */
  private logBatch(
    inbox: readonly InboxMessage[],
    fresh: ReadonlySet<InboxMessage>,
    durationMs: number,
  ): void {
    for (const message of inbox) {
      const bizCode = bizCodeOf(message.headers);
      const producer = trace.getSpanContext(extractTraceContext(message.headers));
      this.logger.info(
        {
          ...(producer !== undefined && isSpanContextValid(producer) ? { trace_id: producer.traceId } : {}),
          ...(bizCode !== undefined ? { biz_code: bizCode } : {}),
          subject: message.subject,
          consumer: this.options.durable,
          msg_id: message.msgId,
          delivery: message.deliveryCount,
          ...flowFieldsOf(message.headers),
          outcome: fresh.has(message) ? 'OK' : 'DUPLICATE',
          batch: inbox.length,
          duration_ms: durationMs,
        },
        'event handled',
      );
    }
  }

  private inboxMessageOf(message: JsMsg): InboxMessage {
    const headers = fromNatsHeaders(message.headers);
    return {
      subject: message.subject,
      data: message.data,
      headers,
      msgId: headers[MSG_ID_HEADER] ?? `seq:${message.seq}`,
      deliveryCount: message.info.deliveryCount,
      streamSequence: message.seq,
    };
  }

  /** One transaction for the batch; on a failure not of Postgres's availability, one message at a time. */
  private async handleBatch(batch: readonly JsMsg[]): Promise<void> {
    const handler = this.options.batchHandler;
    if (handler === undefined) throw new Error('handleBatch without a batch handler');
    // Each message's headers are read once: the inbox rows and the handler share them.
    const wanted: JsMsg[] = [];
    const inbox: InboxMessage[] = [];
    for (const m of batch) {
      const message = this.wanted(m.subject) ? this.inboxMessageOf(m) : undefined;
      if (message === undefined || this.ignored(message)) {
        this.counters.filteredOut++;
        m.ack();
        continue;
      }
      wanted.push(m);
      inbox.push(message);
    }
    if (wanted.length === 0) return;
    const startedAt = process.hrtime.bigint();
    const attempt = { handlerReached: false };
    try {
      const fresh = await inTransaction(
        this.options.dataSource,
        async (manager) => {
          const rows = await manager.query<{ msg_id: string }[]>(
            `INSERT INTO ${this.schemaSql}.inbox (consumer, msg_id, subject)
             SELECT $1, t.msg_id, t.subject FROM unnest($2::text[], $3::text[]) AS t(msg_id, subject)
             ON CONFLICT DO NOTHING RETURNING msg_id`,
            [this.options.durable, inbox.map((m) => m.msgId), inbox.map((m) => m.subject)],
          );
          const inserted = new Set(rows.map((r) => r.msg_id));
          // The first copy of an id is the one handled (a batch may hold an event stored twice).
          const news = inbox.filter((m) => inserted.delete(m.msgId));
          attempt.handlerReached = true;
          if (news.length > 0) await handler(news, manager);
          return new Set(news);
        },
        {
          isolation: this.options.isolation ?? 'READ COMMITTED',
          name: `inbox.${this.options.durable}.batch`,
        },
      );
      for (const m of wanted) m.ack();
      this.counters.handled += fresh.size;
      this.counters.duplicates += wanted.length - fresh.size;
      this.logBatch(inbox, fresh, Math.round(Number(process.hrtime.bigint() - startedAt) / 1e3) / 1e3);
    } catch (error) {
      const transient = !attempt.handlerReached || isTransientInfrastructureError(error);
      this.logger.warn(
        { err: errorMessage(error), consumer: this.options.durable, messages: wanted.length, transient },
        transient ? 'event batch failed on Postgres; will be redelivered' : 'event batch failed; one by one',
      );
      if (transient) {
        this.counters.transientFailures++;
        for (const m of wanted) {
          const delivery = m.info.deliveryCount;
          m.nak(this.backoffMs[Math.min(delivery, this.backoffMs.length) - 1] ?? 0);
        }
        return;
      }
      for (const m of wanted) await this.handle(m);
    }
  }

  private async handle(message: JsMsg): Promise<void> {
    const inboxMessage = this.inboxMessageOf(message);
    if (!this.wanted(message.subject)) {
      this.counters.filteredOut++;
      message.ack();
      return;
    }
    if (this.ignored(inboxMessage)) {
      this.counters.filteredOut++;
      message.ack();
      return;
    }
    const attempt = { handlerReached: false };
    try {
      const handled = await this.handleTraced(inboxMessage, attempt);
      if (handled) this.counters.handled++;
      else this.counters.duplicates++;
      message.ack();
    } catch (error) {
      // Postgres being unavailable says nothing about the message: retry it
      // however often it takes, and never dead-letter it for that.
      const transient = !attempt.handlerReached || isTransientInfrastructureError(error);
      if (transient) this.counters.transientFailures++;
      else this.counters.failures++;
      if (!transient && inboxMessage.deliveryCount >= this.maxDeliver) {
        await this.deadLetter(message, inboxMessage, errorMessage(error));
        return;
      }
      const delayMs = this.backoffMs[Math.min(inboxMessage.deliveryCount, this.backoffMs.length) - 1] ?? 0;
      this.logger.warn(
        {
          err: errorMessage(error),
          subject: message.subject,
          msgId: inboxMessage.msgId,
          attempt: inboxMessage.deliveryCount,
          transient,
          delayMs,
        },
        'event handling failed; will be redelivered',
      );
      message.nak(delayMs);
    }
  }

  /**
   * Runs the inbox transaction in a CONSUMER span that continues the trace of
   * the producer, with the business code of the message in the async context.
   * Resolves false for a duplicate.
   */
  private handleTraced(message: InboxMessage, attempt: { handlerReached: boolean }): Promise<boolean> {
    const bizCode = bizCodeOf(message.headers);
    const flow = flowFieldsOf(message.headers);
    const startedAt = process.hrtime.bigint();
    return tracer.startActiveSpan(
      `${message.subject} process`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'nats',
          'messaging.operation.type': 'process',
          'messaging.destination.name': message.subject,
          'messaging.message.id': message.msgId,
          'messaging.consumer.group.name': this.options.durable,
          'messaging.nats.delivery_count': message.deliveryCount,
          ...(bizCode !== undefined ? { [BIZ_CODE_SPAN_ATTRIBUTE]: bizCode } : {}),
          ...flowAttributes(flow),
        },
      },
      extractTraceContext(message.headers),
      async (span) => {
        let outcome = 'OK';
        try {
          const handled = await runWithIncomingBizCode(bizCode, () =>
            runWithFlowFields(flow, () => this.handleInTransaction(message, attempt)),
          );
          if (!handled) {
            span.setAttribute('paycore.inbox.duplicate', true);
            outcome = 'DUPLICATE';
          }
          return handled;
        } catch (error) {
          outcome = `FAILED ${errorMessage(error).slice(0, OUTCOME_ERROR_LENGTH_MAX)}`;
          span.recordException(error instanceof Error ? error : new Error(String(error)));
          span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(error) });
          throw error;
        } finally {
          span.end();
          // One line per consumed event, whatever became of it.
          const spanContext = span.spanContext();
          this.logger.info(
            {
              ...(isSpanContextValid(spanContext)
                ? { trace_id: spanContext.traceId, span_id: spanContext.spanId }
                : {}),
              ...(bizCode !== undefined ? { biz_code: bizCode } : {}),
              subject: message.subject,
              consumer: this.options.durable,
              msg_id: message.msgId,
              delivery: message.deliveryCount,
              ...flow,
              outcome,
              duration_ms: Math.round(Number(process.hrtime.bigint() - startedAt) / 1e3) / 1e3,
            },
            'event handled',
          );
        }
      },
    );
  }

  private handleInTransaction(message: InboxMessage, attempt: { handlerReached: boolean }): Promise<boolean> {
    return inTransaction(
      this.options.dataSource,
      async (manager) => {
        const inserted = await manager.query<unknown[]>(
          `INSERT INTO ${this.schemaSql}.inbox (consumer, msg_id, subject) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING RETURNING 1 AS inserted`,
          [this.options.durable, message.msgId, message.subject],
        );
        if (inserted.length === 0) return false;
        attempt.handlerReached = true;
        await this.options.handler(message, manager);
        return true;
      },
      { isolation: this.options.isolation ?? 'READ COMMITTED', name: `inbox.${this.options.durable}` },
    );
  }

  /** Deletes this consumer's inbox rows past retention, in bounded statements. Returns the count. */
  async purgeInbox(): Promise<number> {
    let total = 0;
    for (let i = 0; i < PURGE_STATEMENTS_PER_RUN_MAX; i++) {
      // Wrapped in a SELECT because TypeORM returns [rows, count] for a bare DELETE.
      const result = await this.options.dataSource.query<{ deleted: number }[]>(
        `WITH doomed AS (
           SELECT consumer, msg_id FROM ${this.schemaSql}.inbox
            WHERE consumer = $1 AND handled_at < now() - ($2::bigint * interval '1 millisecond')
            LIMIT $3
         ), gone AS (
           DELETE FROM ${this.schemaSql}.inbox i USING doomed
            WHERE i.consumer = doomed.consumer AND i.msg_id = doomed.msg_id
           RETURNING 1
         )
         SELECT count(*)::int AS deleted FROM gone`,
        [this.options.durable, this.inboxRetentionMs, PURGE_BATCH_SIZE_MAX],
      );
      const deleted = result[0]?.deleted ?? 0;
      total += deleted;
      if (deleted < PURGE_BATCH_SIZE_MAX || this.stopping) break;
    }
    return total;
  }

  /** Records the message for operators and terminates it; on failure the message is nak'ed to come back. */
  private async deadLetter(message: JsMsg, inboxMessage: InboxMessage, reason: string): Promise<void> {
    try {
      await this.options.dataSource.query(
        `INSERT INTO ${this.schemaSql}.inbox_dead_letter
           (consumer, msg_id, subject, stream_sequence, delivery_count, payload, headers, error)
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)
         ON CONFLICT (consumer, msg_id) DO UPDATE
           SET delivery_count = EXCLUDED.delivery_count, error = EXCLUDED.error, dead_at = now()`,
        [
          this.options.durable,
          inboxMessage.msgId,
          inboxMessage.subject,
          inboxMessage.streamSequence,
          inboxMessage.deliveryCount,
          Buffer.from(inboxMessage.data.buffer, inboxMessage.data.byteOffset, inboxMessage.data.byteLength),
          JSON.stringify(inboxMessage.headers),
          reason.slice(0, DEAD_LETTER_ERROR_LENGTH_MAX),
        ],
      );
    } catch (error) {
      this.logger.error(
        { err: errorMessage(error), msgId: inboxMessage.msgId },
        'dead-letter write failed; message will come back',
      );
      message.nak(this.backoffMs[this.backoffMs.length - 1] ?? 0);
      return;
    }
    this.counters.deadLettered++;
    this.logger.error(
      {
        subject: inboxMessage.subject,
        msgId: inboxMessage.msgId,
        attempts: inboxMessage.deliveryCount,
        reason,
      },
      'event dead-lettered after too many failed attempts',
    );
    message.term(reason.slice(0, 200));
  }
}

const TRANSIENT_NODE_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
]);
const TRANSIENT_DRIVER_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i;

/**
 * Postgres unavailable rather than the message being bad: SQLSTATE classes 08
 * (connection), 53 (insufficient resources), 57P (shutdown / cannot connect
 * now), serialization failures left after retries, and pg driver errors
 * without a SQLSTATE that report a lost connection.
 */
export function isTransientInfrastructureError(error: unknown): boolean {
  const state = sqlState(error);
  if (state !== undefined && /^(08|53|57P|40001|40P01)/.test(state)) return true;
  if (typeof state === 'string' && TRANSIENT_NODE_ERROR_CODES.has(state)) return true;
  return error instanceof Error && TRANSIENT_DRIVER_MESSAGE.test(error.message);
}
