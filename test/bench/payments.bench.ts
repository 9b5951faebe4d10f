/**
 * End-to-end payment figures (a benchmark, not a test). Every service runs
 * as its own process on a fresh database, the channel sandbox plays Alipay,
 * and channel-router's status sync runs on its production schedule (first
 * query 5 s after creation). Prints a table and one JSON line per figure:
 *   balance       Pay of a balance-only order: payments/s, Pay p50 / p99
 *   channel       Pay of an Alipay order: payments/s, Pay p50 / p99
 *   decision→final  from the channel's decision (the payer pays at the
 *                 sandbox) to the order's paid_at, with 10% of the channel's
 *                 notifications dropped (those orders are found by status
 *                 sync): p50 / p99 / p99.99 and the share within 5 s
 * Env: BENCH_CLIENTS (default 16), BENCH_SECONDS (default 10 per scenario).
 */
import { unary } from '@paycore/platform';
import { deleteTestStreams } from '@paycore/testing';
import { PartKind } from '@paycore/proto/paycore/cashier/v1/cashier_service';
import { addFault, payAtSandbox, startPlatform } from '../e2e/platform';
import { createOrder, fundPayer, pay, part, registerMerchant, uid } from '../e2e/helpers';

const CLIENTS = Number(process.env['BENCH_CLIENTS'] ?? '16');
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? '10');
const DROP_SHARE = 0.1;
const PAYER_FUNDS_MINOR = 1_000_000n;

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

interface Figure {
  readonly figure: string;
  readonly n: number;
  readonly per_s?: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly p9999_ms?: number;
  readonly within_5s?: number;
  readonly errors: number;
}

async function drive(
  seconds: number,
  work: (worker: number) => Promise<number>,
): Promise<{ latencies: number[]; errors: number; perS: number }> {
  const latencies: number[] = [];
  let errors = 0;
  const end = Date.now() + seconds * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, worker) => {
      while (Date.now() < end) {
        try {
          latencies.push(await work(worker));
        } catch (err) {
          errors++;
          if (errors <= 3) process.stderr.write(`  error: ${String(err)}\n`);
        }
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { latencies, errors, perS: Math.round((latencies.length / (Date.now() - started)) * 1000) };
}

async function main(): Promise<void> {
  process.stdout.write('starting every service (sandbox, account, ledger, channel-router, cashier)…\n');
  const p = await startPlatform({
    'channel-router': { CHANNEL_SYNC_FIRST_DELAY_MS: '5000', CHANNEL_SYNC_TICK_MS: '250' },
  });
  const figures: Figure[] = [];
  try {
    // One merchant per client: a single merchant's risk counters would serialise every payment.
    const merchants: string[] = [];
    for (let i = 0; i < CLIENTS; i++) merchants.push(await registerMerchant(p));
    const merchantId = merchants[0] ?? '';
    process.stdout.write(`funding ${CLIENTS} payers…\n`);
    const payers = Array.from({ length: CLIENTS }, () => uid('payer'));
    for (const payer of payers) {
      await fundPayer(p, payer, PAYER_FUNDS_MINOR, (txnId) => payAtSandbox(p.sandboxUrl, 'alipay', txnId));
    }

    process.stdout.write(`balance payments, ${CLIENTS} clients, ${SECONDS} s…\n`);
    const balance = await drive(SECONDS, async (worker) => {
      const order = await createOrder(p, merchants[worker] ?? '', 100n, { notify: false });
      const t0 = performance.now();
      await pay(p, order.orderId, payers[worker] ?? '', [part(PartKind.PART_KIND_BALANCE, 100n)]);
      return performance.now() - t0;
    });
    figures.push({
      figure: 'balance Pay',
      n: balance.latencies.length,
      per_s: balance.perS,
      p50_ms: percentile(balance.latencies, 50),
      p99_ms: percentile(balance.latencies, 99),
      errors: balance.errors,
    });

    process.stdout.write(
      `channel payments (Alipay QR, ${DROP_SHARE * 100}% notifications dropped), ${CLIENTS} clients, ${SECONDS} s…\n`,
    );
    const decided: { orderId: string; decidedAtMs: number; dropped: boolean }[] = [];
    let sequence = 0;
    const channel = await drive(SECONDS, async (worker) => {
      const order = await createOrder(p, merchants[worker] ?? '', 100n, { notify: false });
      const t0 = performance.now();
      const res = await pay(p, order.orderId, uid('payer'), [
        part(PartKind.PART_KIND_CHANNEL, 100n, { payChannel: '1001' }),
      ]);
      const latency = performance.now() - t0;
      const txnId = res.payment?.parts[0]?.channelTxnId ?? '';
      const dropped = sequence++ % Math.round(1 / DROP_SHARE) === 0;
      if (dropped) await addFault(p.sandboxUrl, { kind: 'notify_drop', out_trade_no: txnId });
      await payAtSandbox(p.sandboxUrl, 'alipay', txnId);
      decided.push({ orderId: order.orderId, decidedAtMs: Date.now(), dropped });
      return latency;
    });
    figures.push({
      figure: 'channel Pay',
      n: channel.latencies.length,
      per_s: channel.perS,
      p50_ms: percentile(channel.latencies, 50),
      p99_ms: percentile(channel.latencies, 99),
      errors: channel.errors,
    });

    process.stdout.write(
      `waiting for every order to reach its final state (status sync finds the dropped ones)…\n`,
    );
    const deadline = Date.now() + 60_000;
    let paid = new Map<string, number>();
    while (Date.now() < deadline) {
      const rows = await p.query<{ order_id: string; paid_ms: string }>(
        `SELECT order_id::text, (extract(epoch from paid_at) * 1000)::bigint::text AS paid_ms
           FROM cashier.orders WHERE order_id::text = ANY($1::text[]) AND paid_at IS NOT NULL`,
        [decided.map((d) => d.orderId)],
      );
      paid = new Map(rows.map((r) => [r.order_id, Number(r.paid_ms)]));
      if (paid.size === decided.length) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const delays = decided
      .map((d) =>
        paid.has(d.orderId)
          ? Math.max(0, (paid.get(d.orderId) ?? 0) - d.decidedAtMs)
          : Number.POSITIVE_INFINITY,
      )
      .sort((a, b) => a - b);
    figures.push({
      figure: 'decision→final',
      n: delays.length,
      p50_ms: percentile(delays, 50),
      p99_ms: percentile(delays, 99),
      p9999_ms: percentile(delays, 99.99),
      within_5s: Number((delays.filter((d) => d <= 5_000).length / Math.max(1, delays.length)).toFixed(4)),
      errors: decided.length - paid.size,
    });
    await unary(p.cashier.getMerchant.bind(p.cashier), { merchantId });
  } finally {
    await p.close();
    await deleteTestStreams(); // a benchmark, like a test, leaves no NATS streams behind
  }

  const header = ['figure', 'n', 'per s', 'p50 ms', 'p99 ms', 'p99.99 ms', 'within 5 s', 'errors'];
  const rows = figures.map((f) =>
    [
      f.figure,
      f.n,
      f.per_s ?? '',
      f.p50_ms.toFixed(1),
      f.p99_ms.toFixed(1),
      f.p9999_ms?.toFixed(1) ?? '',
      f.within_5s ?? '',
      f.errors,
    ].map(String),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
  process.stdout.write(
    `\ncashier end to end, ${CLIENTS} clients, ${SECONDS} s per scenario\n${line(header)}\n`,
  );
  for (const r of rows) process.stdout.write(`${line(r)}\n`);
  for (const f of figures) process.stdout.write(`${JSON.stringify({ bench: 'cashier.e2e', ...f })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${String(err)}\n`);
  process.exit(1);
});
