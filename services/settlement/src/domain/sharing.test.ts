/**
 * Proves profit sharing: three receivers with awkward ratios (1/3, 1/7 and
 * a fixed amount) split random bases so that the shares, the merchant's
 * included, sum exactly to the base; random partial refunds claw back along
 * the same shares, never more than a share holds, and a full refund claws
 * back every share exactly. fast-check, seed SETTLEMENT_SHARE_SEED or a
 * constant, printed.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { clawBack, split, validateReceivers, type Receiver } from './sharing';
import { SettlementError } from './errors';

const SEED = Number(process.env['SETTLEMENT_SHARE_SEED'] ?? 7331);
const receivers: Receiver[] = [
  { receiverId: 'platform-partner', kind: 'RATIO', ratio: '0.333333333333333333', fixedMinor: 0n },
  { receiverId: 'agent', kind: 'RATIO', ratio: '0.142857142857142857', fixedMinor: 0n },
  { receiverId: 'logistics', kind: 'FIXED', ratio: '0', fixedMinor: 37n },
];

describe('profit sharing', () => {
  before(() => process.stdout.write(`    sharing property seed ${SEED}\n`));

  it('splits with three receivers and awkward ratios so that shares sum exactly to the base', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 100_000_000n }), (base) => {
        const shares = split('merchant', base, receivers);
        expect(shares.map((s) => s.receiverId)).to.deep.equal([
          'platform-partner',
          'agent',
          'logistics',
          'merchant',
        ]);
        expect(shares.reduce((a, s) => a + s.amountMinor, 0n)).to.equal(base);
        const rest = base - (shares[2]?.amountMinor ?? 0n);
        // Each ratio share is within one unit of its exact value.
        const exact = (rest * 333333333333333333n) / 10n ** 18n;
        expect((shares[0]?.amountMinor ?? 0n) - exact <= 1n).to.equal(true);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('claws back partial refunds exactly along the same shares', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10_000_000n }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 6 }),
        (base, steps) => {
          const shares = split('merchant', base, receivers).map((s) => s.amountMinor);
          let clawed = shares.map(() => 0n);
          const total = steps.reduce((a, w) => a + w, 0);
          let removed = 0n;
          steps.forEach((w, i) => {
            const amount = i === steps.length - 1 ? base - removed : (base * BigInt(w)) / BigInt(total);
            const claws = clawBack(shares, clawed, amount);
            expect(claws.reduce((a, c) => a + c, 0n)).to.equal(amount);
            clawed = clawed.map((c, j) => c + (claws[j] ?? 0n));
            clawed.forEach((c, j) => expect(c <= (shares[j] ?? 0n)).to.equal(true));
            removed += amount;
          });
          expect(clawed).to.deep.equal(shares);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('refuses ratios above the whole with SHARES_EXCEED_WHOLE', () => {
    const over: Receiver[] = [
      { receiverId: 'a', kind: 'RATIO', ratio: '0.6', fixedMinor: 0n },
      { receiverId: 'b', kind: 'RATIO', ratio: '0.5', fixedMinor: 0n },
    ];
    expect(() => validateReceivers('merchant', over)).to.throw(SettlementError, /more than 1/);
    expect(() => validateReceivers('merchant', receivers)).not.to.throw();
  });
});
