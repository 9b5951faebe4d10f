/**
 * `make demo`: a scripted payment day against the platform `make up` started,
 * through the public gRPC APIs only, as a merchant or operator integrates:
 * @paycore/client with the addresses of .run/endpoints.json and the
 * development token of .run/dev-token (its token provider, deadlines,
 * generated idempotency keys and retries, error reason constants, the
 * notification verifier and money helpers):
 *
 *   merchants registered -> payers topped up (Alipay, WeChat) -> channel
 *   payments through both sandbox protocols -> a combined payment (balance +
 *   coupon + WeChat) -> escrow with confirmation -> refunds (partial and full)
 *   -> a declined payment -> a dropped channel notification recovered by
 *   status sync -> a withdrawal -> three merchants of settlement's (T+1, D0,
 *   D0 under its minimum) paid -> reconciliation of today's bills -> the
 *   settlement day (batches, payouts, statements; the confirmed bills' net
 *   moved to the reserve fund's deposit, their fees to channel fee cost) ->
 *   day sealing and ledger close.
 *
 * It prints a readable report (orders by state, merchant balances,
 * notification deliveries, the trial balance, the trace id of one payment
 * and the `paycore trace` command that shows it) and exits non-zero if any
 * expectation fails.
 *
 * The channel sandbox stands in for Alipay, WeChat Pay and the bank. When
 * `make up` runs one (`channel-sandbox` in .run/http-endpoints.json) the demo
 * uses it; otherwise it starts one inside this process. Either way it loads
 * the sandbox's merchant credentials into channel-router's registry first
 * (scripts/seed-channels.ts, as `make up` does), so a re-run always points the
 * registry at the live sandbox. Ids carry a run
 * prefix, so the demo can run again against the same platform.
 *
 * Environment: PAYCORE_RUN_DIR (default .run), DEMO_SANDBOX_TIME_SCALE
 * (default 60: channel retry schedules and bank settling run 60 times faster).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  AccountErrorReason,
  cny,
  createPaycoreClient,
  formatMoney,
  LedgerErrorReason,
  loadEndpointsFile,
  NOTIFY_ACK_BODY,
  parseTraceparent,
  proto,
  reasonOf,
  tokenFile,
  verifyNotification,
  type PaycoreClient,
} from '@paycore/client';
import { createLogger } from '@paycore/platform';
import { startSandbox, type RunningSandbox } from '@paycore/channel-sandbox';
import { seedChannelRegistry } from './seed-channels';
import { reconciliationDemo } from './demo/reconciliation';
import { settlementDay, settlementPayments } from './demo/settlement';

const { BizMode, OrderState, PartKind, PaymentState, RefundState, WithdrawalState } = proto.cashier;
const { BalanceDirection } = proto.ledger;
type BizMode = proto.cashier.BizMode;
type OrderState = proto.cashier.OrderState;
type PartKind = proto.cashier.PartKind;
type PaymentPart = proto.cashier.PaymentPart;

const ROOT = path.resolve(__dirname, '..');
const RUN_DIR = path.resolve(process.env['PAYCORE_RUN_DIR'] ?? path.join(ROOT, '.run'));
const REQUIRED_SERVICES = ['account', 'ledger', 'channel-router', 'cashier', 'settlement'] as const;
const CALL_DEADLINE_MS = 30_000;
const WAIT_MS_MAX = 60_000;
const SEAL_DAYS_MAX = 400;
const NOTIFY_KEY = `demo-notify-key-${randomBytes(8).toString('hex')}`;
const RUN = randomBytes(3).toString('hex');

// ---------------------------------------------------------------- plumbing

interface Expectation {
  readonly what: string;
  readonly ok: boolean;
  readonly detail: string;
}
const expectations: Expectation[] = [];

function expectThat(what: string, ok: boolean, detail = ''): boolean {
  expectations.push({ what, ok, detail });
  process.stdout.write(`  ${ok ? 'ok  ' : 'FAIL'} ${what}${detail !== '' ? ` (${detail})` : ''}\n`);
  return ok;
}

function section(title: string): void {
  process.stdout.write(`\n== ${title}\n`);
}

function readJson(file: string): Record<string, string> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
}

const yuan = (amountMinor: bigint): string => formatMoney({ amountMinor, currency: 'CNY' });
const id = (prefix: string): string => `${prefix}-${RUN}-${randomBytes(3).toString('hex')}`;

function chinaToday(): string {
  return new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
}
function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = WAIT_MS_MAX,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      process.stdout.write(`  .... gave up waiting for ${what} after ${timeoutMs} ms\n`);
      return undefined;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function part(kind: PartKind, amountMinor: bigint, extra: Partial<PaymentPart> = {}): PaymentPart {
  return {
    kind,
    amount: cny(amountMinor),
    payChannel: '',
    couponId: '',
    bizCode: '',
    refunded: undefined,
    channelTxnId: '',
    channelNo: '',
    asset: '',
    quantity: 0n,
    consumptionType: '',
    ...extra,
  };
}

// ------------------------------------------------------------ the webhook

interface Delivery {
  readonly orderId: string;
  readonly signatureValid: boolean;
}

function startWebhook(deliveries: Delivery[]): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      // The merchant's side of a notification: verify (signature over the exact bytes, replay window), then act.
      const verdict = verifyNotification({ notifyKey: NOTIFY_KEY, headers: req.headers, body });
      const signatureValid = verdict.ok;
      let orderId = verdict.ok ? verdict.notification.order_id : '';
      if (!verdict.ok) {
        try {
          const parsed = (JSON.parse(body.toString('utf8')) as { order_id?: unknown }).order_id;
          orderId = typeof parsed === 'string' ? parsed : '';
        } catch {
          orderId = '';
        }
      }
      deliveries.push({ orderId, signatureValid });
      res.writeHead(200, { 'content-type': 'text/plain' }).end(NOTIFY_ACK_BODY);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      resolve({ server, url: `http://127.0.0.1:${port}/paycore/notify` });
    });
  });
}

// ---------------------------------------------------------------- the day

type Clients = PaycoreClient;

class Day {
  readonly orders = new Map<string, { label: string; merchantId: string }>();
  traceId = '';

  constructor(
    private readonly c: Clients,
    private readonly sandboxUrl: string,
    private readonly notifyUrl: string,
  ) {}

  async registerMerchant(label: string): Promise<string> {
    const merchantId = id(label);
    await this.c.cashier.registerMerchant({
      merchantId,
      name: `${label} (demo ${RUN})`,
      notifyKey: NOTIFY_KEY,
      riskLimits: {
        perTransactionMaxMinor: 1_000_000n,
        merchantDailyMaxMinor: 0n,
        payerDailyMaxMinor: 0n,
        payerPaymentsPerMinuteMax: 0,
      },
    });
    return merchantId;
  }

  async sandboxPay(
    protocol: 'alipay' | 'wechat',
    txnId: string,
    outcome: 'success' | 'failed' = 'success',
  ): Promise<void> {
    const res = await fetch(`${this.sandboxUrl}/sandbox/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel: protocol, out_trade_no: txnId, outcome }),
    });
    if (res.status !== 200) throw new Error(`sandbox pay ${txnId}: ${res.status} ${await res.text()}`);
  }

  async topUp(
    payerId: string,
    amountMinor: bigint,
    payChannel: string,
    protocol: 'alipay' | 'wechat',
  ): Promise<boolean> {
    const res = await this.c.cashier.topUp({
      payerId,
      amount: cny(amountMinor),
      payChannel,
      target: proto.cashier.TopUpTarget.TOP_UP_TARGET_BALANCE,
    });
    await this.sandboxPay(protocol, res.payment?.parts[0]?.channelTxnId ?? '');
    const paid = await this.waitOrder(res.order?.orderId ?? '', OrderState.ORDER_STATE_PAID);
    return paid !== undefined;
  }

  async createOrder(
    label: string,
    merchantId: string,
    amountMinor: bigint,
    mode = BizMode.BIZ_MODE_INSTANT,
  ): Promise<proto.cashier.PaymentOrder> {
    const res = await this.c.cashier.createPaymentOrder({
      merchantId,
      merchantOrderNo: id('no'),
      amount: cny(amountMinor),
      product: '100101',
      bizMode: mode,
      subject: `demo ${label}`,
      expireTime: undefined,
      notifyUrl: this.notifyUrl,
    });
    if (!res.order) throw new Error('CreatePaymentOrder returned no order');
    this.orders.set(res.order.orderId, { label, merchantId });
    return res.order;
  }

  /** Pays; `onTraceparent` receives the W3C traceparent the client sent (the payment's trace). */
  pay(orderId: string, payerId: string, parts: PaymentPart[], onTraceparent?: (traceparent: string) => void) {
    return this.c.cashier.pay({ orderId, payerId, parts }, onTraceparent ? { onTraceparent } : {});
  }

  async view(orderId: string) {
    return this.c.cashier.getPaymentOrder({ orderId });
  }

  waitOrder(orderId: string, state: OrderState, timeoutMs = WAIT_MS_MAX) {
    return waitFor(
      `order ${orderId} ${OrderState[state]}`,
      async () => {
        const v = await this.view(orderId);
        return v.order?.state === state ? v : undefined;
      },
      timeoutMs,
    );
  }

  async refund(orderId: string, amountMinor: bigint, reason: string): Promise<boolean> {
    const res = await this.c.cashier.refund({
      orderId,
      merchantRefundNo: id('rn'),
      amount: cny(amountMinor),
      reason,
    });
    const refundId = res.refund?.refundId ?? '';
    const done = await waitFor(`refund ${refundId}`, async () => {
      const got = await this.c.cashier.getRefund({ refundId });
      return got.refund?.state === RefundState.REFUND_STATE_SUCCEEDED ||
        got.refund?.state === RefundState.REFUND_STATE_FAILED
        ? got.refund
        : undefined;
    });
    return done?.state === RefundState.REFUND_STATE_SUCCEEDED;
  }

  async balance(payerId: string, orderId: string): Promise<bigint> {
    const res = await this.c.cashier.listPayMethods({ orderId, payerId });
    return res.balance?.amountMinor ?? 0n;
  }

  async merchant(merchantId: string) {
    return this.c.cashier.getMerchant({ merchantId });
  }
}

async function runDay(c: Clients, sandboxUrl: string, notifyUrl: string): Promise<Day> {
  const day = new Day(c, sandboxUrl, notifyUrl);

  section('merchants');
  const mall = await day.registerMerchant('mall');
  const shop = await day.registerMerchant('escrow-shop');
  const bills = await day.registerMerchant('bills');
  expectThat('three merchants registered', true, `${mall}, ${shop}, ${bills}`);

  section('payers topped up');
  const alice = id('alice');
  const bob = id('bob');
  expectThat('alice topped up 200.00 through Alipay', await day.topUp(alice, 20_000n, '1001', 'alipay'));
  expectThat('bob topped up 100.00 through WeChat Pay', await day.topUp(bob, 10_000n, '2001', 'wechat'));

  section('channel payments, both sandbox protocols');
  const a = await day.createOrder('A alipay', mall, 8_800n);
  const payA = await day.pay(a.orderId, bob, [
    part(PartKind.PART_KIND_CHANNEL, 8_800n, { payChannel: '1001' }),
  ]);
  await day.sandboxPay('alipay', payA.payment?.parts[0]?.channelTxnId ?? '');
  expectThat(
    'order A paid through Alipay QR',
    (await day.waitOrder(a.orderId, OrderState.ORDER_STATE_PAID)) !== undefined,
    yuan(8_800n),
  );
  const b = await day.createOrder('B wechat', bills, 4_650n);
  const payB = await day.pay(b.orderId, alice, [
    part(PartKind.PART_KIND_CHANNEL, 4_650n, { payChannel: '2001' }),
  ]);
  await day.sandboxPay('wechat', payB.payment?.parts[0]?.channelTxnId ?? '');
  expectThat(
    'order B paid through WeChat native',
    (await day.waitOrder(b.orderId, OrderState.ORDER_STATE_PAID)) !== undefined,
    yuan(4_650n),
  );

  section('combined payment: balance + coupon + WeChat Pay');
  const coupon = await c.cashier.issueCoupon({
    payerId: alice,
    amount: cny(500n),
    expireTime: undefined,
  });
  const cOrder = await day.createOrder('C combined', mall, 12_000n);
  const payC = await day.pay(
    cOrder.orderId,
    alice,
    [
      part(PartKind.PART_KIND_BALANCE, 3_000n),
      part(PartKind.PART_KIND_COUPON, 500n, { couponId: coupon.coupon?.couponId ?? '' }),
      part(PartKind.PART_KIND_CHANNEL, 8_500n, { payChannel: '2001' }),
    ],
    (traceparent) => (day.traceId = parseTraceparent(traceparent)?.traceId ?? ''),
  );
  expectThat(
    'balance and coupon reserved while WeChat waits',
    payC.payment?.state === PaymentState.PAYMENT_STATE_PROCESSING,
  );
  await day.sandboxPay('wechat', payC.payment?.parts[2]?.channelTxnId ?? '');
  expectThat(
    'order C paid by three parts',
    (await day.waitOrder(cOrder.orderId, OrderState.ORDER_STATE_PAID)) !== undefined,
    '30.00 + 5.00 + 85.00',
  );

  section('escrow with confirmation');
  const d = await day.createOrder('D escrow', shop, 25_000n, BizMode.BIZ_MODE_ESCROW);
  const payD = await day.pay(d.orderId, bob, [
    part(PartKind.PART_KIND_CHANNEL, 25_000n, { payChannel: '1001' }),
  ]);
  await day.sandboxPay('alipay', payD.payment?.parts[0]?.channelTxnId ?? '');
  await day.waitOrder(d.orderId, OrderState.ORDER_STATE_PAID);
  const inEscrow = await day.merchant(shop);
  expectThat(
    'escrow holds the funds before confirmation',
    inEscrow.escrowBalance?.amountMinor === 25_000n && inEscrow.settlementBalance?.amountMinor === 0n,
    `escrow ${yuan(inEscrow.escrowBalance?.amountMinor ?? 0n)}`,
  );
  await c.cashier.confirmReceipt({ orderId: d.orderId });
  const released = await day.merchant(shop);
  expectThat(
    'ConfirmReceipt moves escrow to pending settlement',
    released.escrowBalance?.amountMinor === 0n && released.settlementBalance?.amountMinor === 25_000n,
  );

  section('refunds');
  expectThat('partial refund of C (40.00)', await day.refund(cOrder.orderId, 4_000n, 'one item returned'));
  expectThat(
    'second partial refund of C (80.00, the rest)',
    await day.refund(cOrder.orderId, 8_000n, 'rest returned'),
  );
  const cAfter = await day.view(cOrder.orderId);
  const cParts = cAfter.payments.find((p) => p.state === PaymentState.PAYMENT_STATE_SUCCEEDED)?.parts ?? [];
  expectThat(
    'every part of C came back exactly (balance, coupon, channel)',
    cAfter.order?.state === OrderState.ORDER_STATE_REFUNDED &&
      cParts.every((p) => p.refunded?.amountMinor === p.amount?.amountMinor),
    cParts
      .map(
        (p) =>
          `${PartKind[p.kind].replace('PART_KIND_', '').toLowerCase()} ${yuan(p.refunded?.amountMinor ?? 0n)}/${yuan(p.amount?.amountMinor ?? 0n)}`,
      )
      .join(', '),
  );
  expectThat('full refund of A', await day.refund(a.orderId, 8_800n, 'cancelled'));

  section('a declined payment');
  const e = await day.createOrder('E declined', mall, 6_000n);
  const before = await day.balance(bob, e.orderId);
  const payE = await day.pay(e.orderId, bob, [
    part(PartKind.PART_KIND_BALANCE, 2_000n),
    part(PartKind.PART_KIND_CHANNEL, 4_000n, { payChannel: '1001' }),
  ]);
  await day.sandboxPay('alipay', payE.payment?.parts[1]?.channelTxnId ?? '', 'failed');
  const failed = await waitFor('payment E failed', async () => {
    const v = await day.view(e.orderId);
    return v.payments[0]?.state === PaymentState.PAYMENT_STATE_FAILED ? v : undefined;
  });
  expectThat(
    'the declined payment failed and released the balance part',
    failed !== undefined && (await day.balance(bob, e.orderId)) === before,
    failed?.payments[0]?.failureReason ?? '',
  );
  await c.cashier.closePaymentOrder({ orderId: e.orderId });

  section('a dropped channel notification, recovered by status sync');
  const f = await day.createOrder('F dropped notify', bills, 3_300n);
  const payF = await day.pay(f.orderId, bob, [
    part(PartKind.PART_KIND_CHANNEL, 3_300n, { payChannel: '2001' }),
  ]);
  const txnF = payF.payment?.parts[0]?.channelTxnId ?? '';
  await fetch(`${sandboxUrl}/sandbox/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'notify_drop', out_trade_no: txnF }),
  });
  await day.sandboxPay('wechat', txnF);
  expectThat(
    'order F paid although the channel never notified',
    (await day.waitOrder(f.orderId, OrderState.ORDER_STATE_PAID, 120_000)) !== undefined,
  );

  section('a withdrawal');
  const w = await c.cashier.withdraw({
    payerId: alice,
    amount: cny(5_000n),
    accountNo: '6222020200001234',
    accountName: 'Alice Demo',
    bankCode: 'ICBC',
  });
  const wDone = await waitFor(
    'withdrawal',
    async () => {
      const got = await c.cashier.getWithdrawal({
        withdrawalId: w.withdrawal?.withdrawalId ?? '',
      });
      const s = got.withdrawal?.state;
      return s === WithdrawalState.WITHDRAWAL_STATE_SUCCEEDED || s === WithdrawalState.WITHDRAWAL_STATE_FAILED
        ? got.withdrawal
        : undefined;
    },
    120_000,
  );
  expectThat(
    'alice withdrew 50.00 to her bank card',
    wDone?.state === WithdrawalState.WITHDRAWAL_STATE_SUCCEEDED,
  );
  return day;
}

/** Seals every open date up to today in account, then closes them in ledger, in order. Returns the last closed date. */
async function endOfDay(c: Clients): Promise<string | undefined> {
  const today = chinaToday();
  const sealed: string[] = [];
  let date = today;
  for (let i = 0; i < SEAL_DAYS_MAX; i++) {
    try {
      await c.account.sealDay({
        requestId: `demo-seal-${date}`,
        bizContext: { code: '90010101080000000000' },
        accountingDate: date,
      });
      sealed.push(date);
      if (date === today) break;
      date = addDays(date, 1);
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      const last = /last sealed date (\d{4}-\d{2}-\d{2})/.exec(text)?.[1];
      if (reasonOf(err) !== AccountErrorReason.DAY_NOT_SEALABLE || last === undefined) throw err;
      if (last >= today) break; // today is sealed already (an earlier run): postings now go to the next date
      date = addDays(last, 1);
    }
  }
  expectThat(
    'account sealed the open dates',
    true,
    sealed.length > 0 ? sealed.join(', ') : `${today} was sealed by an earlier run`,
  );
  let closed: string | undefined;
  for (const d of sealed) {
    const result = await waitFor(`ledger close of ${d}`, async () => {
      try {
        return await c.ledger.closeDay({
          requestId: `demo-close-${d}`,
          bizContext: { code: '90010101080000000000' },
          accountingDate: d,
        });
      } catch (err) {
        const reason = reasonOf(err);
        if (reason === LedgerErrorReason.DAY_NOT_SEALED) return undefined; // the day_sealed event is still on its way
        if (reason === LedgerErrorReason.DAY_NOT_CLOSABLE) return null;
        throw err;
      }
    });
    if (result !== undefined && result !== null) closed = d;
    expectThat(`ledger closed ${d} (account and ledger agree, trial balance holds)`, result !== undefined);
  }
  return closed ?? today;
}

async function report(c: Clients, day: Day, deliveries: readonly Delivery[], date: string): Promise<void> {
  section('report: orders by state');
  const byState = new Map<string, string[]>();
  for (const [orderId, info] of day.orders) {
    const v = await day.view(orderId);
    const state = (OrderState[v.order?.state ?? 0] ?? 'UNKNOWN').replace('ORDER_STATE_', '');
    const list = byState.get(state) ?? [];
    list.push(
      `${info.label} ${yuan(v.order?.amount?.amountMinor ?? 0n)} (refunded ${yuan(v.order?.refunded?.amountMinor ?? 0n)}) ${v.order?.bizCode ?? ''}`,
    );
    byState.set(state, list);
  }
  for (const [state, list] of byState) {
    process.stdout.write(`  ${state} (${list.length})\n`);
    for (const line of list) process.stdout.write(`    ${line}\n`);
  }

  section('report: merchant balances');
  for (const merchantId of new Set([...day.orders.values()].map((o) => o.merchantId))) {
    const m = await day.merchant(merchantId);
    process.stdout.write(
      `  ${merchantId.padEnd(28)} pending settlement ${yuan(m.settlementBalance?.amountMinor ?? 0n).padStart(10)}   escrow ${yuan(m.escrowBalance?.amountMinor ?? 0n).padStart(10)}\n`,
    );
  }

  section('report: merchant notifications');
  for (const [orderId, info] of day.orders) {
    const mine = deliveries.filter((d) => d.orderId === orderId);
    if (mine.length === 0) continue;
    process.stdout.write(
      `  ${info.label.padEnd(20)} ${mine.length} delivery(ies), signature ${mine.every((d) => d.signatureValid) ? 'valid' : 'INVALID'}\n`,
    );
  }
  const paidOrders = [...day.orders.keys()];
  const views = await Promise.all(paidOrders.map((o) => day.view(o)));
  const everPaid = views.filter(
    (v) =>
      v.order?.state === OrderState.ORDER_STATE_PAID || v.order?.state === OrderState.ORDER_STATE_REFUNDED,
  );
  expectThat(
    'every paid order notified its merchant exactly once with a valid signature',
    everPaid.every((v) => {
      const mine = deliveries.filter((d) => d.orderId === v.order?.orderId);
      return mine.length === 1 && mine[0]?.signatureValid === true;
    }),
    `${everPaid.length} orders`,
  );

  section(`report: trial balance ${date}`);
  const trial = await c.ledger.getTrialBalance({ accountingDate: date });
  process.stdout.write(
    `  ${'subject'.padEnd(34)} ${'debit'.padStart(12)} ${'credit'.padStart(12)} ${'closing'.padStart(14)}\n`,
  );
  for (const row of trial.rows) {
    const side =
      row.closingDirection === BalanceDirection.BALANCE_DIRECTION_DEBIT
        ? 'Dr'
        : row.closingDirection === BalanceDirection.BALANCE_DIRECTION_CREDIT
          ? 'Cr'
          : '  ';
    process.stdout.write(
      `  ${`${row.subjectCode} ${row.subjectName}`.slice(0, 34).padEnd(34)} ${yuan(row.debitTotal?.amountMinor ?? 0n).padStart(12)} ${yuan(row.creditTotal?.amountMinor ?? 0n).padStart(12)} ${side} ${yuan(row.closing?.amountMinor ?? 0n).padStart(11)}\n`,
    );
  }
  for (const total of trial.totals) {
    process.stdout.write(
      `  ${`total ${total.currency}`.padEnd(34)} ${yuan(total.periodDebit?.amountMinor ?? 0n).padStart(12)} ${yuan(total.periodCredit?.amountMinor ?? 0n).padStart(12)}   Dr ${yuan(total.closingDebit?.amountMinor ?? 0n)} = Cr ${yuan(total.closingCredit?.amountMinor ?? 0n)}\n`,
    );
  }
  expectThat(
    `the trial balance of ${date} holds`,
    trial.balanced,
    trial.provisional ? 'provisional' : 'closed',
  );

  section('follow one payment');
  const orderC = [...day.orders.entries()].find(([, info]) => info.label === 'C combined')?.[0] ?? '';
  process.stdout.write(`  trace id of the combined payment (order C ${orderC}): ${day.traceId}\n`);
  process.stdout.write(`  every step, with state, amount and context code: npx paycore trace ${orderC}\n`);
}

async function main(): Promise<void> {
  const endpointsFile = path.join(RUN_DIR, 'endpoints.json');
  const tokenFilePath = path.join(RUN_DIR, 'dev-token');
  if (!existsSync(endpointsFile) || !existsSync(tokenFilePath))
    throw new Error(`${RUN_DIR} has no endpoints or token: run make up first`);
  const endpoints = loadEndpointsFile(endpointsFile);
  const missing = REQUIRED_SERVICES.filter((name) => endpoints[name] === undefined);
  if (missing.length > 0)
    throw new Error(`make up did not start ${missing.join(', ')} (deploy/services.json lists the services)`);
  const c: Clients = createPaycoreClient({
    endpoints,
    token: tokenFile(tokenFilePath),
    defaultDeadlineMs: CALL_DEADLINE_MS,
  });

  const httpEndpointsFile = path.join(RUN_DIR, 'http-endpoints.json');
  const running = existsSync(httpEndpointsFile) ? readJson(httpEndpointsFile)['channel-sandbox'] : undefined;
  let sandbox: RunningSandbox | undefined;
  let sandboxUrl: string;
  if (running !== undefined) {
    sandboxUrl = `http://${running}`;
  } else {
    const scale = Number(process.env['DEMO_SANDBOX_TIME_SCALE'] ?? '60');
    sandbox = await startSandbox({
      timeScale: Number.isInteger(scale) && scale >= 1 ? scale : 60,
      logger: createLogger({ service: 'channel-sandbox', level: 'warn' }),
    });
    sandboxUrl = sandbox.url;
  }
  const deliveries: Delivery[] = [];
  const webhook = await startWebhook(deliveries);
  process.stdout.write(`paycore demo ${RUN}: sandbox ${sandboxUrl}, merchant webhook ${webhook.url}\n`);
  try {
    section('channel registry');
    await seedChannelRegistry(c.channel, sandboxUrl);
    expectThat(
      'channel-router registry points at the sandbox',
      true,
      'Alipay 100001, WeChat 200001, bank 300001',
    );
    const day = await runDay(c, sandboxUrl, webhook.url);
    // Let the last notifications arrive before counting them.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const settlementOptions = { paycore: c, sandboxUrl, expectThat, section };
    const settling = await settlementPayments(settlementOptions);
    await reconciliationDemo({
      paycore: c,
      httpEndpoints: existsSync(httpEndpointsFile) ? readJson(httpEndpointsFile) : {},
      sandboxUrl,
      expectThat,
      section,
    });
    await settlementDay(settlementOptions, settling);
    section('end of day');
    const date = await endOfDay(c);
    await report(c, day, deliveries, date ?? chinaToday());
  } finally {
    webhook.server.close();
    await sandbox?.stop();
    c.close();
  }
  const failures = expectations.filter((e) => !e.ok);
  section(
    failures.length === 0
      ? `all ${expectations.length} expectations hold`
      : `${failures.length} of ${expectations.length} expectations FAILED`,
  );
  for (const f of failures) process.stdout.write(`  FAIL ${f.what} ${f.detail}\n`);
  process.exit(failures.length === 0 ? 0 : 1);
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
