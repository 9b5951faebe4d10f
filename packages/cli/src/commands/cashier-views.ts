/** Text/JSON views of the cashier's messages. */
import { proto } from '@paycore/client';
import type { Row } from '../output';
import { enumName } from '../output';
import { amountText, iso } from './common';

const { OrderState, PaymentState, RefundState, PartKind, BizMode } = proto.cashier;

export function orderRow(order: proto.cashier.PaymentOrder): Row {
  return {
    order_id: order.orderId,
    merchant_id: order.merchantId,
    merchant_order_no: order.merchantOrderNo,
    state: enumName(OrderState, order.state, 'ORDER_STATE_'),
    amount: amountText(order.amount),
    amount_minor: order.amount?.amountMinor,
    mode: enumName(BizMode, order.bizMode, 'BIZ_MODE_'),
    biz_code: order.bizCode,
    subject: order.subject,
    created_at: iso(order.createdAt),
  };
}

export function paymentRow(payment: proto.cashier.Payment): Row {
  return {
    payment_id: payment.paymentId,
    order_id: payment.orderId,
    state: enumName(PaymentState, payment.state, 'PAYMENT_STATE_'),
    parts: payment.parts.map(partText).join(' + '),
    pay_url: payment.payUrl,
    failure: payment.failureReason,
    channel_txn_id: payment.parts.find((p) => p.channelTxnId !== '')?.channelTxnId ?? '',
  };
}

export function refundRow(refund: proto.cashier.Refund): Row {
  return {
    refund_id: refund.refundId,
    order_id: refund.orderId,
    merchant_refund_no: refund.merchantRefundNo,
    state: enumName(RefundState, refund.state, 'REFUND_STATE_'),
    amount: amountText(refund.amount),
    amount_minor: refund.amount?.amountMinor,
    parts: refund.parts.map(partText).join(' + '),
    failure: refund.failureReason,
    biz_code: refund.bizCode,
  };
}

export function partText(part: proto.cashier.PaymentPart): string {
  const kind = enumName(PartKind, part.kind, 'PART_KIND_').toLowerCase();
  const channel = part.payChannel !== '' ? `:${part.payChannel}` : '';
  return `${kind}${channel} ${amountText(part.amount)}`;
}
