/**
 * The cashier's records as the use cases see them (read back from the store).
 * Amounts are bigint minor units; times are Dates. No storage or proto types.
 */
import type {
  BizModeName,
  OrderKind,
  OrderStateName,
  PartKindName,
  PartStateName,
  PaymentStateName,
  RefundStateName,
  RiskLimits,
  StoredValueSpend,
  TopUpTargetName,
  WithdrawalStateName,
} from '../domain/model';

export interface MerchantRecord {
  readonly merchantId: string;
  readonly name: string;
  readonly notifyKey: string;
  readonly limits: RiskLimits;
  readonly settlementAccountId: string;
  readonly escrowAccountId: string;
  readonly createdAt: Date;
}

export interface OrderRecord {
  readonly orderId: string;
  readonly kind: OrderKind;
  readonly merchantId: string | null;
  readonly merchantOrderNo: string | null;
  readonly payerId: string | null;
  readonly topUpTarget: TopUpTargetName | null;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly product: string;
  readonly bizMode: BizModeName;
  readonly orderCode: string;
  readonly bizCode: string;
  readonly subject: string;
  readonly state: OrderStateName;
  readonly expireAt: Date;
  readonly notifyUrl: string;
  readonly requestHash: string;
  readonly refundedMinor: bigint;
  readonly receiptConfirmed: boolean;
  readonly releasePosted: boolean;
  /** ESCROW: what ConfirmReceipt fixed for release to the merchant (paid minus refunded then); null before. */
  readonly releaseMinor: bigint | null;
  readonly paidPaymentId: string | null;
  readonly closeCause: string | null;
  readonly createdAt: Date;
  readonly paidAt: Date | null;
}

export interface PartRecord {
  readonly partNo: number;
  readonly kind: PartKindName;
  readonly amountMinor: bigint;
  readonly payChannel: string;
  readonly channelNo: string | null;
  readonly couponId: string | null;
  /** STORED_VALUE parts that spend lots; null otherwise. */
  readonly storedValue: StoredValueSpend | null;
  readonly bizCode: string;
  readonly state: PartStateName;
  readonly channelTxnId: string | null;
  readonly refundedMinor: bigint;
}

export interface PaymentRecord {
  readonly paymentId: string;
  readonly orderId: string;
  readonly requestId: string;
  readonly requestHash: string;
  readonly payerId: string;
  readonly amountMinor: bigint;
  readonly state: PaymentStateName;
  readonly failureReason: string;
  readonly failureMessage: string;
  readonly payUrl: string;
  /** Channel close requests asked so far: the next close's request id is derived from it, never the clock. */
  readonly closeAttempts: number;
  /** The risk counters' day and merchant this payment counted in (given back if it fails). */
  readonly riskDay: string;
  readonly riskMerchantId: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly finishedAt: Date | null;
  readonly parts: readonly PartRecord[];
}

export interface RefundPartRecord {
  readonly partNo: number;
  readonly kind: PartKindName;
  readonly amountMinor: bigint;
  readonly bizCode: string;
  readonly channelTxnId: string | null;
  readonly channelState: 'NONE' | 'PENDING' | 'SUCCESS' | 'FAIL';
  /** Lot-spending STORED_VALUE parts: the units this refund returns (fixed when it is recorded). */
  readonly storedValueQuantity: bigint | null;
  readonly done: boolean;
}

export interface RefundRecord {
  readonly refundId: string;
  readonly orderId: string;
  readonly paymentId: string;
  readonly merchantId: string;
  readonly merchantRefundNo: string;
  readonly requestHash: string;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly state: RefundStateName;
  readonly failureReason: string;
  readonly reason: string;
  readonly bizCode: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly finishedAt: Date | null;
  readonly parts: readonly RefundPartRecord[];
}

export interface WithdrawalRecord {
  readonly withdrawalId: string;
  readonly requestId: string;
  readonly requestHash: string;
  readonly payerId: string;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly accountNo: string;
  readonly accountName: string;
  readonly bankCode: string;
  readonly state: WithdrawalStateName;
  readonly channelNo: string;
  readonly bizCode: string;
  readonly channelTxnId: string | null;
  readonly failureReason: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly finishedAt: Date | null;
}

export interface CouponRecord {
  readonly couponId: string;
  readonly payerId: string;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly state: 'AVAILABLE' | 'RESERVED' | 'USED';
  readonly paymentId: string | null;
  readonly expireAt: Date;
  readonly requestHash: string;
}

export interface ExceptionRecord {
  readonly exceptionId: string;
  readonly flowKind: 'PAYMENT' | 'REFUND' | 'WITHDRAWAL';
  readonly flowId: string;
  readonly bizCode: string;
  readonly detail: string;
  readonly state: 'OPEN' | 'RESOLVED';
  readonly resolution: 'SUCCEEDED' | 'FAILED' | null;
  readonly operator: string | null;
  readonly reason: string | null;
  readonly createdAt: Date;
  readonly resolvedAt: Date | null;
}

export interface NotificationRecord {
  readonly notificationId: string;
  readonly orderId: string;
  readonly merchantId: string;
  readonly url: string;
  readonly body: string;
  readonly attempts: number;
  readonly bizCode: string;
  readonly notifyKey: string;
}
