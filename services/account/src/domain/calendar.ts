/**
 * The accounting calendar: which accounting date an instant belongs to.
 *
 * The accounting date advances at the cut-over time, local to the calendar's
 * time zone: with cut-over 00:00 it is the local calendar date; with cut-over
 * 23:00, instants from 23:00 to midnight already belong to tomorrow (日切 at
 * 23:00). A sealed date takes no more postings, so an instant whose natural
 * date is sealed is dated the day after the last sealed date (D+1).
 *
 * Time zones with daylight saving shift the cut-over by the DST offset on the
 * two transition days; Asia/Shanghai, the default, has none.
 */
import { InvalidFieldError } from './errors';

export interface CalendarConfig {
  /** IANA zone, e.g. "Asia/Shanghai". */
  readonly timeZone: string;
  /** Minutes after local midnight at which the date advances, 0 to 1439. */
  readonly cutoverMinutes: number;
}

export const DEFAULT_CALENDAR: CalendarConfig = { timeZone: 'Asia/Shanghai', cutoverMinutes: 0 };

const MINUTES_PER_DAY = 24 * 60;
const MS_PER_MINUTE = 60_000;
const MS_PER_DAY = MINUTES_PER_DAY * MS_PER_MINUTE;
const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;

// Intl formatters are costly to build; one per zone is enough and zones are few.
const formatters = new Map<string, Intl.DateTimeFormat>();
const FORMATTERS_MAX = 64;

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    // en-CA formats dates as YYYY-MM-DD.
    formatter = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    });
    if (formatters.size < FORMATTERS_MAX) formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Throws on an unknown zone or an out-of-range cut-over, so bad config fails at start-up. */
export function validateCalendar(config: CalendarConfig): CalendarConfig {
  if (
    !Number.isInteger(config.cutoverMinutes) ||
    config.cutoverMinutes < 0 ||
    config.cutoverMinutes >= MINUTES_PER_DAY
  ) {
    throw new InvalidFieldError(`cut-over must be 0..1439 minutes, got ${config.cutoverMinutes}`, {
      field: 'cutoverMinutes',
    });
  }
  try {
    formatterFor(config.timeZone);
  } catch {
    throw new InvalidFieldError(`unknown time zone "${config.timeZone}"`, { field: 'timeZone' });
  }
  return config;
}

/** The accounting date of an instant, ignoring sealed dates. */
export function naturalAccountingDate(instant: Date, config: CalendarConfig): string {
  const shiftMinutes = (MINUTES_PER_DAY - config.cutoverMinutes) % MINUTES_PER_DAY;
  return formatterFor(config.timeZone).format(new Date(instant.getTime() + shiftMinutes * MS_PER_MINUTE));
}

/** The date a posting at `instant` gets: its natural date, or the day after the last sealed one. */
export function accountingDateFor(instant: Date, config: CalendarConfig, lastSealed: string | null): string {
  const natural = naturalAccountingDate(instant, config);
  if (lastSealed === null) return natural;
  const firstOpen = addDays(lastSealed, 1);
  return natural > firstOpen ? natural : firstOpen;
}

export function isAccountingDate(text: string): boolean {
  const match = DATE_PATTERN.exec(text);
  if (match === null) return false;
  const [, year, month, day] = match;
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  return date.toISOString().slice(0, 10) === text;
}

/** Calendar arithmetic on "YYYY-MM-DD" strings (UTC, so no zone can shift it). */
export function addDays(date: string, days: number): string {
  if (!isAccountingDate(date)) throw new InvalidFieldError(`"${date.slice(0, 16)}" is not a YYYY-MM-DD date`);
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * MS_PER_DAY).toISOString().slice(0, 10);
}

/**
 * Whether `date` may be sealed now: dates are sealed in order (the day after
 * the last sealed one, or any date when none is sealed yet) and never in the
 * future (after the current accounting date).
 */
export function sealableProblem(
  date: string,
  currentAccountingDate: string,
  lastSealed: string | null,
): string | null {
  if (!isAccountingDate(date)) return `"${date.slice(0, 16)}" is not a YYYY-MM-DD date`;
  if (date > currentAccountingDate)
    return `${date} is after the current accounting date ${currentAccountingDate}`;
  if (lastSealed !== null && date !== addDays(lastSealed, 1)) {
    return `${date} is not the day after the last sealed date ${lastSealed}`;
  }
  return null;
}
