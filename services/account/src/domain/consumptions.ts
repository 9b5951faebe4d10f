/**
 * The consumption state machine, the two-phase twin of account's pending
 * transfers (domain/pending.ts), keyed by the caller's consumption id:
 *
 *   (none) --consume-----------------> CONFIRMED   (one-shot)
 *   (none) --try--> TRIED --confirm--> CONFIRMED
 *                     |----cancel--> CANCELLED
 *                     `----timeout-> EXPIRED
 *   (none) --cancel--> CANCELLED_EMPTY   (empty rollback, remembered)
 *
 * A try that finds CANCELLED_EMPTY is refused (hanging protection: the cancel
 * overtook its try and the coordinator has given up on this branch). A
 * repeated try, confirm or cancel answers with the current state; a
 * contradictory one is refused. Decisions are pure; the application performs
 * them through the store.
 */
import {
  ConsumptionAlreadyResolvedError,
  ConsumptionIdInUseError,
  ConsumptionNotFoundError,
} from './stored-value-errors';
import { TryAfterCancelError } from './errors';

export type ConsumptionState = 'TRIED' | 'CONFIRMED' | 'CANCELLED' | 'CANCELLED_EMPTY' | 'EXPIRED';

/** CONFIRMED (one-shot) and CANCELLED_EMPTY are initial states: inserted, never reached by a move (the table is in states.ts). */
export { CONSUMPTION_TRANSITIONS } from './states';

export interface ConsumptionRecord {
  readonly consumptionId: string;
  readonly state: ConsumptionState;
  /** Fingerprint of (owner, asset, type, quantity), to tell a replayed try from a different one. */
  readonly shapeHash: string;
  readonly expiresAt: Date | null;
}

export type StartDecision = { kind: 'create' } | { kind: 'replay' };

/** A try or a one-shot consume under an id that may already exist. */
export function decideStart(existing: ConsumptionRecord | undefined, shapeHash: string): StartDecision {
  if (existing === undefined) return { kind: 'create' };
  if (existing.state === 'CANCELLED_EMPTY') {
    throw new TryAfterCancelError(`consumption ${existing.consumptionId} was cancelled before it was tried`, {
      field: 'consumption_id',
      metadata: { consumption_id: existing.consumptionId },
    });
  }
  if (existing.shapeHash !== shapeHash) {
    throw new ConsumptionIdInUseError(
      `consumption id ${existing.consumptionId} was used for another consumption`,
      {
        field: 'consumption_id',
        metadata: { consumption_id: existing.consumptionId },
      },
    );
  }
  return { kind: 'replay' };
}

export type ConfirmDecision = { kind: 'confirm' } | { kind: 'replay' };

export function decideConfirm(existing: ConsumptionRecord | undefined, now: Date): ConfirmDecision {
  if (existing === undefined) {
    throw new ConsumptionNotFoundError('no such consumption', { field: 'consumption_id' });
  }
  if (existing.state === 'CONFIRMED') return { kind: 'replay' };
  if (existing.state === 'TRIED' && isTimedOut(existing, now)) throw resolved(existing, 'EXPIRED');
  if (existing.state !== 'TRIED') throw resolved(existing, existing.state);
  return { kind: 'confirm' };
}

export type CancelDecision = { kind: 'cancel' } | { kind: 'cancel_empty' } | { kind: 'replay' };

export function decideCancel(existing: ConsumptionRecord | undefined): CancelDecision {
  if (existing === undefined) return { kind: 'cancel_empty' };
  switch (existing.state) {
    case 'TRIED':
      return { kind: 'cancel' };
    case 'CANCELLED':
    case 'CANCELLED_EMPTY':
    case 'EXPIRED':
      return { kind: 'replay' };
    case 'CONFIRMED':
      throw resolved(existing, existing.state);
  }
}

export function isTimedOut(record: Pick<ConsumptionRecord, 'state' | 'expiresAt'>, now: Date): boolean {
  return record.state === 'TRIED' && record.expiresAt !== null && now.getTime() >= record.expiresAt.getTime();
}

function resolved(record: ConsumptionRecord, state: ConsumptionState): ConsumptionAlreadyResolvedError {
  return new ConsumptionAlreadyResolvedError(`consumption ${record.consumptionId} is already ${state}`, {
    field: 'consumption_id',
    metadata: { consumption_id: record.consumptionId, state },
  });
}
