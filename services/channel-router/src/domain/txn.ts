/**
 * The channel transaction state machine. SUCCESS, FAIL and CLOSED are final:
 * once there, a transaction never changes again, whatever arrives later (a
 * duplicated notification, a stale query answer, a reordered callback).
 * PROCESSING and UNKNOWN may move to any final state, and to each other
 * (an UNKNOWN create that a query shows waiting becomes PROCESSING).
 */
export type TxnState = 'PROCESSING' | 'SUCCESS' | 'FAIL' | 'CLOSED' | 'UNKNOWN';
export type TxnKind = 'PAYMENT' | 'REFUND' | 'PAYOUT';

const FINAL: ReadonlySet<TxnState> = new Set(['SUCCESS', 'FAIL', 'CLOSED']);

export function isFinal(state: TxnState): boolean {
  return FINAL.has(state);
}

export type Transition =
  | { readonly change: true; readonly from: TxnState; readonly to: TxnState }
  | { readonly change: false; readonly why: 'SAME_STATE' | 'ALREADY_FINAL' };

/** Whether `current` may move to `next`; a non-change is an ordinary outcome, never an error. */
export function transition(current: TxnState, next: TxnState): Transition {
  if (current === next) return { change: false, why: 'SAME_STATE' };
  if (isFinal(current)) return { change: false, why: 'ALREADY_FINAL' };
  return { change: true, from: current, to: next };
}
