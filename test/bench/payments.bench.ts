/**
 * End-to-end payment figures (a benchmark, not a test). Every service runs
 * as its own process on a fresh database, the channel sandbox plays Alipay,
 * and channel-router's status sync runs its default schedule (ADR 0063:
 * dense for the first 4 s, then backing off from 5 s). Each client owns one merchant and one funded payer. Prints a
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
 *                 (status sync found them: every 250 ms for the first 4 s,
 *                 then 5 s, 10 s, … — ADR 0063); each with the channel
 *                 queries per payment (the sandbox's call tally)
 *   paced         the channel part again at a fixed arrival rate well
 *                 below saturation (BENCH_CHANNEL_PACED_PER_S payments a
 *                 second, open loop, BENCH_CHANNEL_PACED_PAYMENTS of them),
 *                 so that decision→final is the pipeline's latency and not
 *                 queueing; the same figures, plus how late the arrivals
 *                 started (the offered load held if that stays small)
 * At the end it checks the money (and fails when it does not hold):
 *   - per currency, Σ balances of debit-normal accounts = Σ balances of
 *     credit-normal accounts (account's store: available + frozen + buffered);
 *   - every order the bench saw paid is PAID once and credited once: each
 *     merchant's pending-settlement balance (cashier GetMerchant) is exactly
 *     the sum of its paid orders, and cashier holds exactly that many PAID orders.
 * Env: BENCH_CLIENTS (default 64), BENCH_SECONDS (default 20),
 * BENCH_CHANNEL_PAYMENTS (default 10000; 0 skips the saturated channel part, and
 * with BENCH_CHANNEL_PACED_PAYMENTS=0 the balance part runs alone),
 * BENCH_CHANNEL_SECONDS_MAX (default 60),
 * BENCH_CHANNEL_PACED_PER_S (default 25), BENCH_CHANNEL_PACED_PAYMENTS (default
 * 10000; 0 skips the paced run), BENCH_SYNC_DENSE_INTERVAL_MS (default 250; 0 runs
 * status sync without its dense phase, the schedule before ADR 0063),
 * BENCH_SYNC_DENSE_WINDOW_MS (default 4000).
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
const PACED_PER_S = Number(process.env['BENCH_CHANNEL_PACED_PER_S'] ?? '25');
const PACED_PAYMENTS = Number(process.env['BENCH_CHANNEL_PACED_PAYMENTS'] ?? '10000');
const SYNC_DENSE_INTERVAL_MS = process.env['BENCH_SYNC_DENSE_INTERVAL_MS'] ?? '250';
const SYNC_DENSE_WINDOW_MS = process.env['BENCH_SYNC_DENSE_WINDOW_MS'] ?? '4000';
/** Paced payments in flight at most; past it an arrival waits (and is reported late). */
const PACED_IN_FLIGHT_MAX = 256;
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
  readonly queries_per_payment?: number;
  readonly start_late_p99_ms?: number;
  readonly errors: number;
}

/** One channel payment the bench drove to the payer's decision. */
interface Decided {
  readonly orderId: string;
  readonly merchantId: string;
  readonly txnId: string;
  readonly decidedAtMs: number;
  readonly dropped: boolean;
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

/** Creates an order, pays it with an Alipay part and pays at the sandbox (dropping its notification when asked). */
async function channelPayment(
  p: Platform,
  merchantId: string,
  dropped: boolean,
): Promise<{ decided: Decided; totalMs: number; payMs: number }> {
  const t0 = performance.now();
  const order = await createOrder(p, merchantId, AMOUNT_MINOR, { notify: false });
  const t1 = performance.now();
  const res = await pay(p, order.orderId, uid('payer'), [
    part(PartKind.PART_KIND_CHANNEL, AMOUNT_MINOR, { payChannel: '1001' }),
  ]);
  const t2 = performance.now();
  const txnId = res.payment?.parts[0]?.channelTxnId ?? '';
  // One use: the fault leaves the sandbox's list (1,000 at most) once it has dropped the notification.
  if (dropped) await addFault(p.sandboxUrl, { kind: 'notify_drop', out_trade_no: txnId, times: 1 });
  await payAtSandbox(p.sandboxUrl, 'alipay', txnId);
  return {
    decided: { orderId: order.orderId, merchantId, txnId, decidedAtMs: Date.now(), dropped },
    totalMs: t2 - t0,
    payMs: t2 - t1,
  };
}

/**
 * Starts `work(i)` for i < count at `perS` a second (open loop: an arrival does
 * not wait for earlier ones unless PACED_IN_FLIGHT_MAX are in flight).
 */
async function paced(
  perS: number,
  count: number,
  work: (i: number) => Promise<void>,
): Promise<{ errors: number; perS: number; startLateMs: number[] }> {
  const inFlight = new Set<Promise<void>>();
  const startLateMs: number[] = [];
  let errors = 0;
  const startedAtMs = performance.now();
  for (let i = 0; i < count; i++) {
    const dueMs = startedAtMs + (i * 1000) / perS;
    const waitMs = dueMs - performance.now();
    if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
    while (inFlight.size >= PACED_IN_FLIGHT_MAX) await Promise.race(inFlight);
    startLateMs.push(Math.max(0, performance.now() - dueMs));
    const run: Promise<void> = work(i)
      .catch((err: unknown) => {
        errors++;
        if (errors <= 3) process.stderr.write(`  error: ${String(err)}\n`);
      })
      .finally(() => inFlight.delete(run));
    inFlight.add(run);
  }
  await Promise.all(inFlight);
  startLateMs.sort((a, b) => a - b);
  const achieved = Math.round((count / (performance.now() - startedAtMs)) * 1000);
  return { errors, perS: achieved, startLateMs };
}

/** Waits until every decided order is paid (or FINAL_WAIT_MS_MAX passes); paid_at per order id. */
async function waitPaid(p: Platform, decided: readonly Decided[]): Promise<Map<string, number>> {
  const deadline = Date.now() + FINAL_WAIT_MS_MAX;
  const orderIds = decided.map((d) => d.orderId);
  let paid = new Map<string, number>();
  while (Date.now() < deadline) {
    paid = await paidAt(p, orderIds);
    if (paid.size === decided.length) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  return paid;
}

/** Channel queries (the sandbox's tally of Alipay trade.query calls) per channel txn id. */
async function queriesByTxn(p: Platform): Promise<Map<string, number>> {
  const res = await fetch(`${p.sandboxUrl}/sandbox/calls?channel=alipay&operation=query`);
  const body = (await res.json()) as { calls: { key: string; count: number }[]; overflow: number };
  if (body.overflow > 0)
    process.stdout.write(`  note: ${body.overflow} sandbox calls past its tally bound\n`);
  return new Map(body.calls.map((c) => [c.key, c.count]));
}

/** decision→final over all, notified and dropped payments, each with its queries per payment. */
function decisionFigures(
  prefix: string,
  decided: readonly Decided[],
  paid: ReadonlyMap<string, number>,
  queries: ReadonlyMap<string, number>,
): Figure[] {
  const delayOf = (d: Decided): number => {
    const at = paid.get(d.orderId);
    return at === undefined ? Number.POSITIVE_INFINITY : Math.max(0, at - d.decidedAtMs);
  };
  const figures: Figure[] = [];
  for (const [figure, subset] of [
    [`${prefix}decision→final`, decided],
    [`${prefix}decision→final notified`, decided.filter((d) => !d.dropped)],
    [`${prefix}decision→final dropped`, decided.filter((d) => d.dropped)],
  ] as const) {
    let queryCount = 0;
    for (const d of subset as readonly Decided[]) queryCount += queries.get(d.txnId) ?? 0;
    figures.push({
      ...finalFigure(
        figure,
        subset.map(delayOf),
        subset.length - subset.filter((d) => paid.has(d.orderId)).length,
      ),
      queries_per_payment: Number((queryCount / Math.max(1, subset.length)).toFixed(2)),
    });
  }
  return figures;
}

async function main(): Promise<void> {
  for (const [name, value] of Object.entries({ CLIENTS, SECONDS, CHANNEL_PAYMENTS, CHANNEL_SECONDS_MAX })) {
    // No channel payments is allowed: the channel part then runs nothing and the money is checked after the balance part.
    const min = name === 'CHANNEL_PAYMENTS' ? 0 : 1;
    if (!Number.isInteger(value) || value < min || value > 1_000_000)
      throw new RangeError(`BENCH ${name}: ${value}`);
  }
  if (!Number.isInteger(PACED_PAYMENTS) || PACED_PAYMENTS < 0 || PACED_PAYMENTS > 1_000_000)
    throw new RangeError(`BENCH_CHANNEL_PACED_PAYMENTS: ${PACED_PAYMENTS}`);
  if (!(PACED_PER_S > 0 && PACED_PER_S <= 1_000))
    throw new RangeError(`BENCH_CHANNEL_PACED_PER_S: ${PACED_PER_S}`);
  process.stdout.write('starting every service (sandbox, account, ledger, channel-router, cashier)…\n');
  const p = await startPlatform({
    'channel-router': {
      CHANNEL_SYNC_DENSE_INTERVAL_MS: SYNC_DENSE_INTERVAL_MS,
      CHANNEL_SYNC_DENSE_WINDOW_MS: SYNC_DENSE_WINDOW_MS,
      CHANNEL_SYNC_FIRST_DELAY_MS: '5000',
      CHANNEL_SYNC_TICK_MS: '250',
    },
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
    const decided: Decided[] = [];
    let sequence = 0;
    const channel = await drive(CHANNEL_SECONDS_MAX, CHANNEL_PAYMENTS, async (worker) => {
      const dropped = sequence++ % Math.round(1 / DROP_SHARE) === 0;
      const done = await channelPayment(p, merchants[worker] ?? '', dropped);
      decided.push(done.decided);
      return { totalMs: done.totalMs, payMs: done.payMs };
    });

    process.stdout.write(
      `waiting for every order to reach its final state (status sync finds the dropped ones)…\n`,
    );
    const paid = await waitPaid(p, decided);
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
    figures.push(...decisionFigures('', decided, paid, await queriesByTxn(p)));
    if (decided.length < CHANNEL_PAYMENTS) {
      process.stdout.write(
        `  note: ${decided.length} channel payments in ${CHANNEL_SECONDS_MAX} s, fewer than the ${CHANNEL_PAYMENTS} asked for\n`,
      );
    }

    if (PACED_PAYMENTS > 0) {
      process.stdout.write(
        `paced channel payments: ${PACED_PAYMENTS} at ${PACED_PER_S}/s (open loop), ` +
          `${DROP_SHARE * 100}% notifications dropped…\n`,
      );
      const pacedDecided: Decided[] = [];
      const pacedLatencies: number[] = [];
      const pacedPayLatencies: number[] = [];
      const beforePaced = await countsNow(p);
      const run = await paced(PACED_PER_S, PACED_PAYMENTS, async (i) => {
        const done = await channelPayment(
          p,
          merchants[i % merchants.length] ?? '',
          i % Math.round(1 / DROP_SHARE) === 0,
        );
        pacedDecided.push(done.decided);
        pacedLatencies.push(done.totalMs);
        pacedPayLatencies.push(done.payMs);
      });
      const pacedPaid = await waitPaid(p, pacedDecided);
      const afterPaced = await countsNow(p);
      pacedLatencies.sort((a, b) => a - b);
      pacedPayLatencies.sort((a, b) => a - b);
      figures.push({
        figure: `paced ${PACED_PER_S}/s create+Pay`,
        n: pacedLatencies.length,
        per_s: run.perS,
        p50_ms: percentile(pacedLatencies, 50),
        p99_ms: percentile(pacedLatencies, 99),
        pay_p50_ms: percentile(pacedPayLatencies, 50),
        pay_p99_ms: percentile(pacedPayLatencies, 99),
        ...perPayment(beforePaced, afterPaced, pacedLatencies.length),
        start_late_p99_ms: percentile(run.startLateMs, 99),
        errors: run.errors,
      });
      for (const d of pacedDecided)
        if (pacedPaid.has(d.orderId)) paidByMerchant.get(d.merchantId)?.push(d.orderId);
      figures.push(
        ...decisionFigures(`paced ${PACED_PER_S}/s `, pacedDecided, pacedPaid, await queriesByTxn(p)),
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
      'queries/pay',
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
      f.queries_per_payment === undefined ? '' : f.queries_per_payment.toFixed(2),
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
