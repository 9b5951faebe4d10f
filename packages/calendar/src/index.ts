/**
 * @paycore/calendar — which day it is, for every paycore service: the
 * accounting day (zone + cut-over, D+1 after a sealed day), each channel's
 * day (bills and daily caps), and China's business days (public holidays and
 * make-up working days from one data file per year; a year without data is
 * refused). Dates are "YYYY-MM-DD" strings. Pure apart from reading the
 * bundled data files once at module load.
 */
export { CalendarErrorReason, CalendarYearMissingError, InvalidCalendarFieldError } from './errors';
export { addDays, assertIsoDate, daysBetween, DAYS_SHIFT_MAX, isIsoDate, isoWeekday, yearOf } from './dates';
export type { IsoDate } from './dates';
export { CHINA_NATURAL_DAY, dayOf, MINUTES_PER_DAY, validateDayRule } from './day-rule';
export type { DayRule, Instant } from './day-rule';
export {
  accountingDateFor,
  accountingDayRuleFrom,
  DEFAULT_ACCOUNTING_DAY,
  naturalAccountingDate,
} from './accounting-day';
export type { AccountingDayConfig, AccountingDayRule } from './accounting-day';
export { CHANNEL_DAY_RULES_MAX, ChannelDays, chinaDayOf } from './channel-day';
export {
  addBusinessDays,
  BUSINESS_DAYS_SHIFT_MAX,
  BusinessCalendar,
  CN_BUSINESS_DAYS,
  DATA_DIRECTORY,
  isBusinessDay,
  loadHolidayYears,
  nextBusinessDayOnOrAfter,
  validateHolidayYear,
} from './business-days';
export type { HolidayYear } from './business-days';
