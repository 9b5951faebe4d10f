/**
 * The lives of a difference and of a run, as transition tables: the store
 * changes states only through these tables (guarded UPDATE … WHERE state =
 * ANY(from)), so the table is the specification.
 *
 * Difference: HELD (存疑: may still appear in a later bill) → OPEN (a real
 * difference, posted to suspense when it carries money) or RESOLVED (matched
 * later); OPEN → RESOLVED (by a rule or an operator). RESOLVED is final.
 * Run: MATCHED (lines imported and classified) → HANDLED (rules applied,
 * suspense posted) → REPORTED (events written). A run killed between steps
 * resumes at its recorded state.
 * Bank claim: PENDING (its amount reserved on the line) → POSTED (account
 * posted it) or REFUSED (account refused its purchase; the amount goes back
 * to the line). Both are final.
 */

/** The platform's TransitionTable shape (domain/ may not import the kit): for each state, where it may go. */
type TransitionTable<S extends string> = Readonly<Record<S, readonly S[]>>;

export const DIFFERENCE_STATES = ['HELD', 'OPEN', 'RESOLVED'] as const;
export type DifferenceState = (typeof DIFFERENCE_STATES)[number];

export const DIFFERENCE_TRANSITIONS: TransitionTable<DifferenceState> = {
  HELD: ['OPEN', 'RESOLVED'],
  OPEN: ['RESOLVED'],
  RESOLVED: [],
};

export const RUN_STATES = ['MATCHED', 'HANDLED', 'REPORTED'] as const;
export type RunState = (typeof RUN_STATES)[number];

export const RUN_TRANSITIONS: TransitionTable<RunState> = {
  MATCHED: ['HANDLED'],
  HANDLED: ['REPORTED'],
  REPORTED: [],
};

export const BANK_CLAIM_STATES = ['PENDING', 'POSTED', 'REFUSED'] as const;
export type BankClaimState = (typeof BANK_CLAIM_STATES)[number];

export const BANK_CLAIM_TRANSITIONS: TransitionTable<BankClaimState> = {
  PENDING: ['POSTED', 'REFUSED'],
  POSTED: [],
  REFUSED: [],
};
