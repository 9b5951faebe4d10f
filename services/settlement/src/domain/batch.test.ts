/**
 * Proves the batch rules: the transition table (every pair checked: only
 * listed moves are allowed, final states have no exit), the payout decision
 * (under the minimum or not positive → carried; D0 hold rounded up; payout +
 * carried = available), and that settlement postings balance, flipping
 * sides for a negative day.
 */
import { expect } from 'chai';
import { BATCH_TRANSITIONS, decidePayout, isFinal, settlementLegs, type BatchStateName } from './batch';
import { fromStatesOf } from '@paycore/platform/domain';

const totals = (gross: bigint, refunds: bigint, fees: bigint, shares: bigint) => ({
  itemCount: 3n,
  grossMinor: gross,
  refundsMinor: refunds,
  feesMinor: fees,
  sharesMinor: shares,
});

describe('settlement batches', () => {
  it('allows exactly the moves of the transition table', () => {
    const states = Object.keys(BATCH_TRANSITIONS) as BatchStateName[];
    for (const to of states) {
      const from = to === 'CREATED' ? [] : fromStatesOf(BATCH_TRANSITIONS, to);
      for (const s of states) expect(from.includes(s)).to.equal(BATCH_TRANSITIONS[s].includes(to));
    }
    expect(states.filter(isFinal)).to.deep.equal(['PAID', 'CARRIED', 'EXCEPTION']);
  });

  it('carries a net under the minimum, a negative net as a debit, and holds the D0 share', () => {
    expect(decidePayout(0n, totals(9_000n, 0n, 54n, 0n), 10_000n, '0')).to.deep.equal({
      payoutMinor: 0n,
      carriedOutMinor: 8_946n,
    });
    expect(decidePayout(8_946n, totals(2_000n, 0n, 12n, 0n), 10_000n, '0')).to.deep.equal({
      payoutMinor: 10_934n,
      carriedOutMinor: 0n,
    });
    expect(decidePayout(100n, totals(1_000n, 3_000n, 0n, 0n), 0n, '0')).to.deep.equal({
      payoutMinor: 0n,
      carriedOutMinor: -1_900n,
    });
    expect(decidePayout(0n, totals(10_001n, 0n, 0n, 0n), 0n, '0.1')).to.deep.equal({
      payoutMinor: 9_000n,
      carriedOutMinor: 1_001n,
    });
  });

  it('posts balanced legs: pending settlement out, fees, shares and payable in; sides flip on a negative day', () => {
    const legs = settlementLegs('m1', totals(10_000n, 1_000n, 60n, 300n), new Map([['r1', 300n]]));
    expect(legs.map((l) => [l.account.kind, l.side, l.amountMinor])).to.deep.equal([
      ['MERCHANT_PENDING', 'DEBIT', 9_000n],
      ['FEE_INCOME', 'CREDIT', 60n],
      ['PAYABLE', 'CREDIT', 300n],
      ['PAYABLE', 'CREDIT', 8_640n],
    ]);
    const negative = settlementLegs('m1', totals(1_000n, 3_000n, 6n, 0n), new Map());
    expect(negative.map((l) => [l.account.kind, l.side, l.amountMinor])).to.deep.equal([
      ['MERCHANT_PENDING', 'CREDIT', 2_000n],
      ['FEE_INCOME', 'CREDIT', 6n],
      ['PAYABLE', 'DEBIT', 2_006n],
    ]);
  });
});
