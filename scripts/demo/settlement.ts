/**
 * The settlement part of `make demo`, in two steps around reconciliation:
 *
 * - `settlementPayments`, before today's bills are reconciled: three
 *   merchants of its own with a 0.6 % fee rule and a payout bank account —
 *   one settled T+1, one D0, one D0 with a minimum payout above its day —
 *   are paid through Alipay and WeChat at the sandbox, and one refunds part
 *   of a payment;
 * - `settlementDay`, after reconciliation: the D0 merchants are settled by
 *   RunSettlementDay of today, the T+1 merchant early on request for its
 *   settlement date (the next business day); it waits for each batch to end
 *   (paid, or carried forward under the minimum), prints each statement, and
 *   shows what reconciliation's confirmed days moved (GetChannelDay): the
 *   net to the reserve fund's bank deposit, the bill's fee to the channel's
 *   fee cost, and the platform's margin on each channel.
 *
 * The trial balance the demo prints at the end of the day includes these
 * postings. Profiles do not hold unconfirmed items back, so a second demo
 * run on the same day (its bills already reconciled) settles just the same.
 */
import { randomBytes } from 'node:crypto';
import { CN_BUSINESS_DAYS } from '@paycore/calendar';
import { cny, proto, reasonOf, SettlementErrorReason, type PaycoreClient } from '@paycore/client';

const { OwnerType } = proto.account;
const { BizMode, OrderState, PartKind, RefundState } = proto.cashier;
const { BatchState, CycleKind, DepositState, FeeBearer, FeeKind, TierBasis } = proto.settlement;
type OwnerType = proto.account.OwnerType;
type CycleKind = proto.settlement.CycleKind;
type Batch = proto.settlement.Batch;
type FeeRule = proto.settlement.FeeRule;

export interface SettlementDemoOptions {
  /** The demo's client (its token, deadlines, retries and idempotency keys). */
  readonly paycore: PaycoreClient;
  readonly sandboxUrl: string;
  readonly expectThat: (what: string, ok: boolean, detail?: string) => boolean;
  readonly section: (title: string) => void;
}

interface DemoMerchant {
  readonly label: string;
  readonly merchantId: string;
  readonly cycle: CycleKind;
  readonly minimumPayoutMinor: bigint;
  /** Σ payments − Σ refunds the demo made, minor units. */
  netMinor: bigint;
}

export interface SettlementDemoState {
  readonly merchants: readonly DemoMerchant[];
}

const WAIT_MS_MAX = 90_000;
const RUN = randomBytes(3).toString('hex');
const FINAL_STATES = new Set([
  BatchState.BATCH_STATE_PAID,
  BatchState.BATCH_STATE_CARRIED,
  BatchState.BATCH_STATE_EXCEPTION,
]);
const id = (prefix: string): string => `${prefix}-${RUN}-${randomBytes(3).toString('hex')}`;
const yuan = (minor: bigint): string => {
  const sign = minor < 0n ? '-' : '';
  const abs = minor < 0n ? -minor : minor;
  return `${sign}${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')}`;
};
const chinaToday = (): string => new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>): Promise<T | undefined> {
  const deadline = Date.now() + WAIT_MS_MAX;
  while (Date.now() < deadline) {
    const value = await fn();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  process.stdout.write(`  (gave up waiting for ${what})\n`);
  return undefined;
}

type Clients = PaycoreClient;

/** A fee rule of `rate` on every product and pay channel, borne by the merchant, kept on refunds. */
export function percentageFeeRule(merchantId: string, rate: string): FeeRule {
  return {
    ruleId: '',
    merchantId,
    product: '*',
    payChannel: '*',
    effectiveFrom: '2026-01-01',
    effectiveTo: '',
    kind: FeeKind.FEE_KIND_PERCENTAGE,
    rate,
    fixedMinor: 0n,
    minFeeMinor: 0n,
    maxFeeMinor: 0n,
    tierBasis: TierBasis.TIER_BASIS_UNSPECIFIED,
    tiers: [],
    rounding: 'ROUND_HALF_UP',
    bearer: FeeBearer.FEE_BEARER_MERCHANT,
    refundReturnsFee: false,
  };
}

async function register(c: Clients, label: string, cycle: CycleKind, minimumPayoutMinor: bigint) {
  const merchantId = id(`settle-${label.toLowerCase().replace(/[^a-z0-9]+/g, '')}`);
  await c.cashier.registerMerchant({
    requestId: id('reg'),
    merchantId,
    name: `settlement demo ${label}`,
    notifyKey: `settle-demo-${RUN}-key-0123456789`,
    riskLimits: undefined,
  });
  // Settlement learns of the merchant from cashier's event; its first settings wait for it.
  const profile = {
    merchantId,
    cycle,
    offsetDays: cycle === CycleKind.CYCLE_KIND_T_PLUS_N ? 1 : 0,
    anchorDay: 0,
    minimumPayoutMinor,
    holdUnconfirmed: false,
    d0HoldRate: '0',
    autoShare: false,
    bankAccountNo: '6222020200009876',
    bankAccountName: `Demo ${label} Ltd`,
    bankCode: 'ICBC',
  };
  // One request id for every attempt: a refused attempt changes nothing, so the next is the same request.
  const profileRequestId = id('prof');
  const stored = await waitFor(`settlement to know ${merchantId}`, async () => {
    try {
      await c.settlement.setSettlementProfile({
        requestId: profileRequestId,
        profile,
      });
      return true;
    } catch (err) {
      if (reasonOf(err) === SettlementErrorReason.MERCHANT_NOT_FOUND) return undefined;
      throw err;
    }
  });
  if (stored !== true) throw new Error(`settlement never learnt of merchant ${merchantId}`);
  await c.settlement.putFeeRule({
    requestId: id('fee'),
    rule: percentageFeeRule(merchantId, '0.006'),
  });
  return { label, merchantId, cycle, minimumPayoutMinor, netMinor: 0n };
}

async function sandbox(url: string, body: unknown): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${await res.text()}`);
}

async function payAndWait(
  c: Clients,
  options: SettlementDemoOptions,
  m: DemoMerchant,
  amountMinor: bigint,
  channel: 'alipay' | 'wechat',
): Promise<string> {
  const order = await c.cashier.createPaymentOrder({
    requestId: id('ord'),
    merchantId: m.merchantId,
    merchantOrderNo: id('no'),
    amount: cny(amountMinor),
    product: '100101',
    bizMode: BizMode.BIZ_MODE_INSTANT,
    subject: 'settlement demo',
    expireTime: undefined,
    notifyUrl: '',
  });
  const orderId = order.order?.orderId ?? '';
  const paid = await c.cashier.pay({
    requestId: id('pay'),
    orderId,
    payerId: id('payer'),
    parts: [
      {
        kind: PartKind.PART_KIND_CHANNEL,
        amount: cny(amountMinor),
        payChannel: channel === 'alipay' ? '1001' : '2001',
        couponId: '',
        bizCode: '',
        refunded: undefined,
        channelTxnId: '',
        channelNo: '',
        asset: '',
        quantity: 0n,
        consumptionType: '',
      },
    ],
  });
  await sandbox(`${options.sandboxUrl}/sandbox/pay`, {
    channel,
    out_trade_no: paid.payment?.parts[0]?.channelTxnId ?? '',
    outcome: 'success',
  });
  const done = await waitFor(`order ${orderId} paid`, async () => {
    const got = await c.cashier.getPaymentOrder({
      orderId,
      merchantId: '',
      merchantOrderNo: '',
    });
    return got.order?.state === OrderState.ORDER_STATE_PAID ? true : undefined;
  });
  options.expectThat(`${m.label}: ${yuan(amountMinor)} paid through ${channel}`, done === true);
  if (done === true) m.netMinor += amountMinor;
  return orderId;
}

async function refund(
  c: Clients,
  options: SettlementDemoOptions,
  m: DemoMerchant,
  orderId: string,
  amountMinor: bigint,
) {
  const res = await c.cashier.refund({
    requestId: id('rf'),
    orderId,
    merchantRefundNo: id('rn'),
    amount: cny(amountMinor),
    reason: 'settlement demo: one item returned',
  });
  const refundId = res.refund?.refundId ?? '';
  const done = await waitFor(`refund ${refundId}`, async () => {
    const got = await c.cashier.getRefund({
      refundId,
      merchantId: '',
      merchantRefundNo: '',
    });
    const state = got.refund?.state;
    return state === RefundState.REFUND_STATE_SUCCEEDED || state === RefundState.REFUND_STATE_FAILED
      ? state
      : undefined;
  });
  const ok = done === RefundState.REFUND_STATE_SUCCEEDED;
  options.expectThat(`${m.label}: ${yuan(amountMinor)} refunded`, ok);
  if (ok) m.netMinor -= amountMinor;
}

/** Before reconciliation: the merchants and their day of payments. */
export async function settlementPayments(options: SettlementDemoOptions): Promise<SettlementDemoState> {
  options.section('settlement (清结算): three merchants, their day of payments');
  const c = options.paycore;
  const tPlus1 = await register(c, 'T+1', CycleKind.CYCLE_KIND_T_PLUS_N, 0n);
  const d0 = await register(c, 'D0', CycleKind.CYCLE_KIND_D0, 0n);
  const small = await register(c, 'minimum', CycleKind.CYCLE_KIND_D0, 500_000n);
  const first = await payAndWait(c, options, tPlus1, 26_800n, 'alipay');
  await payAndWait(c, options, tPlus1, 9_900n, 'wechat');
  await refund(c, options, tPlus1, first, 6_800n);
  await payAndWait(c, options, d0, 15_000n, 'alipay');
  await payAndWait(c, options, d0, 7_777n, 'wechat');
  await payAndWait(c, options, small, 12_300n, 'alipay');
  return { merchants: [tPlus1, d0, small] };
}

function printStatement(
  m: DemoMerchant,
  batch: Batch,
  lines: readonly {
    type: string;
    merchantOrderNo: string;
    grossMinor: bigint;
    feeMinor: bigint;
    netMinor: bigint;
  }[],
): void {
  const state = BatchState[batch.state].replace('BATCH_STATE_', '');
  process.stdout.write(
    `  ${m.label} (${m.merchantId}) batch ${batch.batchId} for ${batch.settlementDate}: ${state}\n` +
      `    gross ${yuan(batch.grossMinor)}  refunds ${yuan(batch.refundsMinor)}  fees ${yuan(batch.feesMinor)}  shares ${yuan(batch.sharesMinor)}  carried in ${yuan(batch.carriedInMinor)}\n` +
      `    payout ${yuan(batch.payoutMinor)}  carried forward ${yuan(batch.carriedOutMinor)}\n`,
  );
  for (const line of lines)
    process.stdout.write(
      `      ${line.type.padEnd(8)} ${line.merchantOrderNo.padEnd(28)} gross ${yuan(line.grossMinor).padStart(9)}  fee ${yuan(line.feeMinor).padStart(7)}  net ${yuan(line.netMinor).padStart(9)}\n`,
    );
}

async function settle(c: Clients, today: string, m: DemoMerchant): Promise<Batch | undefined> {
  if (m.cycle === CycleKind.CYCLE_KIND_T_PLUS_N) {
    // Its settlement date is the next business day; settled early, on request, so the demo shows it.
    const date = CN_BUSINESS_DAYS.addBusinessDays(today, 1);
    await c.settlement.requestSettlement({
      requestId: id('req'),
      merchantId: m.merchantId,
      settlementDate: date,
    });
  }
  return waitFor(`batch of ${m.merchantId}`, async () => {
    const list = await c.settlement.listBatches({ merchantId: m.merchantId });
    const batch = list.batches[0];
    return batch !== undefined && FINAL_STATES.has(batch.state) ? batch : undefined;
  });
}

async function balanceOf(
  c: Clients,
  ownerType: OwnerType,
  ownerId: string,
  subject: string,
): Promise<bigint | undefined> {
  const list = await c.account.listAccounts({ ownerType, ownerId, page: undefined });
  const found = list.accounts.filter((a) => a.subjectCode === subject);
  if (found.length === 0) return undefined;
  return found.reduce(
    (sum, a) => sum + (a.balance?.available?.amountMinor ?? 0n) + (a.balance?.frozen?.amountMinor ?? 0n),
    0n,
  );
}

/** After reconciliation: settle, print statements, show the deposit move and the channels' fee cost. */
export async function settlementDay(
  options: SettlementDemoOptions,
  state: SettlementDemoState,
): Promise<void> {
  const { expectThat } = options;
  options.section('settlement: the day settled, statements');
  const c = options.paycore;
  const today = chinaToday();
  const run = await c.settlement.runSettlementDay({
    requestId: id('run'),
    settlementDate: today,
  });
  expectThat(`RunSettlementDay ${today}`, true, `${run.batchesCreated} batch(es) created`);
  for (const m of state.merchants) {
    const batch = await settle(c, today, m);
    if (batch === undefined) {
      expectThat(`${m.label}: batch final`, false);
      continue;
    }
    const statement = await c.settlement.getStatement({ batchId: batch.batchId });
    printStatement(m, batch, statement.lines);
    const carried = batch.carriedOutMinor - batch.carriedInMinor;
    expectThat(
      `${m.label}: payout + fees + shares + carried = net clearing, to the cent`,
      batch.payoutMinor + batch.feesMinor + batch.sharesMinor + carried === m.netMinor,
      `${yuan(batch.payoutMinor)} + ${yuan(batch.feesMinor)} + ${yuan(batch.sharesMinor)} + ${yuan(carried)} = ${yuan(m.netMinor)}`,
    );
    const wanted =
      m.minimumPayoutMinor > m.netMinor ? BatchState.BATCH_STATE_CARRIED : BatchState.BATCH_STATE_PAID;
    expectThat(
      `${m.label}: ${wanted === BatchState.BATCH_STATE_CARRIED ? 'under its minimum, carried forward' : 'paid out to its bank account'}`,
      batch.state === wanted,
    );
  }

  options.section("settlement: reconciled channel days moved to the reserve fund's bank deposit");
  for (const channelNo of ['100001', '200001']) {
    const day = await waitFor(`${channelNo} ${today} deposited`, async () => {
      try {
        const got = await c.settlement.getChannelDay({
          channelNo,
          billDate: today,
        });
        return got.day?.depositState === DepositState.DEPOSIT_STATE_DEPOSITED ? got.day : undefined;
      } catch (err) {
        if (reasonOf(err) === SettlementErrorReason.CHANNEL_DAY_NOT_FOUND) return undefined; // DayReconciled on its way
        throw err;
      }
    });
    if (day !== undefined)
      process.stdout.write(
        `  ${channelNo} ${today}: net ${yuan(day.netSettlementMinor)} -> ${day.depositSubject}${day.transitSubject !== '' ? ` via ${day.transitSubject}` : ''}, channel fee ${yuan(day.channelFeeMinor)}, fee income ${yuan(day.feeIncomeMinor)}, margin ${yuan(day.marginMinor)}\n`,
      );
    const cost = await balanceOf(c, OwnerType.OWNER_TYPE_INTERNAL, `channel-${channelNo}`, '660301');
    expectThat(
      `${channelNo}: the bill's net deposited, its fee booked as channel fee cost (660301)`,
      day !== undefined && cost !== undefined && cost >= day.channelFeeMinor,
      cost === undefined ? 'not booked' : `cost to date ${yuan(cost)}`,
    );
  }
  const deposit = await balanceOf(c, OwnerType.OWNER_TYPE_INTERNAL, 'platform', '100201');
  expectThat(
    "the bills' net is in the reserve fund deposit at bank A (100201)",
    deposit !== undefined && deposit > 0n,
    deposit === undefined ? 'no account' : yuan(deposit),
  );
}
