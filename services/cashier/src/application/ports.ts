/**
 * The cashier's ports. `CashierStore` is the unit of work over the cashier's
 * tables: `transaction(name, isolation, tx => …)` gives a `CashierTx`, the
 * platform's idempotency claim, outbox and one narrow repository per
 * aggregate; reads outside a transaction are plain methods. AccountPort and
 * ChannelPort are the account service and channel-router in the cashier's
 * terms; every method is idempotent under its request id, which is what lets
 * the orchestration replay any step after a crash. No SQL here: adapters/pg
 * implements the store, adapters/grpc the two services.
 */
import type { Claim, IdempotentRequest, IsolationLevel, TxPort } from '@paycore/platform';
import type { Side } from '@paycore/money';
import type { AccountRef } from '../domain/accounts';
import type {
  OrderStateName,
  PartStateName,
  PaymentStateName,
  PlannedPart,
  RefundStateName,
  RiskLimits,
  WithdrawalStateName,
} from '../domain/model';
import type { RiskUsage } from '../domain/risk';
import type {
  CouponStateName,
  ExceptionStateName,
  NotificationStateName,
  RefundChannelStateName,
} from '../domain/states';
import type {
  CouponRecord,
  ExceptionRecord,
  MerchantRecord,
  NotificationRecord,
  OrderRecord,
  PaymentRecord,
  RefundRecord,
  WithdrawalRecord,
} from './records';

// ------------------------------------------------------------------ the store

/** The outcome of a guarded, table-driven state change. */
export type Moved<S extends string> =
  { readonly changed: true; readonly from: S } | { readonly changed: false; readonly current: S | null };

export interface NewOrder {
  readonly orderId: string;
  readonly kind: OrderRecord['kind'];
  readonly merchantId: string | null;
  readonly merchantOrderNo: string | null;
  readonly payerId: string | null;
  readonly topUpTarget: OrderRecord['topUpTarget'];
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly product: string;
  readonly bizMode: OrderRecord['bizMode'];
  readonly orderCode: string;
  readonly subject: string;
  readonly expireAt: Date;
  readonly notifyUrl: string;
  /** Canonical hash of the business payload: the same merchant order number with another payload is refused. */
  readonly requestHash: string;
}

export interface OrderRepo {
  /** undefined when the merchant's order number exists already. */
  insert(order: NewOrder): Promise<OrderRecord | undefined>;
  byId(orderId: string, lock?: 'FOR UPDATE'): Promise<OrderRecord | undefined>;
  /**
   * The order locked FOR UPDATE with its merchant's risk limits, in one
   * statement (Pay's start); limits are undefined when the order has no
   * merchant row.
   */
  forPay(orderId: string): Promise<{ order: OrderRecord; limits: RiskLimits | undefined } | undefined>;
  byMerchantNo(merchantId: string, merchantOrderNo: string): Promise<OrderRecord | undefined>;
  moveTo(orderId: string, to: OrderStateName, set?: OrderChange): Promise<Moved<OrderStateName>>;
  /** ESCROW: records the receipt and the amount the release moves. */
  confirmReceipt(orderId: string, releaseMinor: bigint): Promise<OrderRecord>;
  /** Adds a succeeded refund to the order's refunded amount (its state moves through moveTo). */
  addRefunded(orderId: string, amountMinor: bigint): Promise<void>;
  markReleasePosted(orderId: string): Promise<void>;
}

export interface OrderChange {
  readonly paidPaymentId?: string;
  readonly bizCode?: string;
  readonly closeCause?: string;
  /** 'now' = the transaction's clock; a Date when the caller answers with the same instant. */
  readonly paidAt?: 'now' | Date;
  readonly closedAt?: 'now';
}

export interface NewPayment {
  readonly paymentId: string;
  readonly orderId: string;
  readonly requestId: string;
  readonly requestHash: string;
  readonly payerId: string;
  readonly amountMinor: bigint;
  readonly riskDay: string;
  readonly riskMerchantId: string | null;
  readonly parts: readonly (PlannedPart & { readonly channelNo: string | null; readonly bizCode: string })[];
}

export interface PaymentChange {
  readonly failureReason?: string;
  readonly failureMessage?: string;
  /** Sets finished_at: true = the transaction's clock; a Date when the caller answers with the same instant. */
  readonly finished?: true | Date;
}

export interface PaymentRepo {
  /** Inserts the payment (TRYING) and its parts (PLANNED); returns it as stored. */
  insert(payment: NewPayment): Promise<PaymentRecord>;
  byId(paymentId: string): Promise<PaymentRecord | undefined>;
  /** The payment of the order that is not final, if any (the database allows one). */
  inFlightOf(orderId: string): Promise<{ paymentId: string; state: PaymentStateName } | undefined>;
  moveTo(paymentId: string, to: PaymentStateName, set?: PaymentChange): Promise<Moved<PaymentStateName>>;
  movePart(paymentId: string, partNo: number, to: PartStateName): Promise<boolean>;
  recordChannelTxn(paymentId: string, partNo: number, txnId: string, payUrl: string): Promise<void>;
  /** Counts one more close request and returns its number (1, 2, …). */
  nextCloseAttempt(paymentId: string): Promise<number>;
  markAbandoned(paymentId: string): Promise<void>;
  touch(paymentId: string): Promise<void>;
  /** Grows (or, with a negative delta, shrinks) a part's refunded amount. */
  addPartRefunded(paymentId: string, partNo: number, deltaMinor: bigint): Promise<void>;
  idByTxn(txnId: string): Promise<string | undefined>;
}

export interface NewRefund {
  readonly refundId: string;
  readonly orderId: string;
  readonly paymentId: string;
  readonly merchantId: string;
  readonly merchantRefundNo: string;
  readonly requestHash: string;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly reason: string;
  readonly bizCode: string;
  readonly parts: readonly {
    partNo: number;
    kind: string;
    amountMinor: bigint;
    bizCode: string;
    /** Lot-spending STORED_VALUE parts: the units to return. */
    storedValueQuantity?: bigint;
  }[];
}

export interface RefundRepo {
  insert(refund: NewRefund): Promise<RefundRecord | undefined>;
  byId(refundId: string): Promise<RefundRecord | undefined>;
  byMerchantNo(merchantId: string, merchantRefundNo: string): Promise<RefundRecord | undefined>;
  processingOf(orderId: string): Promise<number>;
  moveTo(refundId: string, to: RefundStateName, failureReason?: string): Promise<Moved<RefundStateName>>;
  moveChannel(refundId: string, partNo: number, to: RefundChannelStateName, txnId?: string): Promise<boolean>;
  /** The refund of a channel refund transaction (and its part), if it is ours. */
  byTxn(txnId: string): Promise<{ refundId: string; partNo: number } | undefined>;
  markPartDone(refundId: string, partNo: number): Promise<void>;
  touch(refundId: string): Promise<void>;
}

export type NewWithdrawal = Omit<
  WithdrawalRecord,
  'state' | 'channelTxnId' | 'failureReason' | 'createdAt' | 'updatedAt' | 'finishedAt'
>;

export interface WithdrawalRepo {
  insert(withdrawal: NewWithdrawal): Promise<WithdrawalRecord>;
  byId(withdrawalId: string): Promise<WithdrawalRecord | undefined>;
  moveTo(
    withdrawalId: string,
    to: WithdrawalStateName,
    failureReason?: string,
  ): Promise<Moved<WithdrawalStateName>>;
  recordPayoutTxn(withdrawalId: string, txnId: string): Promise<void>;
  touch(withdrawalId: string): Promise<void>;
  idByTxn(txnId: string): Promise<string | undefined>;
}

export interface CouponRepo {
  insert(coupon: Omit<CouponRecord, 'state' | 'paymentId'> & { requestId: string }): Promise<CouponRecord>;
  byId(couponId: string, lock?: 'FOR UPDATE'): Promise<CouponRecord | undefined>;
  /** RESERVED by a payment, USED, or AVAILABLE again (payment cleared). */
  moveTo(couponId: string, to: CouponStateName, paymentId: string | null): Promise<Moved<CouponStateName>>;
}

export interface NotificationRepo {
  insert(n: Omit<NotificationRecord, 'notifyKey' | 'attempts'>): Promise<void>;
  /** One attempt's outcome: DELIVERED, GAVE_UP, or still PENDING with the next attempt's delay. */
  recordAttempt(
    notificationId: string,
    outcome: {
      to: NotificationStateName | undefined;
      status: number | null;
      error: string;
      nextDelayMs: number;
    },
  ): Promise<void>;
}

export interface ExceptionRepo {
  /** Opens an exception unless the flow has an OPEN one; true when opened. */
  open(e: {
    flowKind: ExceptionRecord['flowKind'];
    flowId: string;
    bizCode: string;
    detail: string;
  }): Promise<boolean>;
  byId(exceptionId: string, lock?: 'FOR UPDATE'): Promise<ExceptionRecord | undefined>;
  resolve(
    exceptionId: string,
    to: ExceptionStateName,
    decision: { resolution: 'SUCCEEDED' | 'FAILED'; operator: string; reason: string },
  ): Promise<ExceptionRecord | undefined>;
}

export interface RiskKeys {
  readonly merchantId: string | null;
  readonly payerId: string;
  readonly day: string;
  readonly minute: string;
}

export interface RiskRepo {
  /** Today's usage, locked (in one global key order) until the transaction ends. */
  lockUsage(keys: RiskKeys): Promise<RiskUsage>;
  /** Adds to the day counters (and the minute count when `minute` is given). */
  add(
    keys: Omit<RiskKeys, 'minute'> & { minute: string | null },
    amountMinor: bigint,
    count: number,
  ): Promise<void>;
}

export interface MerchantRepo {
  /** undefined when the merchant id exists already. */
  insert(m: Omit<MerchantRecord, 'createdAt'>): Promise<MerchantRecord | undefined>;
  byId(merchantId: string): Promise<MerchantRecord | undefined>;
}

/** The cashier's events, written to the outbox in the transaction of the change they report. */
export interface CashierEvents {
  merchantRegistered(merchant: MerchantRecord): Promise<void>;
  paymentSucceeded(order: OrderRecord, payment: PaymentRecord): Promise<void>;
  paymentClosed(order: OrderRecord, cause: string): Promise<void>;
  refundSucceeded(refund: RefundRecord): Promise<void>;
}

export interface CashierTx extends TxPort {
  /** The platform's claim with the answer known up front: no `remember` needed (SqlTx.claimAnswered). */
  claimAnswered<R>(request: IdempotentRequest, response: R): Promise<Claim<R>>;
  readonly merchants: MerchantRepo;
  readonly orders: OrderRepo;
  readonly payments: PaymentRepo;
  readonly refunds: RefundRepo;
  readonly withdrawals: WithdrawalRepo;
  readonly coupons: CouponRepo;
  readonly notifications: NotificationRepo;
  readonly exceptions: ExceptionRepo;
  readonly risk: RiskRepo;
  readonly events: CashierEvents;
}

/** Flows the recovery worker resumes: not final, untouched for a while, without an OPEN exception. */
export interface IdleFlows {
  readonly paymentIds: readonly string[];
  readonly refundIds: readonly string[];
  readonly withdrawalIds: readonly string[];
  readonly expiredOrderIds: readonly string[];
  readonly unpostedReleaseOrderIds: readonly string[];
}

export interface CashierStore {
  transaction<T>(name: string, isolation: IsolationLevel, fn: (tx: CashierTx) => Promise<T>): Promise<T>;
  merchant(merchantId: string): Promise<MerchantRecord | undefined>;
  order(orderId: string): Promise<OrderRecord | undefined>;
  orderByMerchantNo(merchantId: string, merchantOrderNo: string): Promise<OrderRecord | undefined>;
  payment(paymentId: string): Promise<PaymentRecord | undefined>;
  paymentsOfOrder(orderId: string): Promise<PaymentRecord[]>;
  refund(refundId: string): Promise<RefundRecord | undefined>;
  refundsOfOrder(orderId: string): Promise<RefundRecord[]>;
  refundByMerchantNo(merchantId: string, merchantRefundNo: string): Promise<RefundRecord | undefined>;
  withdrawal(withdrawalId: string): Promise<WithdrawalRecord | undefined>;
  availableCoupons(payerId: string, now: Date): Promise<CouponRecord[]>;
  exceptions(includeResolved: boolean, limit: number): Promise<ExceptionRecord[]>;
  /** Account ids the cashier opened, by account key. */
  accountId(key: string): Promise<string | undefined>;
  saveAccountId(key: string, accountId: string): Promise<void>;
  idleFlows(idleMs: number, now: Date, batchMax: number): Promise<IdleFlows>;
  /** Leases due notifications for `leaseMs`; returns them and when the next one is due. */
  claimNotifications(
    limit: number,
    leaseMs: number,
  ): Promise<{ due: NotificationRecord[]; nextDueAt: Date | undefined }>;
}

// ------------------------------------------------------- the other services

export interface Leg {
  readonly accountId: string;
  readonly side: Side;
  readonly amountMinor: bigint;
}

/** The other service refused (a business reason such as INSUFFICIENT_BALANCE); retrying will not help. */
export class DependencyRefusal extends Error {
  constructor(
    readonly service: string,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'DependencyRefusal';
  }
}

export interface AccountPort {
  openAccount(requestId: string, bizCode: string, ref: AccountRef, currency: string): Promise<string>;
  tryTransfer(pendingId: string, bizCode: string, legs: readonly Leg[], timeoutMs: number): Promise<void>;
  confirmTransfer(pendingId: string, bizCode: string): Promise<void>;
  cancelTransfer(pendingId: string, bizCode: string): Promise<void>;
  transfer(requestId: string, bizCode: string, legs: readonly Leg[], memo: string): Promise<void>;
  /** Available and total balance on the account's normal side, minor units. */
  balance(accountId: string): Promise<{ availableMinor: bigint; totalMinor: bigint }>;
}

/** The units a lot-spending part holds: owner, asset, type and quantity (account's StoredValueService). */
export interface LotSpend {
  readonly ownerId: string;
  readonly asset: string;
  readonly consumptionType: string;
  readonly quantity: bigint;
}

/**
 * Two-phase consumption of a payer's lots in account. Request ids are
 * derived from the consumption id (`sv-try:`, `sv-confirm:`, `sv-cancel:`),
 * so a replayed step is answered as a replay; a refusal is a DependencyRefusal.
 */
export interface StoredValuePort {
  tryConsume(consumptionId: string, bizCode: string, spend: LotSpend, timeoutMs: number): Promise<void>;
  confirmConsume(consumptionId: string, bizCode: string): Promise<void>;
  /** A cancel of a consumption never tried is an empty rollback: a later try of it is refused. */
  cancelConsume(consumptionId: string, bizCode: string): Promise<void>;
  /** Returns `quantity` units of a confirmed consumption to its lots. */
  refundConsumption(
    requestId: string,
    bizCode: string,
    consumptionId: string,
    quantity: bigint,
  ): Promise<void>;
}

export type ChannelTxnState = 'PROCESSING' | 'SUCCESS' | 'FAIL' | 'CLOSED' | 'UNKNOWN';

export interface ChannelTxn {
  readonly txnId: string;
  readonly state: ChannelTxnState;
  readonly payUrl: string;
  readonly failureCode: string;
  readonly failureMessage: string;
  readonly channelNo: string;
}

export interface RouteChoice {
  readonly payChannel: string;
  readonly channelNo: string;
  readonly bizCode: string;
}

export interface ChannelPort {
  listPayChannels(bizCode: string, amountMinor: bigint): Promise<{ payChannel: string; label: string }[]>;
  /** A definite refusal (no route, unknown pay channel, route not available) is a DependencyRefusal. */
  route(bizCode: string, amountMinor: bigint, merchantId: string, payChannel: string): Promise<RouteChoice>;
  createPayment(
    requestId: string,
    bizCode: string,
    amountMinor: bigint,
    subject: string,
  ): Promise<ChannelTxn>;
  query(txnId: string): Promise<ChannelTxn>;
  /** CLOSED (or as it was when final); ALREADY_PAID means the channel says it was paid. */
  close(requestId: string, txnId: string): Promise<ChannelTxn | 'ALREADY_PAID'>;
  refund(
    requestId: string,
    paymentTxnId: string,
    amountMinor: bigint,
    reason: string,
    bizCode: string,
  ): Promise<ChannelTxn>;
  createPayout(
    requestId: string,
    bizCode: string,
    amountMinor: bigint,
    payee: { accountNo: string; accountName: string; bankCode: string },
  ): Promise<ChannelTxn>;
  queryPayout(txnId: string): Promise<ChannelTxn>;
}
