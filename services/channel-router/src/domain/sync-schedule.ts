/**
 * When status sync (反查) asks the channel about a transaction that is not
 * final (ADR 0063). The schedule is a fixed set of slots counted from the
 * transaction's creation, so a late pass never shifts the later ones:
 * - dense: every `denseIntervalMs` for the first `denseWindowMs`, while the
 *   payer's decision is likely and a dropped notification costs latency;
 * - back-off: after the dense window, `firstDelayMs`, then doubling
 *   (`backoffFactor`) up to `delayMaxMs` between slots;
 * - until the channel's close time — past it the transaction goes to the
 *   exception list instead.
 * A pass that runs late skips the slots it missed rather than catching up,
 * and two queries of one transaction are never closer than half the dense
 * interval (or half the first delay without a dense phase).
 * Pure: times are epoch milliseconds.
 */
import assert from 'node:assert/strict';

export interface SyncSchedule {
  /** Query interval of the dense phase; 0 turns the dense phase off. */
  readonly denseIntervalMs: number;
  /** Length of the dense phase, from creation; 0 turns it off. */
  readonly denseWindowMs: number;
  /** The first back-off delay, after the dense phase (or after creation without one). */
  readonly firstDelayMs: number;
  readonly backoffFactor: number;
  readonly delayMaxMs: number;
}

export const DEFAULT_SYNC_SCHEDULE: SyncSchedule = {
  denseIntervalMs: 250,
  denseWindowMs: 4_000,
  firstDelayMs: 5_000,
  backoffFactor: 2,
  delayMaxMs: 600_000,
};

/** Attempts before the delay stops growing are few; this bound keeps the exponent finite. */
const ATTEMPTS_EXPONENT_MAX = 30;

/** Delay before back-off attempt `attempt` (0-based), counted from the previous back-off slot. */
export function syncDelayMs(schedule: SyncSchedule, attempt: number): number {
  const exponent = Math.min(Math.max(attempt, 0), ATTEMPTS_EXPONENT_MAX);
  return Math.min(
    schedule.delayMaxMs,
    Math.round(schedule.firstDelayMs * schedule.backoffFactor ** exponent),
  );
}

/** Age (ms after creation) of the last dense slot; 0 without a dense phase. */
export function denseEndMs(schedule: SyncSchedule): number {
  if (schedule.denseIntervalMs <= 0 || schedule.denseWindowMs <= 0) return 0;
  return Math.floor(schedule.denseWindowMs / schedule.denseIntervalMs) * schedule.denseIntervalMs;
}

/** The shortest gap between two queries of one transaction. */
export function queryGapMinMs(schedule: SyncSchedule): number {
  const base = denseEndMs(schedule) > 0 ? schedule.denseIntervalMs : schedule.firstDelayMs;
  return Math.floor(base / 2);
}

/** Age of the first slot strictly after `ageMs` (both counted from creation). */
function slotAgeAfter(schedule: SyncSchedule, ageMs: number): number {
  const denseEnd = denseEndMs(schedule);
  if (ageMs < denseEnd) {
    const interval = schedule.denseIntervalMs;
    return (Math.floor(Math.max(ageMs, 0) / interval) + 1) * interval;
  }
  let slotMs = denseEnd;
  for (let attempt = 0; attempt <= ATTEMPTS_EXPONENT_MAX; attempt++) {
    slotMs += syncDelayMs(schedule, attempt);
    if (slotMs > ageMs) return slotMs;
  }
  // Past the exponent bound every delay is the same; step over the rest at once.
  const stepMs = syncDelayMs(schedule, ATTEMPTS_EXPONENT_MAX);
  return slotMs + (Math.floor((ageMs - slotMs) / stepMs) + 1) * stepMs;
}

/**
 * The next slot of a transaction created at `createdAtMs`, queried (or
 * created) at `nowMs`: the first slot at least `queryGapMinMs` after now.
 */
export function nextSyncAtMs(schedule: SyncSchedule, createdAtMs: number, nowMs: number): number {
  assert.ok(schedule.firstDelayMs > 0 && schedule.backoffFactor >= 1, 'sync schedule must move forward');
  const atMs = createdAtMs + slotAgeAfter(schedule, nowMs - createdAtMs + queryGapMinMs(schedule));
  assert.ok(atMs > nowMs, 'the next sync slot lies in the future');
  return atMs;
}

export type SyncPlan = { readonly kind: 'QUERY_AT'; readonly atMs: number } | { readonly kind: 'EXCEPTION' };

/**
 * The next sync of a transaction created at `createdAtMs` after a query at
 * `nowMs`, or EXCEPTION once the close deadline has been reached (one last
 * query is made exactly at the deadline).
 */
export function nextSync(
  schedule: SyncSchedule,
  createdAtMs: number,
  nowMs: number,
  closeDeadlineMs: number,
): SyncPlan {
  if (nowMs >= closeDeadlineMs) return { kind: 'EXCEPTION' };
  return { kind: 'QUERY_AT', atMs: Math.min(nextSyncAtMs(schedule, createdAtMs, nowMs), closeDeadlineMs) };
}
