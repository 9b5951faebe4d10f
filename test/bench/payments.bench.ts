/**
 * End-to-end payment figures (a benchmark, not a test). Every service runs
 * as its own process on a fresh database, the channel sandbox plays Alipay,
 * and channel-router's status sync runs with its first query 5 s after
 * creation. Each client owns one merchant and one funded payer. Prints a
 * table and one JSON line per figure:
 *   balance       create order + balance-only Pay, BENCH_CLIENTS clients for
 *                 BENCH_SECONDS: payments/s; p50 / p99 of create+Pay and of
 *                 Pay alone; SQL statements and Postgres commits per payment
 *                 across all services, background work during the run
 *                 included (order creation included; counted by the
 *                 services' drivers of every service process,
 *                 test/bench/measure.ts PAYMENT_SERVICES), then the same
 *                 split per service
 *   channel       the same with an Alipay part, until BENCH_CHANNEL_PAYMENTS
 *                 payments or BENCH_CHANNEL_SECONDS_MAX, whichever first; the
 *                 payer pays at the sandbox right after Pay, 10% of the
 *                 channel's notifications dropped (status sync finds those)
 *   decision→final  from the payer's payment at the sandbox to the order's
 *                 paid_at over every channel payment: p50 / p90 / p99 /
 *                 p99.99 and the shares within 1 s and 5 s; then the same
 *                 for the notified payments alone (the channel's
 *                 notification arrived) and for the dropped ones alone
 *                 (status sync found them, first query at 5 s)
 * At the end it checks the money (and fails when it does not hold):
 *   - per currency, Σ balances of debit-normal accounts = Σ balances of
 *     credit-normal accounts (account's store: available + frozen + buffered);
 *   - every order the bench saw paid is PAID once and credited once: each
 *     merchant's pending-settlement balance (cashier GetMerchant) is exactly
 *     the sum of its paid orders, and cashier holds exactly that many PAID orders.
 * Env: BENCH_CLIENTS (default 64), BENCH_SECONDS (default 20),
 * BENCH_CHANNEL_PAYMENTS (default 10000; 0 runs the balance part alone),
 * BENCH_CHANNEL_SECONDS_MAX (default 60).
 */
import { unary } from '@paycore/platform';
import { deleteTestStreams } from '@paycore/testing';
import { PartKind } from '@paycore/proto/paycore/cashier/v1/cashier_service';
import { addFault, payAtSandbox, startPlatform, type Platform } from '../e2e/platform';
import { createOrder, fundPayer, pay, part, registerMerchant, uid } from '../e2e/helpers';
import {
  countsByService,
  countsNow,
  percentile,
  printTable,
  sharesPerPayment,
  totalOf,
  type Counts,
  type ServiceShare,
} from './measure';

const CLIENTS = Number(process.env['BENCH_CLIENTS'] ?? '64');
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? '20');
const CHANNEL_PAYMENTS = Number(process.env['BENCH_CHANNEL_PAYMENTS'] ?? '10000');
const CHANNEL_SECONDS_MAX = Number(process.env['BENCH_CHANNEL_SECONDS_MAX'] ?? '60');
const DROP_SHARE = 0.1;
const AMOUNT_MINOR = 100n;
const PAYER_FUNDS_MINOR = 1_000_000n;
/** Concurrent set-up calls (merchant registration, payer funding). */
const SETUP_CONCURRENCY = 16;
const FINAL_WAIT_MS_MAX = 120_000;
const ORDER_IDS_PER_QUERY_MAX = 5_000;

interface Figure {
  readonly figure: string;
  readonly n: number;
  readonly per_s?: number;
  readonly p50_ms: number;
  readonly p90_ms?: number;
  readonly p99_ms: number;
  readonly pay_p50_ms?: number;
  readonly pay_p99_ms?: number;
  readonly p9999_ms?: number;
  readonly within_1s?: number;
  readonly within_5s?: number;
  readonly statements_per_payment?: number;
  readonly commits_per_payment?: number;
  readonly errors: number;
}

interface Drive {
  readonly latencies: number[];
  readonly payLatencies: number[];
  readonly errors: number;
  readonly perS: number;
}

/** Runs `work` on every client until `seconds` pass or `countMax` calls succeeded. */
async function drive(
  seconds: number,
  countMax: number,
  work: (worker: number) => Promise<{ totalMs: number; payMs: number }>,
): Promise<Drive> {
  const latencies: number[] = [];
  const payLatencies: number[] = [];
  let errors = 0;
  let started = 0;
  const end = Date.now() + seconds * 1000;
  const startedAtMs = Date.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, worker) => {
      while (Date.now() < end && started < countMax) {
        started++;
        try {
          const { totalMs, payMs } = await work(worker);
          latencies.push(totalMs);
          payLatencies.push(payMs);
        } catch (err) {
          errors++;
          if (errors <= 3) process.stderr.write(`  error: ${String(err)}\n`);
        }
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  payLatencies.sort((a, b) => a - b);
  const perS = Math.round((latencies.length / Math.max(1, Date.now() - startedAtMs)) * 1000);
  return { latencies, payLatencies, errors, perS };
}

async function inParallel<T>(count: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(SETUP_CONCURRENCY, count) }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

function perPayment(
  before: Counts,
  after: Counts,
  payments: number,
): Pick<Figure, 'statements_per_payment' | 'commits_per_payment'> {
  // A part that ran no payment (BENCH_CHANNEL_PAYMENTS=0) has no per-payment figure.
  if (payments === 0) return {};
  const n = payments;
  return {
    statements_per_payment: Number(((after.statements - before.statements) / n).toFixed(1)),
    commits_per_payment: Number(((after.commits - before.commits) / n).toFixed(1)),
  };
}

/** Σ debit-normal = Σ credit-normal per currency, over account's balances of record. */
async function checkBalancesNet(p: Platform): Promise<string[]> {
  const rows = await p.query<{ currency: string; debit_normal: string; credit_normal: string }>(
    `WITH buffered AS (
       SELECT b.account_id, sum(CASE WHEN b.side = a.normal_side THEN b.amount ELSE -b.amount END) AS amount
         FROM account.buffered_credits b JOIN account.accounts a ON a.id = b.account_id
        GROUP BY b.account_id
     )
     SELECT a.currency,
            coalesce(sum(a.available + a.frozen + coalesce(x.amount, 0)) FILTER (WHERE a.normal_side = 'DEBIT'), 0)::text AS debit_normal,
            coalesce(sum(a.available + a.frozen + coalesce(x.amount, 0)) FILTER (WHERE a.normal_side = 'CREDIT'), 0)::text AS credit_normal
       FROM account.accounts a LEFT JOIN buffered x ON x.account_id = a.id
      GROUP BY a.currency ORDER BY a.currency`,
  );
  const problems: string[] = [];
  for (const row of rows) {
    const line = `${row.currency}: Σ debit-normal ${row.debit_normal}, Σ credit-normal ${row.credit_normal}`;
    process.stdout.write(`  ${line}\n`);
    if (BigInt(row.debit_normal) !== BigInt(row.credit_normal)) problems.push(line);
  }
  if (rows.length === 0) problems.push('no accounts found');
  return problems;
}

/** Every order the bench saw paid: PAID once in cashier, credited once to its merchant. */
async function checkPaidOrders(
  p: Platform,
  merchants: readonly string[],
  paidByMerchant: ReadonlyMap<string, string[]>,
): Promise<string[]> {
  const problems: string[] = [];
  let expectedPaid = 0;
  for (const merchantId of merchants) {
    const paid = paidByMerchant.get(merchantId) ?? [];
    expectedPaid += paid.length;
    const res = await unary(p.cashier.getMerchant.bind(p.cashier), { merchantId });
    const balance = res.settlementBalance?.amountMinor ?? -1n;
    const expected = AMOUNT_MINOR * BigInt(paid.length);
    if (balance !== expected) {
      problems.push(
        `merchant ${merchantId}: pending settlement ${balance}, expected ${expected} (${paid.length} paid orders)`,
      );
    }
  }
  const rows = await p.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM cashier.orders WHERE state = 'PAID' AND merchant_id = ANY($1::text[])`,
    [merchants],
  );
  const paidInCashier = Number(rows[0]?.n ?? -1);
  process.stdout.write(
    `  paid orders: ${expectedPaid} seen by the bench, ${paidInCashier} PAID in cashier\n`,
  );
  if (paidInCashier !== expectedPaid)
    problems.push(`cashier holds ${paidInCashier} PAID orders, the bench saw ${expectedPaid}`);
  return problems;
}

async function paidAt(p: Platform, orderIds: readonly string[]): Promise<Map<string, number>> {
  const paid = new Map<string, number>();
  for (let i = 0; i < orderIds.length; i += ORDER_IDS_PER_QUERY_MAX) {
    const rows = await p.query<{ order_id: string; paid_ms: string }>(
      `SELECT order_id::text, (extract(epoch from paid_at) * 1000)::bigint::text AS paid_ms
         FROM cashier.orders WHERE order_id::text = ANY($1::text[]) AND paid_at IS NOT NULL`,
      [orderIds.slice(i, i + ORDER_IDS_PER_QUERY_MAX)],
    );
    for (const r of rows) paid.set(r.order_id, Number(r.paid_ms));
  }
  return paid;
}

/** Percentiles and shares of decision→final delays (ms; unpaid orders count as infinite). */
function finalFigure(figure: string, unsorted: readonly number[], errors: number): Figure {
  const delays = [...unsorted].sort((a, b) => a - b);
  const share = (limitMs: number): number =>
    Number((delays.filter((d) => d <= limitMs).length / Math.max(1, delays.length)).toFixed(4));
  return {
    figure,
    n: delays.length,
    p50_ms: percentile(delays, 50),
    p90_ms: percentile(delays, 90),
    p99_ms: percentile(delays, 99),
    p9999_ms: percentile(delays, 99.99),
    within_1s: share(1_000),
    within_5s: share(5_000),
    errors,
  };
}

async function main(): Promise<void> {
  for (const [name, value] of Object.entries({ CLIENTS, SECONDS, CHANNEL_PAYMENTS, CHANNEL_SECONDS_MAX })) {
    // No channel payments is allowed: the channel part then runs nothing and the money is checked after the balance part.
    const min = name === 'CHANNEL_PAYMENTS' ? 0 : 1;
    if (!Number.isInteger(value) || value < min || value > 1_000_000)
      throw new RangeError(`BENCH ${name}: ${value}`);
  }
  process.stdout.write('starting every service (sandbox, account, ledger, channel-router, cashier)…\n');
  const p = await startPlatform({
    'channel-router': { CHANNEL_SYNC_FIRST_DELAY_MS: '5000', CHANNEL_SYNC_TICK_MS: '250' },
  });
  const figures: Figure[] = [];
  let balanceShares: ServiceShare[] = [];
  const problems: string[] = [];
  try {
    // One merchant per client: a single merchant's risk counters would serialise every payment.
    process.stdout.write(`registering ${CLIENTS} merchants and funding ${CLIENTS} payers…\n`);
    const merchants = await inParallel(CLIENTS, () => registerMerchant(p));
    const payers = Array.from({ length: CLIENTS }, () => uid('payer'));
    await inParallel(CLIENTS, (i) =>
      fundPayer(p, payers[i] ?? '', PAYER_FUNDS_MINOR, (txnId) =>
        payAtSandbox(p.sandboxUrl, 'alipay', txnId),
      ),
    );
    const paidByMerchant = new Map<string, string[]>(merchants.map((m) => [m, []]));

    const beforeByService = await countsByService(p);
    const beforeBalance = totalOf(beforeByService);
    process.stdout.write(`balance payments (order creation included), ${CLIENTS} clients, ${SECONDS} s…\n`);
    const balance = await drive(SECONDS, Number.MAX_SAFE_INTEGER, async (worker) => {
      const merchantId = merchants[worker] ?? '';
      const t0 = performance.now();
      const order = await createOrder(p, merchantId, AMOUNT_MINOR, { notify: false });
      const t1 = performance.now();
      await pay(p, order.orderId, payers[worker] ?? '', [part(PartKind.PART_KIND_BALANCE, AMOUNT_MINOR)]);
      const t2 = performance.now();
      paidByMerchant.get(merchantId)?.push(order.orderId);
      return { totalMs: t2 - t0, payMs: t2 - t1 };
    });
    const afterByService = await countsByService(p);
    const afterBalance = totalOf(afterByService);
    balanceShares = sharesPerPayment(beforeByService, afterByService, balance.latencies.length);
    figures.push({
      figure: 'balance create+Pay',
      n: balance.latencies.length,
      per_s: balance.perS,
      p50_ms: percentile(balance.latencies, 50),
      p99_ms: percentile(balance.latencies, 99),
      pay_p50_ms: percentile(balance.payLatencies, 50),
      pay_p99_ms: percentile(balance.payLatencies, 99),
      ...perPayment(beforeBalance, afterBalance, balance.latencies.length),
      errors: balance.errors,
    });

    process.stdout.write(
      `channel payments (Alipay QR, ${DROP_SHARE * 100}% notifications dropped), ${CLIENTS} clients, ` +
        `up to ${CHANNEL_PAYMENTS} payments or ${CHANNEL_SECONDS_MAX} s…\n`,
    );
    const decided: { orderId: string; merchantId: string; decidedAtMs: number; dropped: boolean }[] = [];
    let sequence = 0;
    const channel = await drive(CHANNEL_SECONDS_MAX, CHANNEL_PAYMENTS, async (worker) => {
      const merchantId = merchants[worker] ?? '';
      const t0 = performance.now();
      const order = await createOrder(p, merchantId, AMOUNT_MINOR, { notify: false });
      const t1 = performance.now();
      const res = await pay(p, order.orderId, uid('payer'), [
        part(PartKind.PART_KIND_CHANNEL, AMOUNT_MINOR, { payChannel: '1001' }),
      ]);
      const t2 = performance.now();
      const txnId = res.payment?.parts[0]?.channelTxnId ?? '';
      const dropped = sequence++ % Math.round(1 / DROP_SHARE) === 0;
      if (dropped) await addFault(p.sandboxUrl, { kind: 'notify_drop', out_trade_no: txnId });
      await payAtSandbox(p.sandboxUrl, 'alipay', txnId);
      decided.push({ orderId: order.orderId, merchantId, decidedAtMs: Date.now(), dropped });
      return { totalMs: t2 - t0, payMs: t2 - t1 };
    });

    process.stdout.write(
      `waiting for every order to reach its final state (status sync finds the dropped ones)…\n`,
    );
    const deadline = Date.now() + FINAL_WAIT_MS_MAX;
    let paid = new Map<string, number>();
    const orderIds = decided.map((d) => d.orderId);
    while (Date.now() < deadline) {
      paid = await paidAt(p, orderIds);
      if (paid.size === decided.length) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const afterChannel = await countsNow(p);
    figures.push({
      figure: 'channel create+Pay',
      n: channel.latencies.length,
      per_s: channel.perS,
      p50_ms: percentile(channel.latencies, 50),
      p99_ms: percentile(channel.latencies, 99),
      pay_p50_ms: percentile(channel.payLatencies, 50),
      pay_p99_ms: percentile(channel.payLatencies, 99),
      ...perPayment(afterBalance, afterChannel, channel.latencies.length),
      errors: channel.errors,
    });
    for (const d of decided) if (paid.has(d.orderId)) paidByMerchant.get(d.merchantId)?.push(d.orderId);
    const delayOf = (d: (typeof decided)[number]): number => {
      const at = paid.get(d.orderId);
      return at === undefined ? Number.POSITIVE_INFINITY : Math.max(0, at - d.decidedAtMs);
    };
    for (const [figure, subset] of [
      ['decision→final', decided],
      ['decision→final notified', decided.filter((d) => !d.dropped)],
      ['decision→final dropped', decided.filter((d) => d.dropped)],
    ] as const) {
      figures.push(
        finalFigure(
          figure,
          subset.map(delayOf),
          subset.length - subset.filter((d) => paid.has(d.orderId)).length,
        ),
      );
    }
    if (decided.length < CHANNEL_PAYMENTS) {
      process.stdout.write(
        `  note: ${decided.length} channel payments in ${CHANNEL_SECONDS_MAX} s, fewer than the ${CHANNEL_PAYMENTS} asked for\n`,
      );
    }

    process.stdout.write('checking the money…\n');
    problems.push(...(await checkBalancesNet(p)), ...(await checkPaidOrders(p, merchants, paidByMerchant)));
  } finally {
    await p.close();
    await deleteTestStreams(); // a benchmark, like a test, leaves no NATS streams behind
  }

  const fmt = (v: number | undefined): string => (v === undefined ? '' : v.toFixed(1));
  printTable(
    `cashier end to end, ${CLIENTS} clients (balance: ${SECONDS} s; channel: up to ${CHANNEL_PAYMENTS} payments or ${CHANNEL_SECONDS_MAX} s)`,
    [
      'figure',
      'n',
      'per s',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'Pay p50',
      'Pay p99',
      'p99.99 ms',
      'within 1 s',
      'within 5 s',
      'stmts/pay',
      'commits/pay',
      'errors',
    ],
    figures.map((f) => [
      f.figure,
      String(f.n),
      f.per_s === undefined ? '' : String(f.per_s),
      fmt(f.p50_ms),
      fmt(f.p90_ms),
      fmt(f.p99_ms),
      fmt(f.pay_p50_ms),
      fmt(f.pay_p99_ms),
      fmt(f.p9999_ms),
      f.within_1s === undefined ? '' : String(f.within_1s),
      f.within_5s === undefined ? '' : String(f.within_5s),
      fmt(f.statements_per_payment),
      fmt(f.commits_per_payment),
      String(f.errors),
    ]),
  );
  printTable(
    'balance create+Pay per service (background work during the run included)',
    ['service', 'stmts/pay', 'commits/pay'],
    balanceShares.map((s) => [s.service, fmt(s.statements_per_payment), fmt(s.commits_per_payment)]),
  );
  for (const f of figures) process.stdout.write(`${JSON.stringify({ bench: 'cashier.e2e', ...f })}\n`);
  for (const s of balanceShares)
    process.stdout.write(
      `${JSON.stringify({ bench: 'cashier.e2e', figure: 'balance per service', ...s })}\n`,
    );
  process.stdout.write(
    `${JSON.stringify({ bench: 'cashier.e2e', figure: 'money', ok: problems.length === 0, problems })}\n`,
  );
  if (problems.length > 0) {
    process.stderr.write(`money invariants FAILED:\n  ${problems.join('\n  ')}\n`);
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${String(err)}\n`);
  process.exit(1);
});
