/**
 * Proves the yuan/fen conversions are exact and strict: hand-picked edge cases
 * (zero, one fen, negatives, one decimal, int64-sized values), malformed text
 * refused (three decimals, exponents, spaces, plus signs, leading zeros), and
 * a property that fenToYuan → yuanToFen is the identity over the int64 range.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { fenToYuan, parseFen, ProtocolError, yuanToFen } from './index';

describe('amounts', () => {
  it('converts yuan text to fen exactly', () => {
    expect(yuanToFen('0')).to.equal(0n);
    expect(yuanToFen('0.01')).to.equal(1n);
    expect(yuanToFen('12.3')).to.equal(1230n);
    expect(yuanToFen('12.34')).to.equal(1234n);
    expect(yuanToFen('-0.60')).to.equal(-60n);
    expect(yuanToFen('92233720368547758.07')).to.equal(9223372036854775807n);
  });

  it('refuses malformed yuan text', () => {
    for (const bad of ['', '1.234', '1e3', ' 1', '+1', '01.00', '1.', '.5', '1,00', 'NaN', '--1', '0x10']) {
      expect(() => yuanToFen(bad), bad).to.throw(ProtocolError);
    }
  });

  it('formats fen with two decimals', () => {
    expect(fenToYuan(0n)).to.equal('0.00');
    expect(fenToYuan(5n)).to.equal('0.05');
    expect(fenToYuan(-60n)).to.equal('-0.60');
    expect(fenToYuan(123456n)).to.equal('1234.56');
  });

  it('round-trips over int64 (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (fen) => {
        expect(yuanToFen(fenToYuan(fen))).to.equal(fen);
      }),
    );
  });

  it('parses integer fen strictly', () => {
    expect(parseFen('1234')).to.equal(1234n);
    expect(parseFen('0')).to.equal(0n);
    for (const bad of ['', '-1', '01', '1.0', '1e2', ' 1'])
      expect(() => parseFen(bad), bad).to.throw(ProtocolError);
  });
});
