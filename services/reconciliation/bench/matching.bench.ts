/**
 * Reconciliation import + matching figures (a benchmark, not a test). The
 * bench generates paycore's channel transactions (COPY into recon's own copy,
 * untimed) and bills in the real Alipay (zip of GBK CSVs) and WeChat
 * (backticked) formats with 1% differences injected (a quarter each: line
 * missing, line for no order, wrong amount, wrong status), then times what
 * the service does in its import step for each bill: parse with the shared
 * channel-protocols parser, COPY the lines in chunks, set-based matching,
 * the differences and their DifferenceOpened outbox rows — one transaction
 * per bill, exactly the code of Reconciliation.importStatement's first step.
 * The same run times a row-by-row baseline (one SELECT and one INSERT per
 * line, classify() in TypeScript) on a sample and prints both rates.
 *
 * Env: BENCH_RECON_LINES (default 6 000 000), BENCH_RECON_LINES_PER_FILE
 * (default 500 000; the formats allow 1 000 000), BENCH_RECON_BASELINE_LINES
 * (default 20 000), BENCH_RECON_SEED. Prints resident memory (peak RSS of
 * this process, which runs the service's code) and one JSON line.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import {
  alipayBillLine,
  buildAlipayBill,
  buildWechatBill,
  wechatBillRow,
  type AlipayBillLine,
  type WechatBillRow,
} from '@paycore/channel-protocols';
import { createDataSource, EventNaming, runMigrations } from '@paycore/platform';
import { createTestDatabase, seededRandom } from '@paycore/testing';
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { Client } from 'pg';
import { reconEvents } from '../src/adapters/nats/events';
import { PgReconStore } from '../src/adapters/pg/store';
import { sha256 } from '../src/application/reconciliation';
import { classify } from '../src/domain/classify';
import { parseStatement } from '../src/domain/statements';

const LINES = Number(process.env['BENCH_RECON_LINES'] ?? '6000000');
const PER_FILE = Math.min(1_000_000, Number(process.env['BENCH_RECON_LINES_PER_FILE'] ?? '500000'));
const BASELINE_LINES = Number(process.env['BENCH_RECON_BASELINE_LINES'] ?? '20000');
const SEED = Number(process.env['BENCH_RECON_SEED'] ?? '20240301');
const DIFFERENCE_SHARE = 0.01;
const FIRST_DATE = '2025-01-01';

const fee = (amount: bigint): bigint => (amount * 6n + 500n) / 1000n;
const dateOf = (index: number): string =>
  new Date(Date.parse(`${FIRST_DATE}T00:00:00Z`) + Math.floor(index / 2) * 86_400_000)
    .toISOString()
    .slice(0, 10);

interface Planned {
  readonly channelNo: string;
  readonly billDate: string;
  readonly content: Buffer;
  readonly format: 'ALIPAY_TRADE_ZIP' | 'WECHAT_TRADE_ALL';
  readonly txnRows: string;
  readonly injected: number;
}

/** One bill and its transactions: every line has a transaction except the injected faults. */
function plan(fileIndex: number, count: number, next: () => number): Planned {
  const alipay = fileIndex % 2 === 0;
  const channelNo = alipay ? '100001' : '200001';
  const billDate = dateOf(fileIndex);
  const alipayLines: AlipayBillLine[] = [];
  const wechatRows: WechatBillRow[] = [];
  let txnRows = '';
  let injected = 0;
  for (let i = 0; i < count; i += 1) {
    const txnId = `B${fileIndex}-${i}`;
    const amount = BigInt(100 + Math.floor(next() * 50_000));
    const roll = next();
    const fault = roll < DIFFERENCE_SHARE ? Math.floor((roll / DIFFERENCE_SHARE) * 4) : -1;
    if (fault >= 0) injected += 1;
    if (fault !== 1)
      txnRows += `${txnId}\tPAY\tSUCCESS\t${channelNo}\t${alipay ? '1001' : '2001'}\t\t${amount}\t${fee(amount)}\tCNY\tC${txnId}\t\t${billDate}\t\\N\t2\n`;
    if (fault === 0) continue; // the channel's line is missing
    const billed = fault === 2 ? amount + 1n : amount;
    const time = `${billDate} 12:00:00`;
    if (alipay)
      alipayLines.push(
        alipayBillLine({
          tradeNo: `C${txnId}`,
          outTradeNo: txnId,
          businessType: fault === 3 ? '退款' : '交易',
          subject: 'bench',
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
          appId: 'wx',
          mchId: 'mch',
          transactionId: `C${txnId}`,
          outTradeNo: txnId,
          tradeState: fault === 3 ? 'REVOKED' : 'SUCCESS',
          totalFen: billed,
          feeFen: fee(amount),
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
    content,
    format: alipay ? 'ALIPAY_TRADE_ZIP' : 'WECHAT_TRADE_ALL',
    txnRows,
    injected,
  };
}

async function copyTxns(pg: Client, rows: string): Promise<void> {
  const stream = pg.query(
    copyFrom(
      `COPY recon.channel_txns (txn_id, kind, state, channel_no, pay_channel, biz_code, amount_minor, fee_minor,
         currency, channel_txn_no, original_txn_id, channel_day, finish_time, version) FROM STDIN`,
    ),
  );
  await pipeline(Readable.from([rows]), stream);
}

/** The service's import step for one bill (Reconciliation.importAndRun's transaction), timed. */
async function importOne(
  store: PgReconStore,
  events: ReturnType<typeof reconEvents>,
  bill: Planned,
): Promise<{ ms: number; differences: number }> {
  const started = Date.now();
  const statement = parseStatement(
    bill.format,
    `${bill.channelNo}_${bill.billDate}`,
    bill.content,
    undefined,
  );
  const differences = await store.transaction('bench.import', 'READ COMMITTED', async (tx) => {
    const file = {
      fileId: randomUUID(),
      channelNo: bill.channelNo,
      billDate: bill.billDate,
      format: statement.format,
      checksumSha256: sha256(bill.content),
      sizeBytes: bill.content.length,
      lineCount: statement.lines.length,
      statedAmountMinor: statement.statedAmountMinor,
      statedFeeMinor: statement.statedFeeMinor,
      source: 'UPLOAD' as const,
      operator: 'bench',
    };
    await tx.files.insert(file);
    await tx.files.copyLines(file, statement);
    const run = {
      runId: randomUUID(),
      channelNo: file.channelNo,
      billDate: file.billDate,
      fileId: file.fileId,
    };
    await tx.runs.insert(run);
    const outcome = await tx.matching.matchDay(
      { ...run, state: 'MATCHED', finishedAt: null },
      { holdDays: 0, windowMinutes: 30 },
    );
    for (const difference of outcome.opened) await tx.publish(events.differenceOpened(difference));
    return outcome.opened.length;
  });
  return { ms: Date.now() - started, differences };
}

/** Row by row: one SELECT and one INSERT per line, the decision in TypeScript. */
async function baseline(pg: Client, bill: Planned, sample: number): Promise<{ lines: number; ms: number }> {
  const statement = parseStatement(bill.format, 'baseline', bill.content, undefined);
  const lines = statement.lines.slice(0, sample);
  await pg.query(
    'CREATE TEMP TABLE baseline_results (merchant_order_no text, class text, direction text, delta bigint)',
  );
  const started = Date.now();
  await pg.query('BEGIN');
  for (const line of lines) {
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
      line,
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
  await pg.query('ROLLBACK');
  return { lines: lines.length, ms: Date.now() - started };
}

async function main(): Promise<void> {
  const database = await createTestDatabase();
  const dataSource = createDataSource({
    url: database.url,
    schema: 'recon',
    applicationName: 'recon-bench',
    poolSizeMax: 4,
  });
  await dataSource.initialize();
  await runMigrations(dataSource, { schema: 'recon', migrationsDir: join(__dirname, '..', 'migrations') });
  const pg = new Client({ connectionString: database.url });
  await pg.connect();
  const store = new PgReconStore(dataSource);
  const events = reconEvents(new EventNaming('bench'));
  let rssMax = 0;
  const sampler = setInterval(() => {
    rssMax = Math.max(rssMax, process.memoryUsage().rss);
  }, 200);
  const next = seededRandom(SEED);
  const files = Math.ceil(LINES / PER_FILE);
  const bar = new cliProgress.SingleBar(
    {
      format: 'reconcile |{bar}| {value}/{total} lines | {phase} | import+match {seconds}s',
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(LINES, 0, { phase: 'generating', seconds: '0.0' });
  let timedMs = 0;
  let done = 0;
  let differences = 0;
  let injected = 0;
  let baselineFigure: { lines: number; ms: number } | undefined;
  try {
    for (let f = 0; f < files; f += 1) {
      const count = Math.min(PER_FILE, LINES - done);
      bar.update(done, { phase: `file ${f + 1}/${files}: generating` });
      const bill = plan(f, count, next);
      injected += bill.injected;
      await copyTxns(pg, bill.txnRows);
      if (f === 0) {
        bar.update(done, { phase: 'row-by-row baseline' });
        baselineFigure = await baseline(pg, bill, Math.min(BASELINE_LINES, count));
      }
      bar.update(done, { phase: `file ${f + 1}/${files}: import + match` });
      const result = await importOne(store, events, bill);
      timedMs += result.ms;
      differences += result.differences;
      done += count;
      bar.update(done, { phase: `file ${f + 1}/${files} done`, seconds: (timedMs / 1000).toFixed(1) });
    }
  } finally {
    bar.stop();
    clearInterval(sampler);
    await pg.end();
    await dataSource.destroy();
    await database.drop();
  }
  const setRate = Math.round(done / (timedMs / 1000));
  const baseRate =
    baselineFigure === undefined ? 0 : Math.round(baselineFigure.lines / (baselineFigure.ms / 1000));
  process.stdout.write(
    `lines ${done} in ${files} bills (Alipay and WeChat formats), ${injected} injected faults, ${differences} differences\n` +
      `import + matching: ${(timedMs / 1000).toFixed(1)} s, ${setRate} lines/s (set-based)\n` +
      `row-by-row baseline: ${baseRate} lines/s on ${baselineFigure?.lines ?? 0} lines — set-based is ${baseRate === 0 ? '-' : (setRate / baseRate).toFixed(1)}x faster\n` +
      `peak resident memory: ${(rssMax / 1024 / 1024).toFixed(0)} MiB\n`,
  );
  process.stdout.write(
    `${JSON.stringify({ figure: 'recon.import_match', lines: done, seconds: timedMs / 1000, lines_per_s: setRate, baseline_lines_per_s: baseRate, rss_max_mib: Math.round(rssMax / 1024 / 1024), differences, injected })}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(
    `recon bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
