/**
 * Proves the shape rules of the 20-digit context code: parse and format are
 * inverse over random digit strings (fast-check, 2,000 runs), anything that is
 * not exactly 20 ASCII digits is refused with INVALID_BIZ_CODE (including
 * non-ASCII digits and non-strings), the routed flag follows the channel
 * parts, and withRoute completes an unrouted code once and refuses to
 * re-route.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { ContextError, formatBizCode, isBizCodeShape, parseBizCode, unroutedOf, withRoute } from './index';

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ContextError) return err.reason;
    throw err;
  }
  throw new Error('expected a ContextError, nothing was thrown');
}

const digits = (length: number) => fc.stringMatching(new RegExp(`^[0-9]{${length}}$`));

describe('context code: parse and format', () => {
  it('splits a code into its five parts', () => {
    expect(parseBizCode('10010101011001100001')).to.deep.equal({
      code: '10010101011001100001',
      product: '100101',
      bizMode: '01',
      action: '01',
      payChannel: '1001',
      channelNo: '100001',
      routed: true,
    });
  });

  it('marks a code routed unless both channel parts are zero', () => {
    expect(parseBizCode('10010101010000000000').routed).to.equal(false);
    expect(parseBizCode('10010101010001000000').routed).to.equal(true);
    expect(parseBizCode('10010101010000100001').routed).to.equal(true);
  });

  it('round-trips parse(format(parts)) and format(parse(code)) over random digits', () => {
    fc.assert(
      fc.property(
        digits(6),
        digits(2),
        digits(2),
        digits(4),
        digits(6),
        (product, bizMode, action, payChannel, channelNo) => {
          const code = formatBizCode({ product, bizMode, action, payChannel, channelNo });
          expect(code).to.have.length(20);
          const parsed = parseBizCode(code);
          expect(parsed).to.include({ code, product, bizMode, action, payChannel, channelNo });
          expect(formatBizCode(parsed)).to.equal(code);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('defaults omitted channel parts to unrouted', () => {
    expect(formatBizCode({ product: '100101', bizMode: '01', action: '02' })).to.equal(
      '10010101020000000000',
    );
  });

  it('refuses anything but exactly 20 ASCII digits with INVALID_BIZ_CODE', () => {
    const bad: unknown[] = [
      '',
      '1001010101100110000',
      '100101010110011000011',
      '1001010101100110000a',
      ' 10010101011001100001',
      '10010101011001100001\n',
      '１００１０１０１０１１００１１０００１', // full-width digits
      '١٠٠١٠١٠١٠١١٠٠١١٠٠٠٠١', // Arabic-Indic digits
      '-1001010101100110000',
      12345678,
      undefined,
      null,
    ];
    for (const value of bad)
      expect(
        reasonOf(() => parseBizCode(value)),
        String(value),
      ).to.equal('INVALID_BIZ_CODE');
    expect(isBizCodeShape('10010101011001100001')).to.equal(true);
    expect(isBizCodeShape(12)).to.equal(false);
  });

  it('names the field and maps to INVALID_ARGUMENT', () => {
    try {
      parseBizCode('nope', 'order.biz_code');
      expect.fail('should throw');
    } catch (err) {
      const e = err as ContextError;
      expect(e).to.be.instanceOf(ContextError);
      expect(e.grpcCode).to.equal('INVALID_ARGUMENT');
      expect(e.field).to.equal('order.biz_code');
    }
  });

  it('refuses malformed parts when formatting', () => {
    expect(reasonOf(() => formatBizCode({ product: '10010', bizMode: '01', action: '01' }))).to.equal(
      'INVALID_BIZ_CODE',
    );
    expect(reasonOf(() => formatBizCode({ product: '100101', bizMode: '1', action: '01' }))).to.equal(
      'INVALID_BIZ_CODE',
    );
    expect(reasonOf(() => formatBizCode({ product: '100101', bizMode: '01', action: 'ab' }))).to.equal(
      'INVALID_BIZ_CODE',
    );
    expect(
      reasonOf(() => formatBizCode({ product: '100101', bizMode: '01', action: '01', payChannel: '10011' })),
    ).to.equal('INVALID_BIZ_CODE');
  });
});

describe('context code: routing', () => {
  it('completes an unrouted code', () => {
    const routed = withRoute('10010101010000000000', '1001', '100001');
    expect(routed.code).to.equal('10010101011001100001');
    expect(routed.routed).to.equal(true);
    expect(withRoute('10010101010000000000', '0001', '000000').code).to.equal('10010101010001000000');
  });

  it('routes only once', () => {
    expect(reasonOf(() => withRoute('10010101011001100001', '2001', '200001'))).to.equal('ALREADY_ROUTED');
    expect(reasonOf(() => withRoute('10010101010001000000', '1001', '100001'))).to.equal('ALREADY_ROUTED');
  });

  it('refuses an empty route or malformed channel parts', () => {
    expect(reasonOf(() => withRoute('10010101010000000000', '0000', '100001'))).to.equal('INVALID_BIZ_CODE');
    expect(reasonOf(() => withRoute('10010101010000000000', '101', '100001'))).to.equal('INVALID_BIZ_CODE');
    expect(reasonOf(() => withRoute('10010101010000000000', '1001', '10001'))).to.equal('INVALID_BIZ_CODE');
    expect(reasonOf(() => withRoute('1001010101000000000', '1001', '100001'))).to.equal('INVALID_BIZ_CODE');
  });

  it('recovers the unrouted form of a routed code', () => {
    expect(unroutedOf('10010101011001100001')).to.equal('10010101010000000000');
  });
});
