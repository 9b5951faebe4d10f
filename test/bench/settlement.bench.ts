/**
 * Settlement at scale (a benchmark, not a test): clearing and settling one
 * day of SETTLEMENT_BENCH_PAYMENTS payments (default 1,000,000) across
 * SETTLEMENT_BENCH_MERCHANTS merchants (default 100,000), once with ONE and
 * once with TWO settlement replicas, in the same run. Every service is a
 * real process (test/e2e/platform.ts).
 *
 * Ingestion is settlement's real path: the bench publishes cashier's own
 * events (merchant_registered, then payment_succeeded, protobuf with a
 * Nats-Msg-Id each) to cashier's JetStream stream in bulk while the
 * settlement replicas are stopped; then it starts the replicas and times
 * their clearing consumer (JetStream → inbox → items) until every payment is
 * an item. Cashier itself is not in the loop (its Pay path has its own bench).
 *
 * Figures per replica count:
 *   publish    events/s onto the stream (the bench's own speed, for context)
 *   clearing   items/s and wall time, from the replicas being up to the last
 *              item committed; also items/s between the first and the last
 *              item's commit time (Postgres's clock, start-up excluded)
 *   batches    RunSettlementDay: batches created (one per merchant) per second
 *   settling   batches driven to a final state (posting at account, payout
 *              through channel-router to the sandbox's bank) per second,
 *              within SETTLEMENT_BENCH_SETTLE_SECONDS_MAX (default 1800); the
 *              wall time when all finished, else the share finished
 * Set-up shortcuts (not measured): settlement profiles (T+1, a bank account)
 * are inserted with one SQL statement; the merchants' pending-settlement
 * accounts are opened and funded through account's API (what cashier's
 * registration and payments would have left there).
 * Progress bars (cli-progress, on stderr) draw only on a terminal.
 * Prints figures; asserts no timing. Env: SETTLEMENT_BENCH_PAYMENTS,
 * SETTLEMENT_BENCH_MERCHANTS, SETTLEMENT_BENCH_SETTLE_SECONDS_MAX,
 * SETTLEMENT_BENCH_NODE_OPTIONS (node flags of the replicas),
 * SETTLEMENT_BENCH_SETTLE (0: clearing figures only; at full scale settling
 * 100,000 batches takes about a quarter of an hour per replica count).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import type { JetStreamManager } from '@nats-io/jetstream';
import { connectNats, EventNaming, unary } from '@paycore/platform';
import { MerchantRegistered, PaymentSucceeded } from '@paycore/proto/paycore/cashier/v1/events';
import {
  BizMode,
  OrderState,
  PartKind,
  PaymentState,
} from '@paycore/proto/paycore/cashier/v1/cashier_service';
import { OwnerType, Side } from '@paycore/proto/paycore/account/v1/account_service';
import { startPlatform, type Platform } from '../e2e/platform';
import { printTable } from './measure';

const PAYMENTS = Number(process.env['SETTLEMENT_BENCH_PAYMENTS'] ?? '1000000');
const MERCHANTS = Number(process.env['SETTLEMENT_BENCH_MERCHANTS'] ?? '100000');
const SETTLE_SECONDS_MAX = Number(process.env['SETTLEMENT_BENCH_SETTLE_SECONDS_MAX'] ?? '1800');
// At full scale the drives (two postings and a payout per batch) take far longer than clearing; 0 skips them.
const SETTLE = process.env['SETTLEMENT_BENCH_SETTLE'] !== '0';
const PUBLISH_FLUSH_EVERY = 2_000;
const SETUP_CONCURRENCY = 32;
const CLEARING_WAIT_MS_MAX = 3_600_000;
const POLL_MS = 1_000;
const LEGS_PER_FUNDING = 63;
const CHANNEL_BIZ_CODE = '10010101100110000100';
const FUNDING_CODE = '10050101050001000000';
const BENCH_TAG = Date.now().toString(36);
/** Accounting days of the two runs (Mondays; T+1 settles them the next business day). */
const DAYS = ['2026-11-02', '2026-11-09'] as const;
const SETTLE_DATES = ['2026-11-03', '2026-11-10'] as const;

const amountOf = (i: number): bigint => 100n + BigInt(i % 997);
const merchantOf = (i: number): string => `bm-${BENCH_TAG}-${i % MERCHANTS}`;

interface Figure {
  readonly figure: string;
  readonly replicas: number;
  readonly n: number;
  readonly per_s: number;
  readonly wall_s: number;
  readonly note?: string;
}
const figures: Figure[] = [];

interface Publisher {
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly stream: string;
}

function record(f: Figure): void {
  figures.push(f);
  process.stdout.write(`${JSON.stringify({ ...f, loadavg_1m: loadavg()[0]?.toFixed(2) })}\n`);
}

function bar(title: string, total: number): cliProgress.SingleBar {
  const b = new cliProgress.SingleBar(
    { format: `${title.padEnd(24)} |{bar}| {value}/{total} | {rate}/s | {duration}s`, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  b.start(total, 0, { rate: '0' });
  return b;
}

async function inParallel(count: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(SETUP_CONCURRENCY, count) }, async () => {
      while (next < count) await fn(next++);
    }),
  );
}

/**
 * Publishes `count` events (made by `make`) as core NATS messages with a
 * Nats-Msg-Id each, flushing every PUBLISH_FLUSH_EVERY, and waits until the
 * stream holds them all (JetStream stores core publishes on its subjects);
 * returns events/s.
 */
async function publishAll(
  title: string,
  count: number,
  make: (i: number) => { subject: string; data: Uint8Array; msgId: string },
  out: Publisher,
): Promise<{ perS: number; wallS: number }> {
  const b = bar(title, count);
  const started = Date.now();
  const before = (await out.jsm.streams.info(out.stream)).state.messages;
  for (let i = 0; i < count; i++) {
    const e = make(i);
    const h = natsHeaders();
    h.set('Nats-Msg-Id', e.msgId);
    out.nc.publish(e.subject, e.data, { headers: h });
    if ((i + 1) % PUBLISH_FLUSH_EVERY === 0 || i + 1 === count) {
      await out.nc.flush();
      b.update(i + 1, { rate: Math.round((i + 1) / ((Date.now() - started) / 1000 || 1)) });
    }
  }
  for (;;) {
    const stored = (await out.jsm.streams.info(out.stream)).state.messages - before;
    if (stored >= count) break;
    if (Date.now() - started > CLEARING_WAIT_MS_MAX) throw new Error(`stream holds ${stored} of ${count}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  b.stop();
  const wallS = (Date.now() - started) / 1000;
  return { perS: Math.round(count / wallS), wallS };
}

/**
 * A preload (through NODE_OPTIONS, where --cpu-prof is not allowed) that
 * profiles the whole process and writes `<pid>.cpuprofile` into `dir` at exit
 * (the inspector answers a session of its own thread synchronously).
 */
function profilerEnv(dir: string): Record<string, string> {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'cpu-profile.cjs');
  writeFileSync(
    file,
    `const { Session } = require('node:inspector');
const fs = require('node:fs');
const s = new Session();
s.connect();
s.post('Profiler.enable');
s.post('Profiler.setSamplingInterval', { interval: 1000 });
s.post('Profiler.start');
process.on('exit', () => s.post('Profiler.stop', (e, r) => {
  if (!e) fs.writeFileSync(${JSON.stringify(dir)} + '/' + process.pid + '.cpuprofile', JSON.stringify(r.profile));
}));
`,
  );
  return { NODE_OPTIONS: `--require ${file}` };
}

async function count(p: Platform, sql: string, params: unknown[] = []): Promise<number> {
  const rows = await p.query<{ n: string }>(sql, params);
  return Number(rows[0]?.n ?? 0);
}

/** Polls `sql` (a count) with a progress bar until it reaches `total`; returns the wall seconds. */
async function progressUntil(
  p: Platform,
  title: string,
  total: number,
  sql: string,
  params: unknown[],
  deadlineMs: number,
): Promise<{ reached: number; wallS: number }> {
  const b = bar(title, total);
  const started = Date.now();
  let reached = 0;
  for (;;) {
    reached = await count(p, sql, params);
    b.update(reached, { rate: Math.round(reached / ((Date.now() - started) / 1000 || 1)) });
    if (reached >= total || Date.now() - started > deadlineMs) break;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  b.stop();
  return { reached, wallS: (Date.now() - started) / 1000 };
}

async function stopReplicas(p: Platform): Promise<void> {
  for (const name of ['settlement', 'settlement-2']) {
    const child = p.process(name);
    if (child.hasExited()) continue;
    child.kill('SIGTERM');
    await child.exited;
  }
}

function paymentEvent(naming: EventNaming, run: number, i: number) {
  const paymentId = `bp-${BENCH_TAG}-${run}-${i}`;
  const orderId = `bo-${BENCH_TAG}-${run}-${i}`;
  // 12:00 China time on the run's day.
  const finishedAt = new Date(`${DAYS[run]}T04:00:00.000Z`);
  const amount = { amountMinor: amountOf(i), currency: 'CNY' };
  const data = PaymentSucceeded.encode(
    PaymentSucceeded.fromPartial({
      order: {
        orderId,
        merchantId: merchantOf(i),
        merchantOrderNo: `mo-${run}-${i}`,
        amount,
        product: '100101',
        bizMode: BizMode.BIZ_MODE_UNSPECIFIED,
        bizCode: CHANNEL_BIZ_CODE,
        subject: 'bench',
        state: OrderState.ORDER_STATE_PAID,
        paidAt: finishedAt,
      },
      payment: {
        paymentId,
        orderId,
        state: PaymentState.PAYMENT_STATE_SUCCEEDED,
        parts: [
          {
            kind: PartKind.PART_KIND_CHANNEL,
            amount,
            payChannel: '1001',
            bizCode: CHANNEL_BIZ_CODE,
            channelTxnId: `ct-${BENCH_TAG}-${run}-${i}`,
            channelNo: '100001',
          },
        ],
        payerId: 'bench-payer',
        createdAt: finishedAt,
        finishedAt,
      },
      bizCode: CHANNEL_BIZ_CODE,
    }),
  ).finish();
  return { subject: naming.subject('cashier', 'payment_succeeded'), data, msgId: `bench:${paymentId}` };
}

/** Opens every merchant's pending-settlement account at account and credits what its payments brought. */
async function fundPendingAccounts(p: Platform): Promise<void> {
  const perMerchant = new Map<number, bigint>();
  for (let run = 0; run < DAYS.length; run++)
    for (let i = 0; i < PAYMENTS; i++)
      perMerchant.set(i % MERCHANTS, (perMerchant.get(i % MERCHANTS) ?? 0n) + amountOf(i));
  const source = await unary(p.account.openAccount.bind(p.account), {
    requestId: `bench-src-${BENCH_TAG}`,
    bizContext: { code: FUNDING_CODE },
    ownerType: OwnerType.OWNER_TYPE_INTERNAL,
    ownerId: 'platform',
    subjectCode: '30010101',
    currency: 'CNY',
    normalSide: Side.SIDE_DEBIT,
    allowOverdraft: true,
  });
  const sourceId = source.account?.accountId ?? '';
  const ids: string[] = new Array<string>(MERCHANTS);
  const opened = bar('open pending accounts', MERCHANTS);
  let done = 0;
  const started = Date.now();
  await inParallel(MERCHANTS, async (m) => {
    const res = await unary(p.account.openAccount.bind(p.account), {
      requestId: `bench-open-${BENCH_TAG}-${m}`,
      bizContext: { code: FUNDING_CODE },
      ownerType: OwnerType.OWNER_TYPE_MERCHANT,
      ownerId: `bm-${BENCH_TAG}-${m}`,
      subjectCode: '224102',
      currency: 'CNY',
      normalSide: Side.SIDE_CREDIT,
      allowOverdraft: false,
    });
    ids[m] = res.account?.accountId ?? '';
    done++;
    if (done % 200 === 0 || done === MERCHANTS)
      opened.update(done, { rate: Math.round(done / ((Date.now() - started) / 1000 || 1)) });
  });
  opened.stop();
  const transfers = Math.ceil(MERCHANTS / LEGS_PER_FUNDING);
  const funded = bar('fund pending accounts', transfers);
  done = 0;
  await inParallel(transfers, async (t) => {
    const legs = [];
    let total = 0n;
    for (let m = t * LEGS_PER_FUNDING; m < Math.min(MERCHANTS, (t + 1) * LEGS_PER_FUNDING); m++) {
      const amountMinor = perMerchant.get(m) ?? 0n;
      total += amountMinor;
      legs.push({
        accountId: ids[m] ?? '',
        side: Side.SIDE_CREDIT,
        amount: { amountMinor, currency: 'CNY' },
      });
    }
    legs.push({
      accountId: sourceId,
      side: Side.SIDE_DEBIT,
      amount: { amountMinor: total, currency: 'CNY' },
    });
    await unary(p.account.transfer.bind(p.account), {
      requestId: `bench-fund-${BENCH_TAG}-${t}`,
      bizContext: { code: FUNDING_CODE },
      legs,
      memo: 'bench funding of pending settlement',
    });
    done++;
    funded.update(done, { rate: '' });
  });
  funded.stop();
}

async function run(
  p: Platform,
  naming: EventNaming,
  publish: Publisher,
  index: number,
  replicas: 1 | 2,
): Promise<void> {
  process.stdout.write(`\n== ${replicas} settlement replica(s): day ${DAYS[index]}\n`);
  await stopReplicas(p);
  const published = await publishAll(
    'publish payment_succeeded',
    PAYMENTS,
    (i) => paymentEvent(naming, index, i),
    publish,
  );
  record({
    figure: 'publish',
    replicas,
    n: PAYMENTS,
    per_s: published.perS,
    wall_s: published.wallS,
    note: 'cashier payment_succeeded onto JetStream (core publish + flush, until stored)',
  });
  const startedAt = Date.now();
  await Promise.all(
    (replicas === 2 ? ['settlement', 'settlement-2'] : ['settlement']).map((n) => p.restart(n)),
  );
  const upS = (Date.now() - startedAt) / 1000;
  const cleared = await progressUntil(
    p,
    `clearing (${replicas} replica)`,
    PAYMENTS,
    'SELECT count(*) AS n FROM settlement.items WHERE accounting_date = $1',
    [DAYS[index]],
    CLEARING_WAIT_MS_MAX,
  );
  const span = await p.query<{ s: string }>(
    'SELECT EXTRACT(EPOCH FROM max(created_at) - min(created_at))::text AS s FROM settlement.items WHERE accounting_date = $1',
    [DAYS[index]],
  );
  const spanS = Number(span[0]?.s ?? 0);
  record({
    figure: 'clearing',
    replicas,
    n: cleared.reached,
    per_s: Math.round(cleared.reached / cleared.wallS),
    wall_s: cleared.wallS,
    note: `JetStream → inbox → items; replicas up in ${upS.toFixed(1)} s; first→last item commit ${spanS.toFixed(1)} s = ${Math.round(cleared.reached / (spanS || 1))} items/s`,
  });
  if (!SETTLE) return;
  const settleDate = SETTLE_DATES[index];
  const before = await count(
    p,
    "SELECT count(*) AS n FROM settlement.batches WHERE state IN ('PAID', 'CARRIED', 'EXCEPTION')",
  );
  const runStarted = Date.now();
  const result = await unary(
    p.settlementReplica('settlement').runSettlementDay.bind(p.settlementReplica('settlement')),
    {
      requestId: `bench-run-${BENCH_TAG}-${index}`,
      settlementDate: settleDate ?? '',
    },
    { deadlineMs: 3_600_000 },
  );
  const createdS = (Date.now() - runStarted) / 1000;
  const created = Number(result.batchesCreated);
  record({
    figure: 'batches created',
    replicas,
    n: created,
    per_s: Math.round(created / createdS),
    wall_s: createdS,
    note: `RunSettlementDay ${settleDate}: ${PAYMENTS} items assigned, ${Math.round(PAYMENTS / createdS)} items/s`,
  });
  const settled = await progressUntil(
    p,
    `settling (${replicas} replica)`,
    before + created,
    "SELECT count(*) AS n FROM settlement.batches WHERE state IN ('PAID', 'CARRIED', 'EXCEPTION')",
    [],
    SETTLE_SECONDS_MAX * 1000,
  );
  const finished = settled.reached - before;
  const exceptions = await count(p, "SELECT count(*) AS n FROM settlement.batches WHERE state = 'EXCEPTION'");
  record({
    figure: 'settling',
    replicas,
    n: finished,
    per_s: Math.round(finished / settled.wallS),
    wall_s: settled.wallS,
    note:
      finished >= created
        ? `all ${created} batches final (posting + payout each); ${exceptions} in EXCEPTION`
        : `${finished} of ${created} batches final within ${SETTLE_SECONDS_MAX} s; ${exceptions} in EXCEPTION`,
  });
}

async function main(): Promise<void> {
  process.stdout.write(
    `settlement bench: ${PAYMENTS} payments across ${MERCHANTS} merchants per run; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );
  // SETTLEMENT_BENCH_PROFILE_DIR: the settlement replicas write V8 CPU profiles there on exit.
  const profileDir = process.env['SETTLEMENT_BENCH_PROFILE_DIR'];
  // SETTLEMENT_BENCH_NODE_OPTIONS: node flags of the replicas (e.g. a V8 heap setting to compare).
  const nodeOptions = [
    profileDir !== undefined ? profilerEnv(profileDir)['NODE_OPTIONS'] : undefined,
    process.env['SETTLEMENT_BENCH_NODE_OPTIONS'],
  ].filter((o) => o !== undefined && o !== '');
  const profileEnv = nodeOptions.length > 0 ? { settlement: { NODE_OPTIONS: nodeOptions.join(' ') } } : {};
  const p = await startPlatform(
    profileEnv,
    { SETTLEMENT_BATCH_ACK_WAIT_MS: '30000' },
    { settlementReplicas: 2 },
  );
  const nats = await connectNats({
    servers: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
    name: 'settlement-bench',
  });
  try {
    const naming = new EventNaming(p.natsPrefix);
    const publish: Publisher = { nc: nats.nc, jsm: nats.jsm, stream: naming.stream('cashier') };
    await stopReplicas(p);
    const registered = await publishAll(
      'publish merchant_registered',
      MERCHANTS,
      (m) => ({
        subject: naming.subject('cashier', 'merchant_registered'),
        data: MerchantRegistered.encode(
          MerchantRegistered.fromPartial({
            merchant: { merchantId: `bm-${BENCH_TAG}-${m}`, name: `bench merchant ${m}` },
            currency: 'CNY',
            registeredAt: new Date(),
          }),
        ).finish(),
        msgId: `bench:reg:${BENCH_TAG}:${m}`,
      }),
      publish,
    );
    await p.restart('settlement');
    const known = await progressUntil(
      p,
      'merchants known',
      MERCHANTS,
      'SELECT count(*) AS n FROM settlement.merchants',
      [],
      CLEARING_WAIT_MS_MAX,
    );
    record({
      figure: 'merchants registered',
      replicas: 1,
      n: known.reached,
      per_s: Math.round(known.reached / known.wallS),
      wall_s: known.wallS,
      note: `set-up; published at ${registered.perS}/s`,
    });
    await p.query(
      `INSERT INTO settlement.profiles (merchant_id, cycle, offset_days, anchor_day, minimum_payout_minor, hold_unconfirmed,
         d0_hold_rate, auto_share, bank_account_no, bank_account_name, bank_code)
       SELECT merchant_id, 'T_PLUS_N', 1, 0, 0, false, '0', false,
         '6222' || lpad((row_number() OVER (ORDER BY merchant_id))::text, 12, '0'), 'Bench Merchant', 'ICBC'
       FROM settlement.merchants ON CONFLICT DO NOTHING`,
    );
    if (SETTLE) await fundPendingAccounts(p);
    await run(p, naming, publish, 0, 1);
    await run(p, naming, publish, 1, 2);
    printTable(
      `settlement bench (${PAYMENTS} payments / ${MERCHANTS} merchants per run; load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} at the end)`,
      ['figure', 'replicas', 'n', 'per s', 'wall s'],
      figures.map((f) => [f.figure, String(f.replicas), String(f.n), String(f.per_s), f.wall_s.toFixed(1)]),
    );
  } finally {
    await nats.nc.close();
    await p.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`settlement bench failed: ${String(err)}\n`);
  process.exit(1);
});
