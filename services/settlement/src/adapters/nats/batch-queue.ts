/**
 * Batches shared among replicas: a JetStream stream with work-queue
 * retention (a message is gone once acknowledged) holds one BatchDue per
 * batch, written through the outbox in the transaction that created the
 * batch. Every replica pulls from one durable consumer with explicit ack, so
 * a batch is driven by one replica at a time; a replica that dies mid-batch
 * never acks, and after ackWaitMs the message goes to another replica, which
 * resumes the batch from its stored state (Batches.drive: every step is a
 * guarded transition after an idempotent call). A batch waiting for its
 * payout's outcome is nak'ed with a delay and asked again.
 *
 * The same queue carries DepositDue items (a channel day's deposit move,
 * ADR 0046), driven the same way by Deposits.drive.
 *
 * The work stream has its own context ("settlement_work") so that its
 * subjects do not overlap settlement's event stream (limits retention).
 */
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type Consumer,
  type ConsumerMessages,
  type JsMsg,
} from '@nats-io/jetstream';
import type { EventNaming, NatsConnections, OutboxEvent, PlatformLogSink } from '@paycore/platform';
import {
  BatchDue,
  BatchSettled,
  DepositDue,
  PayoutFailed,
  PayoutSucceeded,
} from '@paycore/proto/paycore/settlement/v1/events';
import type { BatchEvents, Batches, DriveOutcome } from '../../application/batches';
import type { ChannelDayEvents } from '../../application/channel-days';
import type { BatchRecord } from '../../application/ports';
import { batchToPb } from '../grpc/mapping';

export const WORK_CONTEXT = 'settlement_work';
const MS_TO_NANOS = 1_000_000;
const DAY_MS = 86_400_000;
/** How long one pull waits for work; an idle replica's only traffic on the queue. */
const PULL_EXPIRES_MS = 15_000;

export interface BatchQueueOptions {
  readonly nats: NatsConnections;
  readonly naming: EventNaming;
  readonly batches: Batches;
  /** Drives a channel day's deposit move (DepositDue items). */
  readonly deposits: { drive(channelNo: string, billDate: string): Promise<DriveOutcome> };
  readonly logger: PlatformLogSink;
  /** Redelivery to another replica when a batch is neither acked nor nak'ed (a replica died). */
  readonly ackWaitMs: number;
  /** Delay before asking again about a payout still in progress. */
  readonly waitingDelayMs: number;
  /** Delay after a failed drive (account or channel-router unreachable). */
  readonly failureDelayMs: number;
  /** Batches fetched per pull. */
  readonly batchSizeMax: number;
  /** Batches driven at once (each message is still one batch, acked once its drive ends). */
  readonly drivesInFlightMax: number;
}

export function batchEvents(naming: EventNaming, bizCode: string): BatchEvents {
  const subject = (event: string) => naming.subject('settlement', event);
  return {
    batchSettled: (batch: BatchRecord): OutboxEvent => ({
      subject: subject('batch_settled'),
      payload: BatchSettled.encode({ batch: batchToPb(batch), bizCode, settledAt: new Date() }).finish(),
    }),
    payoutSucceeded: (batch: BatchRecord): OutboxEvent => ({
      subject: subject('payout_succeeded'),
      payload: PayoutSucceeded.encode({
        batch: batchToPb(batch),
        payoutTxnId: batch.payoutTxnId ?? '',
        bizCode,
      }).finish(),
    }),
    payoutFailed: (batch: BatchRecord, reason: string, willRetry: boolean): OutboxEvent => ({
      subject: subject('payout_failed'),
      payload: PayoutFailed.encode({
        batch: batchToPb(batch),
        payoutTxnId: batch.payoutTxnId ?? '',
        failureReason: reason,
        willRetry,
        bizCode,
      }).finish(),
    }),
    batchDue: (batchId: string): OutboxEvent => ({
      subject: naming.subject(WORK_CONTEXT, 'batch_due'),
      payload: BatchDue.encode({ batchId }).finish(),
    }),
  };
}

export function channelDayEvents(naming: EventNaming): ChannelDayEvents {
  return {
    depositDue: (channelNo: string, billDate: string): OutboxEvent => ({
      subject: naming.subject(WORK_CONTEXT, 'deposit_due'),
      payload: DepositDue.encode({ channelNo, billDate }).finish(),
    }),
  };
}

/** The work-queue stream and its one durable pull consumer (idempotent; safe from several replicas). */
export async function ensureBatchQueue(
  nats: NatsConnections,
  naming: EventNaming,
  ackWaitMs: number,
): Promise<void> {
  const name = naming.stream(WORK_CONTEXT);
  const config = {
    subjects: [naming.contextSubjects(WORK_CONTEXT)],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: 30 * DAY_MS * MS_TO_NANOS,
    duplicate_window: 2 * 60_000 * MS_TO_NANOS,
    num_replicas: 1,
  };
  await nats.jsm.streams.add({ name, ...config }).catch(async (error: unknown) => {
    if (error instanceof JetStreamApiError && error.code === 10058)
      return nats.jsm.streams.update(name, config);
    throw error;
  });
  const durable = naming.durable('settlement', 'batches');
  const consumer = {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: ackWaitMs * MS_TO_NANOS,
    max_deliver: -1,
    max_ack_pending: 1_000,
  };
  const exists = await nats.jsm.consumers.info(name, durable).then(
    () => true,
    (error: unknown) => {
      if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound)
        return false;
      throw error;
    },
  );
  if (exists) await nats.jsm.consumers.update(name, durable, { ack_wait: consumer.ack_wait });
  else await nats.jsm.consumers.add(name, consumer);
}

export class BatchQueueWorker {
  private stopping = false;
  private loop: Promise<void> | undefined;
  private driven = 0;
  private pull: ConsumerMessages | undefined;

  constructor(private readonly options: BatchQueueOptions) {}

  get batchesFinished(): number {
    return this.driven;
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.pull?.close();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { nats, naming } = this.options;
    let consumer: Consumer | undefined;
    while (!this.stopping) {
      try {
        consumer ??= await nats.js.consumers.get(
          naming.stream(WORK_CONTEXT),
          naming.durable('settlement', 'batches'),
        );
        // A long pull: new work reaches it at once, and an idle replica asks
        // once per PULL_EXPIRES_MS instead of once a second; stop() closes it.
        const messages = await consumer.fetch({
          max_messages: this.options.batchSizeMax,
          expires: PULL_EXPIRES_MS,
        });
        this.pull = messages;
        if (this.stopping) await messages.close();
        // Up to drivesInFlightMax drives at once: a drive spends its time
        // waiting on account and channel-router, so one at a time leaves the
        // replica idle. Each message is acked or nak'ed by its own drive;
        // the next pull waits until this one's drives ended.
        const inFlight = new Set<Promise<void>>();
        for await (const message of messages) {
          const drive: Promise<void> = this.handle(message).finally(() => inFlight.delete(drive));
          inFlight.add(drive);
          if (inFlight.size >= this.options.drivesInFlightMax) await Promise.race(inFlight);
          if (this.stopping) break;
        }
        await Promise.all(inFlight);
        this.pull = undefined;
      } catch (error) {
        consumer = undefined;
        this.options.logger.warn({ err: String(error) }, 'batch queue pull failed; backing off');
        await new Promise((resolve) => setTimeout(resolve, this.options.failureDelayMs));
      }
    }
  }

  /** What the message asks for: a batch (BatchDue) or a channel day's deposit move (DepositDue). */
  private work(message: JsMsg): { key: Record<string, string>; drive: () => Promise<DriveOutcome> } {
    if (message.subject === this.options.naming.subject(WORK_CONTEXT, 'deposit_due')) {
      const { channelNo, billDate } = DepositDue.decode(message.data);
      return { key: { channelNo, billDate }, drive: () => this.options.deposits.drive(channelNo, billDate) };
    }
    const { batchId } = BatchDue.decode(message.data);
    return { key: { batchId }, drive: () => this.options.batches.drive(batchId) };
  }

  private async handle(message: JsMsg): Promise<void> {
    const work = this.work(message);
    // Keeps the message ours while a slow step runs (a live replica is never overtaken).
    const heartbeat = setInterval(
      () => message.working(),
      Math.max(500, Math.floor(this.options.ackWaitMs / 3)),
    );
    try {
      const outcome = await work.drive();
      if (outcome === 'FINAL') {
        message.ack();
        if ('batchId' in work.key) this.driven += 1;
      } else {
        message.nak(this.options.waitingDelayMs);
      }
    } catch (error) {
      this.options.logger.warn({ err: String(error), ...work.key }, 'work step failed; will be redelivered');
      message.nak(this.options.failureDelayMs);
    } finally {
      clearInterval(heartbeat);
    }
  }
}
