/**
 * Business days (工作日) for T+N settlement and cut-off rules.
 *
 * A day is a business day when it is Monday to Friday and not a public
 * holiday, or when it is a make-up working day (调休上班, a weekend day the
 * State Council moves work to). Holidays and make-up days are data, one file
 * per calendar and year under packages/calendar/data/ (cn-2026.json), copied
 * from the State Council's yearly notice (国务院办公厅关于 YYYY 年部分节假日安排
 * 的通知). A year with no file is refused with CalendarYearMissingError: the
 * arrangement is published only weeks ahead and cannot be derived, so the
 * calendar never guesses.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { addDays, assertIsoDate, isIsoDate, isoWeekday, yearOf, type IsoDate } from './dates';
import { CalendarYearMissingError } from './errors';

/** One year's arrangement as the data file holds it. */
export interface HolidayYear {
  readonly calendar: string;
  readonly year: number;
  /** The notice it was copied from (title and date). */
  readonly source: string;
  /** Days off, as ranges of the notice (放假调休), both ends included. */
  readonly holidays: readonly { readonly name: string; readonly first: IsoDate; readonly last: IsoDate }[];
  /** Weekend days that are working days (调休上班). */
  readonly makeUpWorkdays: readonly { readonly date: IsoDate; readonly for: string }[];
}

/** |n| of addBusinessDays: settlement cycles are days to weeks, never years. */
export const BUSINESS_DAYS_SHIFT_MAX = 1_000;
/** The longest run of non-business days any arrangement has had is 9 (+ a weekend); 31 is a hard bound. */
const NON_BUSINESS_RUN_MAX = 31;
const YEARS_MAX = 200;
const HOLIDAY_RANGE_DAYS_MAX = 16;

function fail(calendar: string, year: unknown, problem: string): never {
  throw new Error(`calendar data ${calendar}-${String(year)}: ${problem}`);
}

/** Checks a year's data so a typo in a file fails at load, not on a settlement date. */
export function validateHolidayYear(data: HolidayYear): HolidayYear {
  const { calendar, year } = data;
  if (!Number.isInteger(year) || year < 1970 || year > 9999) fail(calendar, year, 'year is not a year');
  const inYear = (date: string): boolean => isIsoDate(date) && yearOf(date) === year;
  const offDays = new Set<string>();
  for (const range of data.holidays) {
    if (!inYear(range.first) || !inYear(range.last) || range.last < range.first) {
      fail(calendar, year, `holiday "${range.name}" has a bad range ${range.first}..${range.last}`);
    }
    let day = range.first;
    for (let step = 0; day <= range.last; step += 1) {
      if (step >= HOLIDAY_RANGE_DAYS_MAX) fail(calendar, year, `holiday "${range.name}" is too long`);
      offDays.add(day);
      day = addDays(day, 1);
    }
  }
  for (const workday of data.makeUpWorkdays) {
    if (!inYear(workday.date)) fail(calendar, year, `make-up day ${workday.date} is not in ${year}`);
    if (isoWeekday(workday.date) < 6)
      fail(calendar, year, `make-up day ${workday.date} is not a weekend day`);
    if (offDays.has(workday.date))
      fail(calendar, year, `${workday.date} is both a holiday and a make-up day`);
  }
  return data;
}

/** A business-day calendar over the years it has data for. */
export class BusinessCalendar {
  private readonly years = new Map<number, { off: ReadonlySet<string>; on: ReadonlySet<string> }>();

  constructor(
    readonly name: string,
    years: readonly HolidayYear[],
  ) {
    assert.ok(years.length <= YEARS_MAX, `at most ${YEARS_MAX} years of calendar data`);
    for (const data of years) {
      validateHolidayYear(data);
      assert.equal(data.calendar, name, `data for ${data.calendar} given to calendar ${name}`);
      assert.ok(!this.years.has(data.year), `two data files for ${name} ${data.year}`);
      const off = new Set<string>();
      for (const range of data.holidays) {
        for (let day = range.first; day <= range.last; day = addDays(day, 1)) off.add(day);
      }
      this.years.set(data.year, { off, on: new Set(data.makeUpWorkdays.map((d) => d.date)) });
    }
  }

  /** The years with data, ascending. */
  yearsCovered(): number[] {
    return [...this.years.keys()].sort((a, b) => a - b);
  }

  /** Whether `date` is a business day; throws CalendarYearMissingError for a year without data. */
  isBusinessDay(date: IsoDate): boolean {
    assertIsoDate(date);
    const year = this.years.get(yearOf(date));
    if (year === undefined) throw new CalendarYearMissingError(this.name, yearOf(date));
    if (year.on.has(date)) return true;
    if (year.off.has(date)) return false;
    return isoWeekday(date) <= 5;
  }

  /** `date` itself when it is a business day, else the next one. */
  nextBusinessDayOnOrAfter(date: IsoDate): IsoDate {
    return this.step(date, 1, true);
  }

  /** The business day before `date` when `date` is not one, else `date`. */
  previousBusinessDayOnOrBefore(date: IsoDate): IsoDate {
    return this.step(date, -1, true);
  }

  /**
   * T+N: the n-th business day after `date` (n > 0) or before it (n < 0),
   * counting only business days, so T+1 of a Friday before a holiday week is
   * the first day back. `date` itself need not be a business day: T+1 of a
   * Saturday is the first business day after it. n = 0 is
   * nextBusinessDayOnOrAfter(date). |n| ≤ BUSINESS_DAYS_SHIFT_MAX.
   */
  addBusinessDays(date: IsoDate, n: number): IsoDate {
    assertIsoDate(date);
    assert.ok(
      Number.isInteger(n) && Math.abs(n) <= BUSINESS_DAYS_SHIFT_MAX,
      `business-day shift ${n} out of range`,
    );
    if (n === 0) return this.nextBusinessDayOnOrAfter(date);
    const direction = n > 0 ? 1 : -1;
    let day = date;
    for (let counted = 0; counted < Math.abs(n); counted += 1) day = this.step(day, direction, false);
    return day;
  }

  /** Business days in (from, to]: how many T+1 steps lead from `from` past `to`'s start. */
  businessDaysBetween(from: IsoDate, to: IsoDate): number {
    assertIsoDate(from, 'from');
    assertIsoDate(to, 'to');
    assert.ok(from <= to, `${from} is after ${to}`);
    let count = 0;
    let day = from;
    for (let step = 0; day < to; step += 1) {
      assert.ok(step <= BUSINESS_DAYS_SHIFT_MAX * 2, 'business-day range too long');
      day = addDays(day, 1);
      if (this.isBusinessDay(day)) count += 1;
    }
    return count;
  }

  /** The first business day from `date` in `direction`, `date` itself included when `inclusive`. */
  private step(date: IsoDate, direction: 1 | -1, inclusive: boolean): IsoDate {
    let day = inclusive ? date : addDays(date, direction);
    for (let run = 0; run <= NON_BUSINESS_RUN_MAX; run += 1) {
      if (this.isBusinessDay(day)) return day;
      day = addDays(day, direction);
    }
    throw new Error(`no business day within ${NON_BUSINESS_RUN_MAX} days of ${date} in ${this.name}`);
  }
}

const DATA_FILE_PATTERN = /^([a-z]{2})-(\d{4})\.json$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The shape of a data file; the dates themselves are checked by validateHolidayYear. */
function asHolidayYear(value: unknown, file: string): HolidayYear {
  const ok =
    isRecord(value) &&
    typeof value.calendar === 'string' &&
    typeof value.year === 'number' &&
    typeof value.source === 'string' &&
    Array.isArray(value.holidays) &&
    value.holidays.every(
      (range) =>
        isRecord(range) &&
        typeof range.name === 'string' &&
        typeof range.first === 'string' &&
        typeof range.last === 'string',
    ) &&
    Array.isArray(value.makeUpWorkdays) &&
    value.makeUpWorkdays.every(
      (day) => isRecord(day) && typeof day.date === 'string' && typeof day.for === 'string',
    );
  if (!ok)
    throw new Error(`calendar data file ${file} is not { calendar, year, source, holidays, makeUpWorkdays }`);
  return value as unknown as HolidayYear;
}

/** Reads every `<calendar>-<year>.json` of `directory` for one calendar (lower-case file prefix). */
export function loadHolidayYears(directory: string, calendar: string): HolidayYear[] {
  const years: HolidayYear[] = [];
  for (const file of readdirSync(directory).sort()) {
    const match = DATA_FILE_PATTERN.exec(file);
    if (match === null || match[1] !== calendar.toLowerCase()) continue;
    const data = asHolidayYear(JSON.parse(readFileSync(join(directory, file), 'utf8')), file);
    if (data.calendar !== calendar || String(data.year) !== match[2]) {
      fail(calendar, match[2], `${file} holds ${data.calendar} ${data.year}`);
    }
    years.push(data);
  }
  return years;
}

/** The directory of the bundled data files. */
export const DATA_DIRECTORY = join(__dirname, '..', 'data');

/** China's business days (mainland public holidays and 调休), from the bundled data files. */
export const CN_BUSINESS_DAYS = new BusinessCalendar('CN', loadHolidayYears(DATA_DIRECTORY, 'CN'));

/** Whether `date` is a business day in China. */
export function isBusinessDay(date: IsoDate): boolean {
  return CN_BUSINESS_DAYS.isBusinessDay(date);
}

/** T+N in China's business days (see BusinessCalendar.addBusinessDays). */
export function addBusinessDays(date: IsoDate, n: number): IsoDate {
  return CN_BUSINESS_DAYS.addBusinessDays(date, n);
}

/** `date` when it is a business day in China, else the next one. */
export function nextBusinessDayOnOrAfter(date: IsoDate): IsoDate {
  return CN_BUSINESS_DAYS.nextBusinessDayOnOrAfter(date);
}
