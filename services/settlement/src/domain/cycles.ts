/**
 * Settlement cycles: on which date an item cleared on accounting day D is
 * settled. Pure; business days come from the BusinessCalendar port (the
 * shared calendar with Chinese holidays and make-up working days), which
 * refuses a year it has no data for instead of guessing.
 */
import assert from 'node:assert/strict';
import { addDays, isoWeekday } from '@paycore/calendar';

export type CycleKindName = 'T_PLUS_N' | 'D0' | 'WEEKLY' | 'MONTHLY' | 'MANUAL';

export interface Cycle {
  readonly kind: CycleKindName;
  /** T+N: N business days. */
  readonly offsetDays: number;
  /** WEEKLY 1 (Monday)..7, MONTHLY 1..31. */
  readonly anchorDay: number;
}

/**
 * Business days as the shared calendar defines them (dates "YYYY-MM-DD");
 * @paycore/calendar's CN_BUSINESS_DAYS implements it (wired in service.ts).
 */
export interface BusinessCalendar {
  /** The date n (>= 0) business days after `date`; n = 0 is `date` itself if a business day, else the next one. */
  addBusinessDays(date: string, n: number): string;
  isBusinessDay(date: string): boolean;
}

export const OFFSET_DAYS_MAX = 30;

function lastDayOfMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** The first date after `date` that is the anchor day of its month (29–31 → the last day of a shorter month). */
export function nextMonthlyAnchor(date: string, anchorDay: number): string {
  assert.ok(anchorDay >= 1 && anchorDay <= 31, 'monthly anchor 1..31');
  let year = Number(date.slice(0, 4));
  let month = Number(date.slice(5, 7));
  const day = Number(date.slice(8, 10));
  for (let step = 0; step < 2; step++) {
    const anchor = Math.min(anchorDay, lastDayOfMonth(year, month));
    if (step > 0 || anchor > day) {
      return `${year}-${String(month).padStart(2, '0')}-${String(anchor).padStart(2, '0')}`;
    }
    month += 1;
    if (month > 12) {
      month = 1;
      year += 1;
    }
  }
  throw new Error('unreachable: the next month always has an anchor');
}

/** The first date after `date` on the anchor weekday. */
export function nextWeeklyAnchor(date: string, weekday: number): string {
  assert.ok(weekday >= 1 && weekday <= 7, 'weekly anchor 1..7');
  const ahead = (weekday - isoWeekday(date) + 7) % 7 || 7;
  return addDays(date, ahead);
}

/**
 * The settlement date of an item of accounting day `day`, or null for
 * MANUAL (settled only on request). Anchored dates that fall on a holiday
 * move to the next business day.
 */
export function settlementDateOf(cycle: Cycle, day: string, calendar: BusinessCalendar): string | null {
  switch (cycle.kind) {
    case 'T_PLUS_N':
      assert.ok(cycle.offsetDays >= 0 && cycle.offsetDays <= OFFSET_DAYS_MAX, 'offset within bounds');
      return calendar.addBusinessDays(day, cycle.offsetDays);
    case 'D0':
      return day;
    case 'WEEKLY':
      return calendar.addBusinessDays(nextWeeklyAnchor(day, cycle.anchorDay), 0);
    case 'MONTHLY':
      return calendar.addBusinessDays(nextMonthlyAnchor(day, cycle.anchorDay), 0);
    case 'MANUAL':
      return null;
  }
}
