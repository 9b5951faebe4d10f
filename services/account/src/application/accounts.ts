/**
 * Use cases on accounts: open, close, freeze and unfreeze, posting mode, and
 * the flush of buffered credits. Each mutating call claims its request id
 * first (before any state is read) and remembers a reference to the account
 * (and freeze); the answer is read as it is after the commit. Status changes
 * follow ACCOUNT_STATUS_TRANSITIONS, freezes FREEZE_TRANSITIONS.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { IdempotentRequest } from '@paycore/platform';
import type { Side } from '@paycore/money';
import {
  AccountClosedError,
  AccountNotEmptyError,
  CurrencyMismatchError,
  FreezeNotFoundError,
} from '../domain/errors';
import { applyQueued, hold, release } from '../domain/posting';
import type { OwnerType, PostingMode } from '../domain/types';
import { notFound, type UseCaseDeps } from './common';
import type { AccountView, FreezeResult } from './model';
import type { AccountTx, Idempotent } from './ports';

/** Bounds the flush rounds that SetPostingMode or SealDay run to drain one queue. */
const DRAIN_ROUNDS_MAX = 10_000;

export interface OpenAccountCommand extends Idempotent {
  readonly ownerType: OwnerType;
  readonly ownerId: string;
  readonly subjectCode: string;
  readonly currency: string;
  readonly normalSide: Side;
  readonly allowOverdraft: boolean;
  /** Defaults for a later switch to BUFFERED (configuration, not part of the request). */
  readonly flushIntervalMs: number;
  readonly flushBatchMax: number;
}

export interface FreezeCommand extends Idempotent {
  readonly accountId: string;
  readonly wholeAccount: boolean;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly reason: string;
}

export interface SetPostingModeCommand extends Idempotent {
  readonly accountId: string;
  readonly postingMode: PostingMode;
  readonly flushIntervalMs: number;
  readonly flushBatchMax: number;
}

interface AccountAnswer {
  readonly accountId: string;
}

export async function accountView(deps: UseCaseDeps, accountId: string): Promise<AccountView> {
  const view = await deps.store.reads.account(accountId);
  if (view === undefined) throw notFound(accountId);
  return view;
}

/** Claims, runs `work` once per request, remembers its answer; a replay answers the first. */
function once<A>(
  deps: UseCaseDeps,
  name: string,
  request: IdempotentRequest,
  work: (tx: AccountTx) => Promise<A>,
): Promise<A> {
  return deps.store.transaction(name, 'READ COMMITTED', async (tx) => {
    const claim = await tx.claim<A>(request);
    if (claim.kind === 'replay') return claim.response;
    const answer = await work(tx);
    await tx.remember(request, answer);
    return answer;
  });
}

export async function openAccount(deps: UseCaseDeps, command: OpenAccountCommand): Promise<AccountView> {
  const request = {
    requestId: command.requestId,
    operation: 'account.OpenAccount',
    payload: {
      bizCode: command.bizCode,
      ownerType: command.ownerType,
      ownerId: command.ownerId,
      subjectCode: command.subjectCode,
      currency: command.currency,
      normalSide: command.normalSide,
      allowOverdraft: command.allowOverdraft,
    },
  };
  const answer = await once<AccountAnswer>(deps, 'account.open_account', request, async (tx) => {
    const id = randomUUID();
    await tx.accounts.insert({ ...command, id });
    return { accountId: id };
  });
  return accountView(deps, answer.accountId);
}

export async function closeAccount(
  deps: UseCaseDeps,
  command: Idempotent & { readonly accountId: string },
): Promise<AccountView> {
  const request = {
    requestId: command.requestId,
    operation: 'account.CloseAccount',
    payload: { bizCode: command.bizCode, accountId: command.accountId },
  };
  const answer = await once<AccountAnswer>(deps, 'account.close_account', request, async (tx) => {
    // Exclusive: no batch may be queueing a credit to this account meanwhile.
    await tx.postings.lockExclusive();
    const locked = await tx.accounts.states([command.accountId], true);
    if (!locked.has(command.accountId)) throw notFound(command.accountId);
    const view = await tx.accounts.view(command.accountId);
    assert.ok(view !== undefined, 'a locked account has a view');
    if (view.status === 'CLOSED') return { accountId: view.id };
    if (view.available !== 0n || view.frozen !== 0n || view.pendingBuffered !== 0n) {
      throw new AccountNotEmptyError(`account ${view.id} is not at zero`, {
        metadata: {
          account_id: view.id,
          available_minor: view.available.toString(),
          frozen_minor: view.frozen.toString(),
          pending_buffered_minor: view.pendingBuffered.toString(),
        },
      });
    }
    const moved = await tx.accounts.moveTo(view.id, 'CLOSED');
    assert.ok(moved.changed, `account ${view.id} could not move to CLOSED from ${view.status}`);
    return { accountId: view.id };
  });
  return accountView(deps, answer.accountId);
}

export async function freeze(deps: UseCaseDeps, command: FreezeCommand): Promise<FreezeResult> {
  // A whole-account freeze holds no amount: its amount and currency are not part of it.
  const amount = command.wholeAccount ? {} : { amountMinor: command.amountMinor, currency: command.currency };
  const request = {
    requestId: command.requestId,
    operation: 'account.Freeze',
    payload: {
      bizCode: command.bizCode,
      accountId: command.accountId,
      wholeAccount: command.wholeAccount,
      reason: command.reason,
      ...amount,
    },
  };
  const answer = await once<{ freezeId: string; accountId: string }>(
    deps,
    'account.freeze',
    request,
    async (tx) => {
      const state = (await tx.accounts.states([command.accountId], true)).get(command.accountId);
      if (state === undefined) throw notFound(command.accountId);
      if (state.status === 'CLOSED') throw new AccountClosedError(`account ${state.id} is closed`);
      if (command.wholeAccount) {
        // A second whole-account freeze finds the account FROZEN already: nothing to move.
        if (state.status !== 'FROZEN') {
          const moved = await tx.accounts.moveTo(state.id, 'FROZEN');
          assert.ok(moved.changed, `account ${state.id} could not move to FROZEN`);
        }
      } else {
        if (command.currency !== state.currency) {
          throw new CurrencyMismatchError(`account ${state.id} holds ${state.currency}`, {
            field: 'amount.currency',
          });
        }
        await tx.accounts.save([hold(state, command.amountMinor)]);
      }
      const freezeId = randomUUID();
      await tx.freezes.insert({
        id: freezeId,
        accountId: state.id,
        wholeAccount: command.wholeAccount,
        amountMinor: command.wholeAccount ? 0n : command.amountMinor,
        reason: command.reason,
        bizCode: command.bizCode,
      });
      return { freezeId, accountId: state.id };
    },
  );
  return { freezeId: answer.freezeId, account: await accountView(deps, answer.accountId) };
}

export async function unfreeze(
  deps: UseCaseDeps,
  command: Idempotent & { readonly freezeId: string },
): Promise<AccountView> {
  const request = {
    requestId: command.requestId,
    operation: 'account.Unfreeze',
    payload: { bizCode: command.bizCode, freezeId: command.freezeId },
  };
  const answer = await once<AccountAnswer>(deps, 'account.unfreeze', request, async (tx) => {
    const found = await tx.freezes.lock(command.freezeId);
    if (found === undefined)
      throw new FreezeNotFoundError(`freeze ${command.freezeId} does not exist`, { field: 'freeze_id' });
    if (found.status === 'RELEASED') return { accountId: found.accountId };
    const state = (await tx.accounts.states([found.accountId], true)).get(found.accountId);
    if (state === undefined) throw notFound(found.accountId);
    if (found.wholeAccount) {
      // The account stays FROZEN while another whole-account freeze is in force.
      const another = await tx.freezes.otherWholeFreezeActive(state.id, found.id);
      if (!another && state.status === 'FROZEN') await tx.accounts.moveTo(state.id, 'ACTIVE');
    } else {
      await tx.accounts.save([release(state, found.amountMinor)]);
    }
    const released = await tx.freezes.release(found.id);
    assert.ok(released.changed, `freeze ${found.id} was released under its lock`);
    return { accountId: state.id };
  });
  return accountView(deps, answer.accountId);
}

export async function setPostingMode(
  deps: UseCaseDeps,
  command: SetPostingModeCommand,
): Promise<AccountView> {
  const request = {
    requestId: command.requestId,
    operation: 'account.SetPostingMode',
    payload: {
      bizCode: command.bizCode,
      accountId: command.accountId,
      postingMode: command.postingMode,
      flushIntervalMs: command.flushIntervalMs,
      flushBatchMax: command.flushBatchMax,
    },
  };
  const answer = await once<AccountAnswer>(deps, 'account.set_posting_mode', request, async (tx) => {
    // Exclusive: in-flight batches finish first, new ones wait, so no credit
    // is queued against the old mode after the drain below.
    await tx.postings.lockExclusive();
    const state = (await tx.accounts.states([command.accountId], true)).get(command.accountId);
    if (state === undefined) throw notFound(command.accountId);
    await drainQueue(tx, state.id);
    await tx.accounts.setPostingMode(
      state.id,
      command.postingMode,
      command.flushIntervalMs,
      command.flushBatchMax,
    );
    return { accountId: state.id };
  });
  return accountView(deps, answer.accountId);
}

/** Applies queued credits of BUFFERED accounts whose interval elapsed; returns credits applied. */
export async function flushDue(deps: UseCaseDeps, accountsMax: number): Promise<number> {
  const due = await deps.store.reads.dueFlushes(accountsMax);
  let applied = 0;
  for (const accountId of due) {
    applied += await deps.store.transaction('account.flush_buffered', 'READ COMMITTED', (tx) =>
      flushOnce(tx, accountId),
    );
  }
  return applied;
}

/**
 * Applies up to the account's flush_batch_max queued credits in arrival
 * order, under its row lock. Returns how many.
 */
async function flushOnce(tx: AccountTx, accountId: string): Promise<number> {
  const locked = await tx.accounts.lockForFlush(accountId);
  if (locked === undefined) return 0;
  const queue = await tx.postings.queued(accountId, locked.flushBatchMax);
  if (queue.length === 0) return 0;
  const applied = applyQueued(
    locked.state,
    queue.map((q) => q.credit),
  );
  await tx.postings.applyFlush(
    applied.account,
    applied.entries,
    queue.map((q) => q.queueId),
  );
  return queue.length;
}

/** Applies every queued credit of an account (SetPostingMode, SealDay). */
export async function drainQueue(tx: AccountTx, accountId: string): Promise<void> {
  for (let round = 0; round < DRAIN_ROUNDS_MAX; round++) {
    if ((await flushOnce(tx, accountId)) === 0) return;
  }
  throw new Error(`the queue of account ${accountId} did not drain in ${DRAIN_ROUNDS_MAX} rounds`);
}
