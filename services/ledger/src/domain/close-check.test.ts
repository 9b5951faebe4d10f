/**
 * Proves the close checks: books that agree give no difference; a missing
 * voucher line shows as count and amount differences naming the subject; an
 * account closing that differs from the ledger's shows as a closing-balance
 * difference, with account closings of either normal side turned into the
 * ledger's debit-positive net first.
 */
import { expect } from 'chai';
import { dayBalances, rollUp, totalsOfLines, type PostedLine } from './balances';
import {
  accountNetMinor,
  checkDay,
  type AccountDailyClosing,
  type CloseCheckInput,
  type VoucherLineTotal,
} from './close-check';
import { trialBalance } from './trial-balance';

const lines: PostedLine[] = [
  { subjectCode: '30010101', currency: 'CNY', side: 'DEBIT', amountMinor: 1000n },
  { subjectCode: '224102', currency: 'CNY', side: 'CREDIT', amountMinor: 1000n },
];
const totals: VoucherLineTotal[] = [
  { subjectCode: '224102', currency: 'CNY', lineCount: 1n, debitMinor: 0n, creditMinor: 1000n },
  { subjectCode: '30010101', currency: 'CNY', lineCount: 1n, debitMinor: 1000n, creditMinor: 0n },
];
const closings: AccountDailyClosing[] = [
  { accountId: 'a', subjectCode: '30010101', currency: 'CNY', normalSide: 'DEBIT', closingMinor: 1000n },
  { accountId: 'b', subjectCode: '224102', currency: 'CNY', normalSide: 'CREDIT', closingMinor: 600n },
  { accountId: 'c', subjectCode: '224102', currency: 'CNY', normalSide: 'CREDIT', closingMinor: 400n },
];

function input(overrides: Partial<CloseCheckInput> = {}): CloseCheckInput {
  const leafBalances = dayBalances([], totalsOfLines(lines));
  return {
    transferLineTotals: totals,
    sealedTotals: totals.map((t) => ({ ...t, entryCount: t.lineCount })),
    leafBalances,
    isAccountKept: () => true,
    accountClosings: closings,
    trialBalance: trialBalance(rollUp(leafBalances)),
    ...overrides,
  };
}

describe('close checks', () => {
  it('finds nothing when vouchers, entries and account balances agree', () => {
    expect(checkDay(input())).to.deep.equal([]);
  });

  it('names the subject and the difference of a missing voucher line', () => {
    const differences = checkDay(
      input({ transferLineTotals: totals.filter((t) => t.subjectCode !== '224102') }),
    );
    expect(differences.map((d) => [d.kind, d.subjectCode, d.difference])).to.deep.equal([
      ['ENTRY_COUNT', '224102', -1n],
      ['CREDIT_TOTAL', '224102', -1000n],
    ]);
    expect(differences[1]?.description).to.equal('224102 CNY: ledger credits 0, account 1000');
  });

  it('compares each subject closing with the sum of its accounts', () => {
    const differences = checkDay(input({ accountClosings: closings.filter((c) => c.accountId !== 'c') }));
    expect(differences).to.have.length(1);
    expect(differences[0]).to.include({
      kind: 'CLOSING_BALANCE',
      subjectCode: '224102',
      ledgerValue: -1000n,
      accountValue: -600n,
      difference: -400n,
    });
  });

  it('ignores ledger-only subjects in the account comparison', () => {
    expect(
      checkDay(input({ isAccountKept: (code) => code !== '224102', accountClosings: closings.slice(0, 1) })),
    ).to.deep.equal([]);
  });

  it('turns account closings into debit-positive nets', () => {
    expect(accountNetMinor({ normalSide: 'DEBIT', closingMinor: 5n })).to.equal(5n);
    expect(accountNetMinor({ normalSide: 'CREDIT', closingMinor: 5n })).to.equal(-5n);
  });
});
