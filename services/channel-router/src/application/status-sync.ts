/**
 * The status sync worker (反查): every tick it claims due transactions that
 * are not final (a lease pushes their next slot ahead, so replicas never
 * query the same one twice at once) and asks the channel about each; the
 * router then schedules the next attempt or hands the transaction to the
 * exception list. Bounded: batch size per tick, concurrency per batch.
 */
import { SpanKind } from '@opentelemetry/api';
import { continueStoredTrace } from '@paycore/platform';
import type { Logger } from 'pino';
import type { ChannelRouter } from './channel-router';
import type { Txn } from './model';

export interface StatusSyncOptions {
  readonly tickMs: number;
  readonly batchSizeMax: number;
  readonly concurrencyMax: number;
  /** A claimed transaction is retried by another replica after this if this one dies mid-query. */
  readonly leaseMs: number;
}

export class StatusSyncWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(
    private readonly router: ChannelRouter,
    private readonly options: StatusSyncOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick()
        .then(() => undefined)
        .catch((err: unknown) => this.logger.error({ err: String(err) }, 'status sync tick failed'))
        .finally(() => this.schedule());
    }, this.options.tickMs);
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
