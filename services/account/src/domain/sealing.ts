/**
 * The sealing rule of account's days (日终封账). Which accounting date an
 * instant belongs to is @paycore/calendar's; this is account's own rule on
 * top of it: dates are sealed in order and never in the future.
 */
import { addDays, isIsoDate } from '@paycore/calendar';

/**
 * Whether `date` may be sealed now: dates are sealed in order (the day after
 * the last sealed one, or any date when none is sealed yet) and never in the
 * future (after the current accounting date). Null when it may.
 */
export function sealableProblem(
  date: string,
  currentAccountingDate: string,
  lastSealed: string | null,
): string | null {
  if (!isIsoDate(date)) return `"${date.slice(0, 16)}" is not a YYYY-MM-DD date`;
  if (date > currentAccountingDate)
    return `${date} is after the current accounting date ${currentAccountingDate}`;
  if (lastSealed !== null && date !== addDays(lastSealed, 1)) {
    return `${date} is not the day after the last sealed date ${lastSealed}`;
  }
  return null;
}
