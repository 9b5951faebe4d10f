/**
 * The units a refund returns of a stored-value part that spent lots: for
 * random parts (amount, quantity) and random sequences of partial refunds
 * adding up to the amount, each refund returns 0 or more units, never more
 * than were spent so far, and the last leaves every unit returned
 * (fast-check, seed from PAYCORE_SEED or a fixed constant, printed).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { unitsToRefund } from './refund';

const SEED = Number(process.env['PAYCORE_SEED'] ?? 20261202);

describe('units returned by refunds of a stored-value part', () => {
  before(() => {
    console.log(`refund units property seed: ${SEED} (set PAYCORE_SEED to reproduce)`);
  });

  it('partial refunds that add up to the amount return every unit, never more', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 1_000_000n }),
        fc.bigInt({ min: 1n, max: 1_000_000n }),
        fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 6 }),
        (amountMinor, quantity, cuts) => {
          const weight = BigInt(cuts.reduce((a, b) => a + b, 0));
          let refundedMinor = 0n;
          let returned = 0n;
          for (const [i, cut] of cuts.entries()) {
            const last = i === cuts.length - 1;
            const refund = last ? amountMinor - refundedMinor : (amountMinor * BigInt(cut)) / weight;
            const units = unitsToRefund({ amountMinor, refundedMinor }, quantity, refund);
            expect(units >= 0n).to.equal(true);
            refundedMinor += refund;
            returned += units;
            expect(returned <= quantity).to.equal(true);
          }
          expect(returned).to.equal(quantity);
        },
      ),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('30 coins for 2,000: 3,333 of a 10,000 order allocating 667 to the part returns 10', () => {
    expect(unitsToRefund({ amountMinor: 2_000n, refundedMinor: 0n }, 30n, 667n)).to.equal(10n);
    expect(unitsToRefund({ amountMinor: 2_000n, refundedMinor: 667n }, 30n, 1_333n)).to.equal(20n);
  });
});
