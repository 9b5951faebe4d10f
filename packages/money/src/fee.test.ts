/**
 * Proves computeFee rounds exactly as named: known values per rounding mode
 * (including ties, where HALF_UP and HALF_EVEN differ), min/max clamping, and
 * strict rejection of malformed rates, modes and bounds. A fast-check property
 * compares every mode against an independent oracle written in bigint integer
 * arithmetic (rate = n / 10^k), over amounts up to int64 max and rates with
 * up to 18 fraction digits, which also proves no precision is lost at the
 * extremes. It also checks the global Decimal configuration is untouched.
 */
import { expect } from 'chai';
import Decimal from 'decimal.js';
import fc from 'fast-check';
import { assertValidRate, computeFee, INT64_MAX, isRoundingMode, MoneyError, ROUNDING_MODES } from './index';
import type { RoundingMode } from './index';

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof MoneyError) return err.reason;
    throw err;
  }
  throw new Error('expected a MoneyError, nothing was thrown');
}

/** Integer-only reference: round(amount * n / 10^k) for amount >= 0. */
function oracle(amount: bigint, rate: string, mode: RoundingMode): bigint {
  const [whole = '0', fraction = ''] = rate.split('.');
  const denominator = 10n ** BigInt(fraction.length);
  const numerator = amount * BigInt(whole + fraction);
  const quotient = numerator / denominator;
  const remainder = numerator % denominator;
  if (remainder === 0n) return quotient;
  const twice = 2n * remainder;
  switch (mode) {
    case 'ROUND_DOWN':
    case 'ROUND_FLOOR':
      return quotient;
    case 'ROUND_UP':
    case 'ROUND_CEIL':
      return quotient + 1n;
    default:
      if (twice > denominator) return quotient + 1n;
      if (twice < denominator) return quotient;
      if (mode === 'ROUND_HALF_EVEN') return quotient % 2n === 0n ? quotient : quotient + 1n;
      return mode === 'ROUND_HALF_UP' || mode === 'ROUND_HALF_CEIL' ? quotient + 1n : quotient;
  }
}

describe('computeFee: known values at 0.6%', () => {
  // amount, exact fee, then expected per mode
  const table: [bigint, string, Partial<Record<RoundingMode, bigint>>][] = [
    [
      1n,
      '0.006',
      {
        ROUND_HALF_UP: 0n,
        ROUND_HALF_EVEN: 0n,
        ROUND_UP: 1n,
        ROUND_DOWN: 0n,
        ROUND_CEIL: 1n,
        ROUND_FLOOR: 0n,
      },
    ],
    [
      100n,
      '0.6',
      { ROUND_HALF_UP: 1n, ROUND_HALF_EVEN: 1n, ROUND_HALF_DOWN: 1n, ROUND_DOWN: 0n, ROUND_UP: 1n },
    ],
    [
      250n,
      '1.5',
      { ROUND_HALF_UP: 2n, ROUND_HALF_EVEN: 2n, ROUND_HALF_DOWN: 1n, ROUND_DOWN: 1n, ROUND_UP: 2n },
    ],
    [
      2750n,
      '16.5',
      {
        ROUND_HALF_UP: 17n,
        ROUND_HALF_EVEN: 16n,
        ROUND_HALF_DOWN: 16n,
        ROUND_HALF_CEIL: 17n,
        ROUND_HALF_FLOOR: 16n,
      },
    ],
    [
      1000n,
      '6',
      {
        ROUND_HALF_UP: 6n,
        ROUND_HALF_EVEN: 6n,
        ROUND_DOWN: 6n,
        ROUND_UP: 6n,
        ROUND_CEIL: 6n,
        ROUND_FLOOR: 6n,
      },
    ],
    [0n, '0', { ROUND_HALF_UP: 0n, ROUND_UP: 0n }],
  ];
  for (const [amount, exact, expectations] of table) {
    for (const [mode, fee] of Object.entries(expectations) as [RoundingMode, bigint][]) {
      it(`${amount} x 0.006 = ${exact} -> ${fee} with ${mode}`, () => {
        expect(computeFee(amount, '0.006', mode)).to.equal(fee);
      });
    }
  }

  it('handles the extremes without losing precision', () => {
    expect(computeFee(INT64_MAX, '1', 'ROUND_HALF_UP')).to.equal(INT64_MAX);
    expect(computeFee(INT64_MAX, '0.000000000000000001', 'ROUND_DOWN')).to.equal(9n);
    expect(computeFee(INT64_MAX, '0.999999999999999999', 'ROUND_DOWN')).to.equal(
      (INT64_MAX * 999999999999999999n) / 10n ** 18n,
    );
  });
});

describe('computeFee: bounds and validation', () => {
  it('clamps the rounded fee to min and max', () => {
    expect(computeFee(100n, '0.006', 'ROUND_HALF_UP', { minFeeMinor: 10n })).to.equal(10n);
    expect(computeFee(1_000_000n, '0.006', 'ROUND_HALF_UP', { maxFeeMinor: 2500n })).to.equal(2500n);
    expect(computeFee(100_000n, '0.006', 'ROUND_HALF_UP', { minFeeMinor: 10n, maxFeeMinor: 2500n })).to.equal(
      600n,
    );
    expect(computeFee(0n, '0.006', 'ROUND_HALF_UP', { minFeeMinor: 10n })).to.equal(10n);
  });

  it('rejects malformed rates with INVALID_RATE', () => {
    for (const rate of [
      '',
      '0.',
      '.5',
      '1.5',
      '2',
      '-0.1',
      '6e-3',
      '0.006 ',
      ' 0.006',
      '0x1',
      'NaN',
      'Infinity',
      '00.1',
      '0.0000000000000000001',
      '0,006',
    ]) {
      expect(
        reasonOf(() => computeFee(100n, rate, 'ROUND_HALF_UP')),
        rate,
      ).to.equal('INVALID_RATE');
    }
    expect(assertValidRate('1.000')).to.equal('1.000');
    expect(reasonOf(() => assertValidRate('1.0001'))).to.equal('INVALID_RATE');
  });

  it('rejects an unknown rounding mode, bad bounds and bad amounts', () => {
    const mode = 'ROUND_NEAREST' as RoundingMode;
    expect(reasonOf(() => computeFee(100n, '0.006', mode))).to.equal('INVALID_RATE');
    expect(
      reasonOf(() => computeFee(100n, '0.006', 'ROUND_UP', { minFeeMinor: 5n, maxFeeMinor: 4n })),
    ).to.equal('INVALID_RATE');
    expect(reasonOf(() => computeFee(100n, '0.006', 'ROUND_UP', { minFeeMinor: -1n }))).to.equal(
      'INVALID_RATE',
    );
    expect(reasonOf(() => computeFee(-1n, '0.006', 'ROUND_UP'))).to.equal('AMOUNT_OUT_OF_RANGE');
    expect(reasonOf(() => computeFee(INT64_MAX + 1n, '0.006', 'ROUND_UP'))).to.equal('AMOUNT_OUT_OF_RANGE');
  });

  it('lists and recognises the named modes', () => {
    expect(ROUNDING_MODES).to.have.length(9);
    expect(isRoundingMode('ROUND_HALF_UP')).to.equal(true);
    expect(isRoundingMode('toString')).to.equal(false);
  });
});

describe('computeFee: agrees with an integer oracle', () => {
  it('for every mode, amounts up to int64 max and rates up to 18 fraction digits', () => {
    const rateArb = fc.oneof(
      fc.constant('1'),
      fc.stringMatching(/^0\.[0-9]{1,18}$/),
      fc.stringMatching(/^0\.00[0-9]{1,3}$/),
      fc.constant('0'),
    );
    const amountArb = fc.oneof(fc.bigInt({ min: 0n, max: 100_000n }), fc.bigInt({ min: 0n, max: INT64_MAX }));
    fc.assert(
      fc.property(amountArb, rateArb, fc.constantFrom(...ROUNDING_MODES), (amount, rate, mode) => {
        expect(computeFee(amount, rate, mode), `${amount} x ${rate} ${mode}`).to.equal(
          oracle(amount, rate, mode),
        );
      }),
      { numRuns: 3000 },
    );
  });

  it('never touches the global Decimal configuration', () => {
    const before = { precision: Decimal.precision, rounding: Decimal.rounding };
    computeFee(250n, '0.006', 'ROUND_HALF_EVEN');
    expect({ precision: Decimal.precision, rounding: Decimal.rounding }).to.deep.equal(before);
  });
});
