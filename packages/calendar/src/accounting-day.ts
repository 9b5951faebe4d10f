/**
 * The accounting day (会计日): which accounting date a posting at an instant
 * gets. Account and ledger read the same two settings, ACCOUNT_TIME_ZONE and
 * ACCOUNT_CUTOVER_MINUTES, so one setting drives both books.
 *
 * A sealed date takes no more postings, so an instant whose natural date is
 * already sealed is dated the first open day: the day after the last sealed
 * one (D+1).
 */
import { addDays, type IsoDate } from './dates';
import { CHINA_NATURAL_DAY, dayOf, type DayRule, type Instant } from './day-rule';

/** The accounting calendar's settings: a day rule. */
export type AccountingDayRule = DayRule;

/** ACCOUNT_TIME_ZONE and ACCOUNT_CUTOVER_MINUTES as services read them from config. */
export interface AccountingDayConfig {
  readonly ACCOUNT_TIME_ZONE: string;
  readonly ACCOUNT_CUTOVER_MINUTES: number;
}

/** Asia/Shanghai, cut-over at midnight: the defaults of ACCOUNT_TIME_ZONE / ACCOUNT_CUTOVER_MINUTES. */
export const DEFAULT_ACCOUNTING_DAY: AccountingDayRule = CHINA_NATURAL_DAY;

/** The accounting day rule from the two shared settings (validate it with validateDayRule). */
export function accountingDayRuleFrom(config: AccountingDayConfig): AccountingDayRule {
  return { timeZone: config.ACCOUNT_TIME_ZONE, cutoverMinutes: config.ACCOUNT_CUTOVER_MINUTES };
}

/** The accounting date of an instant, ignoring sealed dates. */
export function naturalAccountingDate(instant: Instant, rule: AccountingDayRule): IsoDate {
  return dayOf(instant, rule);
}

/** The date a posting at `instant` gets: its natural date, or the day after the last sealed one. */
export function accountingDateFor(
  instant: Instant,
  rule: AccountingDayRule,
  lastSealed: IsoDate | null,
): IsoDate {
  const natural = naturalAccountingDate(instant, rule);
  if (lastSealed === null) return natural;
  const firstOpen = addDays(lastSealed, 1);
  return natural > firstOpen ? natural : firstOpen;
}
