/**
 * Transfer throughput over gRPC (a benchmark, not a test). Starts the account
 * service as a real process on a fresh database and drives Transfer with N
 * concurrent clients for a fixed time per scenario:
 *   uniform      random pairs over 1,000 accounts
 *   hot-realtime every transfer credits one hot account, REALTIME
 *   hot-buffered the same with the hot account BUFFERED
 * each once with the batcher and once as a baseline with one transaction per
 * transfer (ACCOUNT_BATCH_SIZE_MAX=1), in the same run on the same machine.
 * Each scenario also prints the SQL statements and Postgres commits per
 * transfer, from the service's own driver counters (/metrics), background
 * work during the scenario included.
 * Each scenario also prints the CPU time the account process and the bench
 * process (the clients) spent per transfer, read from /proc and
 * process.cpuUsage(), and the machine's busy share: the two share the 2 cores
 * with Postgres, so a figure is the service's only while cores stay free.
 * Prints the client count and the load average beside the figures, a table
 * and one JSON line per scenario.
 * Env: BENCH_CLIENTS (default 128), BENCH_SECONDS (default 6),
 * BENCH_MODES (default "baseline,batched").
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { unary } from '@paycore/platform';
import {
  OwnerType,
  PostingMode,
  Side,
  type AccountServiceClient,
} from '@paycore/proto/paycore/account/v1/account_service';
import { createTestDatabase, deleteTestStreams, freePort } from '@paycore/testing';
import { clientFor, createTokenMinter, startServiceProcess } from '../test/process';

const BIZ = '10010102050000000000';
const CLIENTS = Number(process.env['BENCH_CLIENTS'] ?? '128');
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? '6');
const MODES = (process.env['BENCH_MODES'] ?? 'baseline,batched').split(',');
const ACCOUNTS = 1_000;
/** Linux reports process times in clock ticks of 10 ms (USER_HZ = 100). */
const CLOCK_TICK_MS = 10;

interface Result {
  scenario: string;
  mode: string;
  clients: number;
  transfers: number;
  transfers_per_s: number;
  p50_ms: number;
  p99_ms: number;
  statements_per_transfer: number;
  commits_per_transfer: number;
  errors: number;
  service_cpu_ms_per_transfer: number;
  client_cpu_ms_per_transfer: number;
  machine_busy_pct: number;
  load_average_1m: number;
}

/** CPU milliseconds (user + system) a process has used so far, from /proc/<pid>/stat. */
function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at field 3; utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS;
}

/** Busy and total clock ticks of the whole machine, from /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const cpu = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  return { busy: total - idle, total };
}

const METRICS_TIMEOUT_MS = 5_000;

/** A counter of the service's /metrics (statements, commits as its pg driver sent them). */
async function scrape(httpAddress: string, metric: string): Promise<number> {
  const res = await fetch(`http://${httpAddress}/metrics`, {
    signal: AbortSignal.timeout(METRICS_TIMEOUT_MS),
  });
  const line = (await res.text())
    .split('\n')
    .find((l) => l.startsWith(`${metric}{`) || l.startsWith(`${metric} `));
  if (line === undefined) throw new Error(`no ${metric} on ${httpAddress}/metrics`);
  return Number(line.trim().split(/\s+/).pop());
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function openAccounts(
  client: AccountServiceClient,
  prefix: string,
): Promise<{ bank: string; wallets: string[]; hot: string }> {
  const open = async (n: string, side: Side): Promise<string> =>
    (
      await unary(client.openAccount.bind(client), {
        requestId: `${prefix}-open-${n}`,
        bizContext: { code: BIZ },
        ownerType: OwnerType.OWNER_TYPE_INTERNAL,
        ownerId: 'bench',
        subjectCode: side === Side.SIDE_DEBIT ? '122101' : '224101',
        currency: 'CNY',
        normalSide: side,
        allowOverdraft: true,
      })
    ).account?.accountId ?? '';
  const bank = await open('bank', Side.SIDE_DEBIT);
  const hot = await open('hot', Side.SIDE_CREDIT);
  const wallets: string[] = [];
  for (let i = 0; i < ACCOUNTS; i += 50) {
    wallets.push(
      ...(await Promise.all(Array.from({ length: 50 }, (_, j) => open(String(i + j), Side.SIDE_CREDIT)))),
    );
  }
  return { bank, wallets, hot };
}

async function drive(
  client: AccountServiceClient,
  servicePid: number,
  httpAddress: string,
  scenario: string,
  mode: string,
  pick: (n: number) => [string, string],
): Promise<Result> {
  const latencies: number[] = [];
  let errors = 0;
  let sent = 0;
  const statementsBefore = await scrape(httpAddress, 'paycore_db_statements_total');
  const commitsBefore = await scrape(httpAddress, 'paycore_db_commits_total');
  const serviceCpuBefore = processCpuMs(servicePid);
  const clientCpuBefore = process.cpuUsage();
  const machineBefore = machineTicks();
  const deadline = Date.now() + SECONDS * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (Date.now() < deadline) {
        const n = sent++;
        const [from, to] = pick(n);
        const t0 = performance.now();
        try {
          await unary(client.transfer.bind(client), {
            requestId: `${scenario}-${mode}-${n}`,
            bizContext: { code: BIZ },
            legs: [
              { accountId: from, side: Side.SIDE_DEBIT, amount: { amountMinor: 1n, currency: 'CNY' } },
              { accountId: to, side: Side.SIDE_CREDIT, amount: { amountMinor: 1n, currency: 'CNY' } },
            ],
            memo: '',
          });
          latencies.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  const serviceCpuMs = processCpuMs(servicePid) - serviceCpuBefore;
  const clientCpu = process.cpuUsage(clientCpuBefore);
  const clientCpuMs = (clientCpu.user + clientCpu.system) / 1000;
  const machineAfter = machineTicks();
  const loadAverage = loadavg()[0] ?? 0;
  const done = Math.max(1, latencies.length);
  const statements = (await scrape(httpAddress, 'paycore_db_statements_total')) - statementsBefore;
  const commits = (await scrape(httpAddress, 'paycore_db_commits_total')) - commitsBefore;
  latencies.sort((a, b) => a - b);
  return {
    scenario,
    mode,
    clients: CLIENTS,
    transfers: latencies.length,
    transfers_per_s: Math.round(latencies.length / seconds),
    p50_ms: Number(percentile(latencies, 50).toFixed(1)),
    p99_ms: Number(percentile(latencies, 99).toFixed(1)),
    statements_per_transfer: Number((statements / done).toFixed(2)),
    commits_per_transfer: Number((commits / done).toFixed(2)),
    errors,
    service_cpu_ms_per_transfer: Number((serviceCpuMs / done).toFixed(3)),
    client_cpu_ms_per_transfer: Number((clientCpuMs / done).toFixed(3)),
    machine_busy_pct: Math.round(
      (100 * (machineAfter.busy - machineBefore.busy)) /
        Math.max(1, machineAfter.total - machineBefore.total),
    ),
    load_average_1m: Number(loadAverage.toFixed(2)),
  };
}

async function runMode(mode: 'batched' | 'baseline'): Promise<Result[]> {
  const db = await createTestDatabase();
  const minter = await createTokenMinter();
  const env: Record<string, string> =
    mode === 'baseline'
      ? {
          ACCOUNT_BATCH_SIZE_MAX: '1',
          ACCOUNT_BATCH_CONCURRENCY: '15',
          DATABASE_POOL_SIZE_MAX: '16',
          LOG_LEVEL: 'warn',
        }
      : { LOG_LEVEL: 'warn', ACCOUNT_FLUSH_TICK_MS: '20' };
  const httpPort = await freePort();
  const httpAddress = `127.0.0.1:${httpPort}`;
  const service = await startServiceProcess(db.url, minter, {
    ...env,
    LOG_LEVEL: 'info',
    HTTP_PORT: String(httpPort),
  });
  try {
    const client = await clientFor(service.address, minter);
    const { wallets, hot } = await openAccounts(client, mode);
    const random = (): string => wallets[Math.floor(Math.random() * wallets.length)] ?? '';
    const results: Result[] = [];
    results.push(
      await drive(client, service.child.pid, httpAddress, 'uniform', mode, () => {
        const a = random();
        let b = random();
        while (b === a) b = random();
        return [a, b];
      }),
    );
    results.push(
      await drive(client, service.child.pid, httpAddress, 'hot-realtime', mode, () => [random(), hot]),
    );
    await unary(client.setPostingMode.bind(client), {
      requestId: `${mode}-buffer`,
      bizContext: { code: BIZ },
      accountId: hot,
      postingMode: PostingMode.POSTING_MODE_BUFFERED,
      flushInterval: { seconds: 0n, nanos: 50_000_000 },
      flushBatchMax: 10_000,
    });
    results.push(
      await drive(client, service.child.pid, httpAddress, 'hot-buffered', mode, () => [random(), hot]),
    );
    return results;
  } finally {
    service.child.kill('SIGTERM');
    await service.child.exited;
    await db.drop();
  }
}

async function main(): Promise<void> {
  const results: Result[] = [];
  try {
    for (const mode of MODES) {
      if (mode !== 'baseline' && mode !== 'batched') throw new Error(`BENCH_MODES: unknown mode ${mode}`);
      results.push(...(await runMode(mode)));
    }
  } finally {
    await deleteTestStreams(); // a benchmark, like a test, leaves no NATS streams behind
  }
  const header = [
    'scenario',
    'mode',
    'clients',
    'transfers',
    'transfers/s',
    'p50 ms',
    'p99 ms',
    'stmts/transfer',
    'commits/transfer',
    'errors',
    'service cpu ms/transfer',
    'client cpu ms/transfer',
    'machine busy %',
    'load 1m',
  ];
  const rows = results.map((r) =>
    [
      r.scenario,
      r.mode,
      r.clients,
      r.transfers,
      r.transfers_per_s,
      r.p50_ms,
      r.p99_ms,
      r.statements_per_transfer,
      r.commits_per_transfer,
      r.errors,
      r.service_cpu_ms_per_transfer,
      r.client_cpu_ms_per_transfer,
      r.machine_busy_pct,
      r.load_average_1m,
    ].map(String),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  process.stdout.write(
    `\naccount Transfer over gRPC, ${CLIENTS} clients, ${SECONDS} s per scenario, load average ${load} at the end\n${line(header)}\n`,
  );
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
  for (const r of results) process.stdout.write(`${JSON.stringify({ bench: 'account.transfer', ...r })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${String(err)}\n`);
  process.exit(1);
});
