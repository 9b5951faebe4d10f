/**
 * Calendar dates as "YYYY-MM-DD" strings.
 *
 * A date here is a day on a calendar, not an instant: arithmetic goes through
 * UTC midnight, where no zone or daylight saving can shift it, and strings
 * compare in date order. Every function checks its input.
 */
import assert from 'node:assert/strict';
import { InvalidCalendarFieldError } from './errors';

/** A "YYYY-MM-DD" day. */
export type IsoDate = string;

const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;
const MS_PER_DAY = 86_400_000;
/** No paycore date arithmetic needs to move further than this (about 270 years). */
export const DAYS_SHIFT_MAX = 100_000;

/** Whether `text` is a real calendar day written YYYY-MM-DD (no 2025-02-30). */
export function isIsoDate(text: string): boolean {
  const match = DATE_PATTERN.exec(text);
  if (match === null) return false;
  const [, year, month, day] = match;
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  return date.toISOString().slice(0, 10) === text;
}

/** Throws INVALID_FIELD naming `field` unless `text` is a real YYYY-MM-DD date. */
export function assertIsoDate(text: string, field = 'date'): IsoDate {
  if (!isIsoDate(text)) {
    throw new InvalidCalendarFieldError(`${field} "${text.slice(0, 16)}" is not a YYYY-MM-DD date`, {
      field,
    });
  }
  return text;
}

/** The date `days` days after `date` (before it when negative). */
export function addDays(date: IsoDate, days: number): IsoDate {
  assertIsoDate(date);
  assert.ok(Number.isInteger(days) && Math.abs(days) <= DAYS_SHIFT_MAX, `day shift ${days} out of range`);
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * MS_PER_DAY).toISOString().slice(0, 10);
}

/** Whole days from `from` to `to` (negative when `to` is earlier). */
export function daysBetween(from: IsoDate, to: IsoDate): number {
  assertIsoDate(from, 'from');
  assertIsoDate(to, 'to');
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / MS_PER_DAY);
}

/** ISO weekday: 1 = Monday … 7 = Sunday. */
export function isoWeekday(date: IsoDate): number {
  assertIsoDate(date);
  const utcDay = new Date(`${date}T00:00:00Z`).getUTCDay();
  return utcDay === 0 ? 7 : utcDay;
}

/** The four-digit year of a date. */
export function yearOf(date: IsoDate): number {
  assertIsoDate(date);
  return Number(date.slice(0, 4));
}
