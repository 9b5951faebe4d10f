/**
 * Background work of the cashier, each with a bounded batch per pass:
 * - ChannelEvents: applies `channel.txn_updated` (final states) to the
 *   waiting payment, refund or withdrawal in the inbox transaction, then
 *   kicks its driver;
 * - Recovery: resumes flows left unfinished (a crash, a lost event), polls
 *   the channel for waiting ones, closes expired orders, posts escrow
 *   releases; every idle flow is looked at again after `idleMs`;
 * - Notifier: delivers merchant notifications on the retry schedule.
 */
import type { Logger } from 'pino';
import type { EntityManager } from 'typeorm';
import { TxnKind, TxnState, type ChannelTransaction } from '@paycore/proto/paycore/channel/v1/types';
import { isAcknowledged, nextNotifyDelayMs, signNotification, SIGNATURE_VERSION } from '../domain/notify';
import { decideFromChannel } from '../domain/states';
import type { PgCashierStore } from '../adapters/pg/store';
import type { Cashier } from './cashier';
import type { Drivers } from './drivers';
import type { ChannelTxnState } from './ports';

const STATE_NAMES: Readonly<Partial<Record<TxnState, ChannelTxnState>>> = {
  [TxnState.TXN_STATE_PROCESSING]: 'PROCESSING',
  [TxnState.TXN_STATE_SUCCESS]: 'SUCCESS',
  [TxnState.TXN_STATE_FAIL]: 'FAIL',
  [TxnState.TXN_STATE_CLOSED]: 'CLOSED',
  [TxnState.TXN_STATE_UNKNOWN]: 'UNKNOWN',
};

export class ChannelEvents {
  constructor(
    private readonly store: PgCashierStore,
    private readonly drivers: Drivers,
    private readonly logger: Logger,
  ) {}

  /** Runs inside the inbox transaction: the decision commits with the inbox row, or neither does. */
  async handle(txn: ChannelTransaction, manager: EntityManager): Promise<void> {
    const state = STATE_NAMES[txn.state];
    if (state === undefined) return;
    const decision = decideFromChannel(state);
    if (decision === 'WAIT') return;
    if (txn.kind === TxnKind.TXN_KIND_PAYMENT) {
      const paymentId = await this.store.paymentIdByTxn(txn.txnId, manager);
      if (paymentId === undefined) return; // not ours yet or at all; recovery polls what is ours
      const moved = await this.store.movePayment(
        paymentId,
        ['PROCESSING'],
        decision === 'CONFIRM' ? 'CONFIRMING' : 'CANCELLING',
        decision === 'CONFIRM'
          ? undefined
          : {
              reason: state === 'CLOSED' ? 'CHANNEL_CLOSED' : 'CHANNEL_DECLINED',
              message: `${txn.failureCode} ${txn.failureMessage}`.trim(),
            },
        manager,
      );
      if (!moved && decision === 'CONFIRM') {
        const payment = await this.store.payment(paymentId, manager);
        if (payment?.state === 'FAILED') {
          // Money arrived for a payment already given up: it must not be lost silently.
          await this.store.openException({
            flowKind: 'PAYMENT',
            flowId: paymentId,
            bizCode: txn.bizCode,
            detail: `channel reports SUCCESS for ${txn.txnId} after the payment FAILED: refund or complete by hand`,
          });
        }
      }
      this.drivers.kick('payment', paymentId);
    } else if (txn.kind === TxnKind.TXN_KIND_REFUND) {
      const refundId = await this.store.refundIdByTxn(txn.txnId, manager);
      if (refundId === undefined) return;
      await this.store.setRefundChannelState(txn.txnId, decision === 'CONFIRM' ? 'SUCCESS' : 'FAIL', manager);
      this.drivers.kick('refund', refundId);
    } else if (txn.kind === TxnKind.TXN_KIND_PAYOUT) {
      const withdrawalId = await this.store.withdrawalIdByTxn(txn.txnId, manager);
      if (withdrawalId === undefined) return;
      await this.store.moveWithdrawal(
        withdrawalId,
        ['PROCESSING'],
        decision === 'CONFIRM' ? 'CONFIRMING' : 'CANCELLING',
        decision === 'CONFIRM' ? undefined : `PAYOUT_${state}`,
        manager,
      );
      this.drivers.kick('withdrawal', withdrawalId);
    }
    this.logger.debug({ txn_id: txn.txnId, state }, 'channel transaction applied');
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
    private readonly store: PgCashierStore,
    private readonly drivers: Drivers,
    private readonly cashier: Cashier,
    private readonly logger: Logger,
    private readonly idleMs: number,
  ) {}

  async pass(): Promise<void> {
    for (const payment of await this.store.idlePayments(this.idleMs)) {
      await this.store.touchPayment(payment.paymentId);
      await this.drivers
        .drivePayment(payment.paymentId, { poll: true })
        .catch((err: unknown) =>
          this.logger.warn({ err, payment_id: payment.paymentId }, 'recovering payment failed'),
        );
    }
    for (const orderId of await this.store.expiredOrders(new Date())) {
      await this.cashier
        .closeOrder(orderId, 'EXPIRED')
        .catch((err: unknown) =>
          this.logger.info({ err, order_id: orderId }, 'expired order not closed yet'),
        );
    }
    for (const refund of await this.store.idleRefunds(this.idleMs)) {
      await this.store.touchRefund(refund.refundId);
      await this.drivers
        .driveRefund(refund.refundId, { poll: true })
        .catch((err: unknown) =>
          this.logger.warn({ err, refund_id: refund.refundId }, 'recovering refund failed'),
        );
    }
    for (const w of await this.store.idleWithdrawals(this.idleMs)) {
      await this.store.touchWithdrawal(w.withdrawalId);
      await this.drivers
        .driveWithdrawal(w.withdrawalId, { poll: true })
        .catch((err: unknown) =>
          this.logger.warn({ err, withdrawal_id: w.withdrawalId }, 'recovering withdrawal failed'),
        );
    }
    for (const orderId of await this.store.unpostedReleases()) {
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

export const fetchPost: HttpPost = async (url, headers, body, timeoutMs) => {
  const res = await fetch(url, {
    method: 'POST',
    headers,
    body,
    signal: AbortSignal.timeout(timeoutMs),
    redirect: 'manual',
  });
  const text = (await res.text()).slice(0, 1024);
  return { status: res.status, body: text };
};

export class Notifier {
  constructor(
    private readonly store: PgCashierStore,
    private readonly post: HttpPost,
    private readonly logger: Logger,
    private readonly options: { timeScale: number; batchMax: number; timeoutMs: number; nowMs: () => number },
  ) {}

  async pass(): Promise<void> {
    const due = await this.store.claimNotifications(this.options.batchMax, this.options.timeoutMs * 2);
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
        await this.store.recordNotification(n.notificationId, { delivered, status, error, nextDelayMs });
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
  }
}
