/**
 * Proves the chart rules: the default chart is well-formed when built subject
 * by subject through the same validation CreateSubject uses, it keeps every
 * code the account service lists (as account-kept leaves), and each creation
 * rule refuses with its own reason.
 */
import { expect } from 'chai';
import { Chart, DEFAULT_CHART, levelOf, lineageOf, parentOf, validateNewSubject } from './subjects';
import type { Subject } from './types';

// The leaf codes services/account/src/domain/chart.ts lists; accounts are opened on them.
const ACCOUNT_LEAVES = [
  '100201',
  '122101',
  '122102',
  '224101',
  '224102',
  '224103',
  '224104',
  '224105',
  '240101',
  '605101',
  '660101',
  '660301',
];

function reasonOf(fn: () => void): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { reason?: string }).reason;
  }
  return undefined;
}

describe('chart of subjects', () => {
  const chart = new Chart(DEFAULT_CHART);

  it('builds the default chart through the creation rules, parents first', () => {
    let built = new Chart([]);
    for (const subject of DEFAULT_CHART) {
      validateNewSubject(built, subject);
      built = built.with(subject);
    }
    expect(built.size).to.equal(DEFAULT_CHART.length);
  });

  it("keeps the account service's leaf codes as account-kept leaves", () => {
    for (const code of ACCOUNT_LEAVES) {
      expect(chart.isLeaf(code), code).to.equal(true);
      expect(chart.get(code)?.accountKept, code).to.equal(true);
    }
  });

  it('has three levels, a common-class subject with normal side BOTH, and ledger-only leaves for adjustments', () => {
    expect(DEFAULT_CHART.some((s) => levelOf(s.code) === 3)).to.equal(true);
    expect(chart.get('30010101')).to.include({ category: 'COMMON', normalSide: 'BOTH' });
    expect(chart.isLeaf('300101')).to.equal(false);
    expect(chart.isLeaf('4001') && chart.get('4001')?.accountKept === false).to.equal(true);
  });

  it('derives levels, parents and lineage from the code', () => {
    expect([levelOf('1002'), levelOf('100201'), levelOf('30010101')]).to.deep.equal([1, 2, 3]);
    expect(parentOf('1002')).to.equal(null);
    expect(parentOf('30010101')).to.equal('300101');
    expect(lineageOf('30010101')).to.deep.equal(['3001', '300101', '30010101']);
  });

  it('refuses postings to unknown and non-leaf subjects', () => {
    expect(reasonOf(() => chart.assertLeaf('9999', 'x'))).to.equal('UNKNOWN_SUBJECT');
    expect(reasonOf(() => chart.assertLeaf('2241', 'x'))).to.equal('NON_LEAF_SUBJECT');
    expect(chart.assertLeaf('224101', 'x').code).to.equal('224101');
  });

  it('refuses each malformed new subject with its own reason', () => {
    const base: Subject = {
      code: '224107',
      name: 'x',
      category: 'LIABILITY',
      normalSide: 'CREDIT',
      accountKept: true,
    };
    expect(reasonOf(() => validateNewSubject(chart, { ...base, code: '22410' }))).to.equal('INVALID_FIELD');
    expect(reasonOf(() => validateNewSubject(chart, { ...base, name: ' ' }))).to.equal('INVALID_FIELD');
    expect(reasonOf(() => validateNewSubject(chart, { ...base, code: '224101' }))).to.equal('SUBJECT_EXISTS');
    expect(reasonOf(() => validateNewSubject(chart, { ...base, code: '229901' }))).to.equal(
      'UNKNOWN_PARENT_SUBJECT',
    );
    expect(reasonOf(() => validateNewSubject(chart, { ...base, category: 'ASSET' }))).to.equal(
      'CATEGORY_MISMATCH',
    );
    expect(reasonOf(() => validateNewSubject(chart, { ...base, normalSide: 'DEBIT' }))).to.equal(
      'NORMAL_SIDE_MISMATCH',
    );
    expect(
      reasonOf(() =>
        validateNewSubject(chart, { ...base, code: '3002', category: 'COMMON', normalSide: 'DEBIT' }),
      ),
    ).to.equal('NORMAL_SIDE_MISMATCH');
    expect(reasonOf(() => validateNewSubject(chart, { ...base, code: '7001' }))).to.equal(
      'CATEGORY_MISMATCH',
    );
    expect(reasonOf(() => validateNewSubject(chart, base))).to.equal(undefined);
  });
});
