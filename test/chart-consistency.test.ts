/**
 * Two books, one truth (DESIGN.md §6): the account service refuses accounts on
 * subjects that are not leaves of its configured chart, and the ledger derives
 * vouchers only onto its account-kept leaves. This proves the two shipped
 * defaults agree exactly, so an account can be opened on every subject the
 * ledger expects postings on, and on no other.
 */
import { expect } from 'chai';
import { Chart, DEFAULT_SUBJECTS } from '@paycore/account';
import { DEFAULT_CHART } from '@paycore/ledger';

describe('default charts of account and ledger agree', () => {
  const accountChart = new Chart(DEFAULT_SUBJECTS);

  it('every account-kept leaf of the ledger is a leaf in account', () => {
    const kept = DEFAULT_CHART.filter((s) => s.accountKept).map((s) => s.code);
    expect(kept.length).to.be.greaterThan(10);
    for (const code of kept) expect(accountChart.isLeaf(code), code).to.equal(true);
  });

  it('every leaf in account is an account-kept leaf of the ledger', () => {
    const kept = new Set(DEFAULT_CHART.filter((s) => s.accountKept).map((s) => s.code));
    const accountLeaves = DEFAULT_SUBJECTS.filter((code) => accountChart.isLeaf(code));
    for (const code of accountLeaves) expect(kept.has(code), code).to.equal(true);
  });
});
