/**
 * Proves the accounting calendar: dates follow the configured zone and
 * cut-over, sealed dates push postings to the day after the last sealed one,
 * and sealing must go in order and never into the future. Also checks the
 * chart's leaf rule and the request fingerprint's canonical form.
 */
import { expect } from 'chai';
import {
  accountingDateFor,
  addDays,
  naturalAccountingDate,
  sealableProblem,
  validateCalendar,
  DEFAULT_CALENDAR,
} from './calendar';
import { Chart, DEFAULT_SUBJECTS } from './chart';
import { requestHash } from './idempotency';

describe('accounting calendar', () => {
  it('uses Asia/Shanghai by default: 16:00Z is already tomorrow there', () => {
    expect(naturalAccountingDate(new Date('2025-03-01T15:59:59Z'), DEFAULT_CALENDAR)).to.equal('2025-03-01');
    expect(naturalAccountingDate(new Date('2025-03-01T16:00:00Z'), DEFAULT_CALENDAR)).to.equal('2025-03-02');
  });

  it('advances at the cut-over time', () => {
    const at2300 = { timeZone: 'Asia/Shanghai', cutoverMinutes: 23 * 60 };
    // 22:59 local on 1 March -> 1 March; 23:00 local -> 2 March.
    expect(naturalAccountingDate(new Date('2025-03-01T14:59:00Z'), at2300)).to.equal('2025-03-01');
    expect(naturalAccountingDate(new Date('2025-03-01T15:00:00Z'), at2300)).to.equal('2025-03-02');
    const utc = { timeZone: 'UTC', cutoverMinutes: 0 };
    expect(naturalAccountingDate(new Date('2024-12-31T23:59:59Z'), utc)).to.equal('2024-12-31');
  });

  it('pushes postings of a sealed date to the day after the last sealed one', () => {
    const instant = new Date('2025-03-01T04:00:00Z');
    expect(accountingDateFor(instant, DEFAULT_CALENDAR, null)).to.equal('2025-03-01');
    expect(accountingDateFor(instant, DEFAULT_CALENDAR, '2025-02-28')).to.equal('2025-03-01');
    expect(accountingDateFor(instant, DEFAULT_CALENDAR, '2025-03-01')).to.equal('2025-03-02');
    expect(addDays('2024-02-28', 1)).to.equal('2024-02-29');
    expect(addDays('2024-12-31', 1)).to.equal('2025-01-01');
  });

  it('seals in order and never in the future', () => {
    expect(sealableProblem('2025-03-01', '2025-03-01', null)).to.equal(null);
    expect(sealableProblem('2025-03-02', '2025-03-01', null)).to.match(/after the current/);
    expect(sealableProblem('2025-03-03', '2025-03-05', '2025-03-01')).to.match(/not the day after/);
    expect(sealableProblem('2025-03-02', '2025-03-05', '2025-03-01')).to.equal(null);
    expect(sealableProblem('2025-02-30', '2025-03-05', null)).to.match(/not a YYYY-MM-DD/);
  });

  it('rejects bad calendar config', () => {
    expect(() => validateCalendar({ timeZone: 'Nowhere/City', cutoverMinutes: 0 })).to.throw(
      /unknown time zone/,
    );
    expect(() => validateCalendar({ timeZone: 'UTC', cutoverMinutes: 1440 })).to.throw(/cut-over/);
  });
});

describe('chart and request hash', () => {
  it('only leaf subjects of the chart take accounts', () => {
    const chart = new Chart(DEFAULT_SUBJECTS);
    expect(() => chart.assertLeaf('224101')).not.to.throw();
    expect(() => chart.assertLeaf('2241'))
      .to.throw()
      .with.property('reason', 'NON_LEAF_SUBJECT');
    expect(() => chart.assertLeaf('9999'))
      .to.throw()
      .with.property('reason', 'UNKNOWN_SUBJECT');
  });

  it('hashes a canonical form: key order does not matter, values do', () => {
    expect(requestHash('op', { a: 1n, b: 'x' })).to.equal(requestHash('op', { b: 'x', a: 1n }));
    expect(requestHash('op', { a: 1n })).not.to.equal(requestHash('op', { a: 2n }));
    expect(requestHash('op', { a: 1n })).not.to.equal(requestHash('other', { a: 1n }));
  });
});
