/**
 * The orchestration (DESIGN.md §5): drives each payment, refund and
 * withdrawal from its recorded state to a final one.
 *
 * Crash safety: a state is recorded before the step it leads to is taken,
 * and every step is idempotent at the other service under a request id
 * derived from the flow's id (`try:<payment>:<part>`, `pay:<payment>`, …).
 * So any driver — the Pay call, the channel event consumer, the recovery
 * worker after a restart, another replica — can run any step again: the
 * account service answers a replayed try / confirm / cancel / transfer with
 * its first result, channel-router a replayed create / refund / payout with
 * the transaction as it is. Decisions (CONFIRMING / CANCELLING) are guarded
 * updates, so a flow is decided once, and a cancel without a try is an
 * empty rollback that refuses a late try (hanging protection in account).
 *
 * Payment: TRYING (reserve internal parts) -> PROCESSING (channel part) ->
 * CONFIRMING (confirm tries, post the channel part) -> SUCCEEDED; or
 * CANCELLING (cancel every try) -> FAILED.
 */
import type { Logger } from 'pino';
import { isBizCodeShape, runWithBizCode } from '@paycore/context';
import {
  channelClearing,
  merchantEscrow,
  merchantSettlement,
  partSource,
  payerBalance,
  topUpTarget,
  type AccountRef,
} from '../domain/accounts';
import { escrowReleaseCode } from '../domain/codes';
import { decideFromChannel } from '../domain/states';
import type { PgCashierStore } from '../adapters/pg/store';
import type { AccountDirectory } from './accounts';
import { DependencyRefusal, type AccountPort, type ChannelPort, type ChannelTxn, type Leg } from './ports';
import type { OrderRecord, PartRecord, PaymentRecord, RefundRecord } from './records';

/** Steps of one drive; every flow is final in at most 5, the rest is headroom. */
const DRIVE_STEPS_MAX = 12;
const MIN_TRY_TIMEOUT_MS = 60_000;
/** Failure reason of a payment whose channel part recovery closes because no caller holds its pay URL. */
const ABANDONED = 'ABANDONED';
const WITHDRAWAL_TRY_TIMEOUT_MS = 2 * 24 * 3_600_000;
const TRY_TIMEOUT_MAX_MS = 7 * 24 * 3_600_000;

export interface DriverOptions {
  /** How long tries outlive the order's expiry, so a late channel success can still confirm. */
  readonly tryMarginMs: number;
  /** A flow still waiting on its channel this long after it started becomes an exception. */
  readonly exceptionWindowMs: number;
  readonly nowMs: () => number;
}

export interface DriveOptions {
  /** Ask the channel about a waiting flow (the recovery worker's backstop to channel events). */
  readonly poll?: boolean;
}

export class Drivers {
  private readonly running = new Map<string, Promise<void>>();

  constructor(
    private readonly store: PgCashierStore,
    private readonly accounts: AccountDirectory,
    private readonly account: AccountPort,
    private readonly channel: ChannelPort,
    private readonly logger: Logger,
    private readonly options: DriverOptions,
  ) {}

  /** One driver per flow per process at a time; a second caller waits for the first. */
  private single(key: string, fn: () => Promise<void>): Promise<void> {
    const existing = this.running.get(key);
    if (existing) return existing;
    const promise = fn().finally(() => this.running.delete(key));
    this.running.set(key, promise);
    return promise;
  }

  /** Drives later, logging failures (the recovery worker retries what this misses). */
  kick(kind: 'payment' | 'refund' | 'withdrawal', id: string, delayMs = 20): void {
    setTimeout(() => {
      const run =
        kind === 'payment'
          ? this.drivePayment(id)
          : kind === 'refund'
            ? this.driveRefund(id)
            : this.driveWithdrawal(id);
      run.catch((err: unknown) =>
        this.logger.warn({ err, [`${kind}_id`]: id }, `${kind} drive failed; recovery retries`),
      );
    }, delayMs).unref();
  }

  // ---------------------------------------------------------------- payments

  drivePayment(paymentId: string, opts: DriveOptions = {}): Promise<void> {
    return this.single(`payment:${paymentId}`, () => this.runPayment(paymentId, opts.poll ?? false));
  }

  private async runPayment(paymentId: string, pollFirst: boolean): Promise<void> {
    let poll = pollFirst;
    for (let step = 0; step < DRIVE_STEPS_MAX; step++) {
      const payment = await this.store.payment(paymentId);
      if (!payment) return;
      const order = await this.store.order(payment.orderId);
      if (!order) throw new Error(`order of payment ${paymentId} vanished`);
      if (payment.state === 'SUCCEEDED' || payment.state === 'FAILED') return;
      const pollNow = poll;
      poll = false;
      // One line per step: with the trace id and context code the logger adds, an SRE follows a payment here.
      this.logger.info(
        { payment_id: paymentId, order_id: payment.orderId, payment_state: payment.state },
        'payment step',
      );
      const carryOn = await withCode(orderCodeAfter(payment), () =>
        this.paymentStep(payment, order, pollNow),
      );
      if (!carryOn) return;
    }
    this.logger.error({ payment_id: paymentId }, 'payment drive did not settle within its step bound');
  }

  /** One step of a payment; false when it has to wait (channel, exception). */
  private async paymentStep(payment: PaymentRecord, order: OrderRecord, poll: boolean): Promise<boolean> {
    switch (payment.state) {
      case 'TRYING':
        await this.tryParts(payment, order);
        return true;
      case 'PROCESSING':
        return this.advanceChannel(payment, order, poll);
      case 'CONFIRMING':
        return this.confirmParts(payment, order);
      case 'CANCELLING':
        await this.cancelParts(payment);
        return true;
      case 'SUCCEEDED':
      case 'FAILED':
        return false;
    }
  }

  private beneficiary(order: OrderRecord, payment: PaymentRecord): AccountRef {
    if (order.kind === 'TOP_UP')
      return topUpTarget(order.payerId ?? payment.payerId, order.topUpTarget ?? 'BALANCE');
    if (order.merchantId === null) throw new Error(`payment order ${order.orderId} has no merchant`);
    return order.bizMode === 'ESCROW'
      ? merchantEscrow(order.merchantId)
      : merchantSettlement(order.merchantId);
  }

  private async partLegs(order: OrderRecord, payment: PaymentRecord, part: PartRecord): Promise<Leg[]> {
    const source = await this.accounts.resolve(
      partSource(part.kind, payment.payerId, part.channelNo ?? undefined),
      part.bizCode,
    );
    const target = await this.accounts.resolve(this.beneficiary(order, payment), part.bizCode);
    return [
      { accountId: source, side: 'DEBIT', amountMinor: part.amountMinor },
      { accountId: target, side: 'CREDIT', amountMinor: part.amountMinor },
    ];
  }

  private tryTimeoutMs(order: OrderRecord): number {
    const untilExpiry = order.expireAt.getTime() - this.options.nowMs();
    return Math.min(TRY_TIMEOUT_MAX_MS, Math.max(MIN_TRY_TIMEOUT_MS, untilExpiry + this.options.tryMarginMs));
  }

  private async tryParts(payment: PaymentRecord, order: OrderRecord): Promise<void> {
    for (const part of payment.parts) {
      if (part.kind === 'CHANNEL' || part.state !== 'PLANNED') continue;
      try {
        await this.account.tryTransfer(
          pendingIdOf(payment, part),
          part.bizCode,
          await this.partLegs(order, payment, part),
          this.tryTimeoutMs(order),
        );
      } catch (err) {
        if (!(err instanceof DependencyRefusal)) throw err;
        // The reservation was refused (insufficient balance, try after cancel): nothing of this part moved.
        await this.store.movePayment(payment.paymentId, ['TRYING'], 'CANCELLING', {
          reason: err.reason,
          message: err.message,
        });
        return;
      }
      await this.store.setPartState(payment.paymentId, part.partNo, 'TRIED');
    }
    const hasChannel = payment.parts.some((p) => p.kind === 'CHANNEL');
    await this.store.movePayment(payment.paymentId, ['TRYING'], hasChannel ? 'PROCESSING' : 'CONFIRMING');
  }

  /** Applies a channel state to a waiting payment; true when the payment was decided. */
  private async decide(payment: PaymentRecord, txn: ChannelTxn): Promise<boolean> {
    const decision = decideFromChannel(txn.state);
    if (decision === 'WAIT') return false;
    if (decision === 'CONFIRM')
      return this.store.movePayment(payment.paymentId, ['PROCESSING'], 'CONFIRMING');
    return this.store.movePayment(payment.paymentId, ['PROCESSING'], 'CANCELLING', {
      reason: txn.state === 'CLOSED' ? 'CHANNEL_CLOSED' : 'CHANNEL_DECLINED',
      message: `${txn.failureCode} ${txn.failureMessage}`.trim(),
    });
  }

  private async advanceChannel(payment: PaymentRecord, order: OrderRecord, poll: boolean): Promise<boolean> {
    const part = payment.parts.find((p) => p.kind === 'CHANNEL');
    if (!part) throw new Error(`payment ${payment.paymentId} is PROCESSING without a channel part`);
    if (part.channelTxnId === null) {
      const txn = await this.channel.createPayment(
        `pay:${payment.paymentId}`,
        part.bizCode,
        part.amountMinor,
        order.subject,
      );
      await this.store.recordChannelTxn(payment.paymentId, part.partNo, txn.txnId, txn.payUrl);
      if (await this.decide(payment, txn)) return true;
      if (!poll) return false;
      // Recovery replayed a create whose caller never saw the answer: nobody holds the pay URL, so close
      // it. The intent is recorded first: a close that meets a create still in flight at the channel
      // may not take, and later passes must close again rather than wait for the order's expiry.
      await this.store.markAbandoned(payment.paymentId);
      return this.closeAtChannel(payment, txn.txnId, ABANDONED);
    }
    if (!poll) return false;
    const txn = await this.channel.query(part.channelTxnId);
    if (await this.decide(payment, txn)) return true;
    if (payment.failureReason === ABANDONED)
      return this.closeAtChannel(payment, part.channelTxnId, ABANDONED);
    if (order.expireAt.getTime() <= this.options.nowMs())
      return this.closeAtChannel(payment, part.channelTxnId, 'ORDER_EXPIRED');
    if (this.options.nowMs() - payment.createdAt.getTime() > this.options.exceptionWindowMs) {
      const opened = await this.store.openException({
        flowKind: 'PAYMENT',
        flowId: payment.paymentId,
        bizCode: part.bizCode,
        detail: `channel transaction ${part.channelTxnId} is still ${txn.state} past the exception window`,
      });
      if (opened)
        this.logger.warn({ payment_id: payment.paymentId }, 'payment handed to the exception queue');
    }
    await this.store.touchPayment(payment.paymentId);
    return false;
  }

  /** Closes the channel payment; the channel's answer decides the payment either way. */
  async closeAtChannel(payment: PaymentRecord, txnId: string, reason: string): Promise<boolean> {
    // A fresh request id per attempt: channel-router answers a replayed close with the transaction
    // as it is, without asking the channel again, and a close that did not take must be asked again.
    // Closing is idempotent at the channel itself.
    const closed = await this.channel.close(`close:${payment.paymentId}:${this.options.nowMs()}`, txnId);
    if (closed === 'ALREADY_PAID')
      return this.store.movePayment(payment.paymentId, ['PROCESSING'], 'CONFIRMING');
    if (closed.state === 'SUCCESS')
      return this.store.movePayment(payment.paymentId, ['PROCESSING'], 'CONFIRMING');
    if (closed.state === 'CLOSED' || closed.state === 'FAIL') {
      return this.store.movePayment(payment.paymentId, ['PROCESSING'], 'CANCELLING', {
        reason,
        message: `channel payment ${txnId} ${closed.state}`,
      });
    }
    return false;
  }

  /** Confirms every reservation and posts the channel part; false when it had to stop (exception). */
  private async confirmParts(payment: PaymentRecord, order: OrderRecord): Promise<boolean> {
    for (const part of payment.parts) {
      if (part.state === 'CONFIRMED') continue;
      try {
        if (part.kind === 'CHANNEL') {
          await this.account.transfer(
            `post:${payment.paymentId}:${part.partNo}`,
            part.bizCode,
            await this.partLegs(order, payment, part),
            `payment ${payment.paymentId} channel part`,
          );
        } else {
          if (part.state === 'PLANNED') {
            // Decided by an operator before the try ran: reserve, then confirm.
            await this.account.tryTransfer(
              pendingIdOf(payment, part),
              part.bizCode,
              await this.partLegs(order, payment, part),
              this.tryTimeoutMs(order),
            );
          }
          await this.account.confirmTransfer(pendingIdOf(payment, part), part.bizCode);
        }
      } catch (err) {
        if (!(err instanceof DependencyRefusal)) throw err;
        // The money moved at the channel but a reservation could not be confirmed (expired): people decide.
        await this.store.openException({
          flowKind: 'PAYMENT',
          flowId: payment.paymentId,
          bizCode: part.bizCode,
          detail: `confirming part ${part.partNo} (${part.kind}) was refused: ${err.reason} ${err.message}`,
        });
        this.logger.error(
          { payment_id: payment.paymentId, err },
          'payment confirmation refused; exception opened',
        );
        return false;
      }
      await this.store.setPartState(payment.paymentId, part.partNo, 'CONFIRMED');
    }
    await this.store.finishSucceeded(payment.paymentId, orderCodeAfter, notificationBody);
    return true;
  }

  private async cancelParts(payment: PaymentRecord): Promise<void> {
    for (const part of payment.parts) {
      if (part.kind === 'CHANNEL' || part.state === 'CANCELLED' || part.state === 'CONFIRMED') continue;
      // A cancel of a part never tried is an empty rollback: a late try is then refused by account.
      await this.account.cancelTransfer(pendingIdOf(payment, part), part.bizCode);
      await this.store.setPartState(payment.paymentId, part.partNo, 'CANCELLED');
    }
    const channelPart = payment.parts.find((p) => p.kind === 'CHANNEL' && p.channelTxnId !== null);
    if (channelPart?.channelTxnId && payment.failureReason === 'RESOLVED_FAILED') {
      // An operator decided the money did not move: make sure the channel agrees before releasing.
      await this.channel
        .close(`close:${payment.paymentId}:${this.options.nowMs()}`, channelPart.channelTxnId)
        .catch(() => undefined);
    }
    await this.store.finishFailed(payment.paymentId);
  }

  // ----------------------------------------------------------------- refunds

  driveRefund(refundId: string, opts: DriveOptions = {}): Promise<void> {
    return this.single(`refund:${refundId}`, async () => {
      const refund = await this.store.refund(refundId);
      if (!refund) return;
      await withCode(refund.bizCode, () => this.runRefund(refundId, opts.poll ?? false));
    });
  }

  private refundSource(order: OrderRecord): AccountRef {
    if (order.merchantId === null) throw new Error(`order ${order.orderId} has no merchant`);
    return order.bizMode === 'ESCROW' && !order.receiptConfirmed
      ? merchantEscrow(order.merchantId)
      : merchantSettlement(order.merchantId);
  }

  private async runRefund(refundId: string, poll: boolean): Promise<void> {
    let refund = await this.store.refund(refundId);
    if (!refund || refund.state !== 'PROCESSING') return;
    const order = await this.store.order(refund.orderId);
    const payment = await this.store.payment(refund.paymentId);
    if (!order || !payment) throw new Error(`order or payment of refund ${refundId} vanished`);
    const channelPart = refund.parts.find((p) => p.kind === 'CHANNEL');
    if (channelPart) {
      const paid = payment.parts.find((p) => p.partNo === channelPart.partNo);
      if (!paid?.channelTxnId)
        throw new Error(`refund ${refundId}: the paid channel part has no transaction`);
      if (channelPart.channelState === 'NONE') {
        const txn = await this.channel.refund(
          `refund:${refundId}`,
          paid.channelTxnId,
          channelPart.amountMinor,
          refund.reason,
          channelPart.bizCode,
        );
        await this.store.recordRefundTxn(refundId, channelPart.partNo, txn.txnId, refundState(txn));
      } else if (channelPart.channelState === 'PENDING' && poll && channelPart.channelTxnId) {
        const txn = await this.channel.query(channelPart.channelTxnId);
        await this.store.recordRefundTxn(refundId, channelPart.partNo, txn.txnId, refundState(txn));
      }
      refund = await this.store.refund(refundId);
      const now = refund?.parts.find((p) => p.kind === 'CHANNEL');
      if (!refund || !now) return;
      if (now.channelState === 'FAIL') {
        await this.store.finishRefundFailed(refundId, 'CHANNEL_REFUND_FAILED');
        this.logger.warn({ refund_id: refundId, order_id: refund.orderId }, 'refund failed at the channel');
        return;
      }
      if (now.channelState !== 'SUCCESS') {
        await this.refundWindow(refund);
        return;
      }
    }
    if (!(await this.postRefundParts(refund, order, payment))) return;
    await this.store.finishRefundSucceeded(refundId);
    this.logger.info({ refund_id: refundId, order_id: refund.orderId }, 'refund succeeded');
  }

  private async refundWindow(refund: RefundRecord): Promise<void> {
    if (this.options.nowMs() - refund.createdAt.getTime() > this.options.exceptionWindowMs) {
      await this.store.openException({
        flowKind: 'REFUND',
        flowId: refund.refundId,
        bizCode: refund.bizCode,
        detail: 'the channel refund is still not final past the exception window',
      });
    }
    await this.store.touchRefund(refund.refundId);
  }

  /** Posts each refund part along its original path (Dr where the funds sit now, Cr the part's source). */
  private async postRefundParts(
    refund: RefundRecord,
    order: OrderRecord,
    payment: PaymentRecord,
  ): Promise<boolean> {
    for (const part of refund.parts) {
      if (part.done || part.amountMinor === 0n) continue;
      const paid = payment.parts.find((p) => p.partNo === part.partNo);
      if (!paid) throw new Error(`refund ${refund.refundId}: part ${part.partNo} not in the payment`);
      const from = await this.accounts.resolve(this.refundSource(order), part.bizCode);
      const to = await this.accounts.resolve(
        partSource(paid.kind, payment.payerId, paid.channelNo ?? undefined),
        part.bizCode,
      );
      try {
        await this.account.transfer(
          `refund:${refund.refundId}:${part.partNo}`,
          part.bizCode,
          [
            { accountId: from, side: 'DEBIT', amountMinor: part.amountMinor },
            { accountId: to, side: 'CREDIT', amountMinor: part.amountMinor },
          ],
          `refund ${refund.merchantRefundNo} part ${part.partNo}`,
        );
      } catch (err) {
        if (!(err instanceof DependencyRefusal)) throw err;
        await this.store.openException({
          flowKind: 'REFUND',
          flowId: refund.refundId,
          bizCode: part.bizCode,
          detail: `posting refund part ${part.partNo} was refused: ${err.reason}`,
        });
        return false;
      }
      await this.store.markRefundPartDone(refund.refundId, part.partNo);
    }
    return true;
  }

  // ------------------------------------------------------------- withdrawals

  driveWithdrawal(withdrawalId: string, opts: DriveOptions = {}): Promise<void> {
    return this.single(`withdrawal:${withdrawalId}`, async () => {
      const w = await this.store.withdrawal(withdrawalId);
      if (!w) return;
      await withCode(w.bizCode, () => this.runWithdrawal(withdrawalId, opts.poll ?? false));
    });
  }

  // eslint-disable-next-line max-lines-per-function -- legacy withdrawal driver, being moved onto the unit of work
  private async runWithdrawal(withdrawalId: string, pollFirst: boolean): Promise<void> {
    let poll = pollFirst;
    for (let step = 0; step < DRIVE_STEPS_MAX; step++) {
      const w = await this.store.withdrawal(withdrawalId);
      if (!w) return;
      const pendingId = `withdraw:${w.withdrawalId}`;
      this.logger.info({ withdrawal_id: w.withdrawalId, withdrawal_state: w.state }, 'withdrawal step');
      switch (w.state) {
        case 'TRYING': {
          const from = await this.accounts.resolve(payerBalance(w.payerId), w.bizCode);
          const to = await this.accounts.resolve(channelClearing(w.channelNo), w.bizCode);
          try {
            await this.account.tryTransfer(
              pendingId,
              w.bizCode,
              [
                { accountId: from, side: 'DEBIT', amountMinor: w.amountMinor },
                { accountId: to, side: 'CREDIT', amountMinor: w.amountMinor },
              ],
              WITHDRAWAL_TRY_TIMEOUT_MS,
            );
            await this.store.moveWithdrawal(w.withdrawalId, ['TRYING'], 'PROCESSING');
          } catch (err) {
            if (!(err instanceof DependencyRefusal)) throw err;
            await this.store.moveWithdrawal(w.withdrawalId, ['TRYING'], 'CANCELLING', err.reason);
          }
          break;
        }
        case 'PROCESSING': {
          let txn: ChannelTxn | undefined;
          if (w.channelTxnId === null) {
            txn = await this.channel.createPayout(`payout:${w.withdrawalId}`, w.bizCode, w.amountMinor, {
              accountNo: w.accountNo,
              accountName: w.accountName,
              bankCode: w.bankCode,
            });
            await this.store.recordPayoutTxn(w.withdrawalId, txn.txnId);
          } else if (poll) {
            txn = await this.channel.queryPayout(w.channelTxnId);
          }
          poll = false;
          const decision = txn ? decideFromChannel(txn.state) : 'WAIT';
          if (decision === 'WAIT') {
            if (this.options.nowMs() - w.createdAt.getTime() > this.options.exceptionWindowMs) {
              await this.store.openException({
                flowKind: 'WITHDRAWAL',
                flowId: w.withdrawalId,
                bizCode: w.bizCode,
                detail: `payout ${w.channelTxnId ?? ''} is still not final past the exception window`,
              });
            }
            await this.store.touchWithdrawal(w.withdrawalId);
            return;
          }
          await this.store.moveWithdrawal(
            w.withdrawalId,
            ['PROCESSING'],
            decision === 'CONFIRM' ? 'CONFIRMING' : 'CANCELLING',
            decision === 'CONFIRM' ? undefined : `PAYOUT_${txn?.state ?? 'FAIL'}`,
          );
          break;
        }
        case 'CONFIRMING':
          await this.account.confirmTransfer(pendingId, w.bizCode);
          await this.store.moveWithdrawal(w.withdrawalId, ['CONFIRMING'], 'SUCCEEDED');
          break;
        case 'CANCELLING':
          await this.account.cancelTransfer(pendingId, w.bizCode);
          await this.store.moveWithdrawal(w.withdrawalId, ['CANCELLING'], 'FAILED');
          break;
        case 'SUCCEEDED':
        case 'FAILED':
          return;
      }
    }
  }

  // ---------------------------------------------------------- escrow release

  /** Posts escrow -> pending settlement for a confirmed receipt (idempotent by order). */
  async postRelease(orderId: string): Promise<void> {
    const order = await this.store.order(orderId);
    if (!order || !order.receiptConfirmed || order.releasePosted || order.merchantId === null) return;
    const amountMinor = order.amountMinor - order.refundedMinor;
    if (amountMinor > 0n) {
      const code = escrowReleaseCode(order.orderCode);
      const escrow = await this.accounts.resolve(merchantEscrow(order.merchantId), code);
      const settlement = await this.accounts.resolve(merchantSettlement(order.merchantId), code);
      await this.account.transfer(
        `release:${order.orderId}`,
        code,
        [
          { accountId: escrow, side: 'DEBIT', amountMinor },
          { accountId: settlement, side: 'CREDIT', amountMinor },
        ],
        `escrow release of order ${order.orderId}`,
      );
    }
    await this.store.markReleasePosted(order.orderId);
  }
}

/** Runs `fn` with the flow's context code current, so outgoing calls, logs and spans carry it. */
function withCode<T>(code: string, fn: () => Promise<T>): Promise<T> {
  return isBizCodeShape(code) ? runWithBizCode(code, fn) : fn();
}

export function pendingIdOf(payment: PaymentRecord, part: PartRecord): string {
  return `${payment.paymentId}:${part.partNo}`;
}

function refundState(txn: ChannelTxn): 'PENDING' | 'SUCCESS' | 'FAIL' {
  if (txn.state === 'SUCCESS') return 'SUCCESS';
  if (txn.state === 'FAIL' || txn.state === 'CLOSED') return 'FAIL';
  return 'PENDING';
}

/** The order's code once paid: the channel part's routed code, else the largest internal part's. */
export function orderCodeAfter(payment: PaymentRecord): string {
  const channel = payment.parts.find((p) => p.kind === 'CHANNEL');
  if (channel) return channel.bizCode;
  const largest = [...payment.parts].sort((a, b) =>
    a.amountMinor > b.amountMinor ? -1 : a.amountMinor < b.amountMinor ? 1 : 0,
  )[0];
  if (!largest) throw new Error(`payment ${payment.paymentId} has no parts`);
  return largest.bizCode;
}

/** The merchant notification body (JSON, amounts as decimal strings of minor units). */
export function notificationBody(order: OrderRecord, payment: PaymentRecord): string {
  return JSON.stringify({
    event: 'payment_succeeded',
    order_id: order.orderId,
    merchant_id: order.merchantId,
    merchant_order_no: order.merchantOrderNo,
    payment_id: payment.paymentId,
    amount_minor: order.amountMinor.toString(),
    currency: order.currency,
    state: 'PAID',
    biz_code: order.bizCode,
    paid_at: (order.paidAt ?? new Date()).toISOString(),
  });
}
