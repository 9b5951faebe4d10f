/**
 * Accounts: narrow reads and writes of the `accounts` table. Balances are
 * written back by the posting statement (postings.ts) or `save`; the status
 * changes only through the unit of work's transition() along
 * ACCOUNT_STATUS_TRANSITIONS.
 */
import { SQL_NOW, type SqlTx, type TransitionResult } from '@paycore/platform';
import type { AccountView } from '../../application/model';
import type { AccountRepo, NewAccount } from '../../application/ports';
import type { AccountState, AccountStatus, OwnerType, PostingMode } from '../../domain/types';
import {
  ACCOUNT_COLUMNS,
  ACCOUNTS,
  isUuid,
  loadStates,
  saveStates,
  stateOf,
  viewOf,
  type AccountRow,
  type Queryable,
} from './sql';

const VIEW_COLUMNS = `${ACCOUNT_COLUMNS},
  (SELECT COALESCE(sum(amount), 0)::text FROM buffered_credits b WHERE b.account_id = a.id) AS pending_buffered`;

export async function readAccountView(sql: Queryable, accountId: string): Promise<AccountView | undefined> {
  if (!isUuid(accountId)) return undefined;
  const [row] = await sql.query<AccountRow & { pending_buffered: string }>(
    `SELECT ${VIEW_COLUMNS} FROM accounts a WHERE id = $1`,
    [accountId],
  );
  return row === undefined ? undefined : viewOf(row, BigInt(row.pending_buffered));
}

export async function readAccountViews(
  sql: Queryable,
  ownerType: OwnerType,
  ownerId: string,
  afterId: string,
  limit: number,
): Promise<readonly AccountView[]> {
  const found = await sql.query<AccountRow & { pending_buffered: string }>(
    `SELECT ${VIEW_COLUMNS} FROM accounts a
      WHERE owner_type = $1 AND owner_id = $2 AND id > $3::uuid
      ORDER BY id LIMIT $4`,
    [ownerType, ownerId, afterId === '' ? '00000000-0000-0000-0000-000000000000' : afterId, limit],
  );
  return found.map((row) => viewOf(row, BigInt(row.pending_buffered)));
}

export class PgAccountRepo implements AccountRepo {
  constructor(private readonly sql: SqlTx) {}

  async insert(account: NewAccount): Promise<void> {
    // ACTIVE is the initial status, which no transition produces.
    await this.sql.query(
      `INSERT INTO accounts (id, owner_type, owner_id, subject_code, currency, normal_side, allow_overdraft, status,
                             posting_mode, flush_interval_ms, flush_batch_max)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'ACTIVE', 'REALTIME', $8, $9)`,
      [
        account.id,
        account.ownerType,
        account.ownerId,
        account.subjectCode,
        account.currency,
        account.normalSide,
        account.allowOverdraft,
        account.flushIntervalMs,
        account.flushBatchMax,
      ],
    );
  }

  states(ids: readonly string[], lock: boolean): Promise<Map<string, AccountState>> {
    return loadStates(this.sql, ids, lock);
  }

  async lockForFlush(accountId: string): Promise<{ state: AccountState; flushBatchMax: number } | undefined> {
    if (!isUuid(accountId)) return undefined;
    const [row] = await this.sql.query<AccountRow>(
      `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1 FOR UPDATE`,
      [accountId],
    );
    return row === undefined ? undefined : { state: stateOf(row), flushBatchMax: row.flush_batch_max };
  }

  save(states: Iterable<AccountState>): Promise<void> {
    return saveStates(this.sql, states);
  }

  view(accountId: string): Promise<AccountView | undefined> {
    return readAccountView(this.sql, accountId);
  }

  moveTo(accountId: string, to: AccountStatus): Promise<TransitionResult<AccountStatus>> {
    return this.sql.transition(ACCOUNTS, accountId, to, to === 'CLOSED' ? { closed_at: SQL_NOW } : {});
  }

  async setPostingMode(
    accountId: string,
    mode: PostingMode,
    flushIntervalMs: number,
    flushBatchMax: number,
  ): Promise<void> {
    await this.sql.query(
      `UPDATE accounts SET posting_mode = $2, flush_interval_ms = $3, flush_batch_max = $4, version = version + 1
        WHERE id = $1`,
      [accountId, mode, flushIntervalMs, flushBatchMax],
    );
  }
}
