/**
 * Background work of the cashier, each with a bounded batch per pass:
 * - ChannelEvents: applies `channel.txn_updated` (final states) to the
 *   waiting payment, refund or withdrawal in the inbox transaction, then
 *   kicks its driver;
 * - Recovery: resumes flows left unfinished (a crash, a lost event), polls
 *   the channel for waiting ones, closes expired orders, posts escrow
 *   releases; every idle flow is looked at again after `idleMs`;
 * - Notifier: delivers merchant notifications on the retry schedule; its
 *   WakingLoop runs a pass when a notification is committed (a wake-up
 *   after the commit, here or at a peer), when the next retry is due, and
 *   on a slow backstop.
 */
import type { Logger } from 'pino';
import { TxnKind, TxnState, type ChannelTransaction } from '@paycore/proto/paycore/channel/v1/types';
import { isAcknowledged, nextNotifyDelayMs, signNotification, SIGNATURE_VERSION } from '../domain/notify';
import { decideFromChannel } from '../domain/states';
import type { Cashier } from './cashier';
import type { Drivers } from './drivers';
import type { CashierStore, ChannelTxnState } from './ports';

const STATE_NAMES: Readonly<Partial<Record<TxnState, ChannelTxnState>>> = {
  [TxnState.TXN_STATE_PROCESSING]: 'PROCESSING',
  [TxnState.TXN_STATE_SUCCESS]: 'SUCCESS',
  [TxnState.TXN_STATE_FAIL]: 'FAIL',
  [TxnState.TXN_STATE_CLOSED]: 'CLOSED',
  [TxnState.TXN_STATE_UNKNOWN]: 'UNKNOWN',
};

export class ChannelEvents {
  constructor(
    private readonly store: CashierStore,
    private readonly drivers: Drivers,
    private readonly logger: Logger,
  ) {}

  /**
   * Applies a final channel state in one cashier transaction (run from the inbox handler: a redelivery
   * applies it again, which the guarded transitions make harmless). A success for a payment already
   * CANCELLING or FAILED is never silent: it opens an OPEN exception.
   */
  /**
   * Whether `handle` would do anything with this update: only final states decide a flow. The
   * consumer acks the others without a transaction (a redelivery of one would change nothing either).
   */
  static decides(txn: ChannelTransaction): boolean {
    const state = STATE_NAMES[txn.state];
    return state !== undefined && decideFromChannel(state) !== 'WAIT';
  }

  async handle(txn: ChannelTransaction): Promise<void> {
    const state = STATE_NAMES[txn.state];
    if (state === undefined) return;
    const decision = decideFromChannel(state);
    if (decision === 'WAIT') return;
    const kick = await this.store.transaction('cashier.channel-event', 'READ COMMITTED', async (tx) => {
      if (txn.kind === TxnKind.TXN_KIND_PAYMENT) {
        const paymentId = await tx.payments.idByTxn(txn.txnId);
        if (paymentId === undefined) return undefined; // not ours yet or at all; recovery polls what is ours
        const moved = await tx.payments.moveTo(
          paymentId,
          decision === 'CONFIRM' ? 'CONFIRMING' : 'CANCELLING',
          decision === 'CONFIRM'
            ? {}
            : {
                failureReason: state === 'CLOSED' ? 'CHANNEL_CLOSED' : 'CHANNEL_DECLINED',
                failureMessage: `${txn.failureCode} ${txn.failureMessage}`.trim(),
              },
        );
        if (
          !moved.changed &&
          decision === 'CONFIRM' &&
          (moved.current === 'CANCELLING' || moved.current === 'FAILED')
        ) {
          // Money arrived for a payment being given up: it must not be lost silently.
          await tx.exceptions.open({
            flowKind: 'PAYMENT',
            flowId: paymentId,
            bizCode: txn.bizCode,
            detail: `channel reports SUCCESS for ${txn.txnId} while the payment is ${moved.current}: refund along the original path or complete by hand`,
          });
        }
        return { kind: 'payment' as const, id: paymentId };
      }
      if (txn.kind === TxnKind.TXN_KIND_REFUND) {
        const found = await tx.refunds.byTxn(txn.txnId);
        if (found === undefined) return undefined;
        await tx.refunds.moveChannel(
          found.refundId,
          found.partNo,
          decision === 'CONFIRM' ? 'SUCCESS' : 'FAIL',
        );
        return { kind: 'refund' as const, id: found.refundId };
      }
      if (txn.kind === TxnKind.TXN_KIND_PAYOUT) {
        const withdrawalId = await tx.withdrawals.idByTxn(txn.txnId);
        if (withdrawalId === undefined) return undefined;
        await tx.withdrawals.moveTo(
          withdrawalId,
          decision === 'CONFIRM' ? 'CONFIRMING' : 'CANCELLING',
          decision === 'CONFIRM' ? undefined : `PAYOUT_${state}`,
        );
        return { kind: 'withdrawal' as const, id: withdrawalId };
      }
      return undefined;
    });
    if (kick) this.drivers.kick(kick.kind, kick.id);
    this.logger.debug({ txn_id: txn.txnId, state }, 'channel transaction applied');
  }
}

/** What a WakingLoop waits on (a platform Wakeup). */
export interface LoopWake {
  wait(timeoutMs?: number): Promise<'signal' | 'backstop' | 'closed'>;
  close(): void;
}

/** What one pass of a WakingLoop found: go again at once (a full batch), or when the next work is due. */
export interface PassOutcome {
  readonly again: boolean;
  readonly nextDueAt: Date | undefined;
}

/** Shortest sleep, so that a due row a peer holds (skipped, still due) cannot make the loop spin. */
const WAKE_MIN_MS = 20;

/**
 * A loop that runs `pass` one at a time: again at once after a full pass,
 * else asleep until the pass's next due time, a wake-up signal or the
 * wake's backstop, whichever comes first. A failed pass waits the backstop.
 */
export class WakingLoop {
  private loop: Promise<void> | undefined;
  private stopped = true;

  constructor(
    readonly name: string,
    private readonly wake: LoopWake,
    private readonly pass: () => Promise<PassOutcome>,
    private readonly logger: Logger,
    private readonly nowMs: () => number = Date.now,
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
      let sleepMs: number | undefined;
      try {
        const outcome = await this.pass();
        if (outcome.again) continue;
        if (outcome.nextDueAt !== undefined) {
          sleepMs = Math.max(WAKE_MIN_MS, outcome.nextDueAt.getTime() - this.nowMs());
        }
      } catch (err) {
        this.logger.warn({ err, worker: this.name }, 'pass failed; the backstop retries');
      }
      if ((await this.wake.wait(sleepMs)) === 'closed') return;
    }
  }
}

/** A loop that runs `pass` every `tickMs`, one pass at a time, until stopped. */
export class Ticker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    readonly name: string,
    private readonly tickMs: number,
    private readonly pass: () => Promise<void>,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.pass()
        .catch((err: unknown) =>
          this.logger.warn({ err, worker: this.name }, 'pass failed; next tick retries'),
        )
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    }, this.tickMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}

export class Recovery {
  constructor(
    private readonly store: CashierStore,
    private readonly drivers: Drivers,
    private readonly cashier: Cashier,
    private readonly logger: Logger,
    private readonly idleMs: number,
    private readonly batchMax = 50,
  ) {}

  /** One bounded pass: one statement finds the work, each flow is driven (and polled) once. */
  async pass(): Promise<void> {
    const work = await this.store.idleFlows(this.idleMs, new Date(), this.batchMax);
    for (const id of work.paymentIds) {
      await this.drivers
        .drivePayment(id, { poll: true })
        .catch((err: unknown) => this.logger.warn({ err, payment_id: id }, 'recovering payment failed'));
    }
    for (const orderId of work.expiredOrderIds) {
      await this.cashier
        .closeOrder({ requestId: `expire:${orderId}`, orderId, cause: 'EXPIRED' })
        .catch((err: unknown) =>
          this.logger.info({ err, order_id: orderId }, 'expired order not closed yet'),
        );
    }
    for (const id of work.refundIds) {
      await this.drivers
        .driveRefund(id, { poll: true })
        .catch((err: unknown) => this.logger.warn({ err, refund_id: id }, 'recovering refund failed'));
    }
    for (const id of work.withdrawalIds) {
      await this.drivers
        .driveWithdrawal(id, { poll: true })
        .catch((err: unknown) =>
          this.logger.warn({ err, withdrawal_id: id }, 'recovering withdrawal failed'),
        );
    }
    for (const orderId of work.unpostedReleaseOrderIds) {
      await this.drivers
        .postRelease(orderId)
        .catch((err: unknown) => this.logger.warn({ err, order_id: orderId }, 'escrow release failed'));
    }
  }
}

export interface HttpPost {
  (
    url: string,
    headers: Record<string, string>,
    body: string,
    timeoutMs: number,
  ): Promise<{ status: number; body: string }>;
}

/** The notifier reads at most this much of a merchant's answer ("success" is 7 bytes). */
export const NOTIFY_RESPONSE_BYTES_MAX = 1024;

/** Reads at most `maxBytes` of a response body, then cancels the rest of the stream. */
export async function readBounded(res: Response, maxBytes: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (let reads = 0; total < maxBytes && reads < 10_000; reads++) {
      const next = (await reader.read()) as { done: boolean; value?: Uint8Array };
      const value = next.value;
      if (next.done || value === undefined) break;
      chunks.push(value.subarray(0, maxBytes - total));
      total += Math.min(value.byteLength, maxBytes - total);
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export const fetchPost: HttpPost = async (url, headers, body, timeoutMs) => {
  const res = await fetch(url, {
    method: 'POST',
    headers,
    body,
    signal: AbortSignal.timeout(timeoutMs),
    redirect: 'manual',
  });
  return { status: res.status, body: await readBounded(res, NOTIFY_RESPONSE_BYTES_MAX) };
};

export class Notifier {
  constructor(
    private readonly store: CashierStore,
    private readonly post: HttpPost,
    private readonly logger: Logger,
    private readonly options: { timeScale: number; batchMax: number; timeoutMs: number; nowMs: () => number },
  ) {}

  /**
   * Sends what is due (at most batchMax) and records each attempt; answers
   * when the next one is due: the earliest of the pending ones not due yet
   * (read with the claim) and the retries this pass scheduled.
   */
  async pass(): Promise<PassOutcome> {
    const { due, nextDueAt } = await this.store.claimNotifications(
      this.options.batchMax,
      this.options.timeoutMs * 2,
    );
    let nextDueMs = nextDueAt?.getTime();
    await Promise.all(
      due.map(async (n) => {
        const timestamp = Math.floor(this.options.nowMs() / 1000);
        const headers = {
          'content-type': 'application/json; charset=utf-8',
          'x-paycore-timestamp': String(timestamp),
          'x-paycore-signature': `${SIGNATURE_VERSION}=${signNotification(n.notifyKey, timestamp, n.body)}`,
          'x-paycore-notify-id': n.notificationId,
          'x-biz-context': n.bizCode,
        };
        let status: number | null = null;
        let error = '';
        let delivered = false;
        try {
          const res = await this.post(n.url, headers, n.body, this.options.timeoutMs);
          status = res.status;
          delivered = isAcknowledged(res.status, res.body);
          if (!delivered) error = `answer ${res.status} ${res.body.slice(0, 64)}`;
        } catch (err) {
          error = err instanceof Error ? err.message : String(err);
        }
        const nextDelayMs = delivered ? undefined : nextNotifyDelayMs(n.attempts + 1, this.options.timeScale);
        if (nextDelayMs !== undefined) {
          const retryMs = this.options.nowMs() + nextDelayMs;
          nextDueMs = nextDueMs === undefined ? retryMs : Math.min(nextDueMs, retryMs);
        }
        await this.store.transaction('cashier.notification-attempt', 'READ COMMITTED', (tx) =>
          tx.notifications.recordAttempt(n.notificationId, {
            to: delivered ? 'DELIVERED' : nextDelayMs === undefined ? 'GAVE_UP' : undefined,
            status,
            error,
            nextDelayMs: nextDelayMs ?? 0,
          }),
        );
        this.logger.info(
          {
            order_id: n.orderId,
            merchant_id: n.merchantId,
            attempt: n.attempts + 1,
            delivered,
            status,
            next_delay_ms: nextDelayMs,
          },
          'merchant notification attempt',
        );
      }),
    );
    return {
      again: due.length >= this.options.batchMax,
      nextDueAt: nextDueMs === undefined ? undefined : new Date(nextDueMs),
    };
  }
}
