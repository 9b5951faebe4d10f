/**
 * Stored value's way into account's balances: it posts through account's own
 * posting (domain planTransfer over the locked account states, the same bulk
 * writes and transfer_posted event as Transfer), inside the stored-value
 * unit of work's transaction, so a lot and the posting that pays for it
 * commit together. The platform's internal accounts (unearned revenue,
 * revenue, breakage) are opened on first use under a deterministic id.
 *
 * The only file of stored value that depends on the balance side's posting
 * pieces (application/common.ts loadForLegs, PostingWrites, the pg account
 * and posting repositories); keep it so when those move.
 */
import { createHash, randomUUID } from 'node:crypto';
import { accountingDateFor, type AccountingDayRule } from '@paycore/calendar';
import type { SqlTx } from '@paycore/platform';
import type { Side } from '@paycore/money';
import { loadForLegs } from '../../application/common';
import { PostingWrites } from '../../application/ports';
import type { PostingLeg, PostingPort } from '../../application/stored-value-ports';
import { planTransfer } from '../../domain/posting';
import { PgAccountRepo } from './accounts';
import type { AccountEvents } from './events';
import { PgPostingRepo } from './postings';

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
  private readonly accounts: PgAccountRepo;
  private readonly postings: PgPostingRepo;

  constructor(
    private readonly sql: SqlTx,
    events: AccountEvents,
    private readonly calendar: AccountingDayRule,
    private readonly now: () => Date,
  ) {
    this.accounts = new PgAccountRepo(sql);
    this.postings = new PgPostingRepo(sql, events);
  }

  /** The accounting date a posting gets now: the calendar's, or the day after the last sealed one. */
  async accountingDate(): Promise<string> {
    return accountingDateFor(this.now(), this.calendar, await this.postings.lastSealedDate());
  }

  async internalAccount(subjectCode: string, currency: string, normalSide: Side = 'CREDIT'): Promise<string> {
    const id = internalAccountId(subjectCode, currency);
    // Unearned revenue may not go below zero; income and suspense may
    // (a reversal after a period closed; suspense of either sign).
    // 'ACTIVE' is an account's initial status, which no transition produces.
    await this.sql.query(
      `INSERT INTO accounts (id, owner_type, owner_id, subject_code, currency, normal_side, allow_overdraft,
                             status, posting_mode, flush_interval_ms, flush_batch_max)
       VALUES ($1, 'INTERNAL', $2, $3, $4, $5, $6, 'ACTIVE', 'REALTIME', 300000, 2000)
       ON CONFLICT (id) DO NOTHING`,
      [id, STORED_VALUE_OWNER, subjectCode, currency, normalSide, !subjectCode.startsWith('2401')],
    );
    return id;
  }

  /**
   * Account's posting for one transfer, as its Transfer use case does it:
   * the posting lock shared, the accounts locked in id order, planTransfer
   * over their states, one write of entries, states, the transfer and its
   * transfer_posted event. Posting request ids are derived from the
   * stored-value request being done for the first time (transfers.request_id
   * is unique, so a second post under one id cannot commit).
   */
  async post(posting: {
    requestId: string;
    bizCode: string;
    memo: string;
    legs: readonly PostingLeg[];
  }): Promise<string> {
    await this.postings.lockShared();
    const accountingDate = await this.accountingDate();
    const states = await loadForLegs(this.accounts, posting.legs);
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
    writes.transfers.push({
      posted: {
        transferId,
        requestId: posting.requestId,
        bizCode: posting.bizCode,
        accountingDate,
        legs: plan.legs,
        postedAt: this.now(),
        pendingId: '',
      },
      kind: 'TRANSFER',
      memo: posting.memo,
      headers: { 'Biz-Context': posting.bizCode },
    });
    await this.postings.write(writes);
    return transferId;
  }
}
