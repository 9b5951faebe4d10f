/**
 * Two-phase (TCC) transfers: try holds the decreasing legs, confirm posts
 * (possibly smaller) legs and releases the holds, cancel and expiry release
 * them. Decisions are the domain's (domain/pending.ts); state changes follow
 * PENDING_TRANSITIONS. Each mutating call claims its request id first and
 * remembers a reference (the pending id); the answer is the pending transfer
 * as it is now.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { canonicalRequestHash, type IdempotentRequest } from '@paycore/platform';
import { accountingDateFor } from '@paycore/calendar';
import { PendingTransferNotFoundError } from '../domain/errors';
import { confirmedLegs, decideCancel, decideConfirm, decideTry, isExpired } from '../domain/pending';
import { planReserve, planTransfer, release } from '../domain/posting';
import type { Leg } from '../domain/types';
import { legsPayload, loadForLegs, notFound, type UseCaseDeps } from './common';
import type { PendingView, PostedTransfer } from './model';
import { PostingWrites, type AccountTx, type Idempotent, type LoadedPending } from './ports';

export interface TryTransferCommand extends Idempotent {
  readonly pendingId: string;
  readonly legs: readonly Leg[];
  readonly timeoutMs: number;
}

export interface ConfirmTransferCommand extends Idempotent {
  readonly pendingId: string;
  /** Empty to confirm the tried legs. */
  readonly legs: readonly Leg[];
  readonly headers: Readonly<Record<string, string>>;
}

export interface CancelTransferCommand extends Idempotent {
  readonly pendingId: string;
}

interface PendingAnswer {
  readonly pendingId: string;
}

/** Fingerprint of (pending id, legs), shared by every try of one pending transfer. */
export function tryHashOf(pendingId: string, legs: readonly Leg[]): string {
  return canonicalRequestHash('account.try', { pendingId, legs: legsPayload(legs) });
}

/** Fingerprint of the legs a confirm posted (stored with the CONFIRMED transfer). */
function confirmHashOf(legs: readonly Leg[]): string {
  return JSON.stringify(
    legs.map((l) => ({
      accountId: l.accountId,
      side: l.side,
      amountMinor: l.amountMinor.toString(),
      currency: l.currency,
    })),
  );
}

export async function pendingView(deps: UseCaseDeps, pendingId: string): Promise<PendingView> {
  const existing = await deps.store.reads.pending(pendingId);
  if (existing === undefined) throw new PendingTransferNotFoundError(`no pending transfer ${pendingId}`);
  return viewOf(existing);
}

function viewOf(existing: LoadedPending): PendingView {
  return {
    pendingId: existing.record.pendingId,
    state: existing.record.state,
    bizCode: existing.bizCode,
    legs: existing.record.legs,
    expiresAt: existing.record.expiresAt,
    posted: existing.posted,
  };
}

/**
 * Claims (the answer, the pending id, is known up front, so it is stored with the claim), runs `work`
 * once per request, answers the pending transfer as it is at the end of the same transaction (no read
 * of its own after the commit).
 */
async function pendingStep(
  deps: UseCaseDeps,
  name: string,
  request: IdempotentRequest,
  pendingId: string,
  work: (tx: AccountTx) => Promise<void>,
): Promise<PendingView> {
  return deps.store.transaction(name, 'READ COMMITTED', async (tx) => {
    const claim = await tx.claimAnswered<PendingAnswer>(request, { pendingId });
    const answered = claim.kind === 'replay' ? claim.response.pendingId : pendingId;
    if (claim.kind === 'fresh') {
      await tx.pending.lock(pendingId);
      await work(tx);
    }
    const existing = await tx.pending.find(answered);
    if (existing === undefined) throw new PendingTransferNotFoundError(`no pending transfer ${answered}`);
    return viewOf(existing);
  });
}

export function tryTransfer(deps: UseCaseDeps, command: TryTransferCommand): Promise<PendingView> {
  const request = {
    requestId: command.requestId,
    operation: 'account.TryTransfer',
    payload: {
      bizCode: command.bizCode,
      pendingId: command.pendingId,
      legs: legsPayload(command.legs),
      timeoutMs: command.timeoutMs,
    },
  };
  return pendingStep(deps, 'account.try_transfer', request, command.pendingId, async (tx) => {
    const existing = await tx.pending.find(command.pendingId);
    const tryHash = tryHashOf(command.pendingId, command.legs);
    if (decideTry(existing?.record, tryHash).kind === 'replay') return;
    await tx.postings.lockShared();
    const states = await loadForLegs(tx.accounts, command.legs);
    const reserve = planReserve((id) => states.get(id), command.legs);
    await tx.accounts.save(reserve.accounts.values());
    await tx.pending.insertTried({
      pendingId: command.pendingId,
      bizCode: command.bizCode,
      legs: command.legs,
      reservations: reserve.reservations,
      tryHash,
      expiresAt: new Date(deps.now().getTime() + command.timeoutMs),
    });
  });
}

export function confirmTransfer(deps: UseCaseDeps, command: ConfirmTransferCommand): Promise<PendingView> {
  const request = {
    requestId: command.requestId,
    operation: 'account.ConfirmTransfer',
    payload: { bizCode: command.bizCode, pendingId: command.pendingId, legs: legsPayload(command.legs) },
  };
  return pendingStep(deps, 'account.confirm_transfer', request, command.pendingId, async (tx) => {
    const existing = await tx.pending.find(command.pendingId);
    const legs = existing === undefined ? [] : confirmedLegs(existing.record.legs, command.legs);
    const confirmHash = confirmHashOf(legs);
    const now = deps.now();
    if (decideConfirm(existing?.record, confirmHash, now).kind === 'replay' || existing === undefined) return;
    await tx.postings.lockShared();
    const accountingDate = accountingDateFor(now, deps.calendar, await tx.postings.lastSealedDate());
    const states = await loadForLegs(tx.accounts, [...existing.record.legs, ...legs]);
    const writes = new PostingWrites();
    for (const reservation of existing.reservations) {
      const state = states.get(reservation.accountId);
      if (state === undefined) throw notFound(reservation.accountId);
      const released = release(state, reservation.amountMinor);
      states.set(state.id, released);
      writes.states.set(state.id, released);
    }
    const transferId = randomUUID();
    const plan = planTransfer((id) => states.get(id), legs, {
      transferId,
      bizCode: command.bizCode,
      accountingDate,
    });
    for (const [id, state] of plan.accounts) writes.states.set(id, state);
    writes.entries.push(...plan.entries);
    writes.queued.push(...plan.queued);
    const posted: PostedTransfer = {
      transferId,
      requestId: command.requestId,
      bizCode: command.bizCode,
      accountingDate,
      legs: plan.legs,
      postedAt: now,
      pendingId: command.pendingId,
    };
    writes.transfers.push({ posted, kind: 'CONFIRM', memo: '', headers: command.headers });
    const moved = await tx.pending.moveTo(command.pendingId, 'CONFIRMED', { confirmHash, transferId });
    assert.ok(moved.changed, `pending ${command.pendingId} left TRIED under its lock`);
    await tx.postings.write(writes);
  });
}

export function cancelTransfer(deps: UseCaseDeps, command: CancelTransferCommand): Promise<PendingView> {
  const request = {
    requestId: command.requestId,
    operation: 'account.CancelTransfer',
    payload: { bizCode: command.bizCode, pendingId: command.pendingId },
  };
  return pendingStep(deps, 'account.cancel_transfer', request, command.pendingId, async (tx) => {
    const existing = await tx.pending.find(command.pendingId);
    const decision = decideCancel(existing?.record);
    if (decision.kind === 'cancel_empty') {
      await tx.pending.insertCancelledEmpty(command.pendingId, command.bizCode);
    } else if (decision.kind === 'cancel' && existing !== undefined) {
      await voidPending(tx, existing, 'CANCELLED', deps.now());
    }
  });
}

/** Expires up to `limit` tried transfers whose timeout passed; returns how many. */
export async function expireDue(deps: UseCaseDeps, limit: number): Promise<number> {
  const due = await deps.store.reads.dueExpiries(deps.now(), limit);
  let expired = 0;
  for (const pendingId of due) {
    const done = await deps.store.transaction('account.expire_pending', 'READ COMMITTED', async (tx) => {
      await tx.pending.lock(pendingId);
      const existing = await tx.pending.find(pendingId);
      const now = deps.now();
      if (existing === undefined || !isExpired(existing.record, now)) return false;
      await voidPending(tx, existing, 'EXPIRED', now);
      return true;
    });
    if (done) expired++;
  }
  return expired;
}

async function voidPending(
  tx: AccountTx,
  existing: LoadedPending,
  to: 'CANCELLED' | 'EXPIRED',
  now: Date,
): Promise<void> {
  const states = await tx.accounts.states(
    existing.reservations.map((r) => r.accountId),
    true,
  );
  for (const reservation of existing.reservations) {
    const account = states.get(reservation.accountId);
    if (account === undefined) throw notFound(reservation.accountId);
    states.set(account.id, release(account, reservation.amountMinor));
  }
  await tx.accounts.save(states.values());
  const moved = await tx.pending.moveTo(existing.record.pendingId, to);
  assert.ok(moved.changed, `pending ${existing.record.pendingId} left TRIED under its lock`);
  await tx.events.transferVoided({ ...viewOf(existing), state: to, posted: null }, now);
}
