/**
 * Counters the benchmarks read around a scenario, across every service
 * process of a platform (test/e2e/platform.ts):
 *   - SQL statements and commits: the services' own driver counters
 *     (`paycore_db_statements_total`, `paycore_db_commits_total` on each
 *     /metrics; transaction boundaries included, commits counted as
 *     Postgres counts them) — the local Postgres has no pg_stat_statements
 *     loaded, so the driver is where statements are counted;
 *   - Postgres's own commit count, `pg_stat_database.xact_commit` of the
 *     run's database, read from another database so the reads do not count.
 *     Backends report it with a delay (at most 1 s while busy, 10 s when
 *     idle), so a reading waits `STATS_SETTLE_MS` first;
 *   - CPU seconds of each process from /proc/<pid>/stat (utime + stime).
 */
import { readFileSync } from 'node:fs';
import { Client } from 'pg';
import { testServerUrl } from '@paycore/testing';
import type { Platform } from '../e2e/platform';

export const SERVICES = ['account', 'ledger', 'channel-router', 'cashier'] as const;
/**
 * Every service process of a one-replica platform, for per-payment figures:
 * settlement's clearing consumer and reconciliation's workers run during a
 * payment run too, so their statements are the payment's as well.
 */
export const PAYMENT_SERVICES = [...SERVICES, 'settlement', 'reconciliation'] as const;
/** Longer than Postgres's idle stats flush interval (10 s). */
export const STATS_SETTLE_MS = 11_000;
/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. */
const CLOCK_TICKS_PER_S = 100;
const METRICS_TIMEOUT_MS = 5_000;

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

/** One counter of a process's /metrics at `address` (host:port). */
export async function scrapeCounter(address: string, metric: string): Promise<number> {
  const res = await fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(METRICS_TIMEOUT_MS) });
  const text = await res.text();
  const line = text.split('\n').find((l) => l.startsWith(`${metric}{`) || l.startsWith(`${metric} `));
  if (line === undefined) throw new Error(`${address}/metrics has no ${metric}`);
  return Number(line.trim().split(/\s+/).pop());
}

/** Statements sent by every service process so far (the sum of their counters). */
export async function statementsSent(p: Platform): Promise<number> {
  let total = 0;
  for (const name of SERVICES)
    total += await scrapeCounter(p.httpAddress(name), 'paycore_db_statements_total');
  return total;
}

/** Commits of every service process so far, by their drivers. */
export async function commitsSent(p: Platform): Promise<number> {
  let total = 0;
  for (const name of SERVICES) total += await scrapeCounter(p.httpAddress(name), 'paycore_db_commits_total');
  return total;
}

export class CommitCounter {
  private constructor(
    private readonly admin: Client,
    private readonly database: string,
  ) {}

  static async open(database: string): Promise<CommitCounter> {
    const url = new URL(testServerUrl());
    url.pathname = '/postgres';
    const admin = new Client({ connectionString: url.toString() });
    await admin.connect();
    return new CommitCounter(admin, database);
  }

  /** Committed transactions of the database so far, as Postgres reports them. */
  async commits(): Promise<number> {
    const res = await this.admin.query<{ n: string }>(
      'SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = $1',
      [this.database],
    );
    return Number(res.rows[0]?.n ?? NaN);
  }

  close(): Promise<void> {
    return this.admin.end();
  }
}

/** A snapshot of the services' driver counters. */
export interface Counts {
  readonly statements: number;
  readonly commits: number;
}

/** The driver counters of each of `services`, by service name. */
export async function countsByService(
  p: Platform,
  services: readonly string[] = PAYMENT_SERVICES,
): Promise<ReadonlyMap<string, Counts>> {
  const counts = new Map<string, Counts>();
  for (const name of services) {
    const address = p.httpAddress(name);
    counts.set(name, {
      statements: await scrapeCounter(address, 'paycore_db_statements_total'),
      commits: await scrapeCounter(address, 'paycore_db_commits_total'),
    });
  }
  return counts;
}

/** The sum over services of a countsByService snapshot. */
export function totalOf(counts: ReadonlyMap<string, Counts>): Counts {
  let statements = 0;
  let commits = 0;
  for (const c of counts.values()) {
    statements += c.statements;
    commits += c.commits;
  }
  return { statements, commits };
}

/** Every payment service's counters summed (PAYMENT_SERVICES). */
export async function countsNow(p: Platform): Promise<Counts> {
  return totalOf(await countsByService(p));
}

/** Statements and commits per payment of one service between two snapshots. */
export interface ServiceShare {
  readonly service: string;
  readonly statements_per_payment: number;
  readonly commits_per_payment: number;
}

/** Each service's share of the work between `before` and `after`, per payment (one decimal). */
export function sharesPerPayment(
  before: ReadonlyMap<string, Counts>,
  after: ReadonlyMap<string, Counts>,
  payments: number,
): ServiceShare[] {
  const n = Math.max(1, payments);
  const per = (delta: number): number => Number((delta / n).toFixed(1));
  return [...after].map(([service, a]) => {
    const b = before.get(service) ?? { statements: 0, commits: 0 };
    return {
      service,
      statements_per_payment: per(a.statements - b.statements),
      commits_per_payment: per(a.commits - b.commits),
    };
  });
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
}

/** Prints a right-aligned table. */
export function printTable(
  title: string,
  header: readonly string[],
  rows: readonly (readonly string[])[],
): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
  process.stdout.write(`\n${title}\n${line(header)}\n`);
  for (const r of rows) process.stdout.write(`${line(r)}\n`);
}
