/**
 * Refunds and the escrow receipt. A refund claims its request id first, then
 * (under the order's lock) allocates the amount over the paid payment's parts
 * along the original path; the parts' refunded amounts count it at once, so
 * concurrent refunds never exceed what a part paid. ConfirmReceipt fixes the
 * amount the escrow release moves (paid minus refunded, refused while a
 * refund is in flight).
 */
import { randomUUID } from 'node:crypto';
import { assertRequestId, canonicalRequestHash } from '@paycore/platform';
import { ACTION_REFUND, withAction } from '../domain/codes';
import { CashierError, invalidField } from '../domain/errors';
import { allocateRefundAlongPath, unitsToRefund } from '../domain/refund';
import type { Drivers } from './drivers';
import type { CashierStore, CashierTx } from './ports';
import type { OrderRecord, RefundRecord } from './records';
import { orderNotFound, requireAmount, requireId, UUID_PATTERN } from './validate';

export interface RefundInput {
  readonly requestId: string;
  readonly orderId: string;
  readonly merchantRefundNo: string;
  readonly amountMinor: bigint | undefined;
  readonly currency: string | undefined;
  readonly reason: string;
}

export class RefundDesk {
  constructor(
    private readonly store: CashierStore,
    private readonly drivers: Drivers,
  ) {}

  async refund(input: RefundInput): Promise<RefundRecord> {
    assertRequestId(input.requestId);
    requireId('merchant_refund_no', input.merchantRefundNo);
    if (input.reason.length > 128) throw invalidField('reason', 'at most 128 characters');
    const amountMinor = requireAmount('amount', input.amountMinor, input.currency);
    if (!UUID_PATTERN.test(input.orderId)) throw orderNotFound(input.orderId);
    const payload = {
      orderId: input.orderId,
      merchantRefundNo: input.merchantRefundNo,
      amountMinor,
      reason: input.reason,
    };
    const request = { requestId: input.requestId, operation: 'cashier.Refund', payload };
    const hash = canonicalRequestHash('cashier.Refund', payload);
    const refundId = await this.store.transaction('cashier.refund', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<{ refundId: string }>(request);
      if (claim.kind === 'replay') return claim.response.refundId;
      const refund = await this.record(
        tx,
        input.orderId,
        input.merchantRefundNo,
        amountMinor,
        input.reason,
        hash,
      );
      await tx.remember(request, { refundId: refund.refundId });
      return refund.refundId;
    });
    await this.drivers.driveRefund(refundId);
    return this.refundById(refundId);
  }

  private async record(
    tx: CashierTx,
    orderId: string,
    refundNo: string,
    amountMinor: bigint,
    reason: string,
    hash: string,
  ): Promise<RefundRecord> {
    const order = await tx.orders.byId(orderId, 'FOR UPDATE');
    if (!order) throw orderNotFound(orderId);
    if (order.merchantId !== null) {
      const existing = await tx.refunds.byMerchantNo(order.merchantId, refundNo);
      if (existing) {
        if (existing.requestHash !== hash) {
          throw new CashierError(
            'REFUND_NO_REUSED',
            `refund number ${refundNo} exists with another payload`,
            { field: 'merchant_refund_no' },
          );
        }
        return existing;
      }
    }
    if (
      order.state !== 'PAID' ||
      order.paidPaymentId === null ||
      order.merchantId === null ||
      order.kind !== 'PAYMENT'
    ) {
      throw new CashierError(
        'ORDER_NOT_PAID',
        `order is ${order.state}; only a paid payment order can be refunded`,
        { metadata: { order_state: order.state } },
      );
    }
    const payment = await tx.payments.byId(order.paidPaymentId);
    if (!payment) throw new Error('paid payment vanished');
    const split = allocateRefundAlongPath(
      payment.parts.map((p) => ({ paidMinor: p.amountMinor, refundedMinor: p.refundedMinor })),
      amountMinor,
    );
    const parts = payment.parts
      .map((part, i) => ({
        partNo: part.partNo,
        kind: part.kind,
        amountMinor: split[i] ?? 0n,
        bizCode: withAction(part.bizCode, ACTION_REFUND),
        ...(part.storedValue
          ? { storedValueQuantity: unitsToRefund(part, part.storedValue.quantity, split[i] ?? 0n) }
          : {}),
      }))
      .filter((p) => p.amountMinor > 0n);
    const refundId = randomUUID();
    const refund = await tx.refunds.insert({
      refundId,
      orderId: order.orderId,
      paymentId: payment.paymentId,
      merchantId: order.merchantId,
      merchantRefundNo: refundNo,
      requestHash: hash,
      amountMinor,
      currency: order.currency,
      reason,
      bizCode: withAction(order.bizCode, ACTION_REFUND),
      parts,
    });
    if (!refund) throw new Error('refund was not inserted');
    for (const p of parts) await tx.payments.addPartRefunded(payment.paymentId, p.partNo, p.amountMinor);
    return refund;
  }

  async refundById(refundId: string): Promise<RefundRecord> {
    const refund = UUID_PATTERN.test(refundId) ? await this.store.refund(refundId) : undefined;
    if (!refund)
      throw new CashierError('REFUND_NOT_FOUND', `refund ${refundId.slice(0, 64)} not found`, {
        field: 'refund_id',
      });
    return refund;
  }

  async refundByMerchantNo(merchantId: string, merchantRefundNo: string): Promise<RefundRecord> {
    const refund = await this.store.refundByMerchantNo(merchantId, merchantRefundNo);
    if (!refund)
      throw new CashierError('REFUND_NOT_FOUND', `refund ${merchantRefundNo.slice(0, 64)} not found`, {
        field: 'merchant_refund_no',
      });
    return refund;
  }

  /** Marks an escrow order's receipt confirmed and fixes the release amount; returns it. */
  async confirmReceipt(input: { requestId: string; orderId: string }): Promise<OrderRecord> {
    assertRequestId(input.requestId);
    if (!UUID_PATTERN.test(input.orderId)) throw orderNotFound(input.orderId);
    const request = {
      requestId: input.requestId,
      operation: 'cashier.ConfirmReceipt',
      payload: { orderId: input.orderId },
    };
    return this.store.transaction('cashier.confirm-receipt', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<{ orderId: string }>(request);
      if (claim.kind === 'replay')
        return (await tx.orders.byId(input.orderId)) ?? Promise.reject(orderNotFound(input.orderId));
      const order = await tx.orders.byId(input.orderId, 'FOR UPDATE');
      if (!order) throw orderNotFound(input.orderId);
      if (order.bizMode !== 'ESCROW')
        throw new CashierError('NOT_ESCROW', 'the order is not an escrow order');
      let confirmed = order;
      if (!order.receiptConfirmed) {
        if (order.state !== 'PAID' && order.state !== 'REFUNDED')
          throw new CashierError('ORDER_NOT_PAID', `order is ${order.state}`, {
            metadata: { order_state: order.state },
          });
        if ((await tx.refunds.processingOf(order.orderId)) > 0)
          throw new CashierError('REFUND_IN_PROGRESS', 'a refund of the order is in progress');
        confirmed = await tx.orders.confirmReceipt(order.orderId, order.amountMinor - order.refundedMinor);
      }
      await tx.remember(request, { orderId: order.orderId });
      return confirmed;
    });
  }
}
