/**
 * A real account service stack for service tests: a fresh Postgres database
 * (dropped afterwards), the service's migrations, the pg store and the
 * application layer with fast worker ticks. Tests drive AccountService
 * directly and check the database with plain SQL.
 */
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { loadCatalogue, defaultCataloguePath } from '@paycore/context';
import { createDataSource, runMigrations } from '@paycore/platform';
import { createTestDatabase, type TestDatabase } from '@paycore/testing';
import { AccountService, type AccountServiceOptions } from '../src/application/account-service';
import { PgAccountStore } from '../src/adapters/pg/store';
import { AccountEvents, headersFor } from '../src/adapters/pg/events';
import { DEFAULT_ACCOUNTING_DAY, type AccountingDayRule } from '@paycore/calendar';
import { Chart, DEFAULT_SUBJECTS } from '../src/domain/chart';
import type { Side } from '@paycore/money';

export const MIGRATIONS_DIR = join(__dirname, '..', 'migrations');
/** Known codes of the shipped catalogue: transfer (action 05) and adjust (08). */
export const BIZ_TRANSFER = '10010102050000000000';
export const BIZ_ADJUST = '10030103080000000000';

export interface Harness {
  readonly db: TestDatabase;
  readonly dataSource: DataSource;
  readonly service: AccountService;
  /** Store-level calls the tests make directly: the background flush, a pending transfer's view. */
  readonly store: Pick<AccountService, 'flushDue' | 'pendingView'>;
  /** Shifts the clock the store uses (tests of expiry and sealing). */
  clockOffsetMs: number;
  close(): Promise<void>;
}

export async function startHarness(
  overrides: Partial<Pick<AccountServiceOptions, 'batcher' | 'flushTickMs' | 'expiryTickMs'>> & {
    calendar?: AccountingDayRule;
    poolSizeMax?: number;
    /** Runs on the fresh database before the service's migrations (to lay down data of an earlier schema). */
    prepare?: (dataSource: DataSource) => Promise<void>;
  } = {},
): Promise<Harness> {
  const db = await createTestDatabase();
  const dataSource = createDataSource({
    url: db.url,
    schema: 'account',
    applicationName: 'account-test',
    poolSizeMax: overrides.poolSizeMax ?? 12,
  });
  await dataSource.initialize();
  await overrides.prepare?.(dataSource);
  await runMigrations(dataSource, { schema: 'account', migrationsDir: MIGRATIONS_DIR });
  const harness: { clockOffsetMs: number } = { clockOffsetMs: 0 };
  const store = new PgAccountStore({ dataSource, events: new AccountEvents('') });
  const service = new AccountService({
    store,
    calendar: overrides.calendar ?? DEFAULT_ACCOUNTING_DAY,
    now: () => new Date(Date.now() + harness.clockOffsetMs),
    chart: new Chart(DEFAULT_SUBJECTS),
    catalogue: loadCatalogue(defaultCataloguePath()),
    captureHeaders: (bizCode) => headersFor(bizCode),
    batcher: overrides.batcher ?? {
      batchSizeMax: 200,
      concurrencyMax: 3,
      queueLengthMax: 50_000,
      lingerMs: 0,
    },
    flushTickMs: overrides.flushTickMs ?? 5,
    expiryTickMs: overrides.expiryTickMs ?? 20,
    defaultFlushIntervalMs: 300_000,
    defaultFlushBatchMax: 2_000,
  });
  service.start();
  return Object.assign(harness, {
    db,
    dataSource,
    service,
    store: {
      flushDue: (accountsMax: number) => service.flushDue(accountsMax),
      pendingView: (pendingId: string) => service.pendingView(pendingId),
    },
    async close(): Promise<void> {
      await service.stop();
      await dataSource.destroy();
      await db.drop();
    },
  });
}

let counter = 0;
/** A fresh request id for this process. */
export function rid(prefix = 'r'): string {
  counter++;
  return `${prefix}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

export async function openAccount(
  h: Harness,
  normalSide: Side,
  options: { allowOverdraft?: boolean; currency?: string; subjectCode?: string; ownerId?: string } = {},
): Promise<string> {
  const account = await h.service.openAccount({
    requestId: rid('open'),
    bizCode: BIZ_TRANSFER,
    ownerType: 'INTERNAL',
    ownerId: options.ownerId ?? 'platform',
    subjectCode: options.subjectCode ?? (normalSide === 'DEBIT' ? '122101' : '224101'),
    currency: options.currency ?? 'CNY',
    normalSide,
    allowOverdraft: options.allowOverdraft ?? false,
  });
  return account.id;
}

/** Σ over accounts of balances, signed debit-positive, per currency; zero for a sound ledger. */
export async function signedSums(h: Pick<Harness, 'dataSource'>): Promise<Map<string, bigint>> {
  const found = await h.dataSource.query<{ currency: string; s: string }[]>(
    `SELECT currency, sum(CASE WHEN normal_side = 'DEBIT' THEN available + frozen ELSE -(available + frozen) END)::text AS s
       FROM accounts GROUP BY currency`,
  );
  return new Map(found.map((r) => [r.currency, BigInt(r.s)]));
}

/** Every ledger invariant that SQL can check; returns the list of violations (empty when sound). */
export async function invariantViolations(h: Pick<Harness, 'dataSource'>): Promise<string[]> {
  const problems: string[] = [];
  const q = async (sql: string): Promise<{ n: string }[]> => await h.dataSource.query<{ n: string }[]>(sql);
  const checks: [string, string][] = [
    [
      'negative available on a non-overdraft account',
      `SELECT count(*)::text n FROM accounts WHERE NOT allow_overdraft AND available < 0`,
    ],
    [
      'frozen above total on a non-overdraft account',
      `SELECT count(*)::text n FROM accounts WHERE NOT allow_overdraft AND frozen > available + frozen`,
    ],
    [
      'seq gap',
      `SELECT count(*)::text n FROM (SELECT account_id, count(*) c, max(seq) m FROM entries GROUP BY account_id) x WHERE c <> m`,
    ],
    [
      'last_seq differs from the journal',
      `SELECT count(*)::text n FROM accounts a WHERE last_seq <> COALESCE((SELECT max(seq) FROM entries e WHERE e.account_id = a.id), 0)`,
    ],
    [
      'broken balance_after chain',
      `SELECT count(*)::text n FROM (
         SELECT e.balance_after, lag(e.balance_after, 1, 0::bigint) OVER w AS prev,
                CASE WHEN e.side = a.normal_side THEN e.amount ELSE -e.amount END AS delta
           FROM entries e JOIN accounts a ON a.id = e.account_id
         WINDOW w AS (PARTITION BY e.account_id ORDER BY e.seq)) x
        WHERE balance_after <> prev + delta`,
    ],
    [
      'balance differs from the last entry',
      `SELECT count(*)::text n FROM accounts a WHERE available + frozen <>
         COALESCE((SELECT balance_after FROM entries e WHERE e.account_id = a.id ORDER BY seq DESC LIMIT 1), 0)`,
    ],
    [
      'unbalanced transfer in the journal',
      `SELECT count(*)::text n FROM (
         SELECT e.transfer_id FROM entries e JOIN accounts a ON a.id = e.account_id
          GROUP BY e.transfer_id, a.currency
         HAVING sum(CASE WHEN e.side = 'DEBIT' THEN e.amount ELSE -e.amount END) <> 0) x
        WHERE NOT EXISTS (SELECT 1 FROM buffered_credits b WHERE b.transfer_id = x.transfer_id)`,
    ],
  ];
  for (const [name, sql] of checks) {
    const n = Number((await q(sql))[0]?.n ?? '0');
    if (n !== 0) problems.push(`${name}: ${n}`);
  }
  for (const [currency, sum] of await signedSums(h)) {
    if (sum !== 0n) problems.push(`debit-normal minus credit-normal balances in ${currency} is ${sum}`);
  }
  return problems;
}

export async function reasonOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return (err as { reason?: string }).reason ?? `NO_REASON: ${String(err)}`;
  }
  return 'NO_ERROR';
}

export function reasonOfSync(fn: () => unknown): Promise<string> {
  try {
    return reasonOf(Promise.resolve(fn()));
  } catch (err) {
    return Promise.resolve((err as { reason?: string }).reason ?? `NO_REASON: ${String(err)}`);
  }
}
