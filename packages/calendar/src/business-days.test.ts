/**
 * Proves China's business-day calendar from the bundled data files: T+N
 * across the 2026 Spring Festival and National Day weeks lands on the dates
 * the State Council's notice implies, make-up weekend days (调休上班) count as
 * business days, a year without a data file is refused (never guessed), and
 * a malformed data file fails at load. Property tests (fast-check, seed from
 * CALENDAR_SEED or random, printed) check over 2024–2026 that T+N is a
 * business day exactly N business days on, that shifts add up and invert.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import {
  addBusinessDays,
  addDays,
  BusinessCalendar,
  CalendarYearMissingError,
  CN_BUSINESS_DAYS,
  isBusinessDay,
  nextBusinessDayOnOrAfter,
  validateHolidayYear,
  type HolidayYear,
} from './index';

const SEED = Number(process.env.CALENDAR_SEED ?? Math.floor(Math.random() * 2 ** 31));

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('China business days', () => {
  before(() => console.log(`      business-day properties: CALENDAR_SEED=${SEED}`));

  it('covers the published years 2024, 2025 and 2026', () => {
    expect(CN_BUSINESS_DAYS.yearsCovered()).to.deep.equal([2024, 2025, 2026]);
  });

  it('settles T+N across the 2026 National Day week on the first days back', () => {
    // Wed 30 Sep is the last day before the 1–7 October holiday.
    expect(addBusinessDays('2026-09-30', 1)).to.equal('2026-10-08');
    expect(addBusinessDays('2026-09-30', 2)).to.equal('2026-10-09');
    // Sat 10 October is a make-up working day, so it is T+3.
    expect(addBusinessDays('2026-09-30', 3)).to.equal('2026-10-10');
    expect(addBusinessDays('2026-09-30', 4)).to.equal('2026-10-12');
    // A payment on the holiday itself settles T+1 on the second day back.
    expect(addBusinessDays('2026-10-03', 1)).to.equal('2026-10-08');
    expect(nextBusinessDayOnOrAfter('2026-10-01')).to.equal('2026-10-08');
    expect(addBusinessDays('2026-10-08', -1)).to.equal('2026-09-30');
    expect(CN_BUSINESS_DAYS.businessDaysBetween('2026-09-30', '2026-10-12')).to.equal(4);
  });

  it('skips the Mid-Autumn long weekend and counts the Sunday before it that is worked', () => {
    expect(addBusinessDays('2026-09-24', 1)).to.equal('2026-09-28');
    expect(isBusinessDay('2026-09-20')).to.equal(true); // Sunday, 调休上班 for National Day
    expect(addBusinessDays('2026-09-19', 1)).to.equal('2026-09-20');
  });

  it('counts a make-up Saturday as a business day and the Spring Festival as none', () => {
    expect(isBusinessDay('2026-02-14')).to.equal(true);
    expect(isBusinessDay('2026-02-28')).to.equal(true);
    expect(isBusinessDay('2026-02-21')).to.equal(false); // an ordinary Saturday inside the holiday
    expect(isBusinessDay('2026-02-23')).to.equal(false); // a Monday inside the holiday
    expect(isBusinessDay('2026-03-07')).to.equal(false); // an ordinary Saturday
    expect(addBusinessDays('2026-02-13', 1)).to.equal('2026-02-14');
    expect(addBusinessDays('2026-02-13', 2)).to.equal('2026-02-24');
  });

  it('crosses the year end 2025 → 2026 onto the worked Sunday 4 January', () => {
    expect(addBusinessDays('2025-12-31', 1)).to.equal('2026-01-04');
    expect(addBusinessDays('2024-12-31', 1)).to.equal('2025-01-02');
    expect(isBusinessDay('2024-02-09')).to.equal(true); // 2024's eve was a working day, only encouraged off
    expect(isBusinessDay('2025-01-28')).to.equal(false); // from 2025 the eve is a public holiday
  });

  it('refuses a year that has no data file instead of guessing', () => {
    const missing = thrown(() => isBusinessDay('2027-01-05'));
    expect(missing).to.be.instanceOf(CalendarYearMissingError);
    expect(missing).to.include({
      reason: 'CALENDAR_YEAR_MISSING',
      grpcCode: 'FAILED_PRECONDITION',
      year: 2027,
    });
    expect((missing as CalendarYearMissingError).metadata).to.deep.equal({ calendar: 'CN', year: '2027' });
    expect(thrown(() => addBusinessDays('2026-12-31', 1))).to.be.instanceOf(CalendarYearMissingError);
    expect(thrown(() => addBusinessDays('2024-01-02', -1))).to.be.instanceOf(CalendarYearMissingError);
    expect(thrown(() => nextBusinessDayOnOrAfter('2023-06-01'))).to.be.instanceOf(CalendarYearMissingError);
  });

  it('refuses malformed dates with INVALID_FIELD', () => {
    expect(thrown(() => isBusinessDay('2026-02-30'))).to.include({ reason: 'INVALID_FIELD', field: 'date' });
    expect(thrown(() => addBusinessDays('20261001', 1))).to.include({ reason: 'INVALID_FIELD' });
  });

  it('rejects a data file with a make-up day on a weekday or inside a holiday', () => {
    const base: HolidayYear = {
      calendar: 'CN',
      year: 2030,
      source: 'test',
      holidays: [{ name: 'x', first: '2030-10-01', last: '2030-10-07' }],
      makeUpWorkdays: [],
    };
    expect(() => validateHolidayYear(base)).not.to.throw();
    const weekday = { ...base, makeUpWorkdays: [{ date: '2030-10-08', for: 'x' }] };
    expect(() => validateHolidayYear(weekday)).to.throw(/not a weekend day/);
    const inside = { ...base, makeUpWorkdays: [{ date: '2030-10-05', for: 'x' }] };
    expect(() => validateHolidayYear(inside)).to.throw(/both a holiday and a make-up day/);
    const otherYear = { ...base, holidays: [{ name: 'x', first: '2031-01-01', last: '2031-01-01' }] };
    expect(() => validateHolidayYear(otherYear)).to.throw(/bad range/);
    expect(() => new BusinessCalendar('CN', [base, base])).to.throw(/two data files/);
  });

  describe('properties over 2024-01-01 … 2026-11-30', () => {
    const dayArb = fc.integer({ min: 0, max: 1064 }).map((offset) => addDays('2024-01-01', offset));
    const laterDayArb = fc.integer({ min: 7, max: 1030 }).map((offset) => addDays('2024-01-01', offset));
    const shiftArb = fc.integer({ min: 1, max: 20 });
    const options = { seed: SEED, numRuns: 300 };

    it('T+N is a business day exactly N business days after T', () => {
      fc.assert(
        fc.property(dayArb, shiftArb, (day, n) => {
          const settled = addBusinessDays(day, n);
          return (
            settled > day &&
            isBusinessDay(settled) &&
            CN_BUSINESS_DAYS.businessDaysBetween(day, settled) === n &&
            CN_BUSINESS_DAYS.businessDaysBetween(day, addDays(settled, -1)) === n - 1
          );
        }),
        options,
      );
    });

    it('T+a then +b is T+(a+b), and −N undoes +N', () => {
      fc.assert(
        // 8 January … 27 October: undoing a shift never needs 2023, T+40 never reaches 2027
        fc.property(laterDayArb, shiftArb, shiftArb, (day, a, b) => {
          const back = addBusinessDays(addBusinessDays(day, a + b), -(a + b));
          return (
            addBusinessDays(addBusinessDays(day, a), b) === addBusinessDays(day, a + b) &&
            back === CN_BUSINESS_DAYS.previousBusinessDayOnOrBefore(day)
          );
        }),
        options,
      );
    });

    it('the next business day on or after T is T itself exactly when T is a business day', () => {
      fc.assert(
        fc.property(dayArb, (day) => (nextBusinessDayOnOrAfter(day) === day) === isBusinessDay(day)),
        options,
      );
    });
  });
});
