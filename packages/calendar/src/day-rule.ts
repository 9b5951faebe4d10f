/**
 * Which day an instant belongs to under a day rule: an IANA time zone and a
 * cut-over time (minutes after local midnight at which the day advances).
 *
 * With cut-over 0 the day is the local calendar date; with cut-over 23:00,
 * instants from 23:00 to midnight already belong to tomorrow (日切 at 23:00).
 * The rule shifts the instant forward by (1440 − cut-over) minutes and reads
 * the local date, so in zones with daylight saving the cut-over moves with
 * the DST offset on the two transition days; Asia/Shanghai, the default of
 * every paycore day, has none.
 *
 * The accounting day (account, ledger) and each channel's day (bills, daily
 * caps) are both such rules; see accounting-day.ts and channel-day.ts.
 */
import { InvalidCalendarFieldError } from './errors';
import type { IsoDate } from './dates';

export interface DayRule {
  /** IANA zone, e.g. "Asia/Shanghai". */
  readonly timeZone: string;
  /** Minutes after local midnight at which the date advances, 0 to 1439. */
  readonly cutoverMinutes: number;
}

/** An instant: a Date or epoch milliseconds. */
export type Instant = Date | number;

/** China's natural day: Asia/Shanghai (UTC+8 all year), advancing at midnight. */
export const CHINA_NATURAL_DAY: DayRule = Object.freeze({ timeZone: 'Asia/Shanghai', cutoverMinutes: 0 });

export const MINUTES_PER_DAY = 24 * 60;
const MS_PER_MINUTE = 60_000;

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

/**
 * Throws INVALID_FIELD (field `cutoverMinutes` or `timeZone`) on an
 * out-of-range cut-over or an unknown zone, so bad config fails at start-up.
 */
export function validateDayRule(rule: DayRule): DayRule {
  if (
    !Number.isInteger(rule.cutoverMinutes) ||
    rule.cutoverMinutes < 0 ||
    rule.cutoverMinutes >= MINUTES_PER_DAY
  ) {
    throw new InvalidCalendarFieldError(`cut-over must be 0..1439 minutes, got ${rule.cutoverMinutes}`, {
      field: 'cutoverMinutes',
    });
  }
  try {
    formatterFor(rule.timeZone);
  } catch {
    throw new InvalidCalendarFieldError(`unknown time zone "${rule.timeZone.slice(0, 64)}"`, {
      field: 'timeZone',
    });
  }
  return rule;
}

/** The day an instant belongs to under `rule`. */
export function dayOf(instant: Instant, rule: DayRule): IsoDate {
  const instantMs = typeof instant === 'number' ? instant : instant.getTime();
  const shiftMinutes = (MINUTES_PER_DAY - rule.cutoverMinutes) % MINUTES_PER_DAY;
  return formatterFor(rule.timeZone).format(new Date(instantMs + shiftMinutes * MS_PER_MINUTE));
}
