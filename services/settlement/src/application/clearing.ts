/**
 * Clearing (清分): cashier's payment_succeeded / refund_succeeded facts
 * become settlement's own items, each with its fee by the rule in force on
 * its accounting day, its settlement date by the merchant's cycle, and (when
 * the merchant shares automatically) its split. Refunds return fee and claw
 * back shares along the payment's split. Runs inside the inbox transaction
 * of the event, so an event is cleared exactly once.
 */
import { paymentFee, refundFee, ruleInForce } from '../domain/fees';
import { settlementDateOf, type BusinessCalendar } from '../domain/cycles';
import { clawBack, split } from '../domain/sharing';
import { SettlementError } from '../domain/errors';
import type { NewItem, Profile, SettlementTx } from './ports';

export interface PaymentFact {
  readonly paymentId: string;
  readonly orderId: string;
  readonly merchantId: string;
  readonly merchantOrderNo: string;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly bizCode: string;
  readonly channelNo: string;
  readonly channelTxnId: string;
  readonly payChannel: string;
  readonly accountingDate: string;
}

export interface RefundFact {
  readonly refundId: string;
  readonly orderId: string;
  readonly merchantId: string;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly bizCode: string;
  readonly accountingDate: string;
}

/** Internal parts (balance, coupon) need no channel reconciliation. */
export const INTERNAL_CHANNEL_NO = '000000';

export const DEFAULT_PROFILE = (merchantId: string): Profile => ({
  merchantId,
  kind: 'T_PLUS_N',
  offsetDays: 1,
  anchorDay: 0,
  minimumPayoutMinor: 0n,
  holdUnconfirmed: false,
  d0HoldRate: '0',
  autoShare: false,
  bankAccountNo: '',
  bankAccountName: '',
  bankCode: '',
});

export class Clearing {
  constructor(private readonly calendar: BusinessCalendar) {}

  async merchantRegistered(
    tx: SettlementTx,
    merchantId: string,
    name: string,
    currency: string,
  ): Promise<void> {
    await tx.insertMerchant(merchantId, name, currency);
  }

  async payment(tx: SettlementTx, fact: PaymentFact): Promise<void> {
    if (!(await tx.merchantExists(fact.merchantId))) {
      throw new SettlementError(
        'MERCHANT_NOT_FOUND',
        `payment ${fact.paymentId} of unknown merchant ${fact.merchantId}`,
      );
    }
    const profile = (await tx.profile(fact.merchantId)) ?? DEFAULT_PROFILE(fact.merchantId);
    const product = fact.bizCode.slice(0, 6);
    const rule = ruleInForce(
      await tx.feeRules(fact.merchantId, product, fact.payChannel),
      product,
      fact.payChannel,
      fact.accountingDate,
    );
    const monthBefore = await tx.addMonthVolume(
      fact.merchantId,
      fact.accountingDate.slice(0, 7),
      fact.amountMinor,
    );
    const fee = rule === undefined ? 0n : paymentFee(rule, fact.amountMinor, monthBefore).feeMinor;
    const item = this.payItemOf(fact, profile, rule, fee, await this.confirmedOnArrival(tx, fact));
    if (!(await tx.insertItem(item))) return;
    if (profile.autoShare) await this.splitPayment(tx, fact.merchantId, fact.paymentId);
  }

  /**
   * Clears many payments in one transaction, with the effect of clearing
   * them one after another in this order: a statement per step for all of
   * them (merchants, profiles, fee rules, month volumes, items) instead of
   * one per payment. Month-volume tiers see the volume before each payment,
   * earlier payments of the same batch included. Any unknown merchant
   * refuses the whole batch (the caller then clears one by one).
   */
  async payments(tx: SettlementTx, facts: readonly PaymentFact[]): Promise<void> {
    if (facts.length === 0) return;
    const merchantIds = [...new Set(facts.map((f) => f.merchantId))];
    const known = await tx.merchantsKnown(merchantIds);
    const unknown = facts.find((f) => !known.has(f.merchantId));
    if (unknown !== undefined) {
      throw new SettlementError(
        'MERCHANT_NOT_FOUND',
        `payment ${unknown.paymentId} of unknown merchant ${unknown.merchantId}`,
      );
    }
    const profiles = await tx.profilesOf(merchantIds);
    const rules = await tx.feeRulesOf(merchantIds);
    const totals = new Map<string, { merchantId: string; month: string; amountMinor: bigint }>();
    for (const f of facts) {
      const month = f.accountingDate.slice(0, 7);
      const key = `${f.merchantId}|${month}`;
      const t = totals.get(key) ?? { merchantId: f.merchantId, month, amountMinor: 0n };
      totals.set(key, { ...t, amountMinor: t.amountMinor + f.amountMinor });
    }
    // In key order, so two replicas' batches take the month rows in the same order (no deadlock).
    const keys = [...totals.keys()].sort();
    const volumes = await tx.addMonthVolumes(keys.map((k) => totals.get(k)).filter((t) => t !== undefined));
    const confirmed = await this.confirmedOnArrivalOf(tx, facts);
    // A batch's payments share few (cycle, day) pairs: each settlement date is computed once.
    const settleOns = new Map<string, string | null>();
    const settleOnOf = (profile: Profile, day: string): string | null => {
      const key = `${profile.kind}|${profile.offsetDays}|${profile.anchorDay}|${day}`;
      if (!settleOns.has(key)) settleOns.set(key, settlementDateOf(profile, day, this.calendar));
      return settleOns.get(key) ?? null;
    };
    const items = facts.map((fact) => {
      const profile = profiles.get(fact.merchantId) ?? DEFAULT_PROFILE(fact.merchantId);
      const product = fact.bizCode.slice(0, 6);
      const rule = ruleInForce(
        rules.get(fact.merchantId) ?? [],
        product,
        fact.payChannel,
        fact.accountingDate,
      );
      const key = `${fact.merchantId}|${fact.accountingDate.slice(0, 7)}`;
      const monthBefore = volumes.get(key) ?? 0n;
      volumes.set(key, monthBefore + fact.amountMinor);
      const fee = rule === undefined ? 0n : paymentFee(rule, fact.amountMinor, monthBefore).feeMinor;
      const settleOn = settleOnOf(profile, fact.accountingDate);
      return this.payItemOf(fact, profile, rule, fee, confirmed.has(fact.paymentId), settleOn);
    });
    const inserted = await tx.insertItems(items);
    for (const fact of facts) {
      if (!inserted.has(`pay:${fact.paymentId}`)) continue;
      const profile = profiles.get(fact.merchantId);
      if (profile?.autoShare === true) await this.splitPayment(tx, fact.merchantId, fact.paymentId);
    }
  }

  /** A payment cleared after its channel day was reconciled is confirmed by that day. */
  private async confirmedOnArrival(tx: SettlementTx, fact: PaymentFact): Promise<boolean> {
    return (
      fact.channelNo === INTERNAL_CHANNEL_NO ||
      (await tx.confirmedOnArrival(fact.channelNo, fact.accountingDate, fact.channelTxnId))
    );
  }

  /**
   * The payments of `facts` confirmed on arrival: one read of the days
   * already reconciled, then a check per payment only on those days (late
   * clearing is rare; a batch of the current day costs one statement).
   */
  private async confirmedOnArrivalOf(tx: SettlementTx, facts: readonly PaymentFact[]): Promise<Set<string>> {
    const dayOf = (f: PaymentFact): string => `${f.channelNo}|${f.accountingDate}`;
    const external = facts.filter((f) => f.channelNo !== INTERNAL_CHANNEL_NO);
    const reconciled = await tx.reconciledChannelDays([...new Set(external.map(dayOf))]);
    const confirmed = new Set(
      facts.filter((f) => f.channelNo === INTERNAL_CHANNEL_NO).map((f) => f.paymentId),
    );
    for (const fact of external) {
      if (reconciled.has(dayOf(fact)) && (await this.confirmedOnArrival(tx, fact)))
        confirmed.add(fact.paymentId);
    }
    return confirmed;
  }

  private payItemOf(
    fact: PaymentFact,
    profile: Profile,
    rule: { readonly ruleId: string } | undefined,
    fee: bigint,
    confirmed: boolean,
    settleOn: string | null = settlementDateOf(profile, fact.accountingDate, this.calendar),
  ): NewItem {
    return {
      itemId: `pay:${fact.paymentId}`,
      kind: 'PAY',
      merchantId: fact.merchantId,
      orderId: fact.orderId,
      merchantOrderNo: fact.merchantOrderNo,
      paymentId: fact.paymentId,
      refundId: null,
      channelNo: fact.channelNo,
      channelTxnId: fact.channelTxnId,
      payChannel: fact.payChannel,
      bizCode: fact.bizCode,
      accountingDate: fact.accountingDate,
      amountMinor: fact.amountMinor,
      feeMinor: fee,
      currency: fact.currency,
      ruleId: rule?.ruleId ?? null,
      confirmed,
      settleOn,
    };
  }

  /** Splits a cleared, unsettled payment (idempotent: an existing split is returned). */
  async splitPayment(tx: SettlementTx, merchantId: string, paymentId: string) {
    const existing = await tx.split(paymentId);
    if (existing !== null) return existing;
    const item = await tx.payItem(paymentId);
    if (item === null || item.merchantId !== merchantId) {
      throw new SettlementError('ITEM_NOT_FOUND', `no cleared payment ${paymentId} of ${merchantId}`, {
        field: 'payment_id',
      });
    }
    if (item.batchId !== null) {
      throw new SettlementError('ITEM_ALREADY_SETTLED', `payment ${paymentId} is in batch ${item.batchId}`);
    }
    const receivers = (await tx.receivers(merchantId))?.receivers ?? [];
    const base = item.amountMinor - item.feeMinor - item.refundedMinor + item.feeReturnedMinor;
    const shares = split(merchantId, base < 0n ? 0n : base, receivers);
    const made = { paymentId, baseMinor: base < 0n ? 0n : base, receivers, shares };
    await tx.insertSplit(made, merchantId);
    await tx.setItemShares(
      item.itemId,
      new Map(shares.filter((s) => s.receiverId !== merchantId).map((s) => [s.receiverId, s.amountMinor])),
      merchantId,
    );
    return made;
  }

  async refund(tx: SettlementTx, fact: RefundFact): Promise<void> {
    const pay = await tx.payItemOfOrder(fact.orderId);
    if (pay === null) {
      // The payment's event always precedes its refund's on cashier's stream; retry until it is here.
      throw new Error(`refund ${fact.refundId}: payment of order ${fact.orderId} not cleared yet`);
    }
    const rule = pay.ruleId === null ? null : await tx.ruleTerms(pay.ruleId);
    const returned = refundFee(
      rule?.refundReturnsFee ?? false,
      pay.amountMinor,
      pay.feeMinor,
      pay.refundedMinor,
      fact.amountMinor,
    );
    const profile = (await tx.profile(fact.merchantId)) ?? DEFAULT_PROFILE(fact.merchantId);
    const inserted = await tx.insertItem({
      itemId: `refund:${fact.refundId}`,
      kind: 'REFUND',
      merchantId: fact.merchantId,
      orderId: fact.orderId,
      merchantOrderNo: '',
      paymentId: '',
      refundId: fact.refundId,
      channelNo: INTERNAL_CHANNEL_NO,
      channelTxnId: '',
      payChannel: '',
      bizCode: fact.bizCode,
      accountingDate: fact.accountingDate,
      amountMinor: fact.amountMinor,
      feeMinor: returned,
      currency: fact.currency,
      ruleId: pay.ruleId,
      // Refunds reduce what is owed to the merchant: never held back.
      confirmed: true,
      settleOn: settlementDateOf(profile, fact.accountingDate, this.calendar),
    });
    if (!inserted) return;
    const shares = await tx.itemShares(pay.itemId);
    if (shares.size === 0) return;
    const split = await tx.split(pay.paymentId);
    const ids = [...shares.keys()];
    const merchantShare = split?.shares.find((s) => s.receiverId === fact.merchantId)?.amountMinor ?? 0n;
    const before = await tx.clawedBack(fact.orderId);
    // The base the refund removes is split over every share, the merchant's own included.
    const all = [...ids.map((id) => shares.get(id) ?? 0n), merchantShare];
    const allBefore = [...ids.map((id) => before.get(id) ?? 0n), before.get(fact.merchantId) ?? 0n];
    const claws = clawBack(all, allBefore, fact.amountMinor - returned);
    const clawMap = new Map<string, bigint>(ids.map((id, i) => [id, claws[i] ?? 0n]));
    clawMap.set(fact.merchantId, claws[claws.length - 1] ?? 0n);
    await tx.setItemShares(`refund:${fact.refundId}`, clawMap, fact.merchantId);
  }
}
