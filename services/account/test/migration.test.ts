/**
 * Proves that requests recorded before the move to the platform's idempotency
 * claims (migration 0002) keep working on real Postgres. The database is
 * first migrated to 0001 only and given what the earlier service wrote — a
 * Transfer (with a memo that needs JSON escaping: quotes, a backslash, a
 * newline, a control character, CJK), a tried pending transfer with its
 * holds, and an OpenAccount in the old `idempotency` table — then migrated to
 * the current schema and driven through the service:
 * - the Transfer sent again is a replay (same transfer id, no new entry); with
 *   another amount it is IDEMPOTENCY_KEY_REUSED naming "legs";
 * - the pending transfer tried again under a new request id is a replay (no
 *   second hold), and cancelling it releases the holds;
 * - the old OpenAccount's id stays taken: a retry is IDEMPOTENCY_KEY_REUSED
 *   (field "operation") and opens nothing;
 * - the old table and column are gone, and every ledger invariant holds.
 */
import { mkdtempSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { runMigrations } from '@paycore/platform';
import { naturalAccountingDate, DEFAULT_ACCOUNTING_DAY } from '@paycore/calendar';
import { postedToJson } from '../src/adapters/pg/sql';
import type { PostedTransfer } from '../src/application/model';
import type { Leg } from '../src/domain/types';
import { BIZ_TRANSFER, invariantViolations, MIGRATIONS_DIR, startHarness, type Harness } from './harness';

const BANK = randomUUID();
const WALLET = randomUUID();
const TRANSFER_ID = randomUUID();
const MEMO = 'he said "hi"\\ \n\t\u0001 中文';
const TRANSFER_LEGS: Leg[] = [
  { accountId: BANK, side: 'DEBIT', amountMinor: 5n, currency: 'CNY' },
  { accountId: WALLET, side: 'CREDIT', amountMinor: 5n, currency: 'CNY' },
];
const TRY_LEGS: Leg[] = [
  { accountId: WALLET, side: 'DEBIT', amountMinor: 3n, currency: 'CNY' },
  { accountId: BANK, side: 'CREDIT', amountMinor: 3n, currency: 'CNY' },
];

/** What the service wrote before migration 0002, laid down with plain SQL. */
async function earlierData(dataSource: DataSource): Promise<void> {
  const only0001 = mkdtempSync(join(tmpdir(), 'account-0001-'));
  try {
    copyFileSync(join(MIGRATIONS_DIR, '0001_accounts.sql'), join(only0001, '0001_accounts.sql'));
    await runMigrations(dataSource, { schema: 'account', migrationsDir: only0001 });
  } finally {
    rmSync(only0001, { recursive: true, force: true });
  }
  const q = (sql: string, params: unknown[] = []): Promise<unknown> => dataSource.query(sql, params);
  // After the transfer (5) and the try's holds (3 each): available 2, frozen 3 on both.
  const open = `INSERT INTO account.accounts (id, owner_type, owner_id, subject_code, currency, normal_side,
                  allow_overdraft, status, posting_mode, flush_interval_ms, flush_batch_max, available, frozen, last_seq)
                VALUES ($1, 'INTERNAL', 'platform', $2, 'CNY', $3, $4, 'ACTIVE', 'REALTIME', 300000, 2000, 2, 3, 1)`;
  await q(open, [BANK, '122101', 'DEBIT', true]);
  await q(open, [WALLET, '224101', 'CREDIT', false]);
  const date = naturalAccountingDate(new Date(), DEFAULT_ACCOUNTING_DAY);
  const posted: PostedTransfer = {
    transferId: TRANSFER_ID,
    requestId: 'legacy-transfer',
    bizCode: BIZ_TRANSFER,
    accountingDate: date,
    legs: TRANSFER_LEGS.map((leg, i) => ({
      ...leg,
      subjectCode: i === 0 ? '122101' : '224101',
      entrySeq: 1n,
      buffered: false,
    })),
    postedAt: new Date(),
    pendingId: '',
  };
  for (const leg of TRANSFER_LEGS) {
    await q(
      `INSERT INTO account.entries (account_id, seq, transfer_id, side, amount, balance_after, biz_code, accounting_date)
       VALUES ($1, 1, $2, $3, 5, 5, $4, $5)`,
      [leg.accountId, TRANSFER_ID, leg.side, BIZ_TRANSFER, date],
    );
  }
  await q(
    `INSERT INTO account.transfers (id, request_id, request_hash, biz_code, kind, accounting_date, memo, result)
     VALUES ($1, 'legacy-transfer', 'an-old-hash', $2, 'TRANSFER', $3, $4, $5::jsonb)`,
    [TRANSFER_ID, BIZ_TRANSFER, date, MEMO, JSON.stringify(postedToJson(posted))],
  );
  const legsJson = TRY_LEGS.map((l) => ({ ...l, amountMinor: l.amountMinor.toString() }));
  await q(
    `INSERT INTO account.pending_transfers (pending_id, state, biz_code, legs, reservations, try_hash, expires_at)
     VALUES ('legacy-pending', 'TRIED', $1, $2::jsonb, $3::jsonb, 'an-old-try-hash', now() + interval '1 hour')`,
    [
      BIZ_TRANSFER,
      JSON.stringify(legsJson),
      JSON.stringify(TRY_LEGS.map((l) => ({ accountId: l.accountId, amountMinor: '3' }))),
    ],
  );
  await q(
    `INSERT INTO account.idempotency (request_id, operation, request_hash, response)
     VALUES ('legacy-open', 'open_account', 'an-old-hash', $1::jsonb)`,
    [JSON.stringify({ accountId: WALLET })],
  );
}

async function failure(
  promise: Promise<unknown>,
): Promise<{ reason?: string; metadata?: Record<string, string> }> {
  try {
    await promise;
  } catch (error) {
    return error as { reason?: string; metadata?: Record<string, string> };
  }
  throw new Error('accepted');
}

describe('account migration 0002: requests recorded before it (Postgres)', function () {
  this.timeout(120_000);
  let h: Harness;
  before(async () => {
    h = await startHarness({ prepare: earlierData });
  });
  after(async () => {
    await h?.close();
  });

  it('replays a Transfer recorded before, and refuses another payload under its id', async () => {
    const again = await h.service.transfer({
      requestId: 'legacy-transfer',
      bizCode: BIZ_TRANSFER,
      legs: TRANSFER_LEGS,
      memo: MEMO,
    });
    expect(again.transferId).to.equal(TRANSFER_ID);
    const other = await failure(
      h.service.transfer({
        requestId: 'legacy-transfer',
        bizCode: BIZ_TRANSFER,
        legs: TRANSFER_LEGS.map((l) => ({ ...l, amountMinor: 6n })),
        memo: MEMO,
      }),
    );
    expect(other.reason).to.equal('IDEMPOTENCY_KEY_REUSED');
    expect(other.metadata?.['field']).to.equal('legs');
    const entries = await h.dataSource.query<{ n: string }[]>('SELECT count(*)::text n FROM entries');
    expect(entries[0]?.n).to.equal('2');
  });

  it('replays a try of a pending transfer tried before, and cancels it', async () => {
    const tried = await h.service.tryTransfer({
      requestId: 'try-after-migration',
      bizCode: BIZ_TRANSFER,
      pendingId: 'legacy-pending',
      legs: TRY_LEGS,
      timeoutMs: 60_000,
    });
    expect(tried.state).to.equal('TRIED');
    expect((await h.service.getAccount(WALLET)).frozen).to.equal(3n);
    const cancelled = await h.service.cancelTransfer({
      requestId: 'cancel-after-migration',
      bizCode: BIZ_TRANSFER,
      pendingId: 'legacy-pending',
    });
    expect(cancelled.state).to.equal('CANCELLED');
    const wallet = await h.service.getAccount(WALLET);
    expect([wallet.available, wallet.frozen]).to.deep.equal([5n, 0n]);
  });

  it('keeps the id of another request recorded before taken', async () => {
    const before = await h.dataSource.query<{ n: string }[]>('SELECT count(*)::text n FROM accounts');
    const retry = await failure(
      h.service.openAccount({
        requestId: 'legacy-open',
        bizCode: BIZ_TRANSFER,
        ownerType: 'INTERNAL',
        ownerId: 'platform',
        subjectCode: '224101',
        currency: 'CNY',
        normalSide: 'CREDIT',
        allowOverdraft: false,
      }),
    );
    expect(retry.reason).to.equal('IDEMPOTENCY_KEY_REUSED');
    expect(retry.metadata?.['field']).to.equal('operation');
    const after = await h.dataSource.query<{ n: string }[]>('SELECT count(*)::text n FROM accounts');
    expect(after[0]?.n).to.equal(before[0]?.n);
  });

  it('drops the old table and column, and the ledger stays sound', async () => {
    const gone = await h.dataSource.query<{ n: string }[]>(
      `SELECT count(*)::text n FROM information_schema.columns
        WHERE table_schema = 'account' AND (table_name = 'idempotency' OR (table_name = 'transfers' AND column_name = 'request_hash'))`,
    );
    expect(gone[0]?.n).to.equal('0');
    expect(await invariantViolations(h)).to.deep.equal([]);
  });
});
