/**
 * The accounting calendar shared with the account service (same settings,
 * same rule; see services/account/src/domain/calendar.ts, which the ledger may
 * not import): the accounting date advances at the cut-over time, local to
 * the calendar's time zone. The ledger only needs it to date a manual voucher
 * that names no date.
 */
import { InvalidFieldError } from './errors';

export interface CalendarConfig {
  /** IANA zone, e.g. "Asia/Shanghai". */
  readonly timeZone: string;
  /** Minutes after local midnight at which the date advances, 0 to 1439. */
  readonly cutoverMinutes: number;
}

const MINUTES_PER_DAY = 24 * 60;
const MS_PER_MINUTE = 60_000;
const MS_PER_DAY = MINUTES_PER_DAY * MS_PER_MINUTE;
const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;

export function isAccountingDate(text: string): boolean {
  const match = DATE_PATTERN.exec(text);
  if (match === null) return false;
  const [, year, month, day] = match;
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  return date.toISOString().slice(0, 10) === text;
}

/** Throws INVALID_FIELD naming `field` unless `text` is a real YYYY-MM-DD date. */
export function assertAccountingDate(text: string, field = 'accounting_date'): string {
  if (!isAccountingDate(text)) {
    throw new InvalidFieldError(`${field} "${text.slice(0, 16)}" is not a YYYY-MM-DD date`, { field });
  }
  return text;
}

/** Calendar arithmetic on "YYYY-MM-DD" strings (UTC, so no zone can shift it). */
export function addDays(date: string, days: number): string {
  assertAccountingDate(date);
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * MS_PER_DAY).toISOString().slice(0, 10);
}

/** Throws on an unknown zone or an out-of-range cut-over, so bad config fails at start-up. */
export function validateCalendar(config: CalendarConfig): CalendarConfig {
  if (
    !Number.isInteger(config.cutoverMinutes) ||
    config.cutoverMinutes < 0 ||
    config.cutoverMinutes >= MINUTES_PER_DAY
  ) {
    throw new InvalidFieldError(`cut-over must be 0..1439 minutes, got ${config.cutoverMinutes}`);
  }
  naturalAccountingDate(new Date(0), config);
  return config;
}

/** The accounting date of an instant. */
export function naturalAccountingDate(instant: Date, config: CalendarConfig): string {
  const shiftMinutes = (MINUTES_PER_DAY - config.cutoverMinutes) % MINUTES_PER_DAY;
  // en-CA formats dates as YYYY-MM-DD.
  const formatter = new Intl.DateTimeFormat('en-CA', {
    timeZone: config.timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  });
  return formatter.format(new Date(instant.getTime() + shiftMinutes * MS_PER_MINUTE));
}
