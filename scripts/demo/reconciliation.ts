/**
 * The reconciliation part of `make demo`: after the day's payments, the
 * sandbox's bill faults are switched on for three payments of this part's
 * own (one line left out of the Alipay bill, one WeChat line 0.07 more, one
 * WeChat trade billed as REVOKED) plus one Alipay line for no order, then
 * today's Alipay and WeChat bills are downloaded through channel-router and
 * reconciled. It prints what was found (class, direction, amounts), what the
 * rules did, the suspense posted, the day's checks and the HTML report's
 * address; then an operator writes off the extra line and the report shows
 * the suspense gone. Expectations go through the demo's `expectThat`.
 */
import { randomBytes } from 'node:crypto';
import {
  cny,
  formatMoney,
  proto,
  reasonOf,
  ReconciliationErrorReason,
  type PaycoreClient,
} from '@paycore/client';

const { OrderState, PartKind, BizMode } = proto.cashier;
const { DifferenceClass, Direction, Resolution } = proto.reconciliationEvents;
type DayReport = proto.reconciliation.DayReport;
type Difference = proto.reconciliation.Difference;

export interface ReconciliationDemoOptions {
  /** The demo's client (its token, deadlines and idempotency keys). */
  readonly paycore: PaycoreClient;
  readonly httpEndpoints: Readonly<Record<string, string>>;
  readonly sandboxUrl: string;
  readonly expectThat: (what: string, ok: boolean, detail?: string) => boolean;
  readonly section: (title: string) => void;
}

const WAIT_MS_MAX = 60_000;
/** Reconciling a day downloads and matches a whole bill: a longer deadline than the demo's default. */
const RECONCILE_DEADLINE_MS = 60_000;
const RUN = randomBytes(3).toString('hex');
const id = (prefix: string): string => `${prefix}-${RUN}-${randomBytes(3).toString('hex')}`;
const yuan = (amountMinor: bigint): string => formatMoney({ amountMinor, currency: 'CNY' });
const name = (value: proto.reconciliationEvents.DifferenceClass): string =>
  DifferenceClass[value].replace('DIFFERENCE_CLASS_', '');
const direction = (value: proto.reconciliationEvents.Direction): string =>
  Direction[value].replace('DIRECTION_', '');

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>): Promise<T | undefined> {
  const deadline = Date.now() + WAIT_MS_MAX;
  while (Date.now() < deadline) {
    const value = await fn();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  process.stdout.write(`  (gave up waiting for ${what})\n`);
  return undefined;
}

async function post(url: string, body: unknown): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${await res.text()}`);
}

function channelPart(payChannel: string, amountMinor: bigint): proto.cashier.PaymentPart {
  return {
    kind: PartKind.PART_KIND_CHANNEL,
    amount: cny(amountMinor),
    payChannel,
    couponId: '',
    bizCode: '',
    refunded: undefined,
    channelTxnId: '',
    channelNo: '',
    asset: '',
    quantity: 0n,
    consumptionType: '',
  };
}

function printDay(report: DayReport, differences: readonly Difference[]): void {
  for (const c of report.classes)
    process.stdout.write(
      `  ${name(c.differenceClass).padEnd(17)} ${String(c.count).padStart(4)}  channel ${yuan(c.channelAmount)}  paycore ${yuan(c.platformAmount)}\n`,
    );
  for (const d of differences)
    process.stdout.write(
      `    ${d.state.padEnd(8)} ${name(d.differenceClass)} ${direction(d.direction)} ${d.merchantOrderNo}: paycore ${yuan(d.platformAmount)}, channel ${yuan(d.channelAmount)}, suspense ${yuan(d.suspenseAmount)}\n`,
    );
  for (const [rule, count] of Object.entries(report.rulesApplied))
    process.stdout.write(`    rule ${rule} × ${count}\n`);
  for (const check of report.checks)
    process.stdout.write(`    check ${check.name}: ${check.status} — ${check.detail}\n`);
}

/** Reconciles today's Alipay and WeChat bills with faults injected; returns false when reconciliation is not running. */
export async function reconciliationDemo(options: ReconciliationDemoOptions): Promise<boolean> {
  const { expectThat, section } = options;
  section("reconciliation (对账): today's bills with faults injected");
  if (options.paycore.endpoints['reconciliation'] === undefined) {
    expectThat('reconciliation is running', false, 'make up did not start it (deploy/services.json)');
    return false;
  }
  const { reconciliation: recon, cashier } = options.paycore;
  const merchantId = id('recon-shop');
  await cashier.registerMerchant({
    merchantId,
    name: 'reconciliation demo shop',
    notifyKey: `recon-demo-${RUN}-key-0123456789`,
    riskLimits: undefined,
  });
  const payments: {
    label: string;
    channel: 'alipay' | 'wechat';
    amount: bigint;
    fault: Record<string, unknown>;
  }[] = [
    {
      label: 'left out of the Alipay bill',
      channel: 'alipay',
      amount: 3_300n,
      fault: { kind: 'bill_missing' },
    },
    {
      label: 'billed 0.07 more by WeChat',
      channel: 'wechat',
      amount: 4_400n,
      fault: { kind: 'bill_wrong_amount', delta_fen: '7' },
    },
    {
      label: 'billed as REVOKED by WeChat',
      channel: 'wechat',
      amount: 5_500n,
      fault: { kind: 'bill_wrong_status' },
    },
  ];
  for (const payment of payments) {
    const order = await cashier.createPaymentOrder({
      merchantId,
      merchantOrderNo: id('no'),
      amount: cny(payment.amount),
      product: '100101',
      bizMode: BizMode.BIZ_MODE_INSTANT,
      subject: 'reconciliation demo',
      expireTime: undefined,
      notifyUrl: '',
    });
    const orderId = order.order?.orderId ?? '';
    const paid = await cashier.pay({
      orderId,
      payerId: id('payer'),
      parts: [channelPart(payment.channel === 'alipay' ? '1001' : '2001', payment.amount)],
    });
    const txnId = paid.payment?.parts[0]?.channelTxnId ?? '';
    await post(`${options.sandboxUrl}/sandbox/faults`, {
      ...payment.fault,
      channel: payment.channel,
      out_trade_no: txnId,
    });
    await post(`${options.sandboxUrl}/sandbox/pay`, {
      channel: payment.channel,
      out_trade_no: txnId,
      outcome: 'success',
    });
    const done = await waitFor(`order ${orderId} paid`, async () => {
      const got = await cashier.getPaymentOrder({ orderId });
      return got.order?.state === OrderState.ORDER_STATE_PAID ? true : undefined;
    });
    expectThat(`payment ${txnId} paid (${payment.label})`, done === true, yuan(payment.amount));
  }
  await post(`${options.sandboxUrl}/sandbox/faults`, {
    kind: 'bill_extra',
    channel: 'alipay',
    out_trade_no: `EXTRA-${RUN}`,
  });
  // Let channel.txn_updated reach reconciliation's own copy of the transactions.
  await new Promise((resolve) => setTimeout(resolve, 3_000));

  const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
  for (const channelNo of ['100001', '200001']) {
    let report: DayReport | undefined;
    try {
      report = (
        await recon.reconcileDay(
          { requestId: `demo-recon-${channelNo}-${today}`, channelNo, billDate: today },
          { deadlineMs: RECONCILE_DEADLINE_MS },
        )
      ).report;
    } catch (err) {
      if (reasonOf(err) !== ReconciliationErrorReason.DAY_ALREADY_RECONCILED) throw err;
      expectThat(
        `${channelNo} ${today} reconciled`,
        true,
        "by an earlier demo run; the report below is that run's",
      );
      report = (await recon.getDayReport({ channelNo, billDate: today })).report;
    }
    if (report === undefined) throw new Error('no report');
    const differences = (
      await recon.listDifferences({
        channelNo,
        billDate: today,
        pageSize: 500,
        pageToken: '',
      })
    ).differences;
    process.stdout.write(
      `  ${channelNo} ${today}: ${report.lineCount} bill lines, net settlement ${yuan(report.netSettlementAmount)}\n`,
    );
    printDay(report, differences);
    expectThat(
      `${channelNo}: the bill's totals equal its lines`,
      report.checks.some((c) => c.name === 'BILL_SUMMARY' && c.status === 'PASSED'),
    );
    const extra = differences.find((d) => d.merchantOrderNo === `EXTRA-${RUN}`);
    if (extra !== undefined && extra.state === 'OPEN') {
      expectThat(
        'the line for no order is 长款 in suspense',
        extra.suspenseAmount === extra.channelAmount,
        yuan(extra.suspenseAmount),
      );
      const resolved = await recon.resolveDifferences({
        operator: 'demo-operator',
        decisions: [
          {
            differenceId: extra.differenceId,
            resolution: Resolution.RESOLUTION_PLATFORM_IS_RIGHT,
            reason: 'the channel withdrew the line',
          },
        ],
        decisionsCsv: Buffer.alloc(0),
      });
      expectThat('an operator wrote it off (销账)', resolved.differences[0]?.state === 'RESOLVED');
      const after = (await recon.getDayReport({ channelNo, billDate: today })).report;
      const suspense = after?.checks.find((c) => c.name === 'SUSPENSE_BALANCE');
      expectThat(
        "account's suspense balances equal reconciliation's after write-off",
        suspense?.status === 'PASSED',
        suspense?.detail ?? '',
      );
    }
    const http = options.httpEndpoints['reconciliation'];
    if (http !== undefined)
      process.stdout.write(
        `  report: http://${http}/reconciliation/report.html?channel_no=${channelNo}&bill_date=${today}\n`,
      );
  }
  return true;
}
