/**
 * Proves the settlement dates of each cycle against a fixture calendar (a
 * port implementation with the 2026 National Day week: 1–7 October off,
 * Sunday 27 September and Saturday 10 October make-up working days, and no
 * data for 2027, which it refuses): T+N skips the holidays and counts the
 * make-up days, weekly and monthly anchors (31st → 30 April / 28 February),
 * D0 the same day, manual none, and a missing year is refused, not guessed.
 */
import { expect } from 'chai';
import { nextMonthlyAnchor, nextWeeklyAnchor, settlementDateOf, type BusinessCalendar } from './cycles';

const HOLIDAYS = new Set([
  '2026-10-01',
  '2026-10-02',
  '2026-10-03',
  '2026-10-04',
  '2026-10-05',
  '2026-10-06',
  '2026-10-07',
]);
const WORKDAYS = new Set(['2026-09-27', '2026-10-10']);

const fixture: BusinessCalendar = {
  isBusinessDay(date) {
    if (!date.startsWith('2026')) throw new Error(`CALENDAR_YEAR_MISSING ${date.slice(0, 4)}`);
    if (HOLIDAYS.has(date)) return false;
    if (WORKDAYS.has(date)) return true;
    const weekday = new Date(`${date}T00:00:00Z`).getUTCDay();
    return weekday !== 0 && weekday !== 6;
  },
  addBusinessDays(date, n) {
    let current = date;
    let left = n;
    for (let step = 0; step < 400; step++) {
      if (left === 0 && this.isBusinessDay(current)) return current;
      const d = new Date(`${current}T00:00:00Z`);
      d.setUTCDate(d.getUTCDate() + 1);
      current = d.toISOString().slice(0, 10);
      if (left > 0 && this.isBusinessDay(current)) left -= 1;
    }
    throw new Error('no business day within 400 days');
  },
};

describe('settlement cycles', () => {
  it('lands T+1 across the National Day week on the next working day, counting the make-up Saturday', () => {
    const t1 = { kind: 'T_PLUS_N' as const, offsetDays: 1, anchorDay: 0 };
    expect(settlementDateOf(t1, '2026-09-30', fixture)).to.equal('2026-10-08');
    expect(settlementDateOf(t1, '2026-10-03', fixture)).to.equal('2026-10-08');
    expect(settlementDateOf(t1, '2026-10-09', fixture)).to.equal('2026-10-10');
    expect(settlementDateOf({ ...t1, offsetDays: 3 }, '2026-09-25', fixture)).to.equal('2026-09-29');
  });

  it('refuses a year the calendar has no data for', () => {
    expect(() =>
      settlementDateOf({ kind: 'T_PLUS_N', offsetDays: 1, anchorDay: 0 }, '2026-12-31', fixture),
    ).to.throw(/2027/);
  });

  it('anchors weekly and monthly cycles, the 31st falling on a shorter month’s last day', () => {
    expect(nextWeeklyAnchor('2026-06-03', 5)).to.equal('2026-06-05');
    expect(nextWeeklyAnchor('2026-06-05', 5)).to.equal('2026-06-12');
    expect(nextMonthlyAnchor('2026-04-10', 31)).to.equal('2026-04-30');
    expect(nextMonthlyAnchor('2026-04-30', 31)).to.equal('2026-05-31');
    expect(nextMonthlyAnchor('2026-02-01', 30)).to.equal('2026-02-28');
    expect(
      settlementDateOf({ kind: 'MONTHLY', offsetDays: 0, anchorDay: 31 }, '2026-09-10', fixture),
    ).to.equal('2026-09-30');
    expect(settlementDateOf({ kind: 'D0', offsetDays: 0, anchorDay: 0 }, '2026-10-03', fixture)).to.equal(
      '2026-10-03',
    );
    expect(settlementDateOf({ kind: 'MANUAL', offsetDays: 0, anchorDay: 0 }, '2026-10-03', fixture)).to.equal(
      null,
    );
  });
});
