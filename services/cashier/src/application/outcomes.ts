/**
 * What happens when a flow ends, inside the transaction that ends it (the
 * business rules that used to live in SQL):
 * - a payment succeeds: its parts are confirmed, the order is paid (its code
 *   becomes the paying part's), the coupon used, the event and the merchant
 *   notification written;
 * - a payment fails: the coupon is available again and the risk amounts are
 *   given back (velocity counts attempts, so the count stays);
 * - a refund succeeds: the order's refunded amount grows (REFUNDED when
 *   whole), with the event; a refund fails: the parts' refundable amounts
 *   come back.
 * Each starts with a guarded transition, so a second driver does nothing.
 */
import { randomUUID } from 'node:crypto';
import type { OrderRecord, PaymentRecord, RefundRecord } from './records';
import type { CashierTx } from './ports';
import { orderStateAfterRefund } from '../domain/states';

/** CONFIRMING → SUCCEEDED with everything that goes with it; returns the paid order, or undefined if another driver finished. */
export async function completePayment(
  tx: CashierTx,
  payment: PaymentRecord,
  order: OrderRecord,
  notificationBody: (order: OrderRecord, payment: PaymentRecord) => string,
): Promise<{ order: OrderRecord; payment: PaymentRecord } | undefined> {
  // One instant for the stored times and the answer built here, so the first
  // answer to Pay equals a replay's, which reads them back.
  const finishedAt = new Date();
  const moved = await tx.payments.moveTo(payment.paymentId, 'SUCCEEDED', { finished: finishedAt });
  if (!moved.changed) return undefined;
  const bizCode = orderCodeAfter(payment);
  const paid = await tx.orders.moveTo(order.orderId, 'PAID', {
    paidPaymentId: payment.paymentId,
    bizCode,
    paidAt: finishedAt,
  });
  // The order's close path refuses while a payment is in flight, so a paid payment always finds it unpaid.
  if (!paid.changed)
    throw new Error(`order ${order.orderId} was ${paid.current ?? 'gone'} when its payment succeeded`);
  const paidOrder: OrderRecord = {
    ...order,
    state: 'PAID',
    bizCode,
    paidPaymentId: payment.paymentId,
    paidAt: finishedAt,
  };
  const done: PaymentRecord = { ...payment, state: 'SUCCEEDED', finishedAt };
  for (const part of payment.parts) {
    if (part.couponId !== null) await tx.coupons.moveTo(part.couponId, 'USED', payment.paymentId);
  }
  if (order.kind === 'PAYMENT') await tx.events.paymentSucceeded(paidOrder, done);
  if (order.notifyUrl !== '' && order.merchantId !== null) {
    await tx.notifications.insert({
      notificationId: randomUUID(),
      orderId: order.orderId,
      merchantId: order.merchantId,
      url: order.notifyUrl,
      body: notificationBody(paidOrder, done),
      bizCode,
    });
  }
  return { order: paidOrder, payment: done };
}

/** CANCELLING → FAILED: the coupon comes back, the risk amounts are given back. */
export async function failPayment(tx: CashierTx, payment: PaymentRecord): Promise<boolean> {
  const moved = await tx.payments.moveTo(payment.paymentId, 'FAILED', { finished: true });
  if (!moved.changed) return false;
  for (const part of payment.parts) {
    if (part.couponId !== null) await tx.coupons.moveTo(part.couponId, 'AVAILABLE', null);
  }
  if (payment.riskDay === '') return true;
  await tx.risk.add(
    { merchantId: payment.riskMerchantId, payerId: payment.payerId, day: payment.riskDay, minute: null },
    -payment.amountMinor,
    0,
  );
  return true;
}

export async function completeRefund(
  tx: CashierTx,
  refund: RefundRecord,
  order: OrderRecord,
): Promise<boolean> {
  const moved = await tx.refunds.moveTo(refund.refundId, 'SUCCEEDED');
  if (!moved.changed) return false;
  const locked = await tx.orders.byId(order.orderId, 'FOR UPDATE');
  if (!locked) throw new Error(`order ${order.orderId} vanished`);
  await tx.orders.addRefunded(order.orderId, refund.amountMinor);
  if (orderStateAfterRefund(locked.amountMinor, locked.refundedMinor + refund.amountMinor) === 'REFUNDED') {
    await tx.orders.moveTo(order.orderId, 'REFUNDED');
  }
  await tx.events.refundSucceeded({ ...refund, state: 'SUCCEEDED' });
  return true;
}

export async function failRefund(tx: CashierTx, refund: RefundRecord, reason: string): Promise<boolean> {
  const moved = await tx.refunds.moveTo(refund.refundId, 'FAILED', reason);
  if (!moved.changed) return false;
  for (const part of refund.parts) {
    await tx.payments.addPartRefunded(refund.paymentId, part.partNo, -part.amountMinor);
  }
  return true;
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
