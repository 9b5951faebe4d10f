/**
 * Proves the refund allocation along the original path: for random payments
 * (1 to 4 parts) and random sequences of partial refunds that add up to the
 * total, every partial refund sums to its amount, no part is ever refunded
 * beyond what it paid, and after the last refund each part got back exactly
 * what it paid (fast-check). Also: over-refunds are refused with
 * REFUND_EXCEEDS_PAID and the refundable amount.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { CashierError } from './errors';
import { allocateRefundAlongPath, refundableMinor, type RefundablePart } from './refund';

describe('refund allocation along the original path', () => {
  it('partial refunds that add up to the total return every part exactly', () => {
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: 1n, max: 1_000_000n }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 6 }),
        (paid, cuts) => {
          const total = paid.reduce((a, b) => a + b, 0n);
          // Turn the cuts into refund amounts that sum to the total.
          const weights = cuts.map(BigInt);
          const weightSum = weights.reduce((a, b) => a + b, 0n);
          const amounts: bigint[] = [];
          let given = 0n;
          for (const [i, w] of weights.entries()) {
            const amount = i === weights.length - 1 ? total - given : (total * w) / weightSum;
            given += amount;
            if (amount > 0n) amounts.push(amount);
          }
          const refunded = paid.map(() => 0n);
          for (const amount of amounts) {
            const parts: RefundablePart[] = paid.map((p, i) => ({
              paidMinor: p,
              refundedMinor: refunded[i] ?? 0n,
            }));
            const split = allocateRefundAlongPath(parts, amount);
            expect(split.reduce((a, b) => a + b, 0n)).to.equal(amount);
            split.forEach((s, i) => {
              refunded[i] = (refunded[i] ?? 0n) + s;
              expect((refunded[i] ?? 0n) <= (paid[i] ?? 0n)).to.equal(true);
            });
          }
          expect(refunded).to.deep.equal(paid);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('three partial refunds of a balance + coupon + channel payment return 3.00 of coupon exactly', () => {
    const paid = [5_000n, 300n, 4_700n];
    const refunded = [0n, 0n, 0n];
    for (const amount of [3_333n, 3_333n, 3_334n]) {
      const split = allocateRefundAlongPath(
        paid.map((p, i) => ({ paidMinor: p, refundedMinor: refunded[i] ?? 0n })),
        amount,
      );
      split.forEach((s, i) => (refunded[i] = (refunded[i] ?? 0n) + s));
    }
    expect(refunded).to.deep.equal(paid);
  });

  it('refuses a refund above what is left, naming the refundable amount', () => {
    const parts = [
      { paidMinor: 100n, refundedMinor: 40n },
      { paidMinor: 50n, refundedMinor: 0n },
    ];
    expect(refundableMinor(parts)).to.equal(110n);
    try {
      allocateRefundAlongPath(parts, 111n);
      expect.fail('should refuse');
    } catch (err) {
      expect(err).to.be.instanceOf(CashierError);
      expect((err as CashierError).reason).to.equal('REFUND_EXCEEDS_PAID');
      expect((err as CashierError).metadata['refundable_minor']).to.equal('110');
    }
    expect(() => allocateRefundAlongPath(parts, 0n))
      .to.throw(CashierError)
      .with.property('reason', 'AMOUNT_OUT_OF_RANGE');
  });
});
