/**
 * Posting many transfers in one database transaction (the batcher hands a
 * batch here).
 *
 * Order inside the transaction, fixed so that no two transactions can wait on
 * each other in a cycle:
 *   1. the batch's request ids, claimed with one statement (in id order), before
 *      any state is read: a replay gets its first answer, an id reused for
 *      another transfer is refused, an id repeated inside the batch gets the
 *      answer of its first occurrence;
 *   2. the posting lock, shared (SealDay / SetPostingMode take it exclusive),
 *      and the accounting date (skipped when nothing in the batch is fresh);
 *   3. every account row the batch changes, FOR UPDATE in id order. Legs that
 *      only queue a credit on a BUFFERED account do not lock its row;
 *   4. plan each fresh transfer in memory against the locked states, in
 *      arrival order. A refused transfer throws before it touches the working
 *      states, so it changes nothing and the others go on (no SAVEPOINT: no
 *      SQL ran for it); its claim is dropped again in step 6;
 *   5. write the effects of all accepted transfers with one statement;
 *   6. answer the claims (a reference to the transfer) and drop those of
 *      refused transfers, with one statement.
 * If the transaction fails for a reason that is not a business rule (a lost
 * connection, a bug in one request), the batch is retried one transfer per
 * transaction, so one bad request cannot sink the others and each caller
 * still gets its own answer.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { BatchClaim, IdempotentRequest, Remembered } from '@paycore/platform';
import { accountingDateFor } from '@paycore/calendar';
import { AccountError } from '../domain/errors';
import { planTransfer } from '../domain/posting';
import type { AccountState } from '../domain/types';
import type { Settled } from './batcher';
import { legsPayload, loadForLegs, type UseCaseDeps } from './common';
import type { PostedTransfer } from './model';
import { PostingWrites, type AccountTx, type TransferCommand } from './ports';

export const TRANSFER_OPERATION = 'account.Transfer';

/** What a Transfer's claim remembers: a reference; a replay reads the transfer. */
interface TransferAnswer {
  readonly transferId: string;
}

export function transferRequest(command: TransferCommand): IdempotentRequest {
  return {
    requestId: command.requestId,
    operation: TRANSFER_OPERATION,
    payload: { bizCode: command.bizCode, legs: legsPayload(command.legs), memo: command.memo },
  };
}

/** One answer per command, in order. Throws only if even one-by-one posting cannot reach the database. */
export async function postTransfers(
  deps: UseCaseDeps,
  commands: readonly TransferCommand[],
): Promise<readonly Settled<PostedTransfer>[]> {
  try {
    return await postInOneTransaction(deps, commands);
  } catch (error) {
    if (commands.length === 1) return [{ ok: false, error }];
    const answers: Settled<PostedTransfer>[] = [];
    for (const command of commands) {
      try {
        const [answer] = await postInOneTransaction(deps, [command]);
        answers.push(answer ?? { ok: false, error: new Error('no answer') });
      } catch (single) {
        answers.push({ ok: false, error: single });
      }
    }
    return answers;
  }
}

function postInOneTransaction(
  deps: UseCaseDeps,
  commands: readonly TransferCommand[],
): Promise<Settled<PostedTransfer>[]> {
  const requests = commands.map(transferRequest);
  return deps.store.transaction('account.transfer_batch', 'READ COMMITTED', async (tx) => {
    const claims = await tx.claimMany<TransferAnswer>(requests);
    const fresh = commands.filter((_, index) => claims[index]?.kind === 'fresh');
    const now = deps.now();
    // A batch of replays and refusals posts nothing: no lock, no date, no accounts.
    let accountingDate = '';
    let states = new Map<string, AccountState>();
    if (fresh.length > 0) {
      await tx.postings.lockShared();
      accountingDate = accountingDateFor(now, deps.calendar, await tx.postings.lastSealedDate());
      states = await loadForLegs(
        tx.accounts,
        fresh.flatMap((c) => c.legs),
      );
    }
    const replayed = await replays(tx, claims);
    const writes = new PostingWrites();
    const remembered: Remembered[] = [];
    const refused: IdempotentRequest[] = [];
    const answers: Settled<PostedTransfer>[] = [];
    commands.forEach((command, index) => {
      const claim = claims[index];
      const request = requests[index];
      assert.ok(claim !== undefined && request !== undefined, 'one claim per command');
      answers.push(
        answerFor(claim, answers, replayed, () => {
          const answer = plan(command, states, writes, accountingDate, now);
          if (answer.ok) remembered.push({ request, response: { transferId: answer.value.transferId } });
          else refused.push(request);
          return answer;
        }),
      );
    });
    await tx.postings.write(writes);
    await tx.rememberMany(remembered, refused);
    return answers;
  });
}

function answerFor(
  claim: BatchClaim<TransferAnswer>,
  earlier: readonly Settled<PostedTransfer>[],
  replayed: ReadonlyMap<string, PostedTransfer>,
  post: () => Settled<PostedTransfer>,
): Settled<PostedTransfer> {
  switch (claim.kind) {
    case 'fresh':
      return post();
    case 'refused':
      return { ok: false, error: claim.error };
    case 'repeat': {
      const first = earlier[claim.of];
      assert.ok(first !== undefined, 'a repeat follows the request it repeats');
      return first;
    }
    case 'replay': {
      const posted = replayed.get(claim.response.transferId);
      assert.ok(posted !== undefined, `the transfer ${claim.response.transferId} of a replay is missing`);
      return { ok: true, value: posted };
    }
  }
}

/** The transfers replayed claims refer to, read with one statement (none when nothing replays). */
async function replays(
  tx: AccountTx,
  claims: readonly BatchClaim<TransferAnswer>[],
): Promise<ReadonlyMap<string, PostedTransfer>> {
  const ids = claims.flatMap((c) => (c.kind === 'replay' ? [c.response.transferId] : []));
  return ids.length === 0 ? new Map() : tx.postings.transfers(ids);
}

function plan(
  command: TransferCommand,
  states: Map<string, AccountState>,
  writes: PostingWrites,
  accountingDate: string,
  now: Date,
): Settled<PostedTransfer> {
  const transferId = randomUUID();
  try {
    const planned = planTransfer((id) => states.get(id), command.legs, {
      transferId,
      bizCode: command.bizCode,
      accountingDate,
    });
    for (const [id, state] of planned.accounts) {
      states.set(id, state);
      writes.states.set(id, state);
    }
    writes.entries.push(...planned.entries);
    writes.queued.push(...planned.queued);
    const posted: PostedTransfer = {
      transferId,
      requestId: command.requestId,
      bizCode: command.bizCode,
      accountingDate,
      legs: planned.legs,
      postedAt: now,
      pendingId: '',
    };
    writes.transfers.push({ posted, kind: 'TRANSFER', memo: command.memo, headers: command.headers });
    return { ok: true, value: posted };
  } catch (error) {
    // Business refusals are answers; anything else is a bug and fails the batch.
    if (error instanceof AccountError) return { ok: false, error };
    throw error;
  }
}
