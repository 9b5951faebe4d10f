/**
 * Proves the cap and refund arithmetic on boundaries: a reservation that
 * lands exactly on the cap is accepted and one fen more is refused; no cap
 * means anything fits; a release never drives usage below zero; failed
 * refunds free their headroom, every other refund state holds it.
 */
import { expect } from 'chai';
import { refundFits, refundedSoFar, releaseFromCap, reserveUnderCap } from './caps';

describe('daily caps and refund headroom', () => {
  it('a reservation may reach the cap exactly but not pass it', () => {
    expect(reserveUnderCap(40n, 60n, 100n)).to.equal(100n);
    expect(reserveUnderCap(40n, 61n, 100n)).to.equal(undefined);
    expect(reserveUnderCap(10n ** 12n, 1n, 0n), 'cap 0 = uncapped').to.equal(10n ** 12n + 1n);
  });

  it('a release gives the amount back and stops at zero', () => {
    expect(releaseFromCap(100n, 60n)).to.equal(40n);
    expect(releaseFromCap(30n, 60n)).to.equal(0n);
  });

  it('refunds that failed free their headroom; pending and successful ones hold it', () => {
    const sums = new Map([
      ['SUCCESS', 300n],
      ['PROCESSING', 200n],
      ['FAIL', 500n],
    ] as const);
    expect(refundedSoFar(sums)).to.equal(500n);
    expect(refundFits(1_000n, sums, 500n)).to.equal(true);
    expect(refundFits(1_000n, sums, 501n)).to.equal(false);
  });
});
