/**
 * Proves the voucher rules: balanced per currency, leaf subjects only, manual
 * vouchers on ledger-only subjects and transfer vouchers on account-kept ones,
 * each refusal with its own reason and the field at fault.
 */
import { expect } from 'chai';
import { Chart, DEFAULT_CHART } from './subjects';
import { netByCurrency, validateVoucherLines } from './vouchers';
import type { VoucherLine } from './types';

const chart = new Chart(DEFAULT_CHART);

function line(
  subjectCode: string,
  side: 'DEBIT' | 'CREDIT',
  amountMinor: bigint,
  currency = 'CNY',
): VoucherLine {
  return { subjectCode, side, amountMinor, currency, accountId: null };
}

function refusal(fn: () => void): { reason?: string; field?: string } | undefined {
  try {
    fn();
  } catch (err) {
    return err as { reason?: string; field?: string };
  }
  return undefined;
}

describe('voucher rules', () => {
  it('accepts a balanced manual voucher on ledger-only leaves', () => {
    expect(
      refusal(() =>
        validateVoucherLines([line('671101', 'DEBIT', 100n), line('4103', 'CREDIT', 100n)], chart, 'MANUAL'),
      ),
    ).to.equal(undefined);
  });

  it('refuses an unbalanced voucher naming the currency and the gap', () => {
    const err = refusal(() =>
      validateVoucherLines([line('671101', 'DEBIT', 100n), line('4103', 'CREDIT', 99n)], chart, 'MANUAL'),
    ) as { reason: string; metadata: Record<string, string> };
    expect(err.reason).to.equal('UNBALANCED_VOUCHER');
    expect(err.metadata).to.deep.equal({ currency: 'CNY', difference_minor: '1' });
  });

  it('balances per currency, not across currencies', () => {
    const lines = [line('671101', 'DEBIT', 100n, 'CNY'), line('4103', 'CREDIT', 100n, 'USD')];
    expect(refusal(() => validateVoucherLines(lines, chart, 'MANUAL'))?.reason).to.equal(
      'UNBALANCED_VOUCHER',
    );
    expect(netByCurrency(lines)).to.deep.equal(
      new Map([
        ['CNY', 100n],
        ['USD', -100n],
      ]),
    );
  });

  it('refuses non-leaf and unknown subjects, naming the line', () => {
    const nonLeaf = refusal(() =>
      validateVoucherLines([line('6711', 'DEBIT', 1n), line('4103', 'CREDIT', 1n)], chart, 'MANUAL'),
    );
    expect(nonLeaf).to.include({ reason: 'NON_LEAF_SUBJECT', field: 'lines[0].subject_code' });
    const unknown = refusal(() =>
      validateVoucherLines([line('671101', 'DEBIT', 1n), line('4999', 'CREDIT', 1n)], chart, 'MANUAL'),
    );
    expect(unknown).to.include({ reason: 'UNKNOWN_SUBJECT', field: 'lines[1].subject_code' });
  });

  it('keeps manual vouchers off account-kept subjects and transfer vouchers off ledger-only ones', () => {
    const manual = refusal(() =>
      validateVoucherLines([line('224105', 'DEBIT', 1n), line('630101', 'CREDIT', 1n)], chart, 'MANUAL'),
    );
    expect(manual?.reason).to.equal('SUBJECT_KEPT_BY_ACCOUNT');
    const transfer = refusal(() =>
      validateVoucherLines([line('224101', 'DEBIT', 1n), line('4103', 'CREDIT', 1n)], chart, 'TRANSFER'),
    );
    expect(transfer?.reason).to.equal('SUBJECT_NOT_ACCOUNT_KEPT');
  });

  it('refuses non-positive amounts and too few lines', () => {
    expect(
      refusal(() =>
        validateVoucherLines([line('671101', 'DEBIT', 0n), line('4103', 'CREDIT', 0n)], chart, 'MANUAL'),
      )?.reason,
    ).to.equal('INVALID_FIELD');
    expect(
      refusal(() => validateVoucherLines([line('671101', 'DEBIT', 1n)], chart, 'MANUAL'))?.reason,
    ).to.equal('INVALID_FIELD');
  });
});
