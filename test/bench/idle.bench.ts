/**
 * The idle platform (a benchmark, not a test). Every service runs as its own
 * process on its production schedules (no test ticks), on a fresh database,
 * with no traffic at all. After a settling pause it measures, over
 * BENCH_IDLE_SECONDS (default 30):
 *   - CPU seconds of each process from /proc/<pid>/stat, and their sum as a
 *     share of one core (the target: at most 5%);
 *   - SQL statements per second sent by the services (their driver counters);
 *   - Postgres commits per second of the run's database (pg_stat_database).
 * That an idle loop still reacts at once to new work is proven by
 * packages/platform/test/events/wakeup.test.ts, not here.
 * Prints a table and one JSON line per process and for the total.
 */
import { deleteTestStreams } from '@paycore/testing';
import { startPlatform } from '../e2e/platform';
import { CommitCounter, cpuSeconds, printTable, statementsSent, STATS_SETTLE_MS } from './measure';

const IDLE_SECONDS = Number(process.env['BENCH_IDLE_SECONDS'] ?? '30');
/** Start-up work (migrations, seeding, first polls) must be over before measuring. */
const SETTLE_MS = STATS_SETTLE_MS;

async function main(): Promise<void> {
  if (!Number.isFinite(IDLE_SECONDS) || IDLE_SECONDS < 5 || IDLE_SECONDS > 600) {
    throw new RangeError(`BENCH_IDLE_SECONDS must be in [5, 600], got ${IDLE_SECONDS}`);
  }
  process.stdout.write('starting every service on its production schedules…\n');
  const p = await startPlatform({}, {}, { testSchedules: false });
  const commits = await CommitCounter.open(p.databaseName);
  const rows: string[][] = [];
  const lines: Record<string, unknown>[] = [];
  try {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const pids = p.pids();
    const cpuBefore = new Map([...pids].map(([name, pid]) => [name, cpuSeconds(pid)]));
    const statementsBefore = await statementsSent(p);
    const commitsBefore = await commits.commits();
    const startedMs = Date.now();
    process.stdout.write(`measuring ${IDLE_SECONDS} s of no traffic…\n`);
    await new Promise((resolve) => setTimeout(resolve, IDLE_SECONDS * 1000));
    const elapsedS = (Date.now() - startedMs) / 1000;
    const statements = (await statementsSent(p)) - statementsBefore;
    // Reported late by idle backends: wait for the flush, and count that wait in the rate.
    await new Promise((resolve) => setTimeout(resolve, STATS_SETTLE_MS));
    const committed = (await commits.commits()) - commitsBefore;
    const commitSeconds = (Date.now() - startedMs) / 1000;
    let total = 0;
    for (const [name, pid] of pids) {
      const used = cpuSeconds(pid) - (cpuBefore.get(name) ?? 0);
      total += used;
      const share = (used / elapsedS) * 100;
      rows.push([name, used.toFixed(2), `${share.toFixed(2)}%`, '', '']);
      lines.push({
        bench: 'platform.idle',
        process: name,
        cpu_s: Number(used.toFixed(2)),
        core_pct: Number(share.toFixed(2)),
      });
    }
    const totalShare = (total / elapsedS) * 100;
    const statementsPerS = statements / elapsedS;
    const commitsPerS = committed / commitSeconds;
    rows.push([
      'total',
      total.toFixed(2),
      `${totalShare.toFixed(2)}%`,
      statementsPerS.toFixed(2),
      commitsPerS.toFixed(2),
    ]);
    lines.push({
      bench: 'platform.idle',
      process: 'total',
      seconds: Number(elapsedS.toFixed(1)),
      cpu_s: Number(total.toFixed(2)),
      core_pct: Number(totalShare.toFixed(2)),
      statements_per_s: Number(statementsPerS.toFixed(2)),
      commits_per_s: Number(commitsPerS.toFixed(2)),
    });
  } finally {
    await commits.close();
    await p.close();
    await deleteTestStreams(); // a benchmark, like a test, leaves no NATS streams behind
  }
  printTable(
    `idle platform, ${IDLE_SECONDS} s, no traffic (share of one core; statements and commits of the whole platform)`,
    ['process', 'cpu s', 'of one core', 'statements/s', 'commits/s'],
    rows,
  );
  for (const line of lines) process.stdout.write(`${JSON.stringify(line)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${String(err)}\n`);
  process.exit(1);
});
