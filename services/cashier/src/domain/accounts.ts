/**
 * Which account of the account service each part of a flow moves money
 * between (DESIGN.md §5, §6). Pure: accounts are named by AccountRef and the
 * application resolves each to an account id (opening it once).
 *
 * Payment part, Dr source / Cr beneficiary:
 *   BALANCE       payer 224101 customer balance      -> beneficiary
 *   STORED_VALUE  payer 240101 stored value          -> beneficiary
 *   COUPON        platform 660101 marketing cost     -> beneficiary
 *   CHANNEL       platform 300101xx pending-clearing -> beneficiary
 * Beneficiary: INSTANT merchant 224102 pending-settlement; ESCROW merchant
 * 224104 escrow (released to 224102 by ConfirmReceipt); TOP_UP the payer's
 * 224101 or 240101. A refund part posts the same legs reversed, from where
 * the funds sit now (escrow until released, pending-settlement after).
 */
import type { PartKindName, TopUpTargetName } from './model';

export type OwnerTypeName = 'CUSTOMER' | 'MERCHANT' | 'INTERNAL';
export type SideName = 'DEBIT' | 'CREDIT';

export interface AccountRef {
  readonly ownerType: OwnerTypeName;
  readonly ownerId: string;
  readonly subject: string;
  readonly normalSide: SideName;
  /** Internal accounts only: pending-clearing and cost accounts are not limited by a balance. */
  readonly allowOverdraft: boolean;
}

export const PLATFORM_OWNER = 'platform';

/** Channel number -> its pending-clearing leaf subject in the default chart. */
export const CLEARING_SUBJECTS: Readonly<Record<string, string>> = {
  '100001': '30010101',
  '200001': '30010102',
  '300001': '30010103',
  '300002': '30010104',
};

export const payerBalance = (payerId: string): AccountRef => ({
  ownerType: 'CUSTOMER',
  ownerId: payerId,
  subject: '224101',
  normalSide: 'CREDIT',
  allowOverdraft: false,
});
export const payerStoredValue = (payerId: string): AccountRef => ({
  ownerType: 'CUSTOMER',
  ownerId: payerId,
  subject: '240101',
  normalSide: 'CREDIT',
  allowOverdraft: false,
});
export const merchantSettlement = (merchantId: string): AccountRef => ({
  ownerType: 'MERCHANT',
  ownerId: merchantId,
  subject: '224102',
  normalSide: 'CREDIT',
  allowOverdraft: false,
});
export const merchantEscrow = (merchantId: string): AccountRef => ({
  ownerType: 'MERCHANT',
  ownerId: merchantId,
  subject: '224104',
  normalSide: 'CREDIT',
  allowOverdraft: false,
});
export const marketingCost = (): AccountRef => ({
  ownerType: 'INTERNAL',
  ownerId: PLATFORM_OWNER,
  subject: '660101',
  normalSide: 'DEBIT',
  allowOverdraft: true,
});

export function channelClearing(channelNo: string): AccountRef {
  const subject = CLEARING_SUBJECTS[channelNo];
  if (subject === undefined) throw new Error(`no pending-clearing subject for channel number ${channelNo}`);
  return {
    ownerType: 'INTERNAL',
    ownerId: PLATFORM_OWNER,
    subject,
    normalSide: 'DEBIT',
    allowOverdraft: true,
  };
}

/** A stable name for an account ref: the idempotency key of opening it, and the cache key. */
export function accountKey(ref: AccountRef, currency: string): string {
  return `${ref.ownerType}:${ref.ownerId}:${ref.subject}:${currency}`;
}

export function topUpTarget(payerId: string, target: TopUpTargetName): AccountRef {
  return target === 'BALANCE' ? payerBalance(payerId) : payerStoredValue(payerId);
}

/** Where a part's money comes from. */
export function partSource(kind: PartKindName, payerId: string, channelNo: string | undefined): AccountRef {
  switch (kind) {
    case 'BALANCE':
      return payerBalance(payerId);
    case 'STORED_VALUE':
      return payerStoredValue(payerId);
    case 'COUPON':
      return marketingCost();
    case 'CHANNEL':
      if (channelNo === undefined) throw new Error('a channel part needs its channel number');
      return channelClearing(channelNo);
  }
}
