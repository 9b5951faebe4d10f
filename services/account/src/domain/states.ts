/**
 * The transition tables of the account service: for each state, the states
 * it may move to. They are the only specification of these lives; the pg
 * adapters change a state only through the unit of work's transition(), which
 * reads the allowed `from` states out of these tables.
 *
 *   account   ACTIVE ⇄ FROZEN (whole-account freeze / its release), either → CLOSED
 *   pending   TRIED → CONFIRMED | CANCELLED | EXPIRED; CANCELLED_EMPTY is
 *             created final (a cancel that found no try)
 *   freeze    ACTIVE → RELEASED
 *   lot       ACTIVE ⇄ EXPIRED (stored value: expiry / an operator's reactivation)
 *   consumption  TRIED → CONFIRMED | CANCELLED | EXPIRED, like pending; a
 *             one-shot consumption is created CONFIRMED, an empty rollback
 *             CANCELLED_EMPTY
 *
 * Initial states (an account opens ACTIVE, a try inserts TRIED, a freeze is
 * ACTIVE) are inserted, not reached by a transition.
 */
import type { TransitionTable } from '@paycore/platform/domain';
import type { ConsumptionState } from './consumptions';
import type { LotState } from './lots';
import type { PendingState } from './pending';
import type { AccountStatus } from './types';

export const ACCOUNT_STATUS_TRANSITIONS: TransitionTable<AccountStatus> = {
  ACTIVE: ['FROZEN', 'CLOSED'],
  FROZEN: ['ACTIVE', 'CLOSED'],
  CLOSED: [],
};

export const PENDING_TRANSITIONS: TransitionTable<PendingState> = {
  TRIED: ['CONFIRMED', 'CANCELLED', 'EXPIRED'],
  CONFIRMED: [],
  CANCELLED: [],
  CANCELLED_EMPTY: [],
  EXPIRED: [],
};

export type FreezeStatus = 'ACTIVE' | 'RELEASED';

export const FREEZE_TRANSITIONS: TransitionTable<FreezeStatus> = {
  ACTIVE: ['RELEASED'],
  RELEASED: [],
};

export const LOT_TRANSITIONS: TransitionTable<LotState> = {
  ACTIVE: ['EXPIRED'],
  EXPIRED: ['ACTIVE'],
};

export const CONSUMPTION_TRANSITIONS: TransitionTable<ConsumptionState> = {
  TRIED: ['CONFIRMED', 'CANCELLED', 'EXPIRED'],
  CONFIRMED: [],
  CANCELLED: [],
  CANCELLED_EMPTY: [],
  EXPIRED: [],
};
