/**
 * Proves, with fast-check over random vouchers on random leaves of the
 * default chart across several days: roll-up conserves every total (the
 * level-1 rows and each "at level N" table add up to the leaves, per
 * currency), and the trial balance holds on every day for any set of balanced
 * vouchers, with balances carried forward day to day. A common-class subject's
 * direction follows its sign. The properties could fail: an unbalanced voucher
 * breaks the trial balance (checked too).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import {
  atLevel,
  closingOf,
  dayBalances,
  rollUp,
  totalsOfLines,
  type OpeningNet,
  type PostedLine,
  type SubjectDayBalance,
} from './balances';
import { Chart, DEFAULT_CHART, levelOf } from './subjects';
import { trialBalance } from './trial-balance';
import { directionOf } from './types';

const chart = new Chart(DEFAULT_CHART);
const leaves = DEFAULT_CHART.filter((s) => chart.isLeaf(s.code)).map((s) => s.code);

/** A balanced voucher: random debits on random leaves, one credit of the total on another leaf. */
const balancedVoucher = fc
  .record({
    currency: fc.constantFrom('CNY', 'USD'),
    debits: fc.array(fc.record({ subject: fc.constantFrom(...leaves), amount: fc.bigInt(1n, 10n ** 12n) }), {
      minLength: 1,
      maxLength: 5,
    }),
    creditSubject: fc.constantFrom(...leaves),
  })
  .map(({ currency, debits, creditSubject }): PostedLine[] => {
    const total = debits.reduce((sum, d) => sum + d.amount, 0n);
    return [
      ...debits.map((d) => ({
        subjectCode: d.subject,
        currency,
        side: 'DEBIT' as const,
        amountMinor: d.amount,
      })),
      { subjectCode: creditSubject, currency, side: 'CREDIT' as const, amountMinor: total },
    ];
  });

const days = fc.array(fc.array(balancedVoucher, { maxLength: 8 }), { minLength: 1, maxLength: 5 });

type Sums = Map<string, [bigint, bigint, bigint, bigint]>;
function sumsByCurrency(rows: readonly SubjectDayBalance[]): Sums {
  const out: Sums = new Map();
  for (const r of rows) {
    const s = out.get(r.currency) ?? [0n, 0n, 0n, 0n];
    out.set(r.currency, [
      s[0] + r.openingMinor,
      s[1] + r.debitMinor,
      s[2] + r.creditMinor,
      s[3] + r.lineCount,
    ]);
  }
  return out;
}

/** Runs the days in order, carrying each closing into the next opening. */
function runDays(dayVouchers: PostedLine[][][]): SubjectDayBalance[][] {
  let openings: OpeningNet[] = [];
  const out: SubjectDayBalance[][] = [];
  for (const vouchers of dayVouchers) {
    const leafRows = dayBalances(openings, totalsOfLines(vouchers.flat()));
    out.push(leafRows);
    openings = leafRows.map((r) => ({
      subjectCode: r.subjectCode,
      currency: r.currency,
      netMinor: closingOf(r),
    }));
  }
  return out;
}

describe('subject balances and trial balance', () => {
  it('roll-up conserves every total at level 1 and in every level table', () => {
    fc.assert(
      fc.property(days, (dayVouchers) => {
        for (const leafRows of runDays(dayVouchers)) {
          const rolled = rollUp(leafRows);
          const expected = sumsByCurrency(leafRows);
          expect(sumsByCurrency(rolled.filter((r) => levelOf(r.subjectCode) === 1))).to.deep.equal(expected);
          for (const level of [0, 1, 2, 3])
            expect(sumsByCurrency(atLevel(rolled, chart, level))).to.deep.equal(expected);
          for (const row of rolled) {
            // A parent's row is exactly the sum of its leaves' rows.
            const under = leafRows.filter(
              (l) => l.currency === row.currency && l.subjectCode.startsWith(row.subjectCode),
            );
            expect(closingOf(row)).to.equal(under.reduce((sum, l) => sum + closingOf(l), 0n));
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('the trial balance holds every day for any set of balanced vouchers', () => {
    fc.assert(
      fc.property(days, (dayVouchers) => {
        for (const leafRows of runDays(dayVouchers)) {
          for (const totals of trialBalance(rollUp(leafRows))) {
            expect(totals.balanced, totals.currency).to.equal(true);
            expect(totals.closingDebitMinor).to.equal(totals.closingCreditMinor);
            expect(totals.periodDebitMinor).to.equal(totals.periodCreditMinor);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('an unbalanced voucher breaks the trial balance', () => {
    const lines: PostedLine[] = [
      { subjectCode: '100201', currency: 'CNY', side: 'DEBIT', amountMinor: 100n },
      { subjectCode: '224101', currency: 'CNY', side: 'CREDIT', amountMinor: 90n },
    ];
    const [totals] = trialBalance(rollUp(dayBalances([], totalsOfLines(lines))));
    expect(totals?.balanced).to.equal(false);
  });

  it('a common-class balance stands on the side of its sign; level rows sum per currency', () => {
    const lines: PostedLine[] = [
      { subjectCode: '30010101', currency: 'CNY', side: 'DEBIT', amountMinor: 500n },
      { subjectCode: '224102', currency: 'CNY', side: 'CREDIT', amountMinor: 500n },
      { subjectCode: '30010102', currency: 'CNY', side: 'CREDIT', amountMinor: 800n },
      { subjectCode: '100201', currency: 'CNY', side: 'DEBIT', amountMinor: 800n },
    ];
    const rolled = rollUp(dayBalances([], totalsOfLines(lines)));
    const closing = (code: string): ReturnType<typeof directionOf> =>
      directionOf(
        closingOf(
          rolled.find((r) => r.subjectCode === code) ?? { openingMinor: 0n, debitMinor: 0n, creditMinor: 0n },
        ),
      );
    expect(closing('30010101')).to.deep.equal({ direction: 'DEBIT', amountMinor: 500n });
    expect(closing('30010102')).to.deep.equal({ direction: 'CREDIT', amountMinor: 800n });
    expect(closing('300101')).to.deep.equal({ direction: 'CREDIT', amountMinor: 300n });
    expect(closing('3001')).to.deep.equal({ direction: 'CREDIT', amountMinor: 300n });
    expect(closing('2241')).to.deep.equal({ direction: 'CREDIT', amountMinor: 500n });
    const [totals] = trialBalance(rolled);
    expect(totals).to.include({ closingDebitMinor: 800n, closingCreditMinor: 800n, balanced: true });
  });
});
