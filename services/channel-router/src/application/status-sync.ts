/**
 * The status sync worker (反查): each pass claims due transactions that are
 * not final (a lease pushes their next slot ahead, so replicas never query
 * the same one twice at once) and asks the channel about each; the router
 * then schedules the next attempt or hands the transaction to the exception
 * list. Between passes it sleeps on a wake-up until the earliest next slot
 * (one indexed statement), a new transaction (signalled after its commit,
 * here or by a peer over NOTIFY) or the backstop (`tickMs`), whichever comes
 * first — instead of polling on a fixed tick. Bounded: batch size per pass,
 * concurrency per batch; a full batch goes again at once.
 */
import { SpanKind } from '@opentelemetry/api';
import { continueStoredTrace } from '@paycore/platform';
import type { Logger } from 'pino';
import type { ChannelRouter } from './channel-router';
import type { Txn } from './model';
import type { SyncWake } from './ports';

export interface StatusSyncOptions {
  /** The backstop: the longest sleep between passes. */
  readonly tickMs: number;
  readonly batchSizeMax: number;
  readonly concurrencyMax: number;
  /** A claimed transaction is retried by another replica after this if this one dies mid-query. */
  readonly leaseMs: number;
}

/** Shortest sleep: a due row that a peer holds (skipped, still due) must not make this loop spin. */
const WAIT_MIN_MS = 20;

export class StatusSyncWorker {
  private loop: Promise<void> | undefined;
  private stopped = true;

  constructor(
    private readonly router: ChannelRouter,
    private readonly wake: SyncWake,
    private readonly options: StatusSyncOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.stopped = false;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake.close();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let sleepMs: number | undefined = this.options.tickMs;
      try {
        if ((await this.tick()) >= this.options.batchSizeMax) continue;
        const due = await this.router.nextSyncDueAt();
        sleepMs = due === undefined ? undefined : Math.max(WAIT_MIN_MS, due.getTime() - Date.now());
      } catch (err) {
        this.logger.error({ err: String(err) }, 'status sync pass failed');
      }
      if (this.stopped) break;
      await this.wake.wait(sleepMs);
    }
  }

  /** One pass; exposed for tests. Returns how many transactions were examined. */
  async tick(): Promise<number> {
    const due = await this.router.claimDue(this.options.batchSizeMax, this.options.leaseMs);
    for (let start = 0; start < due.length; start += this.options.concurrencyMax) {
      const slice = due.slice(start, start + this.options.concurrencyMax);
      await Promise.all(
        slice.map((txn) =>
          // Each poll continues the payment's trace, so a change it finds joins the same trace id.
          this.syncInTrace(txn).catch((err: unknown) => {
            this.logger.warn(
              { err, txn_id: txn.txnId },
              'status sync of a transaction failed; retried after the lease',
            );
          }),
        ),
      );
    }
    return due.length;
  }

  private async syncInTrace(txn: Txn): Promise<void> {
    const stored = await this.router.traceHeaders(txn.txnId);
    await continueStoredTrace(stored, 'channel status sync', SpanKind.INTERNAL, () =>
      this.router.syncOne(txn),
    );
  }
}
