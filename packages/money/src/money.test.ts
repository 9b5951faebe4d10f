/**
 * Proves the Money value rules: decimal parsing and formatting are exact and
 * strict (no floats, no silent rounding, malformed text rejected), every
 * computed amount stays inside int64 (the boundary values themselves pass, one
 * past them fails), currencies never mix, and the registry knows ISO scales and
 * registered assets. Edge cases are listed by hand; a fast-check property
 * checks parse(format(x)) == x over the whole int64 range for several scales.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import {
  add,
  compare,
  currencyScale,
  formatMoney,
  fromMinor,
  INT64_MAX,
  INT64_MIN,
  isKnownCurrency,
  isZero,
  money,
  MoneyError,
  MoneyErrorReason,
  negate,
  parseMoney,
  registerAsset,
  subtract,
  sum,
  zero,
} from './index';

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof MoneyError) return err.reason;
    throw err;
  }
  throw new Error('expected a MoneyError, nothing was thrown');
}

describe('money: registry', () => {
  it('knows the ISO 4217 scales of the common currencies', () => {
    const expected: Record<string, number> = {
      CNY: 2,
      USD: 2,
      EUR: 2,
      HKD: 2,
      JPY: 0,
      KRW: 0,
      GBP: 2,
      SGD: 2,
      BHD: 3,
      KWD: 3,
    };
    for (const [code, scale] of Object.entries(expected)) expect(currencyScale(code), code).to.equal(scale);
  });

  it('rejects an unknown code with UNKNOWN_CURRENCY and INVALID_ARGUMENT', () => {
    try {
      currencyScale('XYZ');
      expect.fail('should throw');
    } catch (err) {
      expect(err).to.be.instanceOf(MoneyError);
      const e = err as MoneyError;
      expect(e.reason).to.equal('UNKNOWN_CURRENCY');
      expect(e.grpcCode).to.equal('INVALID_ARGUMENT');
      expect(e.field).to.equal('currency');
    }
    expect(reasonOf(() => money(1n, 'cny'))).to.equal(MoneyErrorReason.UNKNOWN_CURRENCY);
  });

  it('registers stored-value assets idempotently and refuses a scale change', () => {
    expect(isKnownCurrency('TESTCOIN')).to.equal(false);
    registerAsset('TESTCOIN', 0);
    registerAsset('TESTCOIN', 0);
    expect(currencyScale('TESTCOIN')).to.equal(0);
    expect(formatMoney(money(42n, 'TESTCOIN'), { withCode: true })).to.equal('42 TESTCOIN');
    registerAsset('TESTPOINT', 2);
    expect(parseMoney('1.5', 'TESTPOINT').amountMinor).to.equal(150n);
    expect(reasonOf(() => registerAsset('TESTCOIN', 2))).to.equal('INVALID_ASSET');
    expect(reasonOf(() => registerAsset('CNY', 0))).to.equal('INVALID_ASSET');
    expect(reasonOf(() => registerAsset('coin', 0))).to.equal('INVALID_ASSET');
    expect(reasonOf(() => registerAsset('AB', 0))).to.equal('INVALID_ASSET');
    expect(reasonOf(() => registerAsset('TESTBIG', 19))).to.equal('INVALID_ASSET');
    expect(reasonOf(() => registerAsset('TESTNEG', -1))).to.equal('INVALID_ASSET');
    expect(reasonOf(() => registerAsset('TESTFRAC', 1.5))).to.equal('INVALID_ASSET');
  });
});

describe('money: parseMoney', () => {
  const accepted: [string, string, bigint][] = [
    ['12.34', 'CNY', 1234n],
    ['12.3', 'CNY', 1230n],
    ['12', 'CNY', 1200n],
    ['0', 'CNY', 0n],
    ['0.01', 'CNY', 1n],
    ['-0.05', 'CNY', -5n],
    ['-0', 'CNY', 0n],
    ['1500', 'JPY', 1500n],
    ['1.234', 'BHD', 1234n],
    ['92233720368547758.07', 'CNY', INT64_MAX],
    ['-92233720368547758.08', 'CNY', INT64_MIN],
    ['9223372036854775807', 'JPY', INT64_MAX],
  ];
  for (const [text, currency, minor] of accepted) {
    it(`accepts "${text}" ${currency} as ${minor}`, () => {
      const m = parseMoney(text, currency);
      expect(m.amountMinor).to.equal(minor);
      expect(m.currency).to.equal(currency);
    });
  }

  const rejected: [string, string][] = [
    ['', 'CNY'],
    ['1.', 'CNY'],
    ['.5', 'CNY'],
    ['1.234', 'CNY'],
    ['1.0', 'JPY'],
    ['1e2', 'CNY'],
    ['1E2', 'CNY'],
    [' 1', 'CNY'],
    ['1 ', 'CNY'],
    ['1 000', 'CNY'],
    ['+1', 'CNY'],
    ['--1', 'CNY'],
    ['-', 'CNY'],
    ['01', 'CNY'],
    ['00.5', 'CNY'],
    ['1,5', 'CNY'],
    ['0x10', 'CNY'],
    ['Infinity', 'CNY'],
    ['NaN', 'CNY'],
    ['１２', 'CNY'],
    ['1'.repeat(41), 'CNY'],
  ];
  for (const [text, currency] of rejected) {
    it(`rejects "${text.slice(0, 12)}" ${currency} with INVALID_AMOUNT`, () => {
      expect(reasonOf(() => parseMoney(text, currency))).to.equal('INVALID_AMOUNT');
    });
  }

  it('rejects values one unit past int64 with AMOUNT_OUT_OF_RANGE', () => {
    expect(reasonOf(() => parseMoney('92233720368547758.08', 'CNY'))).to.equal('AMOUNT_OUT_OF_RANGE');
    expect(reasonOf(() => parseMoney('-92233720368547758.09', 'CNY'))).to.equal('AMOUNT_OUT_OF_RANGE');
    expect(reasonOf(() => parseMoney('9223372036854775808', 'JPY'))).to.equal('AMOUNT_OUT_OF_RANGE');
  });

  it('rejects an unknown currency before looking at the text', () => {
    expect(reasonOf(() => parseMoney('1', 'XXX1'))).to.equal('UNKNOWN_CURRENCY');
  });
});

describe('money: formatMoney', () => {
  it('prints exactly scale fraction digits', () => {
    expect(formatMoney(money(1234n, 'CNY'))).to.equal('12.34');
    expect(formatMoney(money(1230n, 'CNY'))).to.equal('12.30');
    expect(formatMoney(money(5n, 'CNY'))).to.equal('0.05');
    expect(formatMoney(money(-5n, 'CNY'))).to.equal('-0.05');
    expect(formatMoney(money(0n, 'CNY'))).to.equal('0.00');
    expect(formatMoney(money(-100n, 'CNY'))).to.equal('-1.00');
    expect(formatMoney(money(1500n, 'JPY'))).to.equal('1500');
    expect(formatMoney(money(-7n, 'BHD'))).to.equal('-0.007');
    expect(formatMoney(money(INT64_MIN, 'CNY'))).to.equal('-92233720368547758.08');
  });

  it('appends the code on request', () => {
    expect(formatMoney(money(1234n, 'CNY'), { withCode: true })).to.equal('12.34 CNY');
    expect(formatMoney(money(1234n, 'CNY'), { withCode: false })).to.equal('12.34');
  });

  it('round-trips parse(format(x)) for every int64 and several scales', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
        fc.constantFrom('CNY', 'JPY', 'BHD'),
        (minor, currency) => {
          const m = money(minor, currency);
          expect(parseMoney(formatMoney(m), currency).amountMinor).to.equal(minor);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('money: fromMinor', () => {
  it('accepts bigint and plain integer strings inside int64', () => {
    expect(fromMinor(7n, 'CNY').amountMinor).to.equal(7n);
    expect(fromMinor('-1234', 'CNY').amountMinor).to.equal(-1234n);
    expect(fromMinor('0', 'CNY').amountMinor).to.equal(0n);
    expect(fromMinor('9223372036854775807', 'CNY').amountMinor).to.equal(INT64_MAX);
    expect(fromMinor('-9223372036854775808', 'CNY').amountMinor).to.equal(INT64_MIN);
  });

  it('rejects non-digit strings and out-of-range values', () => {
    for (const text of ['', '1.0', '1e3', ' 1', '+1', '0x1', '01', '-', '12a', '１']) {
      expect(
        reasonOf(() => fromMinor(text, 'CNY')),
        text,
      ).to.equal('INVALID_AMOUNT');
    }
    expect(reasonOf(() => fromMinor('9223372036854775808', 'CNY'))).to.equal('AMOUNT_OUT_OF_RANGE');
    expect(reasonOf(() => fromMinor('-9223372036854775809', 'CNY'))).to.equal('AMOUNT_OUT_OF_RANGE');
    expect(reasonOf(() => fromMinor(INT64_MAX + 1n, 'CNY'))).to.equal('AMOUNT_OUT_OF_RANGE');
    expect(reasonOf(() => fromMinor('1'.repeat(30), 'CNY'))).to.equal('INVALID_AMOUNT');
  });

  it('returns frozen values', () => {
    const m = fromMinor(1n, 'CNY');
    expect(Object.isFrozen(m)).to.equal(true);
  });
});

describe('money: checked arithmetic', () => {
  const cny = (minor: bigint) => money(minor, 'CNY');

  it('adds, subtracts, negates and compares within a currency', () => {
    expect(add(cny(150n), cny(-50n)).amountMinor).to.equal(100n);
    expect(subtract(cny(150n), cny(200n)).amountMinor).to.equal(-50n);
    expect(negate(cny(5n)).amountMinor).to.equal(-5n);
    expect(compare(cny(1n), cny(2n))).to.equal(-1);
    expect(compare(cny(2n), cny(2n))).to.equal(0);
    expect(compare(cny(3n), cny(2n))).to.equal(1);
    expect(isZero(zero('CNY'))).to.equal(true);
    expect(isZero(cny(1n))).to.equal(false);
  });

  it('reaches the int64 bounds exactly and fails one past them', () => {
    expect(add(cny(INT64_MAX - 1n), cny(1n)).amountMinor).to.equal(INT64_MAX);
    expect(reasonOf(() => add(cny(INT64_MAX), cny(1n)))).to.equal('AMOUNT_OUT_OF_RANGE');
    expect(subtract(cny(INT64_MIN + 1n), cny(1n)).amountMinor).to.equal(INT64_MIN);
    expect(reasonOf(() => subtract(cny(INT64_MIN), cny(1n)))).to.equal('AMOUNT_OUT_OF_RANGE');
    expect(negate(cny(INT64_MAX)).amountMinor).to.equal(INT64_MIN + 1n);
    expect(reasonOf(() => negate(cny(INT64_MIN)))).to.equal('AMOUNT_OUT_OF_RANGE');
    expect(reasonOf(() => money(INT64_MAX + 1n, 'CNY'))).to.equal('AMOUNT_OUT_OF_RANGE');
    expect(reasonOf(() => money(INT64_MIN - 1n, 'CNY'))).to.equal('AMOUNT_OUT_OF_RANGE');
  });

  it('never mixes currencies', () => {
    const usd = money(1n, 'USD');
    expect(reasonOf(() => add(cny(1n), usd))).to.equal('CURRENCY_MISMATCH');
    expect(reasonOf(() => subtract(cny(1n), usd))).to.equal('CURRENCY_MISMATCH');
    expect(reasonOf(() => compare(cny(1n), usd))).to.equal('CURRENCY_MISMATCH');
    expect(reasonOf(() => sum([cny(1n), usd], 'CNY'))).to.equal('CURRENCY_MISMATCH');
  });

  it('sums lists, checking only the exact final total', () => {
    expect(sum([], 'CNY').amountMinor).to.equal(0n);
    expect(sum([cny(1n), cny(2n), cny(3n)], 'CNY').amountMinor).to.equal(6n);
    // The running total leaves int64 and comes back: the sum itself is valid.
    expect(sum([cny(INT64_MAX), cny(1n), cny(-2n)], 'CNY').amountMinor).to.equal(INT64_MAX - 1n);
    expect(reasonOf(() => sum([cny(INT64_MAX), cny(1n)], 'CNY'))).to.equal('AMOUNT_OUT_OF_RANGE');
    expect(reasonOf(() => sum([], 'NOPE'))).to.equal('UNKNOWN_CURRENCY');
  });
});
