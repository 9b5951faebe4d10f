/**
 * Reconciliation import + matching at scale (a benchmark that prints
 * figures; nothing here asserts a time). The service runs as its own
 * process (services/reconciliation/src/main.ts, as `make up` runs it), so
 * its resident memory is the process's own (/proc/<pid>/status VmHWM).
 *
 * - Platform side: one successful channel transaction per line, generated
 *   as channel-router's `ChannelTransaction` messages and mapped to rows by
 *   the consumer's own `channelTxnOf` (adapters/nats/events.ts), then COPY'd
 *   into recon.channel_txns (untimed). The first SAMPLE of them are instead
 *   sent as real `channel.txn_updated` events through NATS to the running
 *   service, and the rows its consumer wrote are compared with what the
 *   bench would have copied: the output says whether they agree.
 * - Channel side: bills in the real formats, built by channel-protocols
 *   (Alipay: zip of GBK CSVs; WeChat: backticked text), one per channel
 *   per day, at most a million lines each (the formats' bound), 1% of lines
 *   with a fault (a quarter each: line missing, line for no order, wrong
 *   amount, wrong status).
 * - Timed: each bill streamed through UploadStatement (1 MiB chunks) until
 *   the run is MATCHED: parse, COPY, set-based matching, differences and
 *   their DifferenceOpened rows. The bench gives the service no peers (their
 *   address is a closed port), so the rules step that follows stops at its
 *   first call exactly as it would with account down (DEPENDENCY_UNAVAILABLE;
 *   the run stays MATCHED and would resume later): the figure is import +
 *   matching, not the rules and postings.
 * - Baseline: the same decision row by row (one SELECT and one INSERT per
 *   line, classify() in TypeScript) on the first RECON_BENCH_BASELINE_LINES
 *   lines, extrapolated to all lines.
 *
 * Env: RECON_BENCH_LINES (default 6 000 000), RECON_BENCH_LINES_PER_FILE
 * (default lines / 6, at most 1 000 000), RECON_BENCH_BASELINE_LINES
 * (default 50 000), RECON_BENCH_SEED, RECON_BENCH_SERVICE_NODE_OPTIONS
 * (replaces the service's Node flags; by default they are its own from
 * deploy/services.json, as `make up` starts it). Prints the load average
 * beside the figures (the machine is shared).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHash } from 'node:crypto';
import { credentials, Client as GrpcClient, Metadata } from '@grpc/grpc-js';
import cliProgress from 'cli-progress';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import {
  alipayBillLine,
  buildAlipayBill,
  buildWechatBill,
  wechatBillRow,
  type AlipayBillLine,
  type WechatBillRow,
} from '@paycore/channel-protocols';
import { connectNats, createClient, ensureStream, errorReason, EventNaming } from '@paycore/platform';
import {
  createTestDatabase,
  createTokenMinter,
  freePort,
  seededRandom,
  spawnNode,
  testPrefix,
} from '@paycore/testing';
import { TxnUpdated } from '@paycore/proto/paycore/channel/v1/events';
import { TxnKind, TxnState, type ChannelTransaction } from '@paycore/proto/paycore/channel/v1/types';
import {
  ReconciliationServiceClient,
  type UploadStatementRequest,
} from '@paycore/proto/paycore/reconciliation/v1/reconciliation_service';
import { checkHealth } from '../../../scripts/wait-healthy';
import { channelTxnOf } from '../src/adapters/nats/events';
import { classify } from '../src/domain/classify';
import type { ChannelTxn } from '../src/domain/model';

const env = (name: string, fallback: string): number => Number(process.env[name] ?? fallback);
const LINES = env('RECON_BENCH_LINES', process.env['BENCH_RECON_LINES'] ?? '6000000');
const PER_FILE = Math.min(1_000_000, env('RECON_BENCH_LINES_PER_FILE', String(Math.ceil(LINES / 6))));
const BASELINE_LINES = env('RECON_BENCH_BASELINE_LINES', '50000');
const SEED = env('RECON_BENCH_SEED', '20240301');
const SAMPLE = Math.min(1_000, PER_FILE);
const CHUNK_BYTES = 1024 * 1024;
const DIFFERENCE_SHARE = 0.01;
const FIRST_DATE = '2025-01-01';
const ROOT = join(__dirname, '..', '..', '..');

/** The service's own environment as deploy/services.json gives it to `make up` (its heap bound among it). */
function manifestEnv(): Record<string, string> {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'deploy', 'services.json'), 'utf8')) as {
    services: { name: string; env?: Record<string, string> }[];
  };
  return manifest.services.find((s) => s.name === 'reconciliation')?.env ?? {};
}
const MANIFEST_ENV = manifestEnv();
/** Node flags of the service process: its manifest's, unless RECON_BENCH_SERVICE_NODE_OPTIONS overrides them. */
const SERVICE_NODE_OPTIONS =
  process.env['RECON_BENCH_SERVICE_NODE_OPTIONS'] ?? MANIFEST_ENV['NODE_OPTIONS'] ?? '';
const NODE_OPTIONS_SOURCE =
  process.env['RECON_BENCH_SERVICE_NODE_OPTIONS'] !== undefined
    ? 'RECON_BENCH_SERVICE_NODE_OPTIONS'
    : 'deploy/services.json';

const fee = (amount: bigint): bigint => (amount * 6n + 500n) / 1000n;
const dateOf = (fileIndex: number): string =>
  new Date(Date.parse(`${FIRST_DATE}T00:00:00Z`) + Math.floor(fileIndex / 2) * 86_400_000)
    .toISOString()
    .slice(0, 10);

interface Planned {
  readonly channelNo: string;
  readonly billDate: string;
  readonly format: 'ALIPAY_TRADE_ZIP' | 'WECHAT_TRADE_ALL';
  readonly content: Buffer;
  readonly txns: ChannelTxn[];
  readonly lineCount: number;
  readonly injected: number;
  /** The first lines as the baseline classifies them. */
  readonly sample: {
    merchantOrderNo: string;
    kind: 'PAY' | 'REFUND';
    amountMinor: bigint;
    feeMinor: bigint;
  }[];
}

/** channel-router's message for a successful payment, as its outbox would publish it. */
function transaction(txnId: string, channelNo: string, amount: bigint, finish: Date): ChannelTransaction {
  return {
    txnId,
    kind: TxnKind.TXN_KIND_PAYMENT,
    state: TxnState.TXN_STATE_SUCCESS,
    bizCode: channelNo === '100001' ? '10010101011001100001' : '10010101012001200001',
    payChannel: channelNo === '100001' ? '1001' : '2001',
    channelNo,
    amount: { amountMinor: amount, currency: 'CNY' },
    channelTxnNo: `C${txnId}`,
    originalTxnId: '',
    failureCode: '',
    failureMessage: '',
    retryableElsewhere: false,
    payUrl: '',
    fee: { amountMinor: fee(amount), currency: 'CNY' },
    createTime: finish,
    updateTime: finish,
    finishTime: finish,
    version: 2n,
  };
}

function plan(fileIndex: number, count: number, next: () => number): Planned {
  const alipay = fileIndex % 2 === 0;
  const channelNo = alipay ? '100001' : '200001';
  const billDate = dateOf(fileIndex);
  const finish = new Date(`${billDate}T04:00:00Z`);
  const time = `${billDate} 12:00:00`;
  const alipayLines: AlipayBillLine[] = [];
  const wechatRows: WechatBillRow[] = [];
  const txns: ChannelTxn[] = [];
  const sample: Planned['sample'] = [];
  let injected = 0;
  for (let i = 0; i < count; i += 1) {
    const txnId = `B${fileIndex}-${i}`;
    const amount = BigInt(100 + Math.floor(next() * 50_000));
    const roll = next();
    const fault = roll < DIFFERENCE_SHARE ? Math.floor((roll / DIFFERENCE_SHARE) * 4) : -1;
    if (fault >= 0) injected += 1;
    if (fault !== 1) txns.push(channelTxnOf(transaction(txnId, channelNo, amount, finish)));
    if (fault === 0) continue; // the channel's line is missing
    const billed = fault === 2 ? amount + 1n : amount;
    if (sample.length < BASELINE_LINES)
      sample.push({
        merchantOrderNo: txnId,
        kind: fault === 3 ? 'REFUND' : 'PAY',
        amountMinor: billed,
        feeMinor: fee(amount),
      });
    if (alipay)
      alipayLines.push(
        alipayBillLine({
          tradeNo: `C${txnId}`,
          outTradeNo: txnId,
          businessType: fault === 3 ? '退款' : '交易',
          subject: '商品',
          createdAt: time,
          finishedAt: time,
          orderAmountFen: fault === 3 ? -billed : billed,
          serviceFeeFen: fault === 3 ? fee(amount) : -fee(amount),
        }),
      );
    else
      wechatRows.push(
        wechatBillRow({
          tradeTime: time,
          appId: 'wx2421b1c4370ec43b',
          mchId: '10000100',
          transactionId: `C${txnId}`,
          outTradeNo: txnId,
          tradeState: fault === 3 ? 'REVOKED' : 'SUCCESS',
          totalFen: billed,
          feeFen: fee(amount),
          body: '商品',
        }),
      );
  }
  const content = alipay
    ? buildAlipayBill({
        account: '20880000000000000156',
        billDate,
        exportedAt: `${billDate} 23:59:59`,
        lines: alipayLines,
      })
    : Buffer.from(buildWechatBill({ billType: 'ALL', rows: wechatRows }));
  return {
    channelNo,
    billDate,
    format: alipay ? 'ALIPAY_TRADE_ZIP' : 'WECHAT_TRADE_ALL',
    content,
    txns,
    lineCount: alipay ? alipayLines.length : wechatRows.length,
    injected,
    sample,
  };
}

/** The row PgTxns.upsert writes for a transaction, in COPY text form (updated_at left to its default). */
function txnRow(t: ChannelTxn): string {
  return [
    t.txnId,
    t.kind,
    t.state,
    t.channelNo,
    t.payChannel,
    t.bizCode,
    t.amountMinor.toString(),
    t.feeMinor.toString(),
    t.currency,
    t.channelTxnNo,
    t.originalTxnId,
    t.channelDay,
    t.finishTime === null ? '\\N' : t.finishTime.toISOString(),
    t.version.toString(),
  ].join('\t');
}

async function copyTxns(pg: Client, txns: readonly ChannelTxn[]): Promise<void> {
  function* blocks(): Generator<string> {
    for (let i = 0; i < txns.length; i += 5_000)
      yield (
        txns
          .slice(i, i + 5_000)
          .map(txnRow)
          .join('\n') + '\n'
      );
  }
  await pipeline(
    Readable.from(blocks()),
    pg.query(
      copyFrom(`COPY recon.channel_txns (txn_id, kind, state, channel_no, pay_channel, biz_code, amount_minor, fee_minor,
         currency, channel_txn_no, original_txn_id, channel_day, finish_time, version) FROM STDIN`),
    ),
  );
}

const TXN_SELECT = `SELECT txn_id, kind, state, channel_no, pay_channel, biz_code, amount_minor::text, fee_minor::text,
  currency, channel_txn_no, original_txn_id, channel_day::text, finish_time, version::text FROM recon.channel_txns`;

/** Sends the sample as real events; true when the consumer's rows equal the bench's rows for them. */
async function sampleThroughNats(
  pg: Client,
  prefix: string,
  txns: readonly ChannelTxn[],
  messages: readonly ChannelTransaction[],
): Promise<boolean> {
  const nats = await connectNats({
    servers: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
    name: 'recon-bench',
  });
  const naming = new EventNaming(prefix);
  await ensureStream(nats.jsm, {
    name: naming.stream('channel'),
    subjects: [naming.contextSubjects('channel')],
  });
  for (const transaction of messages) {
    const data = TxnUpdated.encode({
      transaction,
      previousState: TxnState.TXN_STATE_PROCESSING,
      source: 'bench',
    }).finish();
    await nats.js.publish(naming.subject('channel', 'txn_updated'), data, { msgID: randomUUID() });
  }
  const deadline = Date.now() + 300_000;
  for (;;) {
    const n = await pg.query<{ n: string }>('SELECT count(*) AS n FROM recon.channel_txns');
    if (Number(n.rows[0]?.n) >= messages.length) break;
    if (Date.now() > deadline) throw new Error('the consumer did not record the sample');
    await sleep(200);
  }
  await nats.nc.close();
  const written = await pg.query<Record<string, unknown>>(`${TXN_SELECT} ORDER BY txn_id`);
  const asRow = (r: Record<string, unknown>): string =>
    [...Object.entries(r)]
      .map(([k, v]) =>
        k === 'finish_time' && v instanceof Date
          ? v.toISOString()
          : v === null
            ? '\\N'
            : typeof v === 'string'
              ? v
              : JSON.stringify(v),
      )
      .join('\t');
  const expected = [...txns].sort((a, b) => (a.txnId < b.txnId ? -1 : a.txnId > b.txnId ? 1 : 0)).map(txnRow);
  return JSON.stringify(written.rows.map(asRow)) === JSON.stringify(expected);
}

/** Streams one bill through UploadStatement; resolves with the refusal reason or 'OK'. */
function upload(
  client: ReconciliationServiceClient,
  bill: Planned,
  progress: (bytes: number) => void,
): Promise<string> {
  return new Promise((resolve) => {
    const call = client.uploadStatement(new Metadata(), { deadline: Date.now() + 3_600_000 }, (err) =>
      resolve(err ? (errorReason(err) ?? String(err)) : 'OK'),
    );
    const first: UploadStatementRequest = {
      metadata: {
        requestId: `bench-${bill.channelNo}-${bill.billDate}`,
        channelNo: bill.channelNo,
        billDate: bill.billDate,
        format: bill.format,
        operator: 'bench',
        checksumSha256: createHash('sha256').update(bill.content).digest('hex'),
        sizeBytes: BigInt(bill.content.length),
      },
    };
    call.write(first);
    let at = 0;
    const pump = (): void => {
      while (at < bill.content.length) {
        const chunk = bill.content.subarray(at, at + CHUNK_BYTES);
        at += chunk.length;
        progress(at);
        if (!call.write({ chunk })) {
          call.once('drain', pump);
          return;
        }
      }
      call.end();
    };
    pump();
  });
}

/** Row by row: one SELECT and one INSERT per line, the decision in TypeScript (rolled back). */
async function baseline(pg: Client, sample: Planned['sample']): Promise<{ lines: number; ms: number }> {
  await pg.query('BEGIN');
  await pg.query(
    'CREATE TEMP TABLE baseline_results (merchant_order_no text, class text, direction text, delta bigint)',
  );
  const started = Date.now();
  for (const line of sample) {
    const found = await pg.query<{
      kind: 'PAY';
      state: 'SUCCESS';
      amount_minor: string;
      fee_minor: string;
      currency: string;
    }>('SELECT kind, state, amount_minor, fee_minor, currency FROM recon.channel_txns WHERE txn_id = $1', [
      line.merchantOrderNo,
    ]);
    const t = found.rows[0];
    const c = classify(
      {
        kind: line.kind,
        status: 'SUCCESS',
        amountMinor: line.amountMinor,
        feeMinor: line.feeMinor,
        currency: 'CNY',
      },
      t && {
        kind: t.kind,
        state: t.state,
        amountMinor: BigInt(t.amount_minor),
        feeMinor: BigInt(t.fee_minor),
        currency: t.currency,
      },
    );
    await pg.query('INSERT INTO baseline_results VALUES ($1, $2, $3, $4)', [
      line.merchantOrderNo,
      c.resultClass,
      c.direction,
      c.deltaMinor.toString(),
    ]);
  }
  const ms = Date.now() - started;
  await pg.query('ROLLBACK');
  return { lines: sample.length, ms };
}

function memoryOf(pid: number): { rssMib: number; hwmMib: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rssMib: Math.round(kib('VmRSS') / 1024), hwmMib: Math.round(kib('VmHWM') / 1024) };
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const database = await createTestDatabase();
  const minter = await createTokenMinter();
  const prefix = testPrefix();
  const grpcPort = await freePort();
  const closedPort = await freePort(); // nothing listens: the service has no peers
  const service = (running = spawnNode(join(ROOT, 'services/reconciliation/src/main.ts'), {
    name: 'reconciliation',
    cwd: ROOT,
    env: {
      SERVICE_NAME: 'reconciliation',
      GRPC_HOST: '127.0.0.1',
      GRPC_PORT: String(grpcPort),
      HTTP_PORT: String(await freePort()),
      DATABASE_URL: database.url,
      NATS_URL: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
      NATS_PREFIX: prefix,
      AUTH_JWT_PUBLIC_KEY: minter.publicKeyPem,
      AUTH_JWT_ISSUER: minter.issuer,
      AUTH_JWT_AUDIENCE: minter.audience,
      ACCOUNT_ADDRESS: `127.0.0.1:${closedPort}`,
      LEDGER_ADDRESS: `127.0.0.1:${closedPort}`,
      CHANNEL_ROUTER_ADDRESS: `127.0.0.1:${closedPort}`,
      RECON_SCHEDULE_ENABLED: 'false',
      RECON_RESUME_AFTER_MS: '86400000',
      // The import holds one connection, the lease renewal and the wake-ups a few more; the database is shared.
      DATABASE_POOL_SIZE_MAX: '4',
      RECON_STREAM_UPLOAD_BYTES_MAX: String(1024 * 1024 * 1024),
      LOG_LEVEL: 'info',
      ...MANIFEST_ENV,
      ...(SERVICE_NODE_OPTIONS !== '' ? { NODE_OPTIONS: SERVICE_NODE_OPTIONS } : {}),
      SHUTDOWN_GRACE_MS: '2000',
    },
  }));
  const health = new GrpcClient(`127.0.0.1:${grpcPort}`, credentials.createInsecure());
  for (let i = 0; (await checkHealth(health, 1_000).catch(() => 'DOWN')) !== 'SERVING'; i += 1) {
    if (service.hasExited() || i > 600)
      throw new Error(`reconciliation did not start:\n${service.lines.slice(-20).join('\n')}`);
    await sleep(500);
  }
  health.close();
  // Test tokens are short-lived: a fresh one before each bill (a million-line bill can take minutes).
  const mint = (): Promise<string> =>
    minter.mint({ sub: 'recon-bench', scopes: ['recon:read', 'recon:write'] });
  let token = await mint();
  const client = createClient(ReconciliationServiceClient, {
    address: `127.0.0.1:${grpcPort}`,
    token: () => token,
    defaultDeadlineMs: 3_600_000,
  });
  const pg = new Client({ connectionString: database.url });
  await pg.connect();
  let rssMaxMib = 0;
  const sampler = setInterval(() => {
    if (!service.hasExited()) rssMaxMib = Math.max(rssMaxMib, memoryOf(service.pid).rssMib);
  }, 250);
  const next = seededRandom(SEED);
  const files = Math.ceil(LINES / PER_FILE);
  const bar = new cliProgress.SingleBar(
    {
      format: 'reconcile |{bar}| {value}/{total} lines | {phase} | import+match {seconds}s',
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 10_000,
    },
    cliProgress.Presets.shades_classic,
  );
  process.stdout.write(
    `recon bench: ${LINES} lines in ${files} bills of at most ${PER_FILE} (Alipay and WeChat formats), seed ${SEED}, ` +
      `service pid ${service.pid} (node options from ${NODE_OPTIONS_SOURCE}: ${SERVICE_NODE_OPTIONS === '' ? 'defaults' : SERVICE_NODE_OPTIONS}), load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}\n`,
  );
  bar.start(LINES, 0, { phase: 'starting', seconds: '0.0' });
  let timedMs = 0;
  let done = 0;
  let injected = 0;
  let txnCount = 0;
  let sampleAgrees: boolean | undefined;
  let baselineFigure = { lines: 0, ms: 0 };
  const outcomes: string[] = [];
  const perBill: string[] = [];
  try {
    for (let f = 0; f < files; f += 1) {
      const count = Math.min(PER_FILE, LINES - done);
      bar.update(done, { phase: `bill ${f + 1}/${files}: generating (untimed)` });
      const bill = plan(f, count, next);
      injected += bill.injected;
      txnCount += bill.txns.length;
      bar.update(done, { phase: `bill ${f + 1}/${files}: platform side (untimed)` });
      if (f === 0) {
        const sampled = bill.txns.slice(0, SAMPLE);
        const messages = sampled.map((t) =>
          transaction(t.txnId, t.channelNo, t.amountMinor, t.finishTime ?? new Date(0)),
        );
        sampleAgrees = await sampleThroughNats(pg, prefix, sampled, messages);
        await copyTxns(pg, bill.txns.slice(SAMPLE));
      } else await copyTxns(pg, bill.txns);
      await pg.query('ANALYZE recon.channel_txns');
      if (f === 0) {
        bar.update(done, { phase: 'row-by-row baseline (untimed)' });
        baselineFigure = await baseline(pg, bill.sample);
      }
      bar.update(done, { phase: `bill ${f + 1}/${files}: upload, import + match` });
      token = await mint();
      const started = Date.now();
      const outcome = await upload(client, bill, (bytes) =>
        bar.update(done + Math.floor((count * bytes) / bill.content.length), {
          seconds: ((timedMs + Date.now() - started) / 1000).toFixed(1),
        }),
      );
      timedMs += Date.now() - started;
      outcomes.push(outcome);
      const phases = service.lines.filter((l) => l.includes('statement imported and matched')).pop();
      const phase = phases === undefined ? {} : (JSON.parse(phases) as Record<string, unknown>);
      if (outcome !== 'DEPENDENCY_UNAVAILABLE' && outcome !== 'OK')
        process.stderr.write(
          `\nbill ${f + 1}: ${outcome}\n${service.lines
            .filter((l) => /"level":"(error|fatal)"/.test(l))
            .slice(-3)
            .join('\n')}\n`,
        );
      const memoryNow = memoryOf(service.pid);
      process.stdout.write(
        `\nbill ${f + 1}/${files} done: ${outcome}, ${((Date.now() - started) / 1000).toFixed(1)} s, phases ${phases ?? '-'}, ` +
          `service VmHWM ${memoryNow.hwmMib} MiB, load ${loadavg()
            .map((l) => l.toFixed(2))
            .join(' ')}\n`,
      );
      perBill.push(
        `${outcome} ${bill.format === 'ALIPAY_TRADE_ZIP' ? 'alipay' : 'wechat'} ${bill.billDate} ${count} lines ${(bill.content.length / 1048576).toFixed(1)} MiB ${((Date.now() - started) / 1000).toFixed(1)} s (read+COPY ${String(phase['read_copy_ms'])} ms, match ${String(phase['match_ms'])} ms, events ${String(phase['events_ms'])} ms)`,
      );
      done += count;
      bar.update(done, { phase: `bill ${f + 1}/${files} ${outcome}`, seconds: (timedMs / 1000).toFixed(1) });
    }
  } finally {
    bar.stop();
    clearInterval(sampler);
  }
  const memory = memoryOf(service.pid);
  const figures = await pg.query<{ runs: string; matched: string; differences: string; lines: string }>(
    `SELECT (SELECT count(*) FROM recon.runs WHERE state = 'MATCHED') AS matched, (SELECT count(*) FROM recon.runs) AS runs,
            (SELECT count(*) FROM recon.differences) AS differences, (SELECT count(*) FROM recon.statement_lines) AS lines`,
  );
  const loadAfter = loadavg();
  const row = figures.rows[0];
  const setRate = Math.round(done / (timedMs / 1000));
  const baseRate =
    baselineFigure.ms === 0 ? 0 : Math.round(baselineFigure.lines / (baselineFigure.ms / 1000));
  process.stdout.write(
    `platform side: ${txnCount} transactions as channel-router's ChannelTransaction messages mapped by the consumer's channelTxnOf and COPY'd; ` +
      `the first ${SAMPLE} sent as real channel.txn_updated events through NATS instead — consumer's rows ${sampleAgrees === true ? 'equal' : 'DIFFER FROM'} the copied form\n` +
      `bills: ${files}, lines imported ${row?.lines}, runs ${row?.runs} (${row?.matched} stopped at MATCHED: rules step not measured; outcomes ${[...new Set(outcomes)].join(', ')})\n` +
      `per bill: ${perBill.join('; ')}\n` +
      `faults injected ${injected}, differences found ${row?.differences}\n` +
      `import + matching: ${(timedMs / 1000).toFixed(1)} s for ${done} lines, ${setRate} lines/s (streamed upload, set-based)\n` +
      `row-by-row baseline: ${baseRate} lines/s on ${baselineFigure.lines} lines, ${baseRate === 0 ? '-' : (done / baseRate).toFixed(0)} s extrapolated to ${done} — set-based is ${baseRate === 0 ? '-' : (setRate / baseRate).toFixed(1)}x faster\n` +
      `service resident memory: peak VmHWM ${memory.hwmMib} MiB (sampled VmRSS max ${rssMaxMib} MiB)\n` +
      `load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')} (2 shared cores)\n`,
  );
  process.stdout.write(
    `${JSON.stringify({ figure: 'recon.import_match', lines: done, seconds: timedMs / 1000, lines_per_s: setRate, baseline_lines_per_s: baseRate, service_vmhwm_mib: memory.hwmMib, differences: Number(row?.differences), injected, load_avg_1m_after: loadAfter[0] })}\n`,
  );
  client.close();
  await pg.end();
  service.kill('SIGTERM');
  await service.exited;
  const nats = await connectNats({
    servers: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
    name: 'recon-bench-cleanup',
  });
  for await (const stream of nats.jsm.streams.list())
    if (stream.config.name.startsWith(`${prefix.toUpperCase()}_`))
      await nats.jsm.streams.delete(stream.config.name);
  await nats.nc.close();
  await database.drop();
}

let running: ReturnType<typeof spawnNode> | undefined;

main().catch((err: unknown) => {
  if (running !== undefined && !running.hasExited()) running.kill('SIGKILL');
  process.stderr.write(
    `recon bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
