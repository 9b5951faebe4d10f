/**
 * Posting many transfers in one database transaction.
 *
 * Order inside the transaction, fixed so that no two transactions can wait on
 * each other in a cycle:
 *   1. the posting lock, shared (SealDay / SetPostingMode take it exclusive);
 *   2. every account row the batch changes, FOR UPDATE in id order (the one
 *      global lock order). Legs that only queue a credit on a BUFFERED account
 *      do not lock its row: that is the point of buffering;
 *   3. plan each transfer in memory against the locked states, in arrival
 *      order. A refused transfer throws before it touches the working states,
 *      so it changes nothing and the others go on (no SAVEPOINT needed: no SQL
 *      ran for it);
 *   4. write the effects of all accepted transfers with one statement per
 *      table (entries, queued credits, account states, transfers, outbox).
 * If the transaction fails for a reason that is not a business rule (a
 * request id raced in from another process, a lost connection), the batch is
 * retried one transfer per transaction, so one bad request cannot sink the
 * others and each caller still gets its own answer.
 */
import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { inTransaction } from '@paycore/platform';
import type { Settled } from '../../application/batcher';
import type { PostedTransfer } from '../../application/model';
import type { TransferCommand } from '../../application/ports';
import { accountingDateFor, type AccountingDayRule } from '@paycore/calendar';
import { AccountError, IdempotencyKeyReusedError } from '../../domain/errors';
import { isQueuedLeg, planTransfer } from '../../domain/posting';
import type { AccountState, Entry, QueuedCredit } from '../../domain/types';
import { transferPostedMessage, writeOutboxMany, type AccountEvents, type OutboxMessage } from './events';
import {
  loadStates,
  lockPostingShared,
  postedFromJson,
  postedToJson,
  rows,
  saveStates,
  type PostedTransferJson,
} from './sql';

/** What one accepted transfer writes. */
interface TransferWrite {
  readonly posted: PostedTransfer;
  readonly requestHash: string;
  readonly kind: 'TRANSFER' | 'CONFIRM';
  readonly memo: string;
}

/** Everything a transaction accumulates before its bulk writes. */
export class PostingWrites {
  readonly entries: Entry[] = [];
  readonly queued: QueuedCredit[] = [];
  readonly transfers: TransferWrite[] = [];
  readonly outbox: OutboxMessage[] = [];
  readonly states = new Map<string, AccountState>();

  async flush(manager: EntityManager): Promise<void> {
    await insertEntries(manager, this.entries);
    await insertQueued(manager, this.queued);
    await saveStates(manager, this.states.values());
    await insertTransfers(manager, this.transfers);
    await writeOutboxMany(manager, this.outbox);
  }
}

export async function insertEntries(manager: EntityManager, entries: readonly Entry[]): Promise<void> {
  if (entries.length === 0) return;
  await rows(
    manager,
    `INSERT INTO entries (account_id, seq, transfer_id, side, amount, balance_after, biz_code, accounting_date)
     SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::uuid[], $4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::date[])`,
    [
      entries.map((e) => e.accountId),
      entries.map((e) => e.seq.toString()),
      entries.map((e) => e.transferId),
      entries.map((e) => e.side),
      entries.map((e) => e.amountMinor.toString()),
      entries.map((e) => e.balanceAfter.toString()),
      entries.map((e) => e.bizCode),
      entries.map((e) => e.accountingDate),
    ],
  );
}

async function insertQueued(manager: EntityManager, queued: readonly QueuedCredit[]): Promise<void> {
  if (queued.length === 0) return;
  await rows(
    manager,
    `INSERT INTO buffered_credits (account_id, transfer_id, side, amount, biz_code, accounting_date)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bigint[], $5::text[], $6::date[])`,
    [
      queued.map((q) => q.accountId),
      queued.map((q) => q.transferId),
      queued.map((q) => q.side),
      queued.map((q) => q.amountMinor.toString()),
      queued.map((q) => q.bizCode),
      queued.map((q) => q.accountingDate),
    ],
  );
}

async function insertTransfers(manager: EntityManager, transfers: readonly TransferWrite[]): Promise<void> {
  if (transfers.length === 0) return;
  await rows(
    manager,
    `INSERT INTO transfers (id, request_id, request_hash, biz_code, kind, pending_id, accounting_date, memo, result, created_at)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::date[], $8::text[], $9::jsonb[], $10::timestamptz[])`,
    [
      transfers.map((t) => t.posted.transferId),
      transfers.map((t) => t.posted.requestId),
      transfers.map((t) => t.requestHash),
      transfers.map((t) => t.posted.bizCode),
      transfers.map((t) => t.kind),
      transfers.map((t) => (t.posted.pendingId === '' ? null : t.posted.pendingId)),
      transfers.map((t) => t.posted.accountingDate),
      transfers.map((t) => t.memo),
      transfers.map((t) => JSON.stringify(postedToJson(t.posted))),
      transfers.map((t) => t.posted.postedAt.toISOString()),
    ],
  );
}

/** The date postings get now: natural date, or the day after the last sealed one. */
export async function currentAccountingDate(
  manager: EntityManager,
  calendar: AccountingDayRule,
  now: Date,
): Promise<string> {
  const found = await rows<{ last: string | null }>(
    manager,
    'SELECT max(accounting_date)::text AS last FROM sealed_days',
  );
  return accountingDateFor(now, calendar, found[0]?.last ?? null);
}

/** Accounts the legs need, with the rows to lock: all but queued legs of BUFFERED accounts. */
export async function loadForLegs(
  manager: EntityManager,
  legs: readonly { accountId: string; side: 'DEBIT' | 'CREDIT' }[],
): Promise<Map<string, AccountState>> {
  const ids = legs.map((l) => l.accountId);
  const unlocked = await loadStates(manager, ids, false);
  const lockIds = legs
    .filter((leg) => {
      const account = unlocked.get(leg.accountId);
      return account !== undefined && !isQueuedLeg(account, leg);
    })
    .map((leg) => leg.accountId);
  const locked = await loadStates(manager, lockIds, true);
  for (const [id, state] of locked) unlocked.set(id, state);
  return unlocked;
}

export interface TransferPosterOptions {
  readonly dataSource: DataSource;
  readonly events: AccountEvents;
  readonly calendar: AccountingDayRule;
  readonly now: () => Date;
}

export class TransferPoster {
  constructor(private readonly options: TransferPosterOptions) {}

  /** One answer per command, in order. Throws only if even one-by-one posting cannot reach the database. */
  async post(commands: readonly TransferCommand[]): Promise<readonly Settled<PostedTransfer>[]> {
    try {
      return await this.postInOneTransaction(commands);
    } catch (error) {
      if (commands.length === 1) return [{ ok: false, error }];
      const answers: Settled<PostedTransfer>[] = [];
      for (const command of commands) {
        try {
          const [answer] = await this.postInOneTransaction([command]);
          answers.push(answer ?? { ok: false, error: new Error('no answer') });
        } catch (single) {
          answers.push({ ok: false, error: single });
        }
      }
      return answers;
    }
  }

  private async postInOneTransaction(
    commands: readonly TransferCommand[],
  ): Promise<Settled<PostedTransfer>[]> {
    return inTransaction(
      this.options.dataSource,
      async (manager) => {
        await lockPostingShared(manager);
        const now = this.options.now();
        const accountingDate = await currentAccountingDate(manager, this.options.calendar, now);
        const replays = await findTransfers(
          manager,
          commands.map((c) => c.requestId),
        );
        const fresh = commands.filter((c) => !replays.has(c.requestId));
        const states = await loadForLegs(
          manager,
          fresh.flatMap((c) => c.legs),
        );
        const writes = new PostingWrites();
        const answered = new Map<string, { hash: string; answer: Settled<PostedTransfer> }>();
        const answers = commands.map((command): Settled<PostedTransfer> => {
          const earlier = replays.get(command.requestId) ?? answered.get(command.requestId);
          if (earlier !== undefined) return replayAnswer(command, earlier.hash, earlier.answer);
          const answer = this.plan(command, states, writes, accountingDate, now);
          if (answer.ok) answered.set(command.requestId, { hash: command.requestHash, answer });
          return answer;
        });
        await writes.flush(manager);
        return answers;
      },
      { isolation: 'READ COMMITTED', name: 'account.transfer_batch' },
    );
  }

  private plan(
    command: TransferCommand,
    states: Map<string, AccountState>,
    writes: PostingWrites,
    accountingDate: string,
    now: Date,
  ): Settled<PostedTransfer> {
    const transferId = randomUUID();
    try {
      const plan = planTransfer((id) => states.get(id), command.legs, {
        transferId,
        bizCode: command.bizCode,
        accountingDate,
      });
      for (const [id, state] of plan.accounts) {
        states.set(id, state);
        writes.states.set(id, state);
      }
      writes.entries.push(...plan.entries);
      writes.queued.push(...plan.queued);
      const posted: PostedTransfer = {
        transferId,
        requestId: command.requestId,
        bizCode: command.bizCode,
        accountingDate,
        legs: plan.legs,
        postedAt: now,
        pendingId: '',
      };
      writes.transfers.push({
        posted,
        requestHash: command.requestHash,
        kind: 'TRANSFER',
        memo: command.memo,
      });
      writes.outbox.push(transferPostedMessage(this.options.events.transferPosted, posted, command.headers));
      return { ok: true, value: posted };
    } catch (error) {
      // Business refusals are answers; anything else is a bug and fails the batch.
      if (error instanceof AccountError) return { ok: false, error };
      throw error;
    }
  }
}

function replayAnswer(
  command: TransferCommand,
  firstHash: string,
  first: Settled<PostedTransfer>,
): Settled<PostedTransfer> {
  if (firstHash !== command.requestHash) {
    return {
      ok: false,
      error: new IdempotencyKeyReusedError(
        `request_id ${command.requestId} was used for a different transfer`,
        {
          field: 'request_id',
          metadata: { request_id: command.requestId },
        },
      ),
    };
  }
  return first;
}

/** Committed transfers by request id: their hash and their first answer. */
export async function findTransfers(
  manager: EntityManager,
  requestIds: readonly string[],
): Promise<Map<string, { hash: string; answer: Settled<PostedTransfer> }>> {
  const found = new Map<string, { hash: string; answer: Settled<PostedTransfer> }>();
  if (requestIds.length === 0) return found;
  const rowsFound = await rows<{ request_id: string; request_hash: string; result: PostedTransferJson }>(
    manager,
    'SELECT request_id, request_hash, result FROM transfers WHERE request_id = ANY($1::text[])',
    [[...new Set(requestIds)]],
  );
  for (const row of rowsFound) {
    found.set(row.request_id, {
      hash: row.request_hash,
      answer: { ok: true, value: postedFromJson(row.result) },
    });
  }
  return found;
}
