/**
 * The channel transaction state machine, as a transition table: the
 * specification of a transaction's life and the only source of the `from`
 * states a guarded state change accepts (the pg adapter hands this table to
 * the unit of work's `transition`). SUCCESS, FAIL and CLOSED are final: once
 * there, a transaction never changes again, whatever arrives later (a
 * duplicated notification, a stale query answer, a reordered callback).
 * PROCESSING and UNKNOWN may move to any final state, and to each other (an
 * UNKNOWN create that a query shows waiting becomes PROCESSING).
 */
import { canTransition, finalStatesOf, statesOf, type TransitionTable } from '@paycore/platform/domain';

export type TxnState = 'PROCESSING' | 'SUCCESS' | 'FAIL' | 'CLOSED' | 'UNKNOWN';
export type TxnKind = 'PAYMENT' | 'REFUND' | 'PAYOUT';

export const TXN_TRANSITIONS: TransitionTable<TxnState> = {
  UNKNOWN: ['PROCESSING', 'SUCCESS', 'FAIL', 'CLOSED'],
  PROCESSING: ['UNKNOWN', 'SUCCESS', 'FAIL', 'CLOSED'],
  SUCCESS: [],
  FAIL: [],
  CLOSED: [],
};

/** The state a new transaction is created in: nothing is known until the channel answers. */
export const INITIAL_TXN_STATE: TxnState = 'UNKNOWN';

const FINAL: ReadonlySet<TxnState> = new Set(finalStatesOf(TXN_TRANSITIONS));

/** States a transaction can still leave: the ones status sync keeps asking the channel about. */
export const OPEN_TXN_STATES: readonly TxnState[] = statesOf(TXN_TRANSITIONS).filter((s) => !FINAL.has(s));

export function isFinal(state: TxnState): boolean {
  return FINAL.has(state);
}

export type Transition =
  | { readonly change: true; readonly from: TxnState; readonly to: TxnState }
  | { readonly change: false; readonly why: 'SAME_STATE' | 'ALREADY_FINAL' };

/** Whether `current` may move to `next`; a non-change is an ordinary outcome, never an error. */
export function transition(current: TxnState, next: TxnState): Transition {
  if (current === next) return { change: false, why: 'SAME_STATE' };
  if (!canTransition(TXN_TRANSITIONS, current, next)) return { change: false, why: 'ALREADY_FINAL' };
  return { change: true, from: current, to: next };
}

/**
 * Whether moving to `to` gives the transaction's daily-cap reservation back:
 * a payment or payout that ended without money moving (FAIL, CLOSED) no
 * longer counts against its route's cap. A refund reserves nothing.
 */
export function releasesCap(kind: TxnKind, to: TxnState): boolean {
  return kind !== 'REFUND' && (to === 'FAIL' || to === 'CLOSED');
}
