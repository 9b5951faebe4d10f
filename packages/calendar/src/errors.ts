/**
 * The typed failures of @paycore/calendar.
 *
 * They extend the platform's DomainError, so a service's gRPC error mapper
 * turns them into a status with an ErrorInfo reason without this package
 * knowing gRPC. A malformed date or day rule is the caller's (or the
 * operator's) bad input and keeps the reason INVALID_FIELD that account and
 * ledger returned before they shared this package; a year without a holiday
 * data file is the platform's missing data, never a guess.
 */
import { DomainError, type DomainErrorExtra } from '@paycore/errors';

/** Stable reasons; never renamed or reused, callers may branch on them. */
export const CalendarErrorReason = {
  /** A date is not a real YYYY-MM-DD day, or a day rule (zone, cut-over) is unusable. */
  INVALID_FIELD: 'INVALID_FIELD',
  /** The business-day calendar has no data file for the year asked about. */
  CALENDAR_YEAR_MISSING: 'CALENDAR_YEAR_MISSING',
} as const;

export type CalendarErrorReason = (typeof CalendarErrorReason)[keyof typeof CalendarErrorReason];

/** A date string or a day rule that cannot be used. */
export class InvalidCalendarFieldError extends DomainError {
  readonly reason = CalendarErrorReason.INVALID_FIELD;
  readonly grpcCode = 'INVALID_ARGUMENT';
}

/**
 * No holiday data for the year: the answer is unknown, so it is refused.
 * FAILED_PRECONDITION, because the request is fine and the platform lacks the
 * published arrangement (add packages/calendar/data/<calendar>-<year>.json).
 */
export class CalendarYearMissingError extends DomainError {
  readonly reason = CalendarErrorReason.CALENDAR_YEAR_MISSING;
  readonly grpcCode = 'FAILED_PRECONDITION';
  readonly year: number;
  readonly calendar: string;

  constructor(calendar: string, year: number, extra: DomainErrorExtra = {}) {
    super(`the ${calendar} business-day calendar has no data for ${year}`, {
      ...extra,
      metadata: { ...extra.metadata, calendar, year: String(year) },
    });
    this.year = year;
    this.calendar = calendar;
  }
}
