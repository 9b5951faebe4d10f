/**
 * Proves the allocation guarantees that payments, refunds and profit sharing
 * rely on. Hand-picked cases pin the largest-remainder result and its
 * tie-break (earlier index wins) and the rejections. fast-check properties
 * (2,000 runs each) check, for random totals up to 2^62 and 1..20 random
 * weights: parts sum to the total, none is negative, zero weights get zero,
 * each part is within one unit of its exact quota, and the result is
 * deterministic. For random sequences of partial refunds they check that no
 * part is ever refunded beyond what it paid and that refunding the remainder
 * returns every original part exactly. One case shows that the naive method
 * (splitting each refund by the original ratio) does break, so the property
 * is not vacuous.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { allocate, allocateMoney, allocateRefund, INT64_MAX, money, MoneyError } from './index';

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof MoneyError) return err.reason;
    throw err;
  }
  throw new Error('expected a MoneyError, nothing was thrown');
}

const sumOf = (values: readonly bigint[]): bigint => values.reduce((a, b) => a + b, 0n);

describe('allocate: known results', () => {
  const cases: [bigint, bigint[], bigint[]][] = [
    [100n, [1n, 1n, 1n], [34n, 33n, 33n]],
    [5n, [1n, 1n], [3n, 2n]],
    [1n, [1n, 2n], [0n, 1n]],
    [10n, [0n, 1n, 1n], [0n, 5n, 5n]],
    [0n, [3n, 7n], [0n, 0n]],
    [1000n, [7000n, 3000n], [700n, 300n]],
    // quotas 1.75, 1.75, 1.5 -> 1,1,1 with 2 left: the two largest remainders (.75) win
    [5n, [7n, 7n, 6n], [2n, 2n, 1n]],
    // quotas 0.5, 0.5, 0.5, 0.5 -> 2 units to the two earliest
    [2n, [1n, 1n, 1n, 1n], [1n, 1n, 0n, 0n]],
    [INT64_MAX, [1n, 1n], [2n ** 62n, 2n ** 62n - 1n]],
    [7n, [5n], [7n]],
  ];
  for (const [total, weights, expected] of cases) {
    it(`${total} by [${weights.join(', ')}] -> [${expected.join(', ')}]`, () => {
      expect(allocate(total, weights)).to.deep.equal(expected);
    });
  }

  it('rejects unusable input with INVALID_ALLOCATION', () => {
    expect(reasonOf(() => allocate(10n, []))).to.equal('INVALID_ALLOCATION');
    expect(reasonOf(() => allocate(10n, [0n, 0n]))).to.equal('INVALID_ALLOCATION');
    expect(reasonOf(() => allocate(10n, [1n, -1n, 5n]))).to.equal('INVALID_ALLOCATION');
    expect(reasonOf(() => allocate(-10n, [1n, 1n]))).to.equal('INVALID_ALLOCATION');
    expect(reasonOf(() => allocate(1n, new Array<bigint>(10_001).fill(1n)))).to.equal('INVALID_ALLOCATION');
    expect(reasonOf(() => allocate(INT64_MAX + 1n, [1n]))).to.equal('AMOUNT_OUT_OF_RANGE');
  });

  it('allocates Money keeping the currency', () => {
    const parts = allocateMoney(money(1001n, 'CNY'), [1n, 1n]);
    expect(parts.map((p) => [p.amountMinor, p.currency])).to.deep.equal([
      [501n, 'CNY'],
      [500n, 'CNY'],
    ]);
  });
});

describe('allocate: properties', () => {
  const weightsArb = fc
    .array(
      fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 1000n }), fc.bigInt({ min: 0n, max: 2n ** 62n })),
      {
        minLength: 1,
        maxLength: 20,
      },
    )
    .filter((ws) => ws.some((w) => w > 0n));
  const totalArb = fc.oneof(fc.bigInt({ min: 0n, max: 100n }), fc.bigInt({ min: 0n, max: 2n ** 62n }));

  it('parts sum to the total, are never negative, stay within 1 of the quota, and are deterministic', () => {
    fc.assert(
      fc.property(totalArb, weightsArb, (total, weights) => {
        const parts = allocate(total, weights);
        const weightSum = sumOf(weights);
        expect(parts).to.have.length(weights.length);
        expect(sumOf(parts)).to.equal(total);
        parts.forEach((part, i) => {
          const weight = weights[i]!;
          expect(part >= 0n).to.equal(true);
          if (weight === 0n) expect(part).to.equal(0n);
          // |part - total*w/W| < 1  <=>  |part*W - total*w| < W
          const gap = part * weightSum - total * weight;
          expect(gap < weightSum && -gap < weightSum, `part ${i} too far from its quota`).to.equal(true);
        });
        expect(allocate(total, [...weights])).to.deep.equal(parts);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('allocateRefund', () => {
  it('returns each part exactly where splitting by the original ratio does not', () => {
    const paid = [700n, 300n]; // channel 7.00 + coupon 3.00
    const refunds = [1n, 1n, 998n];

    // Naive: every refund split by the original parts. Rounding does not cancel.
    const naive = [0n, 0n];
    for (const refund of refunds) {
      allocate(refund, paid).forEach((part, i) => (naive[i] = naive[i]! + part));
    }
    expect(naive).to.deep.equal([701n, 299n]);

    const refunded = [0n, 0n];
    for (const refund of refunds) {
      allocateRefund(paid, refunded, refund).forEach((part, i) => (refunded[i] = refunded[i]! + part));
    }
    expect(refunded).to.deep.equal(paid);
  });

  it('rejects refunds beyond what is left, and inconsistent input', () => {
    expect(reasonOf(() => allocateRefund([700n, 300n], [700n, 299n], 2n))).to.equal('REFUND_EXCEEDS_PAID');
    expect(reasonOf(() => allocateRefund([700n, 300n], [0n, 0n], 1001n))).to.equal('REFUND_EXCEEDS_PAID');
    expect(reasonOf(() => allocateRefund([700n, 300n], [0n], 1n))).to.equal('INVALID_ALLOCATION');
    expect(reasonOf(() => allocateRefund([700n, 300n], [701n, 0n], 1n))).to.equal('INVALID_ALLOCATION');
    expect(reasonOf(() => allocateRefund([700n, 300n], [-1n, 0n], 1n))).to.equal('INVALID_ALLOCATION');
    expect(reasonOf(() => allocateRefund([-5n, 300n], [0n, 0n], 1n))).to.equal('INVALID_ALLOCATION');
    expect(reasonOf(() => allocateRefund([700n, 300n], [0n, 0n], -1n))).to.equal('INVALID_ALLOCATION');
  });

  it('refunds zero as zeros, even when nothing is left', () => {
    expect(allocateRefund([700n, 300n], [700n, 300n], 0n)).to.deep.equal([0n, 0n]);
  });

  it('over random partial refund sequences never over-refunds a part and the last refund completes every part', () => {
    const partsArb = fc.array(
      fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 10_000n }), fc.bigInt({ min: 0n, max: 2n ** 58n })),
      {
        minLength: 1,
        maxLength: 10,
      },
    );
    // Each seed picks the next partial refund as seed mod (remaining + 1).
    const seedsArb = fc.array(fc.bigInt({ min: 0n, max: 2n ** 62n }), { minLength: 0, maxLength: 8 });
    fc.assert(
      fc.property(partsArb, seedsArb, (paid, seeds) => {
        const refunded = paid.map(() => 0n);
        const refundOnce = (amount: bigint): void => {
          const split = allocateRefund(paid, refunded, amount);
          expect(sumOf(split)).to.equal(amount);
          split.forEach((part, i) => {
            expect(part >= 0n).to.equal(true);
            refunded[i] = refunded[i]! + part;
            expect(refunded[i] <= paid[i]!, `part ${i} over-refunded`).to.equal(true);
          });
        };
        for (const seed of seeds) refundOnce(seed % (sumOf(paid) - sumOf(refunded) + 1n));
        refundOnce(sumOf(paid) - sumOf(refunded));
        expect(refunded).to.deep.equal(paid);
      }),
      { numRuns: 2000 },
    );
  });
});
