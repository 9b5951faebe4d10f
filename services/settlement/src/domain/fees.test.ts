/**
 * Proves the fee rules: over random amounts and rules (fast-check, seed from
 * SETTLEMENT_FEE_SEED or a fixed constant, printed), a fee is within the
 * rule's caps and never above the amount, the percentage part is rounded as
 * the rule states (checked against an integer-only oracle), the tier chosen
 * is the one the stated basis reaches, a payer-borne fee makes principal +
 * fee equal the amount, and refunds return the fee per rule (a full refund
 * in random partial steps returns exactly the fee). Also the refusals:
 * overlapping and gapped versions, negative rates.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import {
  feeOn,
  paymentFee,
  refundFee,
  ruleInForce,
  tierFor,
  validateNextVersion,
  validateTerms,
  type FeeRuleTerms,
  type FeeRuleVersion,
} from './fees';
import { SettlementError } from './errors';

const SEED = Number(process.env['SETTLEMENT_FEE_SEED'] ?? 20261001);
const RUNS = 300;

const base: FeeRuleTerms = {
  kind: 'PERCENTAGE',
  rate: '0.006',
  fixedMinor: 0n,
  minFeeMinor: 0n,
  maxFeeMinor: 0n,
  tierBasis: 'NONE',
  tiers: [],
  rounding: 'ROUND_HALF_UP',
  bearer: 'MERCHANT',
  refundReturnsFee: true,
};

const rateArb = fc
  .integer({ min: 0, max: 100_000 })
  .map((n) => (n === 100_000 ? '0.1' : `0.${String(n).padStart(6, '0')}`));
const termsArb: fc.Arbitrary<FeeRuleTerms> = fc.record({
  kind: fc.constantFrom('PERCENTAGE', 'FIXED', 'PERCENTAGE_PLUS_FIXED', 'GREATER_OF'),
  rate: rateArb,
  fixedMinor: fc.bigInt({ min: 0n, max: 500n }),
  minFeeMinor: fc.bigInt({ min: 0n, max: 100n }),
  maxFeeMinor: fc.bigInt({ min: 0n, max: 5_000n }).map((m) => (m === 0n ? 0n : m + 100n)),
  tierBasis: fc.constant('NONE' as const),
  tiers: fc.constant([]),
  rounding: fc.constantFrom('ROUND_HALF_UP', 'ROUND_HALF_EVEN', 'ROUND_DOWN', 'ROUND_UP'),
  bearer: fc.constantFrom('MERCHANT', 'PAYER'),
  refundReturnsFee: fc.boolean(),
});

/** amount × rate with integers only, rounded by mode, for rates with 6 fraction digits. */
function oracle(amount: bigint, rate: string, mode: FeeRuleTerms['rounding']): bigint {
  const [, fraction = ''] = rate.split('.');
  const scale = 10n ** BigInt(fraction.length);
  const numerator = amount * BigInt(rate.replace('.', ''));
  const q = numerator / scale;
  const r = numerator % scale;
  if (r === 0n) return q;
  switch (mode) {
    case 'ROUND_DOWN':
      return q;
    case 'ROUND_UP':
      return q + 1n;
    case 'ROUND_HALF_UP':
      return 2n * r >= scale ? q + 1n : q;
    case 'ROUND_HALF_EVEN':
      return 2n * r > scale || (2n * r === scale && q % 2n === 1n) ? q + 1n : q;
    default:
      throw new Error(`no oracle for ${mode}`);
  }
}

describe('fee rules', () => {
  before(() => process.stdout.write(`    fee property seed ${SEED}\n`));

  it('keeps every fee within its caps and never above the amount', () => {
    fc.assert(
      fc.property(termsArb, fc.bigInt({ min: 1n, max: 10_000_000n }), (terms, amount) => {
        const fee = feeOn(terms, amount, 0n);
        expect(fee <= amount).to.equal(true);
        if (terms.maxFeeMinor > 0n) expect(fee <= terms.maxFeeMinor).to.equal(true);
        if (terms.minFeeMinor > 0n && amount >= terms.minFeeMinor)
          expect(fee >= terms.minFeeMinor).to.equal(true);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('rounds the percentage part as the rule states', () => {
    fc.assert(
      fc.property(termsArb, fc.bigInt({ min: 1n, max: 10_000_000n }), (terms, amount) => {
        const plain = { ...terms, kind: 'PERCENTAGE' as const, minFeeMinor: 0n, maxFeeMinor: 0n };
        const expected = oracle(amount, terms.rate, terms.rounding);
        expect(feeOn(plain, amount, 0n)).to.equal(expected > amount ? amount : expected);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('chooses the tier that the stated basis reaches (amount or month volume)', () => {
    const tiers = [
      { fromMinor: 0n, rate: '0.006', fixedMinor: 0n },
      { fromMinor: 100_000n, rate: '0.005', fixedMinor: 0n },
      { fromMinor: 10_000_000n, rate: '0.003', fixedMinor: 0n },
    ];
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 50_000_000n }),
        fc.bigInt({ min: 0n, max: 50_000_000n }),
        (amount, volume) => {
          const byAmount = { ...base, tierBasis: 'AMOUNT' as const, tiers };
          const byVolume = { ...base, tierBasis: 'MONTH_VOLUME' as const, tiers };
          const expectedByAmount = tiers.filter((t) => amount >= t.fromMinor).pop();
          const expectedByVolume = tiers.filter((t) => volume >= t.fromMinor).pop();
          expect(tierFor(tiers, amount)).to.equal(expectedByAmount);
          expect(feeOn(byAmount, amount, volume)).to.equal(
            oracle(amount, expectedByAmount?.rate ?? '0', 'ROUND_HALF_UP'),
          );
          expect(feeOn(byVolume, amount, volume)).to.equal(
            oracle(amount, expectedByVolume?.rate ?? '0', 'ROUND_HALF_UP'),
          );
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('charges a payer-borne fee on top: principal + fee is the amount, fee covers the principal', () => {
    fc.assert(
      fc.property(termsArb, fc.bigInt({ min: 1n, max: 10_000_000n }), (terms, amount) => {
        const payer = { ...terms, bearer: 'PAYER' as const };
        const { principalMinor, feeMinor } = paymentFee(payer, amount, 0n);
        expect(principalMinor + feeMinor).to.equal(amount);
        expect(feeMinor >= feeOn(payer, principalMinor, 0n)).to.equal(true);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('returns the fee over partial refunds exactly once in total, or never when the rule keeps it', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 1_000_000n }),
        fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        (amount, weights, returns) => {
          const fee = feeOn(base, amount, 0n);
          const total = weights.reduce((a, w) => a + w, 0);
          let refunded = 0n;
          let returned = 0n;
          weights.forEach((w, i) => {
            const step = i === weights.length - 1 ? amount - refunded : (amount * BigInt(w)) / BigInt(total);
            returned += refundFee(returns, amount, fee, refunded, step);
            refunded += step;
            expect(returned <= fee).to.equal(true);
          });
          expect(returned).to.equal(returns ? fee : 0n);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('refuses negative rates and fixed parts with NEGATIVE_RATE', () => {
    const reason = (fn: () => void): string => {
      try {
        fn();
        return 'none';
      } catch (error) {
        return error instanceof SettlementError ? error.reason : 'other';
      }
    };
    expect(reason(() => validateTerms({ ...base, rate: '-0.01' }))).to.equal('NEGATIVE_RATE');
    expect(reason(() => validateTerms({ ...base, fixedMinor: -1n }))).to.equal('NEGATIVE_RATE');
    expect(reason(() => validateTerms({ ...base, rate: '1.5' }))).to.equal('INVALID_FIELD');
    expect(reason(() => validateTerms(base))).to.equal('none');
  });

  it('refuses a version overlapping the history or leaving a gap, and picks the version in force', () => {
    const v = (from: string, to: string | null, ruleId: string): FeeRuleVersion => ({
      ...base,
      ruleId,
      merchantId: 'm',
      product: '100101',
      payChannel: '*',
      effectiveFrom: from,
      effectiveTo: to,
    });
    const history = [v('2026-01-01', '2026-05-31', 'a'), v('2026-06-01', null, 'b')];
    expect(() => validateNextVersion(history, '2026-06-01')).to.throw(SettlementError, /exists/);
    expect(() => validateNextVersion(history, '2026-03-01')).to.throw(SettlementError);
    expect(() => validateNextVersion([v('2026-01-01', '2026-01-31', 'a')], '2026-03-01')).to.throw(
      SettlementError,
      /no rule/,
    );
    expect(() => validateNextVersion(history, '2026-07-01')).not.to.throw();
    expect(ruleInForce(history, '100101', '1001', '2026-05-31')?.ruleId).to.equal('a');
    expect(ruleInForce(history, '100101', '1001', '2026-06-01')?.ruleId).to.equal('b');
    expect(ruleInForce(history, '100201', '1001', '2026-06-01')).to.equal(undefined);
  });
});
