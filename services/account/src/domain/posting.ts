/**
 * Postings and the entry chain (normal-side arithmetic is @paycore/money's).
 *
 * Balances are kept on each account's normal side: a leg on the normal side
 * increases the balance, a leg on the other side decreases it. So a debit
 * increases a debit-normal account (an asset such as bank deposits or channel
 * pending-clearing) and decreases a credit-normal one (a customer's balance, a
 * liability of the platform). With that convention the ledger-wide invariant
 * is: per currency, the sum of balances of debit-normal accounts equals the
 * sum of balances of credit-normal accounts (equivalently, the debit-positive
 * signed sum over all accounts is zero).
 *
 * Every function here is pure: it takes account states and returns new ones
 * plus the entries to write, or throws a typed business error. Nothing is
 * changed when it throws, which is what makes a transfer atomic in the
 * batcher: the caller only adopts the returned states on success.
 */
import assert from 'node:assert/strict';
import { increases, INT64_MAX, INT64_MIN, signedEffect } from '@paycore/money';
import {
  AccountClosedError,
  AccountFrozenError,
  AccountNotFoundError,
  AmountOutOfRangeError,
  CurrencyMismatchError,
  InsufficientBalanceError,
} from './errors';
import type { Side } from '@paycore/money';
import { totalOf, type AccountState, type Entry, type Leg, type PostedLeg, type QueuedCredit } from './types';

/** What a posting is tagged with on every entry. */
export interface PostingContext {
  readonly transferId: string;
  readonly bizCode: string;
  readonly accountingDate: string;
}

/** The effect of one transfer: new states of the accounts it changed, entries, queued credits. */
export interface PostingPlan {
  readonly accounts: ReadonlyMap<string, AccountState>;
  readonly entries: readonly Entry[];
  readonly queued: readonly QueuedCredit[];
  readonly legs: readonly PostedLeg[];
}

export type AccountLookup = (accountId: string) => AccountState | undefined;

/** Buffered accounts take increasing legs through the queue, without locking their row. */
export function isQueuedLeg(
  account: Pick<AccountState, 'postingMode' | 'normalSide'>,
  leg: Pick<Leg, 'side'>,
): boolean {
  return account.postingMode === 'BUFFERED' && increases(account.normalSide, leg.side);
}

function fitsInt64(value: bigint): boolean {
  return value >= INT64_MIN && value <= INT64_MAX;
}

/** Resolves a leg's account and checks that it may take postings at all. */
export function accountForLeg(lookup: AccountLookup, leg: Leg, field: string): AccountState {
  const account = lookup(leg.accountId);
  if (account === undefined) {
    throw new AccountNotFoundError(`account ${leg.accountId} does not exist`, {
      field: `${field}.account_id`,
      metadata: { account_id: leg.accountId },
    });
  }
  if (account.status === 'CLOSED') {
    throw new AccountClosedError(`account ${account.id} is closed`, { metadata: { account_id: account.id } });
  }
  if (account.status === 'FROZEN') {
    throw new AccountFrozenError(`account ${account.id} is frozen`, { metadata: { account_id: account.id } });
  }
  if (account.currency !== leg.currency) {
    throw new CurrencyMismatchError(
      `account ${account.id} holds ${account.currency}, the leg is in ${leg.currency}`,
      {
        field: `${field}.amount.currency`,
        metadata: { account_id: account.id, account_currency: account.currency },
      },
    );
  }
  return account;
}

/**
 * Moves `delta` through an account's available balance, checking overdraft
 * and the int64 range. Frozen is untouched.
 */
export function moveAvailable(account: AccountState, delta: bigint): AccountState {
  const available = account.available + delta;
  if (delta < 0n && !account.allowOverdraft && available < 0n) {
    throw new InsufficientBalanceError(`account ${account.id} is short by ${-available} minor units`, {
      metadata: { account_id: account.id, shortfall_minor: (-available).toString() },
    });
  }
  if (!fitsInt64(available) || !fitsInt64(available + account.frozen)) {
    throw new AmountOutOfRangeError(`the balance of account ${account.id} would leave the int64 range`, {
      metadata: { account_id: account.id },
    });
  }
  return { ...account, available };
}

/** The entry a delta writes, continuing the chain of `before`. */
export function nextEntry(
  before: AccountState,
  after: AccountState,
  side: Side,
  amountMinor: bigint,
  context: PostingContext,
): Entry {
  const entry: Entry = {
    accountId: before.id,
    seq: before.lastSeq + 1n,
    transferId: context.transferId,
    side,
    amountMinor,
    balanceAfter: totalOf(after),
    bizCode: context.bizCode,
    accountingDate: context.accountingDate,
  };
  // Paired assertion: the chain continues the previous balance by exactly the leg.
  assert.equal(entry.balanceAfter, totalOf(before) + signedEffect(before.normalSide, side, amountMinor));
  return entry;
}

/**
 * Plans a transfer whose legs already passed validateLegs. Returns the new
 * state of every account it posts to; queued legs (BUFFERED accounts, legs
 * that increase them) leave their account untouched.
 */
export function planTransfer(
  lookup: AccountLookup,
  legs: readonly Leg[],
  context: PostingContext,
): PostingPlan {
  const accounts = new Map<string, AccountState>();
  const entries: Entry[] = [];
  const queued: QueuedCredit[] = [];
  const posted: PostedLeg[] = [];
  legs.forEach((leg, index) => {
    const account = accountForLeg(lookup, leg, `legs[${index}]`);
    if (isQueuedLeg(account, leg)) {
      queued.push({ ...context, accountId: account.id, side: leg.side, amountMinor: leg.amountMinor });
      posted.push({ ...legFacts(account, leg), entrySeq: 0n, buffered: true });
      return;
    }
    const after = moveAvailable(account, signedEffect(account.normalSide, leg.side, leg.amountMinor));
    const entry = nextEntry(account, after, leg.side, leg.amountMinor, context);
    accounts.set(account.id, { ...after, lastSeq: entry.seq });
    entries.push(entry);
    posted.push({ ...legFacts(account, leg), entrySeq: entry.seq, buffered: false });
  });
  return { accounts, entries, queued, legs: posted };
}

function legFacts(account: AccountState, leg: Leg): Omit<PostedLeg, 'entrySeq' | 'buffered'> {
  return {
    accountId: account.id,
    subjectCode: account.subjectCode,
    side: leg.side,
    amountMinor: leg.amountMinor,
    currency: leg.currency,
  };
}

/** One amount held on one account by a try or a freeze. */
export interface Reservation {
  readonly accountId: string;
  readonly amountMinor: bigint;
}

/** Holds `amountMinor` of available balance: available -> frozen. */
export function hold(account: AccountState, amountMinor: bigint): AccountState {
  assert.ok(amountMinor > 0n, 'a hold is strictly positive');
  const moved = moveAvailable(account, -amountMinor);
  return { ...moved, frozen: account.frozen + amountMinor };
}

/** Releases a hold: frozen -> available. A release larger than frozen is a bookkeeping bug. */
export function release(account: AccountState, amountMinor: bigint): AccountState {
  assert.ok(
    amountMinor > 0n && amountMinor <= account.frozen,
    `release ${amountMinor} exceeds frozen ${account.frozen}`,
  );
  return { ...account, available: account.available + amountMinor, frozen: account.frozen - amountMinor };
}

/**
 * Phase one of a two-phase transfer: every leg that decreases its account
 * holds that amount. Legs that increase an account only check that it can
 * take postings. Returns the new states and the holds to remember.
 */
export function planReserve(
  lookup: AccountLookup,
  legs: readonly Leg[],
): { accounts: ReadonlyMap<string, AccountState>; reservations: readonly Reservation[] } {
  const accounts = new Map<string, AccountState>();
  const reservations: Reservation[] = [];
  legs.forEach((leg, index) => {
    const account = accountForLeg(lookup, leg, `legs[${index}]`);
    if (signedEffect(account.normalSide, leg.side, leg.amountMinor) > 0n) return;
    accounts.set(account.id, hold(account, leg.amountMinor));
    reservations.push({ accountId: account.id, amountMinor: leg.amountMinor });
  });
  return { accounts, reservations };
}

/**
 * Applies queued credits of one BUFFERED account in arrival order. Credits
 * were accepted when queued, so neither status nor overdraft can refuse them
 * now; only the int64 range is checked (by moveAvailable).
 */
export function applyQueued(
  account: AccountState,
  queue: readonly QueuedCredit[],
): { account: AccountState; entries: readonly Entry[] } {
  let current = account;
  const entries: Entry[] = [];
  for (const credit of queue) {
    assert.equal(credit.accountId, account.id);
    const after = moveAvailable(current, signedEffect(current.normalSide, credit.side, credit.amountMinor));
    const entry = nextEntry(current, after, credit.side, credit.amountMinor, credit);
    current = { ...after, lastSeq: entry.seq };
    entries.push(entry);
  }
  return { account: current, entries };
}
