/**
 * Proves the settlement dates of each cycle against the real China business
 * calendar (@paycore/calendar's CN_BUSINESS_DAYS, State Council data for
 * 2026): the Mid-Autumn and National Day holidays (25–27 September, 1–7
 * October) are skipped, the make-up working days (Sunday 20 September,
 * Saturday 10 October) are counted; weekly and monthly anchors (31st → 30
 * April / 28 February) move off holidays; D0 is the same day, manual none;
 * and a date whose T+N falls in 2027 (no data file) is refused with
 * CALENDAR_YEAR_MISSING, never guessed.
 */
import { expect } from 'chai';
import { CalendarYearMissingError, CN_BUSINESS_DAYS } from '@paycore/calendar';
import { nextMonthlyAnchor, nextWeeklyAnchor, settlementDateOf } from './cycles';

const t1 = { kind: 'T_PLUS_N' as const, offsetDays: 1, anchorDay: 0 };

describe('settlement cycles on the China business calendar', () => {
  it('lands T+1 across the National Day week on 8 October and on the make-up Saturday 10 October', () => {
    expect(settlementDateOf(t1, '2026-09-30', CN_BUSINESS_DAYS)).to.equal('2026-10-08');
    expect(settlementDateOf(t1, '2026-10-03', CN_BUSINESS_DAYS)).to.equal('2026-10-08');
    expect(settlementDateOf(t1, '2026-10-08', CN_BUSINESS_DAYS)).to.equal('2026-10-09');
    expect(settlementDateOf(t1, '2026-10-09', CN_BUSINESS_DAYS)).to.equal('2026-10-10');
    expect(settlementDateOf(t1, '2026-10-10', CN_BUSINESS_DAYS)).to.equal('2026-10-12');
  });

  it('counts the make-up Sunday 20 September and skips the Mid-Autumn weekend in T+N', () => {
    expect(settlementDateOf(t1, '2026-09-18', CN_BUSINESS_DAYS)).to.equal('2026-09-20');
    expect(settlementDateOf({ ...t1, offsetDays: 3 }, '2026-09-24', CN_BUSINESS_DAYS)).to.equal('2026-09-30');
    expect(settlementDateOf({ ...t1, offsetDays: 5 }, '2026-09-28', CN_BUSINESS_DAYS)).to.equal('2026-10-10');
  });

  it('refuses a settlement date in 2027, a year the calendar has no data for', () => {
    let refused: unknown;
    try {
      settlementDateOf(t1, '2026-12-31', CN_BUSINESS_DAYS);
    } catch (error) {
      refused = error;
    }
    expect(refused).to.be.instanceOf(CalendarYearMissingError);
    expect((refused as CalendarYearMissingError).year).to.equal(2027);
    expect((refused as CalendarYearMissingError).reason).to.equal('CALENDAR_YEAR_MISSING');
  });

  it('anchors weekly and monthly cycles, the 31st falling on a shorter month’s last day, off holidays', () => {
    expect(nextWeeklyAnchor('2026-06-03', 5)).to.equal('2026-06-05');
    expect(nextWeeklyAnchor('2026-06-05', 5)).to.equal('2026-06-12');
    expect(nextMonthlyAnchor('2026-04-10', 31)).to.equal('2026-04-30');
    expect(nextMonthlyAnchor('2026-04-30', 31)).to.equal('2026-05-31');
    expect(nextMonthlyAnchor('2026-02-01', 30)).to.equal('2026-02-28');
    const monthly = { kind: 'MONTHLY' as const, offsetDays: 0, anchorDay: 1 };
    // 1 October is National Day: the anchored date moves to the next business day.
    expect(settlementDateOf(monthly, '2026-09-10', CN_BUSINESS_DAYS)).to.equal('2026-10-08');
    const weekly = { kind: 'WEEKLY' as const, offsetDays: 0, anchorDay: 6 };
    // Saturday 3 October is a holiday, Saturday 10 October a make-up working day.
    expect(settlementDateOf(weekly, '2026-09-28', CN_BUSINESS_DAYS)).to.equal('2026-10-08');
    expect(settlementDateOf(weekly, '2026-10-05', CN_BUSINESS_DAYS)).to.equal('2026-10-10');
    expect(
      settlementDateOf({ kind: 'D0', offsetDays: 0, anchorDay: 0 }, '2026-10-03', CN_BUSINESS_DAYS),
    ).to.equal('2026-10-03');
    expect(
      settlementDateOf({ kind: 'MANUAL', offsetDays: 0, anchorDay: 0 }, '2026-10-03', CN_BUSINESS_DAYS),
    ).to.equal(null);
  });
});
