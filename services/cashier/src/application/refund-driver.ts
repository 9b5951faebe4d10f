/**
 * Refunds along the original path, and the escrow release. A refund's
 * channel part is asked at the channel (`refund:<refund>`), then each part is
 * posted back (`refund:<refund>:<part>`: Dr where the funds sit now, Cr the
 * part's source). The release moves the amount ConfirmReceipt fixed
 * (`release:<order>`), so release and refunds agree whatever their order.
 */
import { merchantEscrow, merchantSettlement, partSource, type AccountRef } from '../domain/accounts';
import { escrowReleaseCode } from '../domain/codes';
import type { RefundChannelStateName } from '../domain/states';
import { completeRefund, failRefund } from './outcomes';
import { DependencyRefusal, type ChannelTxn } from './ports';
import type { OrderRecord, PaymentRecord, RefundRecord } from './records';
import { withCode, type DriverDeps } from './drivers';

export class RefundDriver {
  constructor(private readonly deps: DriverDeps) {}

  async run(refundId: string, poll: boolean): Promise<void> {
    const refund = await this.deps.store.refund(refundId);
    if (!refund || refund.state !== 'PROCESSING') return;
    const order = await this.deps.store.order(refund.orderId);
    const payment = await this.deps.store.payment(refund.paymentId);
    if (!order || !payment) throw new Error(`order or payment of refund ${refundId} vanished`);
    await withCode(refund.bizCode, () => this.drive(refund, order, payment, poll));
  }

  private async drive(
    refund: RefundRecord,
    order: OrderRecord,
    payment: PaymentRecord,
    poll: boolean,
  ): Promise<void> {
    const channelPart = refund.parts.find((p) => p.kind === 'CHANNEL');
    let current = refund;
    if (channelPart) {
      const state = await this.channelStep(refund, payment, channelPart, poll);
      if (state === 'FAIL') {
        await this.deps.store.transaction('cashier.refund-failed', 'READ COMMITTED', (tx) =>
          failRefund(tx, refund, 'CHANNEL_REFUND_FAILED'),
        );
        this.deps.logger.warn(
          { refund_id: refund.refundId, order_id: refund.orderId },
          'refund failed at the channel',
        );
        return;
      }
      if (state !== 'SUCCESS') {
        await this.window(refund);
        return;
      }
      current = {
        ...refund,
        parts: refund.parts.map((p) => (p === channelPart ? { ...p, channelState: state } : p)),
      };
    }
    if (!(await this.postParts(current, order, payment))) return;
    await this.deps.store.transaction('cashier.refund-succeeded', 'READ COMMITTED', (tx) =>
      completeRefund(tx, current, order),
    );
    this.deps.logger.info({ refund_id: refund.refundId, order_id: refund.orderId }, 'refund succeeded');
  }

  private async channelStep(
    refund: RefundRecord,
    payment: PaymentRecord,
    part: RefundRecord['parts'][number],
    poll: boolean,
  ): Promise<RefundChannelStateName> {
    const paid = payment.parts.find((p) => p.partNo === part.partNo);
    if (!paid?.channelTxnId)
      throw new Error(`refund ${refund.refundId}: the paid channel part has no transaction`);
    let txn: ChannelTxn | undefined;
    if (part.channelState === 'NONE') {
      txn = await this.deps.channel.refund(
        `refund:${refund.refundId}`,
        paid.channelTxnId,
        part.amountMinor,
        refund.reason,
        part.bizCode,
      );
    } else if (part.channelState === 'PENDING' && poll && part.channelTxnId) {
      txn = await this.deps.channel.query(part.channelTxnId);
    }
    if (!txn) return part.channelState;
    const to = refundState(txn);
    if (to === part.channelState) return to;
    const found = txn;
    await this.deps.store.transaction('cashier.refund-channel', 'READ COMMITTED', (tx) =>
      tx.refunds.moveChannel(refund.refundId, part.partNo, to, found.txnId),
    );
    const now = await this.deps.store.refund(refund.refundId);
    return now?.parts.find((p) => p.partNo === part.partNo)?.channelState ?? to;
  }

  private async window(refund: RefundRecord): Promise<void> {
    const late = this.deps.options.nowMs() - refund.createdAt.getTime() > this.deps.options.exceptionWindowMs;
    await this.deps.store.transaction('cashier.refund-wait', 'READ COMMITTED', async (tx) => {
      if (late) {
        await tx.exceptions.open({
          flowKind: 'REFUND',
          flowId: refund.refundId,
          bizCode: refund.bizCode,
          detail: 'the channel refund is still not final past the exception window',
        });
      }
      await tx.refunds.touch(refund.refundId);
    });
  }

  private refundSource(order: OrderRecord): AccountRef {
    if (order.merchantId === null) throw new Error(`order ${order.orderId} has no merchant`);
    return order.bizMode === 'ESCROW' && !order.receiptConfirmed
      ? merchantEscrow(order.merchantId)
      : merchantSettlement(order.merchantId);
  }

  private async postParts(
    refund: RefundRecord,
    order: OrderRecord,
    payment: PaymentRecord,
  ): Promise<boolean> {
    for (const part of refund.parts) {
      if (part.done || part.amountMinor === 0n) continue;
      const paid = payment.parts.find((p) => p.partNo === part.partNo);
      if (!paid) throw new Error(`refund ${refund.refundId}: part ${part.partNo} not in the payment`);
      if (paid.storedValue) {
        if (!(await this.refundUnits(refund, part, paid))) return false;
        continue;
      }
      const from = await this.deps.accounts.resolve(this.refundSource(order), part.bizCode);
      const to = await this.deps.accounts.resolve(
        partSource(paid.kind, payment.payerId, paid.channelNo ?? undefined),
        part.bizCode,
      );
      try {
        await this.deps.account.transfer(
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
        await this.deps.store.transaction('cashier.refund-exception', 'READ COMMITTED', async (tx) => {
          await tx.refunds.touch(refund.refundId);
          await tx.exceptions.open({
            flowKind: 'REFUND',
            flowId: refund.refundId,
            bizCode: part.bizCode,
            detail: `posting refund part ${part.partNo} was refused: ${err.reason}`,
          });
        });
        return false;
      }
      await this.deps.store.transaction('cashier.refund-part', 'READ COMMITTED', (tx) =>
        tx.refunds.markPartDone(refund.refundId, part.partNo),
      );
    }
    return true;
  }

  /**
   * A lot-spending part: its units go back to the lots they were drawn from
   * (RefundConsumption of the payment's consumption, `refund:<refund>:<part>`);
   * no money moves. A refusal opens an exception, as a refused posting does.
   */
  private async refundUnits(
    refund: RefundRecord,
    part: RefundRecord['parts'][number],
    paid: PaymentRecord['parts'][number],
  ): Promise<boolean> {
    const units = part.storedValueQuantity ?? 0n;
    try {
      if (units > 0n && this.deps.storedValue) {
        await this.deps.storedValue.refundConsumption(
          `refund:${refund.refundId}:${part.partNo}`,
          part.bizCode,
          `${refund.paymentId}:${paid.partNo}`,
          units,
        );
      } else if (units > 0n) {
        throw new Error('a stored-value part spends lots but no StoredValuePort is wired');
      }
    } catch (err) {
      if (!(err instanceof DependencyRefusal)) throw err;
      await this.deps.store.transaction('cashier.refund-exception', 'READ COMMITTED', async (tx) => {
        await tx.refunds.touch(refund.refundId);
        await tx.exceptions.open({
          flowKind: 'REFUND',
          flowId: refund.refundId,
          bizCode: part.bizCode,
          detail: `returning ${units} units of refund part ${part.partNo} was refused: ${err.reason}`,
        });
      });
      return false;
    }
    await this.deps.store.transaction('cashier.refund-part', 'READ COMMITTED', (tx) =>
      tx.refunds.markPartDone(refund.refundId, part.partNo),
    );
    return true;
  }

  /** Posts escrow -> pending settlement for a confirmed receipt: the amount ConfirmReceipt fixed. */
  async postRelease(orderId: string): Promise<void> {
    const order = await this.deps.store.order(orderId);
    if (!order || !order.receiptConfirmed || order.releasePosted || order.merchantId === null) return;
    const amountMinor = order.releaseMinor ?? order.amountMinor - order.refundedMinor;
    if (amountMinor > 0n) {
      const code = escrowReleaseCode(order.orderCode);
      const escrow = await this.deps.accounts.resolve(merchantEscrow(order.merchantId), code);
      const settlement = await this.deps.accounts.resolve(merchantSettlement(order.merchantId), code);
      await this.deps.account.transfer(
        `release:${order.orderId}`,
        code,
        [
          { accountId: escrow, side: 'DEBIT', amountMinor },
          { accountId: settlement, side: 'CREDIT', amountMinor },
        ],
        `escrow release of order ${order.orderId}`,
      );
    }
    await this.deps.store.transaction('cashier.release-posted', 'READ COMMITTED', (tx) =>
      tx.orders.markReleasePosted(order.orderId),
    );
  }
}

function refundState(txn: ChannelTxn): RefundChannelStateName {
  if (txn.state === 'SUCCESS') return 'SUCCESS';
  if (txn.state === 'FAIL' || txn.state === 'CLOSED') return 'FAIL';
  return 'PENDING';
}
