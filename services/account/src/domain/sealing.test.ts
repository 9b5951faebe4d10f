/**
 * Proves account's sealing rule: sealing goes in order and never into the
 * future (the accounting-day rule itself is @paycore/calendar's and tested
 * there). Also checks the chart's leaf rule. (Request fingerprints are the
 * platform's canonical hash, tested in packages/platform.)
 */
import { expect } from 'chai';
import { sealableProblem } from './sealing';
import { Chart, DEFAULT_SUBJECTS } from './chart';

describe('day sealing', () => {
  it('seals in order and never in the future', () => {
    expect(sealableProblem('2025-03-01', '2025-03-01', null)).to.equal(null);
    expect(sealableProblem('2025-03-02', '2025-03-01', null)).to.match(/after the current/);
    expect(sealableProblem('2025-03-03', '2025-03-05', '2025-03-01')).to.match(/not the day after/);
    expect(sealableProblem('2025-03-02', '2025-03-05', '2025-03-01')).to.equal(null);
    expect(sealableProblem('2025-02-30', '2025-03-05', null)).to.match(/not a YYYY-MM-DD/);
  });

  it('seals across a month and a leap day in order', () => {
    expect(sealableProblem('2024-02-29', '2024-03-05', '2024-02-28')).to.equal(null);
    expect(sealableProblem('2024-03-01', '2024-03-05', '2024-02-28')).to.match(/not the day after/);
  });
});

describe('chart', () => {
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
});
