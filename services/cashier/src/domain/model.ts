/**
 * The cashier's vocabulary: states, kinds and the shapes the use cases pass
 * around. Amounts are bigint minor units; no storage or transport types here.
 */

export type BizModeName = 'INSTANT' | 'ESCROW';
export type OrderKind = 'PAYMENT' | 'TOP_UP';
export type OrderStateName = 'WAIT_PAY' | 'PAID' | 'CLOSED' | 'REFUNDED';
export type PartKindName = 'BALANCE' | 'COUPON' | 'STORED_VALUE' | 'CHANNEL';
export type PaymentStateName = 'TRYING' | 'PROCESSING' | 'CONFIRMING' | 'CANCELLING' | 'SUCCEEDED' | 'FAILED';
export type RefundStateName = 'PROCESSING' | 'SUCCEEDED' | 'FAILED';
export type WithdrawalStateName =
  'TRYING' | 'PROCESSING' | 'CONFIRMING' | 'CANCELLING' | 'SUCCEEDED' | 'FAILED';
export type TopUpTargetName = 'BALANCE' | 'STORED_VALUE';
/** A part's progress in the two-phase protocol (internal parts) or at the channel (channel part). */
export type PartStateName = 'PLANNED' | 'TRIED' | 'CONFIRMED' | 'CANCELLED';

/** The one currency the channels accept today. */
export const CURRENCY = 'CNY';

/** Parts of one payment: at most one per internal kind plus one channel part, with room to spare. */
export const PAYMENT_PARTS_MAX = 8;

export interface RiskLimits {
  /** 0n = no limit. */
  readonly perTransactionMaxMinor: bigint;
  readonly merchantDailyMaxMinor: bigint;
  readonly payerDailyMaxMinor: bigint;
  /** 0 = no limit. */
  readonly payerPaymentsPerMinuteMax: number;
}

export const NO_RISK_LIMITS: RiskLimits = {
  perTransactionMaxMinor: 0n,
  merchantDailyMaxMinor: 0n,
  payerDailyMaxMinor: 0n,
  payerPaymentsPerMinuteMax: 0,
};

/** STORED_VALUE parts that spend lots: which units (account's StoredValueService). */
export interface StoredValueSpend {
  /** Asset code, e.g. "ADCOIN". */
  readonly asset: string;
  /** Asset minor units, > 0. */
  readonly quantity: bigint;
  /** What the units are spent on, e.g. "LISTING_BOOST". */
  readonly consumptionType: string;
}

/** A part as the payer asked for it. */
export interface RequestedPart {
  readonly kind: PartKindName;
  readonly amountMinor: bigint;
  /** CHANNEL only. */
  readonly payChannel?: string;
  /** COUPON only. */
  readonly couponId?: string;
  /** STORED_VALUE only, optional: spend lots instead of the stored-value money account. */
  readonly storedValue?: StoredValueSpend;
}

/** A validated part: its pay channel is known (0001 / 0002 / 0003 for internal ones). */
export interface PlannedPart {
  readonly index: number;
  readonly kind: PartKindName;
  readonly amountMinor: bigint;
  readonly payChannel: string;
  readonly couponId: string | undefined;
  readonly storedValue: StoredValueSpend | undefined;
}

export const INTERNAL_PAY_CHANNELS: Readonly<Record<Exclude<PartKindName, 'CHANNEL'>, string>> = {
  BALANCE: '0001',
  COUPON: '0002',
  STORED_VALUE: '0003',
};
