/**
 * Proves the shape rules of transfer legs: counts, amount range, known
 * currency, one leg per account, balance per currency. Each rule is hit by a
 * hand-made case asserting the exact reason, and fast-check shows that any
 * leg list built to balance passes while perturbing one amount fails.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { INT64_MAX } from '@paycore/money';
import { validateLegs, netByCurrency, LEGS_MAX } from './legs';
import type { Leg } from './types';

const leg = (accountId: string, side: 'DEBIT' | 'CREDIT', amountMinor: bigint, currency = 'CNY'): Leg => ({
  accountId,
  side,
  amountMinor,
  currency,
});

function reasonOf(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    return (err as { reason?: string }).reason ?? 'NO_REASON';
  }
  return 'NO_ERROR';
}

describe('validateLegs', () => {
  it('accepts a balanced two-leg transfer', () => {
    expect(reasonOf(() => validateLegs([leg('a', 'DEBIT', 100n), leg('b', 'CREDIT', 100n)]))).to.equal(
      'NO_ERROR',
    );
  });

  it('names each bad input with its reason', () => {
    expect(reasonOf(() => validateLegs([leg('a', 'DEBIT', 1n)]))).to.equal('TOO_FEW_LEGS');
    const many = Array.from({ length: LEGS_MAX + 1 }, (_, i) => leg(`a${i}`, 'DEBIT', 1n));
    expect(reasonOf(() => validateLegs(many))).to.equal('TOO_MANY_LEGS');
    expect(reasonOf(() => validateLegs([leg('a', 'DEBIT', 0n), leg('b', 'CREDIT', 0n)]))).to.equal(
      'AMOUNT_OUT_OF_RANGE',
    );
    expect(reasonOf(() => validateLegs([leg('a', 'DEBIT', -5n), leg('b', 'CREDIT', -5n)]))).to.equal(
      'AMOUNT_OUT_OF_RANGE',
    );
    const beyond = INT64_MAX + 1n;
    expect(reasonOf(() => validateLegs([leg('a', 'DEBIT', beyond), leg('b', 'CREDIT', beyond)]))).to.equal(
      'AMOUNT_OUT_OF_RANGE',
    );
    expect(
      reasonOf(() => validateLegs([leg('a', 'DEBIT', 1n, 'XXX'), leg('b', 'CREDIT', 1n, 'XXX')])),
    ).to.equal('UNKNOWN_CURRENCY');
    expect(reasonOf(() => validateLegs([leg('a', 'DEBIT', 1n), leg('a', 'CREDIT', 1n)]))).to.equal(
      'DUPLICATE_ACCOUNT',
    );
    expect(reasonOf(() => validateLegs([leg('a', 'DEBIT', 2n), leg('b', 'CREDIT', 1n)]))).to.equal(
      'UNBALANCED_TRANSFER',
    );
    expect(reasonOf(() => validateLegs([leg('', 'DEBIT', 1n), leg('b', 'CREDIT', 1n)]))).to.equal(
      'INVALID_FIELD',
    );
  });

  it('balances per currency, not across currencies', () => {
    const mixed = [leg('a', 'DEBIT', 100n, 'CNY'), leg('b', 'CREDIT', 100n, 'USD')];
    expect(reasonOf(() => validateLegs(mixed))).to.equal('UNBALANCED_TRANSFER');
    const both = [...mixed, leg('c', 'CREDIT', 100n, 'CNY'), leg('d', 'DEBIT', 100n, 'USD')];
    expect(reasonOf(() => validateLegs(both))).to.equal('NO_ERROR');
  });

  it('accepts amounts up to int64 max, whose sums exceed int64', () => {
    const legs = [
      leg('a', 'DEBIT', INT64_MAX),
      leg('b', 'DEBIT', INT64_MAX),
      leg('c', 'CREDIT', INT64_MAX),
      leg('d', 'CREDIT', INT64_MAX),
    ];
    expect(reasonOf(() => validateLegs(legs))).to.equal('NO_ERROR');
  });

  it('property: built-to-balance lists pass; bumping one amount fails', () => {
    const amounts = fc.array(fc.bigInt({ min: 1n, max: INT64_MAX / 64n }), { minLength: 1, maxLength: 31 });
    fc.assert(
      fc.property(amounts, fc.nat(), (debits, pick) => {
        const total = debits.reduce((a, b) => a + b, 0n);
        const legs = [...debits.map((amount, i) => leg(`d${i}`, 'DEBIT', amount)), leg('c', 'CREDIT', total)];
        validateLegs(legs);
        expect([...netByCurrency(legs).values()]).to.deep.equal([0n]);
        const index = pick % legs.length;
        const bumped = legs.map((l, i) => (i === index ? { ...l, amountMinor: l.amountMinor + 1n } : l));
        expect(reasonOf(() => validateLegs(bumped))).to.equal('UNBALANCED_TRANSFER');
      }),
    );
  });
});
