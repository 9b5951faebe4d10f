/**
 * Stored value's way into account's balances: it posts through account's own
 * posting (domain planTransfer over the locked account states, the same bulk
 * writes and transfer_posted event as Transfer), inside the stored-value
 * unit of work's transaction, so a lot and the posting that pays for it
 * commit together. The platform's internal accounts (unearned revenue,
 * revenue, breakage) are opened on first use under a deterministic id.
 *
 * The only file of stored value that depends on the balance side's adapter
 * functions (transfers.ts, sql.ts); keep it so when those move.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { AccountingDayRule } from '@paycore/calendar';
import type { SqlTx } from '@paycore/platform';
import type { Side } from '@paycore/money';
import type { PostingLeg, PostingPort } from '../../application/stored-value-ports';
import { planTransfer } from '../../domain/posting';
import { IdempotencyKeyReusedError } from '../../domain/errors';
import { transferPostedMessage, type AccountEvents } from './events';
import { lockPostingShared } from './sql';
import { currentAccountingDate, findTransfers, loadForLegs, PostingWrites } from './transfers';

/** Owner id of the platform's stored-value accounts. */
export const STORED_VALUE_OWNER = 'stored-value';

/** A UUID derived from the subject and currency, so two starters open the same account. */
export function internalAccountId(subjectCode: string, currency: string): string {
  const hex = createHash('sha256')
    .update(`paycore.account.stored-value:${subjectCode}:${currency}`)
    .digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export class PgPostingPort implements PostingPort {
  constructor(
    private readonly sql: SqlTx,
    private readonly events: AccountEvents,
    private readonly calendar: AccountingDayRule,
    private readonly now: () => Date,
  ) {}

  async internalAccount(subjectCode: string, currency: string, normalSide: Side = 'CREDIT'): Promise<string> {
    const id = internalAccountId(subjectCode, currency);
    // Unearned revenue may not go below zero; income and suspense may
    // (a reversal after a period closed; suspense of either sign).
    await this.sql.query(
      `INSERT INTO accounts (id, owner_type, owner_id, subject_code, currency, normal_side, allow_overdraft,
                             status, posting_mode, flush_interval_ms, flush_batch_max)
       VALUES ($1, 'INTERNAL', $2, $3, $4, $5, $6, 'ACTIVE', 'REALTIME', 300000, 2000)
       ON CONFLICT (id) DO NOTHING`,
      [id, STORED_VALUE_OWNER, subjectCode, currency, normalSide, !subjectCode.startsWith('2401')],
    );
    return id;
  }

  async post(posting: {
    requestId: string;
    bizCode: string;
    memo: string;
    legs: readonly PostingLeg[];
  }): Promise<string> {
    const manager = this.sql.manager;
    await lockPostingShared(manager);
    const earlier = await findTransfers(manager, [posting.requestId]);
    if (earlier.size > 0) {
      // Posting ids are derived from the stored-value request that is being
      // done for the first time, so an existing transfer is another writer's.
      throw new IdempotencyKeyReusedError(`posting ${posting.requestId} exists`, { field: 'request_id' });
    }
    const now = this.now();
    const accountingDate = await currentAccountingDate(manager, this.calendar, now);
    const states = await loadForLegs(manager, posting.legs);
    const transferId = randomUUID();
    const plan = planTransfer((id) => states.get(id), posting.legs, {
      transferId,
      bizCode: posting.bizCode,
      accountingDate,
    });
    const writes = new PostingWrites();
    for (const [id, state] of plan.accounts) writes.states.set(id, state);
    writes.entries.push(...plan.entries);
    writes.queued.push(...plan.queued);
    const posted = {
      transferId,
      requestId: posting.requestId,
      bizCode: posting.bizCode,
      accountingDate,
      legs: plan.legs,
      postedAt: now,
      pendingId: '',
    };
    writes.transfers.push({ posted, requestHash: posting.requestId, kind: 'TRANSFER', memo: posting.memo });
    writes.outbox.push(
      transferPostedMessage(this.events.transferPosted, posted, { 'Biz-Context': posting.bizCode }),
    );
    await writes.flush(manager);
    return transferId;
  }
}
