/**
 * Row -> record converters. pg returns bigint columns as decimal text, read
 * here with BigInt (never Number).
 */
import type {
  CouponRecord,
  ExceptionRecord,
  MerchantRecord,
  OrderRecord,
  PartRecord,
  PaymentRecord,
  RefundPartRecord,
  RefundRecord,
  WithdrawalRecord,
} from '../../application/records';

export type Row = Record<string, unknown>;

const text = (row: Row, key: string): string => {
  const value = row[key];
  if (typeof value !== 'string') throw new Error(`column ${key} is not text`);
  return value;
};
const textOrNull = (row: Row, key: string): string | null => {
  const value = row[key];
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') throw new Error(`column ${key} is not text`);
  return value;
};
const big = (row: Row, key: string): bigint => BigInt(text(row, key));
const date = (row: Row, key: string): Date => {
  const value = row[key];
  if (!(value instanceof Date)) throw new Error(`column ${key} is not a timestamp`);
  return value;
};
const dateOrNull = (row: Row, key: string): Date | null => {
  const value = row[key];
  return value instanceof Date ? value : null;
};
const bool = (row: Row, key: string): boolean => row[key] === true;
const int = (row: Row, key: string): number => Number(row[key]);

// The SELECT lists cast bigint columns to text so the converters above stay exact.
export const MERCHANT_COLUMNS = `merchant_id, name, notify_key, per_txn_max_minor::text, merchant_daily_max_minor::text,
  payer_daily_max_minor::text, payer_per_minute_max, settlement_account_id, escrow_account_id, created_at`;
export const ORDER_COLUMNS = `order_id::text, kind, merchant_id, merchant_order_no, payer_id, top_up_target,
  amount_minor::text, currency, product, biz_mode, order_code, biz_code, subject, state, expire_at, notify_url,
  request_hash, refunded_minor::text, receipt_confirmed, release_posted, release_minor::text, paid_payment_id::text, close_cause,
  created_at, paid_at`;
export const PAYMENT_COLUMNS = `payment_id::text, order_id::text, request_id, request_hash, payer_id, amount_minor::text,
  state, failure_reason, failure_message, pay_url, close_attempts, risk_day, risk_merchant_id, created_at, updated_at, finished_at`;
export const PART_COLUMNS = `payment_id::text, part_no, kind, amount_minor::text, pay_channel, channel_no, coupon_id::text,
  biz_code, state, channel_txn_id, refunded_minor::text, sv_asset, sv_quantity::text, sv_consumption_type`;
export const REFUND_COLUMNS = `refund_id::text, order_id::text, payment_id::text, merchant_id, merchant_refund_no,
  request_hash, amount_minor::text, currency, state, failure_reason, reason, biz_code, created_at, updated_at, finished_at`;
export const REFUND_PART_COLUMNS = `refund_id::text, part_no, kind, amount_minor::text, biz_code, channel_txn_id,
  channel_state, done, sv_quantity::text`;
export const WITHDRAWAL_COLUMNS = `withdrawal_id::text, request_id, request_hash, payer_id, amount_minor::text, currency,
  account_no, account_name, bank_code, state, channel_no, biz_code, channel_txn_id, failure_reason, created_at,
  updated_at, finished_at`;
export const COUPON_COLUMNS = `coupon_id::text, payer_id, amount_minor::text, currency, state, payment_id::text,
  expire_at, request_hash`;
export const EXCEPTION_COLUMNS = `exception_id::text, flow_kind, flow_id, biz_code, detail, state, resolution, operator,
  reason, created_at, resolved_at`;

export function merchantOf(row: Row): MerchantRecord {
  return {
    merchantId: text(row, 'merchant_id'),
    name: text(row, 'name'),
    notifyKey: text(row, 'notify_key'),
    limits: {
      perTransactionMaxMinor: big(row, 'per_txn_max_minor'),
      merchantDailyMaxMinor: big(row, 'merchant_daily_max_minor'),
      payerDailyMaxMinor: big(row, 'payer_daily_max_minor'),
      payerPaymentsPerMinuteMax: int(row, 'payer_per_minute_max'),
    },
    settlementAccountId: text(row, 'settlement_account_id'),
    escrowAccountId: text(row, 'escrow_account_id'),
    createdAt: date(row, 'created_at'),
  };
}

export function orderOf(row: Row): OrderRecord {
  return {
    orderId: text(row, 'order_id'),
    kind: text(row, 'kind') as OrderRecord['kind'],
    merchantId: textOrNull(row, 'merchant_id'),
    merchantOrderNo: textOrNull(row, 'merchant_order_no'),
    payerId: textOrNull(row, 'payer_id'),
    topUpTarget: textOrNull(row, 'top_up_target') as OrderRecord['topUpTarget'],
    amountMinor: big(row, 'amount_minor'),
    currency: text(row, 'currency'),
    product: text(row, 'product'),
    bizMode: text(row, 'biz_mode') as OrderRecord['bizMode'],
    orderCode: text(row, 'order_code'),
    bizCode: text(row, 'biz_code'),
    subject: text(row, 'subject'),
    state: text(row, 'state') as OrderRecord['state'],
    expireAt: date(row, 'expire_at'),
    notifyUrl: text(row, 'notify_url'),
    requestHash: text(row, 'request_hash'),
    refundedMinor: big(row, 'refunded_minor'),
    receiptConfirmed: bool(row, 'receipt_confirmed'),
    releasePosted: bool(row, 'release_posted'),
    releaseMinor: textOrNull(row, 'release_minor') === null ? null : big(row, 'release_minor'),
    paidPaymentId: textOrNull(row, 'paid_payment_id'),
    closeCause: textOrNull(row, 'close_cause'),
    createdAt: date(row, 'created_at'),
    paidAt: dateOrNull(row, 'paid_at'),
  };
}

function storedValueOf(row: Row): PartRecord['storedValue'] {
  const asset = textOrNull(row, 'sv_asset');
  if (asset === null) return null;
  return {
    asset,
    quantity: big(row, 'sv_quantity'),
    consumptionType: text(row, 'sv_consumption_type'),
  };
}

export function partOf(row: Row): PartRecord {
  return {
    partNo: int(row, 'part_no'),
    kind: text(row, 'kind') as PartRecord['kind'],
    amountMinor: big(row, 'amount_minor'),
    payChannel: text(row, 'pay_channel'),
    channelNo: textOrNull(row, 'channel_no'),
    couponId: textOrNull(row, 'coupon_id'),
    storedValue: storedValueOf(row),
    bizCode: textOrNull(row, 'biz_code') ?? '',
    state: text(row, 'state') as PartRecord['state'],
    channelTxnId: textOrNull(row, 'channel_txn_id'),
    refundedMinor: big(row, 'refunded_minor'),
  };
}

export function paymentOf(row: Row, parts: readonly PartRecord[]): PaymentRecord {
  return {
    paymentId: text(row, 'payment_id'),
    orderId: text(row, 'order_id'),
    requestId: text(row, 'request_id'),
    requestHash: text(row, 'request_hash'),
    payerId: text(row, 'payer_id'),
    amountMinor: big(row, 'amount_minor'),
    state: text(row, 'state') as PaymentRecord['state'],
    failureReason: text(row, 'failure_reason'),
    failureMessage: text(row, 'failure_message'),
    payUrl: text(row, 'pay_url'),
    closeAttempts: int(row, 'close_attempts'),
    riskDay: text(row, 'risk_day'),
    riskMerchantId: textOrNull(row, 'risk_merchant_id'),
    createdAt: date(row, 'created_at'),
    updatedAt: date(row, 'updated_at'),
    finishedAt: dateOrNull(row, 'finished_at'),
    parts,
  };
}

export function refundPartOf(row: Row): RefundPartRecord {
  return {
    partNo: int(row, 'part_no'),
    kind: text(row, 'kind') as RefundPartRecord['kind'],
    amountMinor: big(row, 'amount_minor'),
    bizCode: text(row, 'biz_code'),
    channelTxnId: textOrNull(row, 'channel_txn_id'),
    channelState: text(row, 'channel_state') as RefundPartRecord['channelState'],
    storedValueQuantity: textOrNull(row, 'sv_quantity') === null ? null : big(row, 'sv_quantity'),
    done: bool(row, 'done'),
  };
}

export function refundOf(row: Row, parts: readonly RefundPartRecord[]): RefundRecord {
  return {
    refundId: text(row, 'refund_id'),
    orderId: text(row, 'order_id'),
    paymentId: text(row, 'payment_id'),
    merchantId: text(row, 'merchant_id'),
    merchantRefundNo: text(row, 'merchant_refund_no'),
    requestHash: text(row, 'request_hash'),
    amountMinor: big(row, 'amount_minor'),
    currency: text(row, 'currency'),
    state: text(row, 'state') as RefundRecord['state'],
    failureReason: text(row, 'failure_reason'),
    reason: text(row, 'reason'),
    bizCode: text(row, 'biz_code'),
    createdAt: date(row, 'created_at'),
    updatedAt: date(row, 'updated_at'),
    finishedAt: dateOrNull(row, 'finished_at'),
    parts,
  };
}

export function withdrawalOf(row: Row): WithdrawalRecord {
  return {
    withdrawalId: text(row, 'withdrawal_id'),
    requestId: text(row, 'request_id'),
    requestHash: text(row, 'request_hash'),
    payerId: text(row, 'payer_id'),
    amountMinor: big(row, 'amount_minor'),
    currency: text(row, 'currency'),
    accountNo: text(row, 'account_no'),
    accountName: text(row, 'account_name'),
    bankCode: text(row, 'bank_code'),
    state: text(row, 'state') as WithdrawalRecord['state'],
    channelNo: textOrNull(row, 'channel_no') ?? '',
    bizCode: textOrNull(row, 'biz_code') ?? '',
    channelTxnId: textOrNull(row, 'channel_txn_id'),
    failureReason: text(row, 'failure_reason'),
    createdAt: date(row, 'created_at'),
    updatedAt: date(row, 'updated_at'),
    finishedAt: dateOrNull(row, 'finished_at'),
  };
}

export function couponOf(row: Row): CouponRecord {
  return {
    couponId: text(row, 'coupon_id'),
    payerId: text(row, 'payer_id'),
    amountMinor: big(row, 'amount_minor'),
    currency: text(row, 'currency'),
    state: text(row, 'state') as CouponRecord['state'],
    paymentId: textOrNull(row, 'payment_id'),
    expireAt: date(row, 'expire_at'),
    requestHash: text(row, 'request_hash'),
  };
}

export function exceptionOf(row: Row): ExceptionRecord {
  return {
    exceptionId: text(row, 'exception_id'),
    flowKind: text(row, 'flow_kind') as ExceptionRecord['flowKind'],
    flowId: text(row, 'flow_id'),
    bizCode: text(row, 'biz_code'),
    detail: text(row, 'detail'),
    state: text(row, 'state') as ExceptionRecord['state'],
    resolution: textOrNull(row, 'resolution') as ExceptionRecord['resolution'],
    operator: textOrNull(row, 'operator'),
    reason: textOrNull(row, 'reason'),
    createdAt: date(row, 'created_at'),
    resolvedAt: dateOrNull(row, 'resolved_at'),
  };
}
