/**
 * What settlement's use cases need from outside: a unit-of-work store (one
 * transaction per use case, with the idempotency claim and the outbox), the
 * account service (postings), channel-router (payouts) and the
 * business-day calendar. Shaped after the service template: the pg adapter
 * implements SettlementStore over a unit of work; no SQL here.
 */
import type { BatchStateName, BatchTotals, PostingLeg } from '../domain/batch';
import type { Cycle } from '../domain/cycles';
import type { DepositDay, DepositRoute, DepositStateName } from '../domain/deposit';
import type { FeeRuleTerms, FeeRuleVersion } from '../domain/fees';
import type { Receiver, Share } from '../domain/sharing';
import type { IsolationLevel, OutboxEvent, TxPort } from '@paycore/platform';

export type { BusinessCalendar } from '../domain/cycles';

export type { Claim, IdempotentRequest, IsolationLevel, OutboxEvent, TxPort } from '@paycore/platform';

export interface Profile extends Cycle {
  readonly merchantId: string;
  readonly minimumPayoutMinor: bigint;
  readonly holdUnconfirmed: boolean;
  readonly d0HoldRate: string;
  readonly autoShare: boolean;
  readonly bankAccountNo: string;
  readonly bankAccountName: string;
  readonly bankCode: string;
}

export interface NewItem {
  readonly itemId: string;
  readonly kind: 'PAY' | 'REFUND';
  readonly merchantId: string;
  readonly orderId: string;
  readonly merchantOrderNo: string;
  readonly paymentId: string;
  readonly refundId: string | null;
  readonly channelNo: string;
  readonly channelTxnId: string;
  readonly payChannel: string;
  readonly bizCode: string;
  readonly accountingDate: string;
  readonly amountMinor: bigint;
  readonly feeMinor: bigint;
  readonly currency: string;
  readonly ruleId: string | null;
  readonly confirmed: boolean;
  readonly settleOn: string | null;
}

export interface PayItem {
  readonly itemId: string;
  readonly merchantId: string;
  readonly paymentId: string;
  readonly orderId: string;
  readonly amountMinor: bigint;
  readonly feeMinor: bigint;
  readonly ruleId: string | null;
  readonly batchId: string | null;
  readonly refundedMinor: bigint;
  readonly feeReturnedMinor: bigint;
}

export interface Split {
  readonly paymentId: string;
  readonly baseMinor: bigint;
  readonly receivers: readonly Receiver[];
  readonly shares: readonly Share[];
}

export interface BatchRecord extends BatchTotals {
  readonly batchId: string;
  readonly merchantId: string;
  readonly settlementDate: string;
  readonly state: BatchStateName;
  readonly carriedInMinor: bigint;
  readonly payoutMinor: bigint;
  readonly carriedOutMinor: bigint;
  readonly currency: string;
  readonly releaseOn: string | null;
  readonly payoutTxnId: string | null;
  readonly payoutAttempts: number;
  readonly createdAt: Date;
}

export interface StatementLineRecord {
  readonly type: 'PAYMENT' | 'REFUND';
  readonly merchantOrderNo: string;
  readonly orderId: string;
  readonly grossMinor: bigint;
  readonly feeMinor: bigint;
  readonly sharesMinor: bigint;
  readonly netMinor: bigint;
  readonly bookingDate: string;
}

export interface SettlementTx extends TxPort {
  merchantExists(merchantId: string): Promise<boolean>;
  insertMerchant(merchantId: string, name: string, currency: string): Promise<void>;
  profile(merchantId: string): Promise<Profile | null>;
  saveProfile(profile: Profile): Promise<void>;

  feeRules(merchantId: string, product: string | null, payChannel: string | null): Promise<FeeRuleVersion[]>;
  /** Closes the open version of the scope the day before `effectiveFrom` and inserts the new one. */
  insertFeeRule(
    merchantId: string,
    product: string,
    payChannel: string,
    effectiveFrom: string,
    terms: FeeRuleTerms,
  ): Promise<FeeRuleVersion>;
  ruleTerms(ruleId: string): Promise<FeeRuleTerms | null>;
  /** Adds the amount to the month and returns the volume before it. */
  addMonthVolume(merchantId: string, month: string, amountMinor: bigint): Promise<bigint>;

  /** Bulk clearing (one statement each): which of the merchants are registered. */
  merchantsKnown(merchantIds: readonly string[]): Promise<Set<string>>;
  profilesOf(merchantIds: readonly string[]): Promise<Map<string, Profile>>;
  /** Every fee rule version of the merchants, by merchant, in effective order. */
  feeRulesOf(merchantIds: readonly string[]): Promise<Map<string, FeeRuleVersion[]>>;
  /** Adds each (merchant, month) total (keys unique) and returns the volume before it, by `merchant|month`. */
  addMonthVolumes(
    totals: readonly { merchantId: string; month: string; amountMinor: bigint }[],
  ): Promise<Map<string, bigint>>;
  /** Inserts the items that do not exist yet; returns the ids inserted. */
  insertItems(items: readonly NewItem[]): Promise<Set<string>>;

  receivers(merchantId: string): Promise<{ version: bigint; receivers: Receiver[] } | null>;
  saveReceivers(merchantId: string, receivers: readonly Receiver[]): Promise<bigint>;

  /** False when the item exists already. */
  insertItem(item: NewItem): Promise<boolean>;
  payItemOfOrder(orderId: string): Promise<PayItem | null>;
  payItem(paymentId: string): Promise<PayItem | null>;
  split(paymentId: string): Promise<Split | null>;
  insertSplit(split: Split, merchantId: string): Promise<void>;
  /** Receiver shares (merchant excluded) of a pay item, and what refunds clawed back so far. */
  itemShares(itemId: string): Promise<Map<string, bigint>>;
  clawedBack(orderId: string): Promise<Map<string, bigint>>;
  /** Rows for every id; the item's shares_minor counts all but `merchantId` (what the merchant keeps is no share). */
  setItemShares(itemId: string, shares: ReadonlyMap<string, bigint>, merchantId: string): Promise<void>;

  /**
   * Marks every unconfirmed item of the channel day confirmed except those an
   * open difference of the channel names (by channel-router's txn id);
   * returns how many it marked.
   */
  confirmChannelDay(channelNo: string, billDate: string): Promise<bigint>;
  /** Differences of the channel day settlement has heard of, open or not. */
  differencesKnown(channelNo: string, billDate: string): Promise<bigint>;
  /** Records the confirmed day (CONFIRMED with its route, or UNMAPPED without); false when it is recorded already. */
  recordChannelDay(day: ChannelDay, route: DepositRoute | null): Promise<boolean>;
  channelDay(channelNo: string, billDate: string): Promise<ChannelDayRecord | null>;
  /** Guarded by DEPOSIT_TRANSITIONS; false when the day was elsewhere. */
  moveChannelDay(channelNo: string, billDate: string, to: DepositStateName): Promise<boolean>;
  /** Whether an item of that channel, day and txn is confirmed by a day reconciliation already recorded. */
  confirmedOnArrival(channelNo: string, accountingDate: string, channelTxnId: string): Promise<boolean>;
  /** Which of `days` ("<channel no>|<bill date>") have a day reconciliation recorded. */
  reconciledChannelDays(days: readonly string[]): Promise<Set<string>>;
  /** A DifferenceOpened: recorded open unless it is known already (a resolution that overtook it stays). */
  openDifference(difference: Difference): Promise<void>;
  /** A DifferenceResolved: recorded closed, whether or not its opening arrived. */
  closeDifference(difference: Difference): Promise<void>;
  /**
   * Confirms the items the difference named whose channel day is confirmed
   * and that no other open difference names; returns how many.
   */
  confirmNamedBy(differenceId: string): Promise<bigint>;

  /** Merchants with unbatched items due by the date, or a hold released by it. */
  merchantsDue(settlementDate: string, limit: number, afterMerchantId: string): Promise<string[]>;
  /** Creates the batch (items assigned, totals fixed) unless it exists; returns it and whether it is new. */
  createBatch(
    merchantId: string,
    settlementDate: string,
    onlyConfirmed: boolean,
    decide: (
      carriedInMinor: bigint,
      totals: BatchTotals,
    ) => { payoutMinor: bigint; carriedOutMinor: bigint; releaseOn: string | null },
  ): Promise<{ batch: BatchRecord; created: boolean }>;
  /**
   * Creates, for each merchant of a page that has no batch for the date yet,
   * its batch in a handful of set-wise statements (carried-in amounts from
   * each merchant's latest batch, its due items assigned and summed, the
   * receivers' shares), with the decision of `decide` for each; returns the
   * batches created (merchants whose batch exists already are skipped).
   * Serialised per merchant with createBatch.
   */
  createBatches(
    merchants: readonly { readonly merchantId: string; readonly onlyConfirmed: boolean }[],
    settlementDate: string,
    decide: (
      merchantId: string,
      carriedInMinor: bigint,
      totals: BatchTotals,
    ) => { payoutMinor: bigint; carriedOutMinor: bigint; releaseOn: string | null },
  ): Promise<BatchRecord[]>;
  /** Writes the events to the outbox with one statement, in order. */
  publishMany(events: readonly OutboxEvent[]): Promise<void>;
  batchShares(batchId: string): Promise<Map<string, bigint>>;
  /** Records the payout of the current attempt (only while PAYING and none is recorded). */
  recordPayoutTxn(batchId: string, txnId: string): Promise<void>;
  /** Guarded by the transition table; false when the batch was elsewhere. */
  moveBatch(
    batchId: string,
    to: BatchStateName,
    set?: { payoutTxnId?: string | null; payoutAttempts?: number },
  ): Promise<boolean>;
}

/** A channel day reconciliation confirmed (its DayReconciled), as settlement records it. */
export interface ChannelDay {
  readonly channelNo: string;
  readonly billDate: string;
  readonly runId: string;
  readonly payChannel: string;
  readonly currency: string;
  /** What the channel settles for the day: pay − refunds − its fees (negative on a day of refunds). */
  readonly netSettlementMinor: bigint;
  /** The channel's own fees on the bill. */
  readonly channelFeeMinor: bigint;
  readonly confirmedItems: bigint;
  readonly differenceCount: bigint;
}

export interface ChannelDayRecord extends ChannelDay, DepositDay {}

export interface Difference {
  readonly differenceId: string;
  readonly channelNo: string;
  readonly billDate: string;
  readonly channelTxnNo: string;
  readonly merchantOrderNo: string;
  readonly platformTxnId: string;
  readonly open: boolean;
}

export interface SettlementStore {
  transaction<T>(name: string, isolation: IsolationLevel, fn: (tx: SettlementTx) => Promise<T>): Promise<T>;
  batch(batchId: string): Promise<BatchRecord | null>;
  batches(merchantId: string, limit: number): Promise<BatchRecord[]>;
  statementLines(batchId: string, limit: number): Promise<StatementLineRecord[]>;
  feeRules(merchantId: string): Promise<FeeRuleVersion[]>;
  /** A confirmed channel day with the fee income cleared on that channel that day (refunds by their payment's channel). */
  channelDayReport(
    channelNo: string,
    billDate: string,
  ): Promise<{ day: ChannelDayRecord; feeIncomeMinor: bigint } | null>;
  accountId(key: string): Promise<string | undefined>;
  saveAccountId(key: string, accountId: string): Promise<void>;
}

/** A posting as the account service takes it, accounts already resolved. */
export interface ResolvedLeg {
  readonly accountId: string;
  readonly side: 'DEBIT' | 'CREDIT';
  readonly amountMinor: bigint;
}

export interface AccountRef {
  readonly ownerType: 'MERCHANT' | 'INTERNAL';
  readonly ownerId: string;
  readonly subject: string;
  readonly normalSide: 'DEBIT' | 'CREDIT';
  readonly allowOverdraft: boolean;
}

export interface AccountPort {
  /** The id of an existing account of that owner, subject and currency (the oldest), if any. */
  find(ref: AccountRef, currency: string): Promise<string | undefined>;
  open(requestId: string, bizCode: string, ref: AccountRef, currency: string): Promise<string>;
  transfer(
    requestId: string,
    bizCode: string,
    legs: readonly ResolvedLeg[],
    currency: string,
    memo: string,
  ): Promise<void>;
}

export type PayoutState = 'PROCESSING' | 'SUCCESS' | 'FAIL' | 'UNKNOWN';

export interface PayoutPort {
  createPayout(
    requestId: string,
    bizCode: string,
    amountMinor: bigint,
    bank: { accountNo: string; accountName: string; bankCode: string },
  ): Promise<{ txnId: string; state: PayoutState }>;
  queryPayout(txnId: string): Promise<{ txnId: string; state: PayoutState }>;
}

export type { PostingLeg };
