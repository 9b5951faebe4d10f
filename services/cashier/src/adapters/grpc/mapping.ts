/**
 * Records -> proto messages (responses and event payloads), and proto enums
 * -> domain names. The only place that knows both shapes.
 */
import {
  BizMode,
  ExceptionState,
  OrderState,
  PartKind,
  PaymentState,
  RefundState,
  Resolution,
  TopUpTarget,
  WithdrawalState,
  type CashierException,
  type Coupon,
  type Merchant,
  type Payment,
  type PaymentOrder,
  type PaymentPart,
  type Refund,
  type Withdrawal,
} from '@paycore/proto/paycore/cashier/v1/cashier_service';
import type { Money } from '@paycore/proto/paycore/common/v1/money';
import type { BizModeName, PartKindName, TopUpTargetName } from '../../domain/model';
import type {
  CouponRecord,
  ExceptionRecord,
  MerchantRecord,
  OrderRecord,
  PaymentRecord,
  RefundRecord,
  WithdrawalRecord,
} from '../../application/records';

const money = (amountMinor: bigint, currency: string): Money => ({ amountMinor, currency });

const ORDER_STATES = {
  WAIT_PAY: OrderState.ORDER_STATE_WAIT_PAY,
  PAID: OrderState.ORDER_STATE_PAID,
  CLOSED: OrderState.ORDER_STATE_CLOSED,
  REFUNDED: OrderState.ORDER_STATE_REFUNDED,
} as const;
const PAYMENT_STATES = {
  TRYING: PaymentState.PAYMENT_STATE_TRYING,
  PROCESSING: PaymentState.PAYMENT_STATE_PROCESSING,
  CONFIRMING: PaymentState.PAYMENT_STATE_CONFIRMING,
  CANCELLING: PaymentState.PAYMENT_STATE_CANCELLING,
  SUCCEEDED: PaymentState.PAYMENT_STATE_SUCCEEDED,
  FAILED: PaymentState.PAYMENT_STATE_FAILED,
} as const;
const WITHDRAWAL_STATES = {
  TRYING: WithdrawalState.WITHDRAWAL_STATE_TRYING,
  PROCESSING: WithdrawalState.WITHDRAWAL_STATE_PROCESSING,
  CONFIRMING: WithdrawalState.WITHDRAWAL_STATE_CONFIRMING,
  CANCELLING: WithdrawalState.WITHDRAWAL_STATE_CANCELLING,
  SUCCEEDED: WithdrawalState.WITHDRAWAL_STATE_SUCCEEDED,
  FAILED: WithdrawalState.WITHDRAWAL_STATE_FAILED,
} as const;
const REFUND_STATES = {
  PROCESSING: RefundState.REFUND_STATE_PROCESSING,
  SUCCEEDED: RefundState.REFUND_STATE_SUCCEEDED,
  FAILED: RefundState.REFUND_STATE_FAILED,
} as const;
const PART_KINDS = {
  BALANCE: PartKind.PART_KIND_BALANCE,
  COUPON: PartKind.PART_KIND_COUPON,
  STORED_VALUE: PartKind.PART_KIND_STORED_VALUE,
  CHANNEL: PartKind.PART_KIND_CHANNEL,
} as const;

export function partKindName(kind: PartKind): PartKindName | undefined {
  switch (kind) {
    case PartKind.PART_KIND_BALANCE:
      return 'BALANCE';
    case PartKind.PART_KIND_COUPON:
      return 'COUPON';
    case PartKind.PART_KIND_STORED_VALUE:
      return 'STORED_VALUE';
    case PartKind.PART_KIND_CHANNEL:
      return 'CHANNEL';
    default:
      return undefined;
  }
}

export function bizModeName(mode: BizMode): BizModeName | undefined {
  if (mode === BizMode.BIZ_MODE_INSTANT) return 'INSTANT';
  if (mode === BizMode.BIZ_MODE_ESCROW) return 'ESCROW';
  return undefined;
}

export function topUpTargetName(target: TopUpTarget): TopUpTargetName | undefined {
  if (target === TopUpTarget.TOP_UP_TARGET_BALANCE) return 'BALANCE';
  if (target === TopUpTarget.TOP_UP_TARGET_STORED_VALUE) return 'STORED_VALUE';
  return undefined;
}

export function resolutionName(resolution: Resolution): 'SUCCEEDED' | 'FAILED' | undefined {
  if (resolution === Resolution.RESOLUTION_SUCCEEDED) return 'SUCCEEDED';
  if (resolution === Resolution.RESOLUTION_FAILED) return 'FAILED';
  return undefined;
}

export function toMerchant(m: MerchantRecord): Merchant {
  return {
    merchantId: m.merchantId,
    name: m.name,
    riskLimits: {
      perTransactionMaxMinor: m.limits.perTransactionMaxMinor,
      merchantDailyMaxMinor: m.limits.merchantDailyMaxMinor,
      payerDailyMaxMinor: m.limits.payerDailyMaxMinor,
      payerPaymentsPerMinuteMax: m.limits.payerPaymentsPerMinuteMax,
    },
    settlementAccountId: m.settlementAccountId,
    escrowAccountId: m.escrowAccountId,
    createdAt: m.createdAt,
  };
}

export function toOrder(o: OrderRecord): PaymentOrder {
  return {
    orderId: o.orderId,
    merchantId: o.merchantId ?? '',
    merchantOrderNo: o.merchantOrderNo ?? '',
    amount: money(o.amountMinor, o.currency),
    product: o.product,
    bizMode: o.bizMode === 'INSTANT' ? BizMode.BIZ_MODE_INSTANT : BizMode.BIZ_MODE_ESCROW,
    bizCode: o.bizCode,
    subject: o.subject,
    state: ORDER_STATES[o.state],
    expireTime: o.expireAt,
    notifyUrl: o.notifyUrl,
    refunded: money(o.refundedMinor, o.currency),
    receiptConfirmed: o.receiptConfirmed,
    paidPaymentId: o.paidPaymentId ?? '',
    createdAt: o.createdAt,
    paidAt: o.paidAt ?? undefined,
  };
}

export function toPayment(p: PaymentRecord, currency: string): Payment {
  return {
    paymentId: p.paymentId,
    orderId: p.orderId,
    state: PAYMENT_STATES[p.state],
    parts: p.parts.map((part): PaymentPart => ({
      kind: PART_KINDS[part.kind],
      amount: money(part.amountMinor, currency),
      payChannel: part.payChannel,
      couponId: part.couponId ?? '',
      bizCode: part.bizCode,
      refunded: money(part.refundedMinor, currency),
      channelTxnId: part.channelTxnId ?? '',
      channelNo: part.channelNo ?? '',
      asset: part.storedValue?.asset ?? '',
      quantity: part.storedValue?.quantity ?? 0n,
      consumptionType: part.storedValue?.consumptionType ?? '',
    })),
    payerId: p.payerId,
    failureReason: p.failureReason,
    failureMessage: p.failureMessage,
    payUrl: p.payUrl,
    createdAt: p.createdAt,
    finishedAt: p.finishedAt ?? undefined,
  };
}

export function toRefund(r: RefundRecord): Refund {
  return {
    refundId: r.refundId,
    orderId: r.orderId,
    merchantRefundNo: r.merchantRefundNo,
    amount: money(r.amountMinor, r.currency),
    state: REFUND_STATES[r.state],
    parts: r.parts.map((part): PaymentPart => ({
      kind: PART_KINDS[part.kind],
      amount: money(part.amountMinor, r.currency),
      payChannel: part.bizCode.slice(10, 14),
      couponId: '',
      bizCode: part.bizCode,
      refunded: undefined,
      channelTxnId: part.channelTxnId ?? '',
      channelNo: part.bizCode.slice(14),
      asset: '',
      quantity: part.storedValueQuantity ?? 0n,
      consumptionType: '',
    })),
    failureReason: r.failureReason,
    bizCode: r.bizCode,
    createdAt: r.createdAt,
    finishedAt: r.finishedAt ?? undefined,
  };
}

export function toWithdrawal(w: WithdrawalRecord): Withdrawal {
  return {
    withdrawalId: w.withdrawalId,
    payerId: w.payerId,
    amount: money(w.amountMinor, w.currency),
    state: WITHDRAWAL_STATES[w.state],
    channelTxnId: w.channelTxnId ?? '',
    bizCode: w.bizCode,
    failureReason: w.failureReason,
    createdAt: w.createdAt,
    finishedAt: w.finishedAt ?? undefined,
  };
}

export function toCoupon(c: CouponRecord): Coupon {
  return {
    couponId: c.couponId,
    payerId: c.payerId,
    amount: money(c.amountMinor, c.currency),
    state: c.state,
    expireTime: c.expireAt,
  };
}

export function toException(e: ExceptionRecord): CashierException {
  return {
    exceptionId: e.exceptionId,
    flowKind: e.flowKind,
    flowId: e.flowId,
    bizCode: e.bizCode,
    detail: e.detail,
    state: e.state === 'OPEN' ? ExceptionState.EXCEPTION_STATE_OPEN : ExceptionState.EXCEPTION_STATE_RESOLVED,
    resolution:
      e.resolution === 'SUCCEEDED'
        ? Resolution.RESOLUTION_SUCCEEDED
        : e.resolution === 'FAILED'
          ? Resolution.RESOLUTION_FAILED
          : Resolution.RESOLUTION_UNSPECIFIED,
    operator: e.operator ?? '',
    reason: e.reason ?? '',
    createdAt: e.createdAt,
    resolvedAt: e.resolvedAt ?? undefined,
  };
}
