/**
 * SettlementStore over Postgres. Reads and writes only; every decision is in
 * the application or the domain. Batch creation is set-based: for a page of
 * merchants (createBatches, ADR 0059) one statement opens their batches, one
 * assigns and sums their due items, one writes the decisions.
 */
import assert from 'node:assert/strict';
import type { DataSource } from 'typeorm';
import type { BatchStateName, BatchTotals } from '../../domain/batch';
import { BATCH_TRANSITIONS } from '../../domain/batch';
import type { CycleKindName } from '../../domain/cycles';
import { DEPOSIT_TRANSITIONS, type DepositRoute, type DepositStateName } from '../../domain/deposit';
import type { FeeRuleTerms, FeeRuleVersion } from '../../domain/fees';
import type { Receiver, Share } from '../../domain/sharing';
import type {
  BatchRecord,
  ChannelDay,
  ChannelDayRecord,
  Difference,
  NewItem,
  PayItem,
  Profile,
  SettlementStore,
  SettlementTx,
  Split,
  StatementLineRecord,
} from '../../application/ports';
import type { EntityManager } from 'typeorm';
import {
  createUnitOfWork,
  OUTBOX_EVENTS_PER_WRITE_MAX,
  SQL_NOW,
  writeOutboxMany,
  type Claim,
  type EntityStates,
  type IdempotentRequest,
  type IsolationLevel,
  type OutboxEvent,
  type SqlTx,
  type UnitOfWork,
} from '@paycore/platform';
import { inboxSqlTx } from './inbox-tx';

const BATCH_STATES: EntityStates<BatchStateName> = {
  name: 'batch',
  table: 'batches',
  idColumn: 'batch_id',
  stateColumn: 'state',
  transitions: BATCH_TRANSITIONS,
};

const CHANNEL_DAY_STATES: EntityStates<DepositStateName> = {
  name: 'channel day',
  table: 'channel_days',
  idColumn: 'day_id',
  stateColumn: 'deposit_state',
  transitions: DEPOSIT_TRANSITIONS,
};

/**
 * An item `i` that no open difference of its channel names: reconciliation
 * names paycore's items by channel-router's txn id (the merchant order number
 * sent to the channel), the id cashier's payment part carries. Any day of the
 * channel counts, since a payment finished near midnight can be on the
 * neighbouring day's bill.
 */
const NOT_DISPUTED = `NOT EXISTS (SELECT 1 FROM differences d WHERE d.open AND d.channel_no = i.channel_no
  AND i.channel_txn_id <> '' AND i.channel_txn_id IN (d.platform_txn_id, d.merchant_order_no))`;

const EMPTY_TOTALS: BatchTotals = {
  itemCount: 0n,
  grossMinor: 0n,
  refundsMinor: 0n,
  feesMinor: 0n,
  sharesMinor: 0n,
};

const dayId = (channelNo: string, billDate: string): string => `${channelNo}:${billDate}`;

type Row = Record<string, unknown>;
const big = (v: unknown): bigint =>
  typeof v === 'bigint' ? v : typeof v === 'number' || typeof v === 'string' ? BigInt(v) : 0n;
const str = (v: unknown): string =>
  typeof v === 'string'
    ? v
    : typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean'
      ? String(v)
      : '';
const day = (v: unknown): string => (v instanceof Date ? v.toISOString().slice(0, 10) : str(v).slice(0, 10));

function termsToJson(terms: FeeRuleTerms): string {
  return JSON.stringify(terms, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

function termsFromJson(value: unknown): FeeRuleTerms {
  const t = value as Record<string, unknown> & { tiers: Record<string, unknown>[] };
  return {
    kind: t['kind'] as FeeRuleTerms['kind'],
    rate: str(t['rate']),
    fixedMinor: big(t['fixedMinor']),
    minFeeMinor: big(t['minFeeMinor']),
    maxFeeMinor: big(t['maxFeeMinor']),
    tierBasis: t['tierBasis'] as FeeRuleTerms['tierBasis'],
    tiers: t.tiers.map((x) => ({
      fromMinor: big(x['fromMinor']),
      rate: str(x['rate']),
      fixedMinor: big(x['fixedMinor']),
    })),
    rounding: t['rounding'] as FeeRuleTerms['rounding'],
    bearer: t['bearer'] as FeeRuleTerms['bearer'],
    refundReturnsFee: t['refundReturnsFee'] === true,
  };
}

function ruleOf(row: Row): FeeRuleVersion {
  return {
    ...termsFromJson(row['terms']),
    ruleId: str(row['rule_id']),
    merchantId: str(row['merchant_id']),
    product: str(row['product']),
    payChannel: str(row['pay_channel']),
    effectiveFrom: day(row['effective_from']),
    effectiveTo: row['effective_to'] === null ? null : day(row['effective_to']),
  };
}

function batchOf(row: Row): BatchRecord {
  return {
    batchId: str(row['batch_id']),
    merchantId: str(row['merchant_id']),
    settlementDate: day(row['settlement_date']),
    state: str(row['state']) as BatchStateName,
    itemCount: big(row['item_count']),
    grossMinor: big(row['gross_minor']),
    refundsMinor: big(row['refunds_minor']),
    feesMinor: big(row['fees_minor']),
    sharesMinor: big(row['shares_minor']),
    carriedInMinor: big(row['carried_in_minor']),
    payoutMinor: big(row['payout_minor']),
    carriedOutMinor: big(row['carried_out_minor']),
    currency: str(row['currency']),
    releaseOn: row['release_on'] === null ? null : day(row['release_on']),
    payoutTxnId: row['payout_txn_id'] === null ? null : str(row['payout_txn_id']),
    payoutAttempts: Number(row['payout_attempts']),
    createdAt: row['created_at'] as Date,
  };
}

function channelDayOf(row: Row): ChannelDayRecord {
  return {
    channelNo: str(row['channel_no']),
    billDate: day(row['bill_date']),
    runId: str(row['run_id']),
    payChannel: str(row['pay_channel']),
    currency: str(row['currency']),
    netSettlementMinor: big(row['net_settlement_minor']),
    channelFeeMinor: big(row['channel_fee_minor']),
    confirmedItems: big(row['confirmed_items']),
    differenceCount: big(row['difference_count']),
    state: str(row['deposit_state']) as DepositStateName,
    depositSubject: row['deposit_subject'] === null ? null : str(row['deposit_subject']),
    transitSubject: row['transit_subject'] === null ? null : str(row['transit_subject']),
  };
}

function profileOf(row: Row): Profile {
  return {
    merchantId: str(row['merchant_id']),
    kind: str(row['cycle']) as CycleKindName,
    offsetDays: Number(row['offset_days']),
    anchorDay: Number(row['anchor_day']),
    minimumPayoutMinor: big(row['minimum_payout_minor']),
    holdUnconfirmed: row['hold_unconfirmed'] === true,
    d0HoldRate: str(row['d0_hold_rate']),
    autoShare: row['auto_share'] === true,
    bankAccountNo: str(row['bank_account_no']),
    bankAccountName: str(row['bank_account_name']),
    bankCode: str(row['bank_code']),
  };
}

function receiversOf(value: unknown): Receiver[] {
  return (value as Record<string, unknown>[]).map((r) => ({
    receiverId: str(r['receiverId']),
    kind: r['kind'] as Receiver['kind'],
    ratio: str(r['ratio']),
    fixedMinor: big(r['fixedMinor']),
  }));
}

const jsonBig = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

class PgSettlementTx implements SettlementTx {
  constructor(private readonly sql: SqlTx) {}

  claim<R>(request: IdempotentRequest): Promise<Claim<R>> {
    return this.sql.claim<R>(request);
  }
  remember(request: IdempotentRequest, response: unknown): Promise<void> {
    return this.sql.remember(request, response);
  }
  publish(event: OutboxEvent): Promise<void> {
    return this.sql.publish(event);
  }

  async merchantExists(merchantId: string): Promise<boolean> {
    return (
      (await this.sql.query('SELECT 1 FROM merchants WHERE merchant_id = $1', [merchantId])).length === 1
    );
  }
  async insertMerchant(merchantId: string, name: string, currency: string): Promise<void> {
    await this.sql.query(
      'INSERT INTO merchants (merchant_id, name, currency) VALUES ($1, $2, $3) ON CONFLICT (merchant_id) DO NOTHING',
      [merchantId, name, currency],
    );
  }
  async profile(merchantId: string): Promise<Profile | null> {
    const rows = await this.sql.query('SELECT * FROM profiles WHERE merchant_id = $1', [merchantId]);
    return rows[0] === undefined ? null : profileOf(rows[0]);
  }
  async saveProfile(p: Profile): Promise<void> {
    await this.sql.query(
      `INSERT INTO profiles (merchant_id, cycle, offset_days, anchor_day, minimum_payout_minor, hold_unconfirmed,
         d0_hold_rate, auto_share, bank_account_no, bank_account_name, bank_code)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)
       ON CONFLICT (merchant_id) DO UPDATE SET cycle = $2, offset_days = $3, anchor_day = $4, minimum_payout_minor = $5,
         hold_unconfirmed = $6, d0_hold_rate = $7, auto_share = $8, bank_account_no = $9, bank_account_name = $10,
         bank_code = $11, updated_at = now()`,
      [
        p.merchantId,
        p.kind,
        p.offsetDays,
        p.anchorDay,
        p.minimumPayoutMinor.toString(),
        p.holdUnconfirmed,
        p.d0HoldRate,
        p.autoShare,
        p.bankAccountNo,
        p.bankAccountName,
        p.bankCode,
      ],
    );
  }

  async feeRules(
    merchantId: string,
    product: string | null,
    payChannel: string | null,
  ): Promise<FeeRuleVersion[]> {
    const rows = await this.sql.query(
      `SELECT * FROM fee_rules WHERE merchant_id = $1 AND ($2::text IS NULL OR product IN ($2, '*'))
         AND ($3::text IS NULL OR pay_channel IN ($3, '*')) ORDER BY effective_from LIMIT 1000`,
      [merchantId, product, payChannel],
    );
    return rows.map(ruleOf);
  }
  async insertFeeRule(
    merchantId: string,
    product: string,
    payChannel: string,
    effectiveFrom: string,
    terms: FeeRuleTerms,
  ) {
    await this.sql.query(
      `UPDATE fee_rules SET effective_to = ($4::date - 1) WHERE merchant_id = $1 AND product = $2 AND pay_channel = $3
         AND effective_to IS NULL`,
      [merchantId, product, payChannel, effectiveFrom],
    );
    const rows = await this.sql.query(
      `INSERT INTO fee_rules (merchant_id, product, pay_channel, effective_from, terms) VALUES ($1,$2,$3,$4,$5::jsonb) RETURNING *`,
      [merchantId, product, payChannel, effectiveFrom, termsToJson(terms)],
    );
    return ruleOf(rows[0] ?? {});
  }
  async ruleTerms(ruleId: string): Promise<FeeRuleTerms | null> {
    const rows = await this.sql.query('SELECT terms FROM fee_rules WHERE rule_id = $1', [ruleId]);
    return rows[0] === undefined ? null : termsFromJson(rows[0]['terms']);
  }
  async addMonthVolume(merchantId: string, month: string, amountMinor: bigint): Promise<bigint> {
    const rows = await this.sql.query(
      `INSERT INTO month_volumes (merchant_id, month, volume_minor) VALUES ($1, $2, $3)
       ON CONFLICT (merchant_id, month) DO UPDATE SET volume_minor = month_volumes.volume_minor + $3
       RETURNING volume_minor - $3 AS before`,
      [merchantId, month, amountMinor.toString()],
    );
    return big(rows[0]?.['before']);
  }

  async merchantsKnown(merchantIds: readonly string[]): Promise<Set<string>> {
    const rows = await this.sql.query(
      'SELECT merchant_id FROM merchants WHERE merchant_id = ANY($1::text[])',
      [merchantIds],
    );
    return new Set(rows.map((r) => str(r['merchant_id'])));
  }
  async profilesOf(merchantIds: readonly string[]): Promise<Map<string, Profile>> {
    const rows = await this.sql.query('SELECT * FROM profiles WHERE merchant_id = ANY($1::text[])', [
      merchantIds,
    ]);
    return new Map(rows.map((r) => [str(r['merchant_id']), profileOf(r)]));
  }
  async feeRulesOf(merchantIds: readonly string[]): Promise<Map<string, FeeRuleVersion[]>> {
    const rows = await this.sql.query(
      'SELECT * FROM fee_rules WHERE merchant_id = ANY($1::text[]) ORDER BY merchant_id, effective_from',
      [merchantIds],
    );
    const byMerchant = new Map<string, FeeRuleVersion[]>();
    for (const row of rows) {
      const rule = ruleOf(row);
      const list = byMerchant.get(rule.merchantId) ?? [];
      list.push(rule);
      byMerchant.set(rule.merchantId, list);
    }
    return byMerchant;
  }
  async addMonthVolumes(
    totals: readonly { merchantId: string; month: string; amountMinor: bigint }[],
  ): Promise<Map<string, bigint>> {
    const rows = await this.sql.query(
      `INSERT INTO month_volumes (merchant_id, month, volume_minor)
       SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
       ON CONFLICT (merchant_id, month) DO UPDATE SET volume_minor = month_volumes.volume_minor + EXCLUDED.volume_minor
       RETURNING merchant_id, month, volume_minor AS after`,
      [
        totals.map((t) => t.merchantId),
        totals.map((t) => t.month),
        totals.map((t) => t.amountMinor.toString()),
      ],
    );
    const added = new Map(totals.map((t) => [`${t.merchantId}|${t.month}`, t.amountMinor]));
    return new Map(
      rows.map((r) => {
        const key = `${str(r['merchant_id'])}|${str(r['month'])}`;
        return [key, big(r['after']) - (added.get(key) ?? 0n)];
      }),
    );
  }
  async insertItems(items: readonly NewItem[]): Promise<Set<string>> {
    const column = <T>(f: (i: NewItem) => T): T[] => items.map(f);
    const rows = await this.sql.query(
      `INSERT INTO items (item_id, kind, merchant_id, order_id, merchant_order_no, payment_id, refund_id, channel_no,
         channel_txn_id, pay_channel, biz_code, accounting_date, amount_minor, fee_minor, currency, rule_id, confirmed, settle_on)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
         $9::text[], $10::text[], $11::text[], $12::date[], $13::bigint[], $14::bigint[], $15::text[], $16::uuid[],
         $17::boolean[], $18::date[])
       ON CONFLICT (item_id) DO NOTHING RETURNING item_id`,
      [
        column((i) => i.itemId),
        column((i) => i.kind),
        column((i) => i.merchantId),
        column((i) => i.orderId),
        column((i) => i.merchantOrderNo),
        column((i) => i.paymentId),
        column((i) => i.refundId),
        column((i) => i.channelNo),
        column((i) => i.channelTxnId),
        column((i) => i.payChannel),
        column((i) => i.bizCode),
        column((i) => i.accountingDate),
        column((i) => i.amountMinor.toString()),
        column((i) => i.feeMinor.toString()),
        column((i) => i.currency),
        column((i) => i.ruleId),
        column((i) => i.confirmed),
        column((i) => i.settleOn),
      ],
    );
    return new Set(rows.map((r) => str(r['item_id'])));
  }

  async receivers(merchantId: string) {
    const rows = await this.sql.query('SELECT version, receivers FROM receivers WHERE merchant_id = $1', [
      merchantId,
    ]);
    const row = rows[0];
    return row === undefined
      ? null
      : { version: big(row['version']), receivers: receiversOf(row['receivers']) };
  }
  async saveReceivers(merchantId: string, receivers: readonly Receiver[]): Promise<bigint> {
    const rows = await this.sql.query(
      `INSERT INTO receivers (merchant_id, version, receivers) VALUES ($1, 1, $2::jsonb)
       ON CONFLICT (merchant_id) DO UPDATE SET version = receivers.version + 1, receivers = $2::jsonb, updated_at = now()
       RETURNING version`,
      [merchantId, jsonBig(receivers)],
    );
    return big(rows[0]?.['version']);
  }

  async insertItem(i: NewItem): Promise<boolean> {
    const rows = await this.sql.query(
      `INSERT INTO items (item_id, kind, merchant_id, order_id, merchant_order_no, payment_id, refund_id, channel_no,
         channel_txn_id, pay_channel, biz_code, accounting_date, amount_minor, fee_minor, currency, rule_id, confirmed, settle_on)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)
       ON CONFLICT (item_id) DO NOTHING RETURNING item_id`,
      [
        i.itemId,
        i.kind,
        i.merchantId,
        i.orderId,
        i.merchantOrderNo,
        i.paymentId,
        i.refundId,
        i.channelNo,
        i.channelTxnId,
        i.payChannel,
        i.bizCode,
        i.accountingDate,
        i.amountMinor.toString(),
        i.feeMinor.toString(),
        i.currency,
        i.ruleId,
        i.confirmed,
        i.settleOn,
      ],
    );
    return rows.length === 1;
  }
  private async payItemWhere(column: 'order_id' | 'payment_id', value: string): Promise<PayItem | null> {
    const rows = await this.sql.query(
      `SELECT p.*, COALESCE(r.refunded, 0) AS refunded, COALESCE(r.fee_returned, 0) AS fee_returned
       FROM items p LEFT JOIN LATERAL (SELECT sum(amount_minor) AS refunded, sum(fee_minor) AS fee_returned
         FROM items WHERE kind = 'REFUND' AND order_id = p.order_id) r ON true
       WHERE p.kind = 'PAY' AND p.${column} = $1 FOR UPDATE OF p`,
      [value],
    );
    const row = rows[0];
    if (row === undefined) return null;
    return {
      itemId: str(row['item_id']),
      merchantId: str(row['merchant_id']),
      paymentId: str(row['payment_id']),
      orderId: str(row['order_id']),
      amountMinor: big(row['amount_minor']),
      feeMinor: big(row['fee_minor']),
      ruleId: row['rule_id'] === null ? null : str(row['rule_id']),
      batchId: row['batch_id'] === null ? null : str(row['batch_id']),
      refundedMinor: big(row['refunded']),
      feeReturnedMinor: big(row['fee_returned']),
    };
  }
  payItemOfOrder(orderId: string): Promise<PayItem | null> {
    return this.payItemWhere('order_id', orderId);
  }
  payItem(paymentId: string): Promise<PayItem | null> {
    return this.payItemWhere('payment_id', paymentId);
  }
  async split(paymentId: string): Promise<Split | null> {
    const rows = await this.sql.query('SELECT * FROM splits WHERE payment_id = $1', [paymentId]);
    const row = rows[0];
    if (row === undefined) return null;
    return {
      paymentId,
      baseMinor: big(row['base_minor']),
      receivers: receiversOf(row['receivers']),
      shares: (row['shares'] as Record<string, unknown>[]).map((s): Share => ({
        receiverId: str(s['receiverId']),
        amountMinor: big(s['amountMinor']),
      })),
    };
  }
  async insertSplit(split: Split, merchantId: string): Promise<void> {
    await this.sql.query(
      'INSERT INTO splits (payment_id, merchant_id, base_minor, receivers, shares) VALUES ($1,$2,$3,$4::jsonb,$5::jsonb)',
      [
        split.paymentId,
        merchantId,
        split.baseMinor.toString(),
        jsonBig(split.receivers),
        jsonBig(split.shares),
      ],
    );
  }
  async itemShares(itemId: string): Promise<Map<string, bigint>> {
    const rows = await this.sql.query(
      `SELECT s.receiver_id, s.amount_minor FROM item_shares s JOIN items i USING (item_id)
       WHERE s.item_id = $1 AND s.receiver_id <> i.merchant_id ORDER BY s.receiver_id`,
      [itemId],
    );
    return new Map(rows.map((r) => [str(r['receiver_id']), big(r['amount_minor'])]));
  }
  async clawedBack(orderId: string): Promise<Map<string, bigint>> {
    const rows = await this.sql.query(
      `SELECT s.receiver_id, sum(s.amount_minor) AS amount FROM item_shares s JOIN items i USING (item_id)
       WHERE i.order_id = $1 AND i.kind = 'REFUND' GROUP BY s.receiver_id`,
      [orderId],
    );
    return new Map(rows.map((r) => [str(r['receiver_id']), big(r['amount'])]));
  }
  async setItemShares(
    itemId: string,
    shares: ReadonlyMap<string, bigint>,
    merchantId: string,
  ): Promise<void> {
    let total = 0n;
    for (const [receiverId, amount] of shares) {
      await this.sql.query(
        'INSERT INTO item_shares (item_id, receiver_id, amount_minor) VALUES ($1, $2, $3)',
        [itemId, receiverId, amount.toString()],
      );
      if (receiverId !== merchantId) total += amount;
    }
    await this.sql.query('UPDATE items SET shares_minor = $2 WHERE item_id = $1', [itemId, total.toString()]);
  }

  async confirmChannelDay(channelNo: string, billDate: string): Promise<bigint> {
    const rows = await this.sql.query(
      `WITH confirmed AS (
         UPDATE items i SET confirmed = true
         WHERE i.channel_no = $1 AND i.accounting_date = $2 AND NOT i.confirmed AND ${NOT_DISPUTED}
         RETURNING 1)
       SELECT count(*) AS n FROM confirmed`,
      [channelNo, billDate],
    );
    return big(rows[0]?.['n']);
  }
  async differencesKnown(channelNo: string, billDate: string): Promise<bigint> {
    const rows = await this.sql.query(
      'SELECT count(*) AS n FROM differences WHERE channel_no = $1 AND bill_date = $2',
      [channelNo, billDate],
    );
    return big(rows[0]?.['n']);
  }
  async recordChannelDay(d: ChannelDay, route: DepositRoute | null): Promise<boolean> {
    const rows = await this.sql.query(
      `INSERT INTO channel_days (day_id, channel_no, bill_date, run_id, pay_channel, currency, net_settlement_minor,
         channel_fee_minor, confirmed_items, difference_count, deposit_state, deposit_subject, transit_subject)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) ON CONFLICT (channel_no, bill_date) DO NOTHING RETURNING day_id`,
      [
        dayId(d.channelNo, d.billDate),
        d.channelNo,
        d.billDate,
        d.runId,
        d.payChannel,
        d.currency,
        d.netSettlementMinor,
        d.channelFeeMinor,
        d.confirmedItems,
        d.differenceCount,
        // The initial state, which no transition produces.
        route === null ? 'UNMAPPED' : 'CONFIRMED',
        route?.depositSubject ?? null,
        route?.transitSubject ?? null,
      ],
    );
    return rows.length === 1;
  }
  async channelDay(channelNo: string, billDate: string): Promise<ChannelDayRecord | null> {
    const rows = await this.sql.query('SELECT * FROM channel_days WHERE day_id = $1', [
      dayId(channelNo, billDate),
    ]);
    return rows[0] === undefined ? null : channelDayOf(rows[0]);
  }
  async moveChannelDay(channelNo: string, billDate: string, to: DepositStateName): Promise<boolean> {
    const moved = await this.sql.transition(CHANNEL_DAY_STATES, dayId(channelNo, billDate), to, {
      updated_at: SQL_NOW,
    });
    return moved.changed;
  }
  async confirmedOnArrival(
    channelNo: string,
    accountingDate: string,
    channelTxnId: string,
  ): Promise<boolean> {
    const rows = await this.sql.query(
      `SELECT 1 FROM channel_days WHERE channel_no = $1 AND bill_date = $2
         AND NOT EXISTS (SELECT 1 FROM differences d WHERE d.open AND d.channel_no = $1 AND $3 <> ''
                           AND $3 IN (d.platform_txn_id, d.merchant_order_no))`,
      [channelNo, accountingDate, channelTxnId],
    );
    return rows.length === 1;
  }
  async reconciledChannelDays(days: readonly string[]): Promise<Set<string>> {
    if (days.length === 0) return new Set();
    const rows = await this.sql.query<{ day: string }>(
      `SELECT channel_no || '|' || bill_date::text AS day FROM channel_days
        WHERE channel_no || '|' || bill_date::text = ANY($1::text[])`,
      [days],
    );
    return new Set(rows.map((r) => r.day));
  }
  async openDifference(d: Difference): Promise<void> {
    await this.sql.query(
      `INSERT INTO differences (difference_id, channel_no, bill_date, channel_txn_no, merchant_order_no, platform_txn_id, open)
       VALUES ($1,$2,$3,$4,$5,$6,true) ON CONFLICT (difference_id) DO NOTHING`,
      [d.differenceId, d.channelNo, d.billDate, d.channelTxnNo, d.merchantOrderNo, d.platformTxnId],
    );
  }
  async closeDifference(d: Difference): Promise<void> {
    await this.sql.query(
      `INSERT INTO differences (difference_id, channel_no, bill_date, channel_txn_no, merchant_order_no, platform_txn_id, open)
       VALUES ($1,$2,$3,$4,$5,$6,false)
       ON CONFLICT (difference_id) DO UPDATE SET open = false, updated_at = now()`,
      [d.differenceId, d.channelNo, d.billDate, d.channelTxnNo, d.merchantOrderNo, d.platformTxnId],
    );
  }
  async confirmNamedBy(differenceId: string): Promise<bigint> {
    const rows = await this.sql.query(
      `WITH named AS (SELECT * FROM differences WHERE difference_id = $1),
       confirmed AS (
         UPDATE items i SET confirmed = true FROM named n
         WHERE i.channel_no = n.channel_no AND NOT i.confirmed AND i.channel_txn_id <> ''
           AND i.channel_txn_id IN (n.platform_txn_id, n.merchant_order_no)
           AND EXISTS (SELECT 1 FROM channel_days c WHERE c.channel_no = i.channel_no
                         AND c.bill_date IN (i.accounting_date, n.bill_date))
           AND ${NOT_DISPUTED}
         RETURNING 1)
       SELECT count(*) AS n FROM confirmed`,
      [differenceId],
    );
    return big(rows[0]?.['n']);
  }

  async merchantsDue(settlementDate: string, limit: number, afterMerchantId: string): Promise<string[]> {
    // The merchants with unbatched due items are walked one index probe each
    // (a loose index scan over items_due_idx, in merchant order), so that a
    // page reads its own merchants and not every unbatched item of the day
    // again: the planner, left to itself, sorted all remaining items per page
    // (2.6 s a page at 1,000,000 items; the walk takes about 30 ms).
    const rows = await this.sql.query(
      `WITH RECURSIVE walk(merchant_id) AS (
         (SELECT i.merchant_id FROM items i WHERE i.batch_id IS NULL AND i.settle_on <= $1 AND i.merchant_id > $2
          ORDER BY i.merchant_id LIMIT 1)
         UNION ALL
         SELECT (SELECT i.merchant_id FROM items i WHERE i.batch_id IS NULL AND i.settle_on <= $1
                   AND i.merchant_id > walk.merchant_id ORDER BY i.merchant_id LIMIT 1)
         FROM walk WHERE walk.merchant_id IS NOT NULL)
       SELECT merchant_id FROM (
         (SELECT w.merchant_id FROM walk w
          WHERE w.merchant_id IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM profiles p WHERE p.merchant_id = w.merchant_id AND p.cycle = 'MANUAL')
            -- Items a batch would take: unconfirmed ones only where the merchant does not hold them back.
            AND EXISTS (SELECT 1 FROM items i LEFT JOIN profiles hold ON hold.merchant_id = i.merchant_id
                        WHERE i.merchant_id = w.merchant_id AND i.batch_id IS NULL AND i.settle_on <= $1
                          AND (i.confirmed OR NOT COALESCE(hold.hold_unconfirmed, false)))
          LIMIT $3)
         UNION
         (SELECT DISTINCT merchant_id FROM batches WHERE release_on <= $1 AND carried_out_minor > 0 AND merchant_id > $2
            AND NOT EXISTS (SELECT 1 FROM batches later WHERE later.merchant_id = batches.merchant_id
                              AND later.settlement_date > batches.settlement_date)
            AND NOT EXISTS (SELECT 1 FROM profiles p WHERE p.merchant_id = batches.merchant_id AND p.cycle = 'MANUAL')
          ORDER BY merchant_id LIMIT $3)
       ) due
       ORDER BY merchant_id LIMIT $3`,
      [settlementDate, afterMerchantId, limit],
    );
    return rows.map((r) => str(r['merchant_id']));
  }

  async createBatch(
    merchantId: string,
    settlementDate: string,
    onlyConfirmed: boolean,
    decide: (
      carriedInMinor: bigint,
      totals: BatchTotals,
    ) => { payoutMinor: bigint; carriedOutMinor: bigint; releaseOn: string | null },
  ): Promise<{ batch: BatchRecord; created: boolean }> {
    // Serialises batch creation per merchant (two replicas running the same day).
    await this.sql.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`settlement-batch:${merchantId}`]);
    const existing = await this.sql.query(
      'SELECT * FROM batches WHERE merchant_id = $1 AND settlement_date = $2',
      [merchantId, settlementDate],
    );
    if (existing[0] !== undefined) return { batch: batchOf(existing[0]), created: false };
    const previous = await this.sql.query(
      'SELECT carried_out_minor, currency FROM batches WHERE merchant_id = $1 ORDER BY settlement_date DESC LIMIT 1',
      [merchantId],
    );
    const carriedIn = big(previous[0]?.['carried_out_minor']);
    const inserted = await this.sql.query(
      `INSERT INTO batches (merchant_id, settlement_date, state, item_count, gross_minor, refunds_minor, fees_minor,
         shares_minor, carried_in_minor, payout_minor, carried_out_minor, currency)
       VALUES ($1, $2, 'CREATED', 0, 0, 0, 0, 0, $3, 0, $3, 'CNY') RETURNING batch_id`,
      [merchantId, settlementDate, carriedIn.toString()],
    );
    const batchId = str(inserted[0]?.['batch_id']);
    // A manual merchant's items have no settlement date (settled on request):
    // a request takes those booked by the date.
    await this.sql.query(
      `UPDATE items SET batch_id = $1 WHERE merchant_id = $2 AND batch_id IS NULL
         AND (settle_on <= $3 OR (settle_on IS NULL AND accounting_date <= $3))
         AND (NOT $4::boolean OR confirmed)`,
      [batchId, merchantId, settlementDate, onlyConfirmed],
    );
    const totals = await this.batchTotals(batchId);
    const decision = decide(carriedIn, totals);
    await this.sql.query(
      `INSERT INTO batch_shares (batch_id, receiver_id, amount_minor)
       SELECT $1, s.receiver_id, sum(CASE i.kind WHEN 'PAY' THEN s.amount_minor ELSE -s.amount_minor END)
       FROM item_shares s JOIN items i USING (item_id)
       WHERE i.batch_id = $1 AND s.receiver_id <> i.merchant_id GROUP BY s.receiver_id`,
      [batchId],
    );
    const rows = await this.sql.query(
      `UPDATE batches SET item_count = $2, gross_minor = $3, refunds_minor = $4, fees_minor = $5, shares_minor = $6,
         payout_minor = $7, carried_out_minor = $8, release_on = $9 WHERE batch_id = $1 RETURNING *`,
      [
        batchId,
        totals.itemCount.toString(),
        totals.grossMinor.toString(),
        totals.refundsMinor.toString(),
        totals.feesMinor.toString(),
        totals.sharesMinor.toString(),
        decision.payoutMinor.toString(),
        decision.carriedOutMinor.toString(),
        decision.releaseOn,
      ],
    );
    return { batch: batchOf(rows[0] ?? {}), created: true };
  }
  /** What the items assigned to a batch add up to (one aggregate statement). */
  private async batchTotals(batchId: string): Promise<BatchTotals> {
    const sums = await this.sql.query(
      `SELECT count(*) AS n,
         COALESCE(sum(amount_minor) FILTER (WHERE kind = 'PAY'), 0) AS gross,
         COALESCE(sum(amount_minor) FILTER (WHERE kind = 'REFUND'), 0) AS refunds,
         COALESCE(sum(CASE kind WHEN 'PAY' THEN fee_minor ELSE -fee_minor END), 0) AS fees,
         COALESCE(sum(CASE kind WHEN 'PAY' THEN shares_minor ELSE -shares_minor END), 0) AS shares
       FROM items WHERE batch_id = $1`,
      [batchId],
    );
    const s = sums[0] ?? {};
    return {
      itemCount: big(s['n']),
      grossMinor: big(s['gross']),
      refundsMinor: big(s['refunds']),
      feesMinor: big(s['fees']),
      sharesMinor: big(s['shares']),
    };
  }

  async createBatches(
    merchants: readonly { readonly merchantId: string; readonly onlyConfirmed: boolean }[],
    settlementDate: string,
    decide: (
      merchantId: string,
      carriedInMinor: bigint,
      totals: BatchTotals,
    ) => { payoutMinor: bigint; carriedOutMinor: bigint; releaseOn: string | null },
  ): Promise<BatchRecord[]> {
    if (merchants.length === 0) return [];
    const opened = await this.openBatches(
      merchants.map((m) => m.merchantId),
      settlementDate,
    );
    if (opened.length === 0) return [];
    const onlyConfirmed = new Map(merchants.map((m) => [m.merchantId, m.onlyConfirmed]));
    const totalsOf = await this.assignDueItems(
      opened.map((o) => ({ ...o, onlyConfirmed: onlyConfirmed.get(o.merchantId) === true })),
      settlementDate,
    );
    const decided = opened.map((o) => {
      const totals = totalsOf.get(o.batchId) ?? EMPTY_TOTALS;
      return { batchId: o.batchId, totals, ...decide(o.merchantId, o.carriedInMinor, totals) };
    });
    const batchIds = opened.map((o) => o.batchId);
    await this.sql.query(
      `INSERT INTO batch_shares (batch_id, receiver_id, amount_minor)
       SELECT i.batch_id, s.receiver_id, sum(CASE i.kind WHEN 'PAY' THEN s.amount_minor ELSE -s.amount_minor END)
       FROM item_shares s JOIN items i USING (item_id)
       WHERE i.batch_id = ANY($1::uuid[]) AND s.receiver_id <> i.merchant_id GROUP BY i.batch_id, s.receiver_id`,
      [batchIds],
    );
    const rows = await this.writeDecisions(decided);
    const order = new Map(batchIds.map((id, n) => [id, n]));
    return rows.map(batchOf).sort((x, y) => (order.get(x.batchId) ?? 0) - (order.get(y.batchId) ?? 0));
  }

  /**
   * The page's new batches (CREATED, nothing assigned, carried in from each
   * merchant's latest batch as createBatch reads it); merchants whose batch
   * for the date exists are skipped by the unique key.
   */
  private async openBatches(ids: readonly string[], settlementDate: string) {
    assert.equal(new Set(ids).size, ids.length, 'a page names each merchant once');
    // The per-merchant lock of createBatch, taken in merchant order so that two
    // replicas running the same day (or a RequestSettlement) never deadlock.
    await this.sql.query(
      `SELECT count(pg_advisory_xact_lock(hashtext('settlement-batch:' || m))) AS n
       FROM (SELECT m FROM unnest($1::text[]) AS u(m) ORDER BY m) ordered`,
      [ids],
    );
    const rows = await this.sql.query(
      `INSERT INTO batches (merchant_id, settlement_date, state, item_count, gross_minor, refunds_minor, fees_minor,
         shares_minor, carried_in_minor, payout_minor, carried_out_minor, currency)
       SELECT m.merchant_id, $2::date, 'CREATED', 0, 0, 0, 0, 0, COALESCE(prev.carried_out_minor, 0), 0,
         COALESCE(prev.carried_out_minor, 0), 'CNY'
       FROM unnest($1::text[]) AS m(merchant_id)
       LEFT JOIN LATERAL (SELECT b.carried_out_minor FROM batches b WHERE b.merchant_id = m.merchant_id
                            ORDER BY b.settlement_date DESC LIMIT 1) prev ON true
       ORDER BY m.merchant_id
       ON CONFLICT (merchant_id, settlement_date) DO NOTHING
       RETURNING batch_id::text AS batch_id, merchant_id, carried_in_minor`,
      [ids, settlementDate],
    );
    return rows.map((r) => ({
      batchId: str(r['batch_id']),
      merchantId: str(r['merchant_id']),
      carriedInMinor: big(r['carried_in_minor']),
    }));
  }

  /** Assigns every new batch its merchant's due items and sums them, in one statement. */
  private async assignDueItems(
    page: readonly { batchId: string; merchantId: string; onlyConfirmed: boolean }[],
    settlementDate: string,
  ): Promise<Map<string, BatchTotals>> {
    const sums = await this.sql.query(
      `WITH page AS (
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::boolean[]) AS p(batch_id, merchant_id, only_confirmed)),
       assigned AS (
         UPDATE items i SET batch_id = page.batch_id FROM page
         WHERE i.merchant_id = page.merchant_id AND i.batch_id IS NULL AND i.settle_on <= $4
           AND (NOT page.only_confirmed OR i.confirmed)
         RETURNING i.batch_id, i.kind, i.amount_minor, i.fee_minor, i.shares_minor)
       SELECT batch_id::text AS batch_id, count(*) AS n,
         COALESCE(sum(amount_minor) FILTER (WHERE kind = 'PAY'), 0) AS gross,
         COALESCE(sum(amount_minor) FILTER (WHERE kind = 'REFUND'), 0) AS refunds,
         COALESCE(sum(CASE kind WHEN 'PAY' THEN fee_minor ELSE -fee_minor END), 0) AS fees,
         COALESCE(sum(CASE kind WHEN 'PAY' THEN shares_minor ELSE -shares_minor END), 0) AS shares
       FROM assigned GROUP BY batch_id`,
      [
        page.map((p) => p.batchId),
        page.map((p) => p.merchantId),
        page.map((p) => p.onlyConfirmed),
        settlementDate,
      ],
    );
    return new Map(
      sums.map((r) => [
        str(r['batch_id']),
        {
          itemCount: big(r['n']),
          grossMinor: big(r['gross']),
          refundsMinor: big(r['refunds']),
          feesMinor: big(r['fees']),
          sharesMinor: big(r['shares']),
        },
      ]),
    );
  }

  /** Each new batch's totals and decision, in one statement (the table's CHECK holds the sum). */
  private async writeDecisions(
    decided: readonly {
      batchId: string;
      totals: BatchTotals;
      payoutMinor: bigint;
      carriedOutMinor: bigint;
      releaseOn: string | null;
    }[],
  ): Promise<Row[]> {
    const column = <T>(f: (d: (typeof decided)[number]) => T): T[] => decided.map(f);
    const rows = await this.sql.query(
      `UPDATE batches b SET item_count = v.item_count, gross_minor = v.gross, refunds_minor = v.refunds,
         fees_minor = v.fees, shares_minor = v.shares, payout_minor = v.payout, carried_out_minor = v.carried_out,
         release_on = v.release_on
       FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[],
         $8::bigint[], $9::date[]) AS v(batch_id, item_count, gross, refunds, fees, shares, payout, carried_out, release_on)
       WHERE b.batch_id = v.batch_id RETURNING b.*`,
      [
        column((d) => d.batchId),
        column((d) => d.totals.itemCount.toString()),
        column((d) => d.totals.grossMinor.toString()),
        column((d) => d.totals.refundsMinor.toString()),
        column((d) => d.totals.feesMinor.toString()),
        column((d) => d.totals.sharesMinor.toString()),
        column((d) => d.payoutMinor.toString()),
        column((d) => d.carriedOutMinor.toString()),
        column((d) => d.releaseOn),
      ],
    );
    assert.equal(rows.length, decided.length, 'every new batch takes its totals and decision');
    return rows;
  }
  async publishMany(events: readonly OutboxEvent[]): Promise<void> {
    for (let from = 0; from < events.length; from += OUTBOX_EVENTS_PER_WRITE_MAX) {
      await writeOutboxMany(this.sql.manager, events.slice(from, from + OUTBOX_EVENTS_PER_WRITE_MAX));
    }
  }

  async batchShares(batchId: string): Promise<Map<string, bigint>> {
    const rows = await this.sql.query(
      'SELECT receiver_id, amount_minor FROM batch_shares WHERE batch_id = $1 ORDER BY receiver_id',
      [batchId],
    );
    return new Map(rows.map((r) => [str(r['receiver_id']), big(r['amount_minor'])]));
  }
  async recordPayoutTxn(batchId: string, txnId: string): Promise<void> {
    await this.sql.query(
      `UPDATE batches SET payout_txn_id = $2, updated_at = now() WHERE batch_id = $1 AND state = 'PAYING' AND payout_txn_id IS NULL`,
      [batchId, txnId],
    );
  }
  async moveBatch(
    batchId: string,
    to: BatchStateName,
    set: { payoutTxnId?: string | null; payoutAttempts?: number } = {},
  ): Promise<boolean> {
    const columns: Record<string, unknown> = { updated_at: SQL_NOW };
    if (set.payoutTxnId !== undefined) columns['payout_txn_id'] = set.payoutTxnId;
    if (set.payoutAttempts !== undefined) columns['payout_attempts'] = set.payoutAttempts;
    return (await this.sql.transition(BATCH_STATES, batchId, to, columns)).changed;
  }
}

export class PgSettlementStore implements SettlementStore {
  private readonly uow: UnitOfWork;

  constructor(private readonly dataSource: DataSource) {
    this.uow = createUnitOfWork(dataSource);
  }

  transaction<T>(name: string, isolation: IsolationLevel, fn: (tx: SettlementTx) => Promise<T>): Promise<T> {
    return this.uow.transaction(name, isolation, (sql) => fn(new PgSettlementTx(sql)));
  }

  /** The inbox consumer's transaction, seen through the same port. */
  inManager(manager: EntityManager): SettlementTx {
    return new PgSettlementTx(inboxSqlTx(manager));
  }

  async batch(batchId: string): Promise<BatchRecord | null> {
    const rows = await this.dataSource.query<Row[]>('SELECT * FROM batches WHERE batch_id = $1', [batchId]);
    return rows[0] === undefined ? null : batchOf(rows[0]);
  }
  async batches(merchantId: string, limit: number): Promise<BatchRecord[]> {
    const rows = await this.dataSource.query<Row[]>(
      'SELECT * FROM batches WHERE merchant_id = $1 ORDER BY settlement_date DESC LIMIT $2',
      [merchantId, limit],
    );
    return rows.map(batchOf);
  }
  async statementLines(batchId: string, limit: number): Promise<StatementLineRecord[]> {
    const rows = await this.dataSource.query<Row[]>(
      `SELECT i.kind, COALESCE(NULLIF(i.merchant_order_no, ''), p.merchant_order_no, '') AS merchant_order_no, i.order_id,
         i.amount_minor, i.fee_minor, i.shares_minor, i.accounting_date
       FROM items i LEFT JOIN items p ON p.kind = 'PAY' AND p.order_id = i.order_id AND i.kind = 'REFUND'
       WHERE i.batch_id = $1 ORDER BY i.accounting_date, merchant_order_no, i.item_id LIMIT $2`,
      [batchId, limit],
    );
    return rows.map((r) => {
      const pay = r['kind'] === 'PAY';
      const sign = pay ? 1n : -1n;
      const gross = big(r['amount_minor']);
      const fee = big(r['fee_minor']) * sign;
      const shares = big(r['shares_minor']) * sign;
      return {
        type: pay ? 'PAYMENT' : 'REFUND',
        merchantOrderNo: str(r['merchant_order_no']),
        orderId: str(r['order_id']),
        grossMinor: gross,
        feeMinor: fee,
        sharesMinor: shares,
        netMinor: gross * sign - fee - shares,
        bookingDate: day(r['accounting_date']),
      };
    });
  }
  async feeRules(merchantId: string): Promise<FeeRuleVersion[]> {
    const rows = await this.dataSource.query<Row[]>(
      'SELECT * FROM fee_rules WHERE merchant_id = $1 ORDER BY product, pay_channel, effective_from LIMIT 500',
      [merchantId],
    );
    return rows.map(ruleOf);
  }
  async channelDayReport(
    channelNo: string,
    billDate: string,
  ): Promise<{ day: ChannelDayRecord; feeIncomeMinor: bigint } | null> {
    const days = await this.dataSource.query<Row[]>('SELECT * FROM channel_days WHERE day_id = $1', [
      dayId(channelNo, billDate),
    ]);
    if (days[0] === undefined) return null;
    const income = await this.dataSource.query<Row[]>(
      `SELECT COALESCE(sum(CASE i.kind WHEN 'PAY' THEN i.fee_minor ELSE -i.fee_minor END), 0) AS fees
       FROM items i LEFT JOIN items p ON i.kind = 'REFUND' AND p.kind = 'PAY' AND p.order_id = i.order_id
       WHERE i.accounting_date = $2 AND COALESCE(p.channel_no, i.channel_no) = $1`,
      [channelNo, billDate],
    );
    return { day: channelDayOf(days[0]), feeIncomeMinor: big(income[0]?.['fees']) };
  }
  async accountId(key: string): Promise<string | undefined> {
    const rows = await this.dataSource.query<Row[]>(
      'SELECT account_id FROM account_ids WHERE account_key = $1',
      [key],
    );
    return rows[0] === undefined ? undefined : str(rows[0]['account_id']);
  }
  async saveAccountId(key: string, accountId: string): Promise<void> {
    await this.dataSource.query(
      'INSERT INTO account_ids (account_key, account_id) VALUES ($1, $2) ON CONFLICT (account_key) DO NOTHING',
      [key, accountId],
    );
  }
}
