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

const MS_PER_DAY = MINUTES_PER_DAY * MS_PER_MINUTE;
/** Asia/Shanghai has been UTC+8 all year since 1991-09-15 (no daylight saving after). */
const SHANGHAI_ZONE = 'Asia/Shanghai';
const SHANGHAI_OFFSET_MS = 8 * 60 * MS_PER_MINUTE;
const SHANGHAI_FIXED_FROM_MS = Date.UTC(1992, 0, 1);
// Dates by UTC+8 day number: a clearing batch of thousands of payments spans a day or two.
const shanghaiDates = new Map<number, IsoDate>();
const SHANGHAI_DATES_MAX = 4_096;

function shanghaiDate(shiftedMs: number): IsoDate {
  const dayNumber = Math.floor((shiftedMs + SHANGHAI_OFFSET_MS) / MS_PER_DAY);
  let date = shanghaiDates.get(dayNumber);
  if (date === undefined) {
    date = new Date(dayNumber * MS_PER_DAY).toISOString().slice(0, 10);
    if (shanghaiDates.size >= SHANGHAI_DATES_MAX) shanghaiDates.clear();
    shanghaiDates.set(dayNumber, date);
  }
  return date;
}

/**
 * The day an instant belongs to under `rule`. In Asia/Shanghai after 1991
 * (a fixed UTC+8) it is day arithmetic on the epoch with a cache per day,
 * not an Intl format per call (clearing asks it for every payment); the
 * day-rule tests compare both ways over random instants.
 */
export function dayOf(instant: Instant, rule: DayRule): IsoDate {
  const instantMs = typeof instant === 'number' ? instant : instant.getTime();
  const shiftMinutes = (MINUTES_PER_DAY - rule.cutoverMinutes) % MINUTES_PER_DAY;
  const shiftedMs = instantMs + shiftMinutes * MS_PER_MINUTE;
  if (rule.timeZone === SHANGHAI_ZONE && shiftedMs >= SHANGHAI_FIXED_FROM_MS && shiftedMs < 8.64e15) {
    return shanghaiDate(shiftedMs);
  }
  return formatterFor(rule.timeZone).format(new Date(shiftedMs));
}
