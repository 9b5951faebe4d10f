/**
 * Amount holds and whole-account freezes: the `freezes` table. A freeze is
 * inserted in force (its initial status) and released only through the unit
 * of work's transition() along FREEZE_TRANSITIONS.
 */
import { SQL_NOW, type SqlTx, type TransitionResult } from '@paycore/platform';
import type { FreezeRecord, FreezeRepo, NewFreeze } from '../../application/ports';
import type { FreezeStatus } from '../../domain/states';
import { FREEZE_IN_FORCE_STATES, FREEZES, isUuid } from './sql';

export class PgFreezeRepo implements FreezeRepo {
  constructor(private readonly sql: SqlTx) {}

  async insert(freeze: NewFreeze): Promise<void> {
    await this.sql.query(
      `INSERT INTO freezes (id, account_id, whole_account, amount, status, reason, biz_code)
       VALUES ($1, $2, $3, $4, 'ACTIVE', $5, $6)`,
      [freeze.id, freeze.accountId, freeze.wholeAccount, freeze.amountMinor, freeze.reason, freeze.bizCode],
    );
  }

  async lock(freezeId: string): Promise<FreezeRecord | undefined> {
    if (!isUuid(freezeId)) return undefined;
    const [row] = await this.sql.query<{
      id: string;
      account_id: string;
      whole_account: boolean;
      amount: string;
      status: FreezeStatus;
    }>('SELECT id, account_id, whole_account, amount::text, status FROM freezes WHERE id = $1 FOR UPDATE', [
      freezeId,
    ]);
    if (row === undefined) return undefined;
    return {
      id: row.id,
      accountId: row.account_id,
      wholeAccount: row.whole_account,
      amountMinor: BigInt(row.amount),
      status: row.status,
    };
  }

  release(freezeId: string): Promise<TransitionResult<FreezeStatus>> {
    return this.sql.transition(FREEZES, freezeId, 'RELEASED', { released_at: SQL_NOW });
  }

  async otherWholeFreezeActive(accountId: string, exceptFreezeId: string): Promise<boolean> {
    const found = await this.sql.query(
      `SELECT 1 AS found FROM freezes
        WHERE account_id = $1 AND whole_account AND status IN (${FREEZE_IN_FORCE_STATES}) AND id <> $2 LIMIT 1`,
      [accountId, exceptFreezeId],
    );
    return found.length > 0;
  }
}
