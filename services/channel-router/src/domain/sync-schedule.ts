/**
 * When status sync (反查) asks the channel about a transaction that is not
 * final: 5 s after creation at first, then backing off (doubling, capped),
 * until the channel's close time — past it the transaction goes to the
 * exception list instead. Pure: times are epoch milliseconds.
 */
export interface SyncSchedule {
  readonly firstDelayMs: number;
  readonly backoffFactor: number;
  readonly delayMaxMs: number;
}

export const DEFAULT_SYNC_SCHEDULE: SyncSchedule = {
  firstDelayMs: 5_000,
  backoffFactor: 2,
  delayMaxMs: 600_000,
};

/** Attempts before the delay stops growing are few; this bound keeps the exponent finite. */
const ATTEMPTS_EXPONENT_MAX = 30;

/** Delay before sync attempt `attempt` (0-based). */
export function syncDelayMs(schedule: SyncSchedule, attempt: number): number {
  const exponent = Math.min(Math.max(attempt, 0), ATTEMPTS_EXPONENT_MAX);
  return Math.min(
    schedule.delayMaxMs,
    Math.round(schedule.firstDelayMs * schedule.backoffFactor ** exponent),
  );
}

export type SyncPlan = { readonly kind: 'QUERY_AT'; readonly atMs: number } | { readonly kind: 'EXCEPTION' };

/**
 * The next sync of a transaction created at `createdAtMs` after `attempts`
 * earlier attempts, or EXCEPTION once the next attempt would fall after the
 * close deadline (one last attempt is made exactly at the deadline).
 */
export function nextSync(
  schedule: SyncSchedule,
  lastAttemptAtMs: number,
  attempts: number,
  closeDeadlineMs: number,
): SyncPlan {
  if (lastAttemptAtMs >= closeDeadlineMs) return { kind: 'EXCEPTION' };
  const atMs = lastAttemptAtMs + syncDelayMs(schedule, attempts);
  return { kind: 'QUERY_AT', atMs: Math.min(atMs, closeDeadlineMs) };
}
