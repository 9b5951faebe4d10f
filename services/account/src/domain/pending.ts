/**
 * The two-phase (TCC) transfer state machine.
 *
 *   (none) --try--> TRIED --confirm--> CONFIRMED
 *                     |----cancel--> CANCELLED
 *                     `----timeout-> EXPIRED
 *   (none) --cancel--> CANCELLED_EMPTY   (empty rollback, remembered)
 *
 * A try that finds CANCELLED_EMPTY is refused (hanging protection, 事务悬挂:
 * the cancel overtook its try on the network, and the coordinator has already
 * given up on this branch). Every pending transfer resolves at most once; a
 * repeated confirm or cancel returns the first result, a contradictory one is
 * refused. Decisions here are pure; the application performs them.
 */
import {
  ConfirmExceedsTryError,
  PendingIdInUseError,
  PendingTransferNotFoundError,
  TransferAlreadyResolvedError,
  TryAfterCancelError,
} from './errors';
import { assertBalanced } from './legs';
import type { Leg } from './types';

export type PendingState = 'TRIED' | 'CONFIRMED' | 'CANCELLED' | 'CANCELLED_EMPTY' | 'EXPIRED';

export interface PendingRecord {
  readonly pendingId: string;
  readonly state: PendingState;
  readonly legs: readonly Leg[];
  /** Hash of the try's legs, to tell a replayed try from a different one. */
  readonly tryHash: string;
  /** Hash of the confirmed legs, once CONFIRMED. */
  readonly confirmHash: string | null;
  readonly expiresAt: Date | null;
}

export function isFinal(state: PendingState): boolean {
  return state !== 'TRIED';
}

export type TryDecision = { kind: 'create' } | { kind: 'replay' };

export function decideTry(existing: PendingRecord | undefined, tryHash: string): TryDecision {
  if (existing === undefined) return { kind: 'create' };
  if (existing.state === 'CANCELLED_EMPTY') {
    throw new TryAfterCancelError(
      `pending transfer ${existing.pendingId} was cancelled before it was tried`,
      {
        metadata: { pending_id: existing.pendingId },
      },
    );
  }
  if (existing.tryHash !== tryHash) {
    throw new PendingIdInUseError(`pending id ${existing.pendingId} was tried with other legs`, {
      field: 'pending_id',
      metadata: { pending_id: existing.pendingId },
    });
  }
  return { kind: 'replay' };
}

export type ConfirmDecision = { kind: 'confirm' } | { kind: 'replay' };

export function decideConfirm(
  existing: PendingRecord | undefined,
  confirmHash: string,
  now: Date,
): ConfirmDecision {
  if (existing === undefined) {
    throw new PendingTransferNotFoundError('no such pending transfer', { field: 'pending_id' });
  }
  if (existing.state === 'CONFIRMED' && existing.confirmHash === confirmHash) return { kind: 'replay' };
  if (
    existing.state === 'TRIED' &&
    existing.expiresAt !== null &&
    now.getTime() >= existing.expiresAt.getTime()
  ) {
    throw resolved(existing.pendingId, 'EXPIRED');
  }
  if (existing.state !== 'TRIED') throw resolved(existing.pendingId, existing.state);
  return { kind: 'confirm' };
}

export type CancelDecision = { kind: 'cancel' } | { kind: 'cancel_empty' } | { kind: 'replay' };

export function decideCancel(existing: PendingRecord | undefined): CancelDecision {
  if (existing === undefined) return { kind: 'cancel_empty' };
  switch (existing.state) {
    case 'TRIED':
      return { kind: 'cancel' };
    case 'CANCELLED':
    case 'CANCELLED_EMPTY':
    case 'EXPIRED':
      // Released already; cancelling again asks for what is true.
      return { kind: 'replay' };
    case 'CONFIRMED':
      throw resolved(existing.pendingId, existing.state);
  }
}

/** True when a TRIED record's timeout has passed and the sweeper may expire it. */
export function isExpired(record: Pick<PendingRecord, 'state' | 'expiresAt'>, now: Date): boolean {
  return record.state === 'TRIED' && record.expiresAt !== null && now.getTime() >= record.expiresAt.getTime();
}

function resolved(pendingId: string, state: PendingState): TransferAlreadyResolvedError {
  return new TransferAlreadyResolvedError(`pending transfer ${pendingId} is already ${state}`, {
    metadata: { pending_id: pendingId, state },
  });
}

/**
 * The legs a confirm posts: the tried legs, or smaller amounts of the same
 * accounts and sides in the same order, still balanced per currency.
 */
export function confirmedLegs(tried: readonly Leg[], requested: readonly Leg[]): readonly Leg[] {
  if (requested.length === 0) return tried;
  if (requested.length !== tried.length) {
    throw new ConfirmExceedsTryError(
      `a confirm names ${requested.length} legs, the try had ${tried.length}`,
      {
        field: 'legs',
      },
    );
  }
  requested.forEach((leg, index) => {
    const original = tried[index];
    const field = `legs[${index}]`;
    if (
      original === undefined ||
      original.accountId !== leg.accountId ||
      original.side !== leg.side ||
      original.currency !== leg.currency
    ) {
      throw new ConfirmExceedsTryError(`${field} does not match the tried leg`, { field });
    }
    if (leg.amountMinor <= 0n || leg.amountMinor > original.amountMinor) {
      throw new ConfirmExceedsTryError(
        `${field}.amount must be between 1 and the tried ${original.amountMinor}`,
        {
          field: `${field}.amount`,
        },
      );
    }
  });
  assertBalanced(requested);
  return requested;
}
