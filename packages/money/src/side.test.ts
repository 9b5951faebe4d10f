/**
 * Proves the normal-side arithmetic of @paycore/money: a leg on the normal
 * side increases a balance, the other side decreases it, debit-positive sums
 * of a balanced transfer are zero, and entryFor inverts signedEffect.
 * Property tests run with fast-check (seed from MONEY_SEED or random,
 * printed) over amounts across the whole int64 range.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import {
  balanceDebitPositive,
  debitPositive,
  entryFor,
  increases,
  isSide,
  opposite,
  signedEffect,
  SIDES,
  type Side,
} from './index';

const SEED = Number(process.env.MONEY_SEED ?? Math.floor(Math.random() * 2 ** 31));

describe('Side and normal-side arithmetic', () => {
  before(() => console.log(`      side properties: MONEY_SEED=${SEED}`));

  it('a debit increases a debit-normal account and decreases a credit-normal one', () => {
    expect(signedEffect('DEBIT', 'DEBIT', 5n)).to.equal(5n);
    expect(signedEffect('CREDIT', 'DEBIT', 5n)).to.equal(-5n);
    expect(signedEffect('CREDIT', 'CREDIT', 5n)).to.equal(5n);
    expect(signedEffect('DEBIT', 'CREDIT', 5n)).to.equal(-5n);
    expect(increases('CREDIT', 'CREDIT')).to.equal(true);
    expect(increases('CREDIT', 'DEBIT')).to.equal(false);
  });

  it('opposite swaps the sides and isSide accepts exactly the two names', () => {
    expect(SIDES.map(opposite)).to.deep.equal(['CREDIT', 'DEBIT']);
    expect(['DEBIT', 'CREDIT', 'debit', 'BOTH', ''].map(isSide)).to.deep.equal([
      true,
      true,
      false,
      false,
      false,
    ]);
  });

  it('a credit-normal balance counts negative in a debit-positive sum', () => {
    expect(balanceDebitPositive('DEBIT', 700n)).to.equal(700n);
    expect(balanceDebitPositive('CREDIT', 700n)).to.equal(-700n);
    expect(balanceDebitPositive('CREDIT', -3n)).to.equal(3n);
  });

  it('refuses a negative entry amount as a programmer error', () => {
    expect(() => signedEffect('DEBIT', 'DEBIT', -1n)).to.throw(/never negative/);
  });

  const sideArb = fc.constantFrom<Side>('DEBIT', 'CREDIT');
  const amountArb = fc.bigInt({ min: 0n, max: 2n ** 63n - 1n });
  const options = { seed: SEED, numRuns: 500 };

  it('the legs of a balanced transfer sum to zero debit-positive, whatever the accounts', () => {
    fc.assert(
      fc.property(sideArb, amountArb, (side, amountMinor) => {
        return debitPositive(side, amountMinor) + debitPositive(opposite(side), amountMinor) === 0n;
      }),
      options,
    );
  });

  it("an entry's effect, taken debit-positive, does not depend on the account's normal side", () => {
    fc.assert(
      fc.property(sideArb, sideArb, amountArb, (normalSide, side, amountMinor) => {
        return (
          balanceDebitPositive(normalSide, signedEffect(normalSide, side, amountMinor)) ===
          debitPositive(side, amountMinor)
        );
      }),
      options,
    );
  });

  it('entryFor inverts signedEffect', () => {
    fc.assert(
      fc.property(
        sideArb,
        fc.bigInt({ min: -(2n ** 63n) + 1n, max: 2n ** 63n - 1n }),
        (normalSide, delta) => {
          const entry = entryFor(normalSide, delta);
          if (entry === null) return delta === 0n;
          return entry.amountMinor > 0n && signedEffect(normalSide, entry.side, entry.amountMinor) === delta;
        },
      ),
      options,
    );
  });
});
