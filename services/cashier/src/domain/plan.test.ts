/**
 * Proves the combined-payment rules of planPayment: valid combinations get
 * their pay channels; each malformed plan is refused with its precise reason
 * (PARTS_DO_NOT_SUM, TOO_MANY_CHANNEL_PARTS, UNKNOWN_PAY_CHANNEL,
 * AMOUNT_OUT_OF_RANGE, INVALID_FIELD, including a stored-value part's lot
 * fields); and for random part lists, a plan is
 * accepted exactly when the parts are positive and sum to the order amount
 * (fast-check).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { CashierError } from './errors';
import type { RequestedPart } from './model';
import { planPayment } from './plan';

const ALLOWED = ['0001', '0002', '0003', '1001', '1002', '2001', '2002', '3001'];
const internal = (pc: string): boolean => ['0001', '0002', '0003'].includes(pc);

function plan(parts: RequestedPart[], amount = 1000n, allowed = ALLOWED) {
  return planPayment({
    orderKind: 'PAYMENT',
    orderAmountMinor: amount,
    parts,
    allowedPayChannels: allowed,
    isInternalPayChannel: internal,
  });
}

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof CashierError) return err.reason;
    throw err;
  }
  return 'ACCEPTED';
}

describe('combined payment plan', () => {
  it('a stored-value part may spend lots: asset, quantity and type kept, each checked with its field', () => {
    const spend = { asset: 'ADCOIN', quantity: 30n, consumptionType: 'LISTING_BOOST' };
    const planned = plan([
      { kind: 'STORED_VALUE', amountMinor: 400n, storedValue: spend },
      { kind: 'CHANNEL', amountMinor: 600n, payChannel: '1001' },
    ]);
    expect(planned[0]).to.include({ payChannel: '0003' });
    expect(planned[0]?.storedValue).to.deep.equal(spend);
    const fieldOf = (part: RequestedPart): string | undefined => {
      try {
        plan([part]);
      } catch (err) {
        if (err instanceof CashierError && err.reason === 'INVALID_FIELD') return err.field;
        throw err;
      }
      return undefined;
    };
    const sv = (
      over: Partial<typeof spend>,
      kind: RequestedPart['kind'] = 'STORED_VALUE',
    ): RequestedPart => ({
      kind,
      amountMinor: 1000n,
      storedValue: { ...spend, ...over },
    });
    expect(fieldOf(sv({ asset: '' }))).to.equal('parts[0].asset');
    expect(fieldOf(sv({ asset: 'adcoin' }))).to.equal('parts[0].asset');
    expect(fieldOf(sv({ quantity: 0n }))).to.equal('parts[0].quantity');
    expect(fieldOf(sv({ consumptionType: 'a b' }))).to.equal('parts[0].consumption_type');
    expect(fieldOf(sv({}, 'BALANCE'))).to.equal('parts[0].asset');
  });

  it('routes internal parts to 0001 / 0002 / 0003 and keeps the chosen channel', () => {
    const planned = plan([
      { kind: 'BALANCE', amountMinor: 500n },
      { kind: 'COUPON', amountMinor: 300n, couponId: 'c1' },
      { kind: 'CHANNEL', amountMinor: 200n, payChannel: '1001' },
    ]);
    expect(planned.map((p) => p.payChannel)).to.deep.equal(['0001', '0002', '1001']);
    expect(planned[1]?.couponId).to.equal('c1');
  });

  it('refuses each malformed plan with its reason', () => {
    expect(reasonOf(() => plan([{ kind: 'BALANCE', amountMinor: 999n }]))).to.equal('PARTS_DO_NOT_SUM');
    expect(
      reasonOf(() =>
        plan([
          { kind: 'CHANNEL', amountMinor: 500n, payChannel: '1001' },
          { kind: 'CHANNEL', amountMinor: 500n, payChannel: '2001' },
        ]),
      ),
    ).to.equal('TOO_MANY_CHANNEL_PARTS');
    expect(reasonOf(() => plan([{ kind: 'CHANNEL', amountMinor: 1000n, payChannel: '9999' }]))).to.equal(
      'UNKNOWN_PAY_CHANNEL',
    );
    expect(reasonOf(() => plan([{ kind: 'CHANNEL', amountMinor: 1000n, payChannel: '0001' }]))).to.equal(
      'UNKNOWN_PAY_CHANNEL',
    );
    expect(reasonOf(() => plan([{ kind: 'STORED_VALUE', amountMinor: 1000n }], 1000n, ['0001']))).to.equal(
      'UNKNOWN_PAY_CHANNEL',
    );
    expect(reasonOf(() => plan([{ kind: 'BALANCE', amountMinor: 0n }], 0n))).to.equal('AMOUNT_OUT_OF_RANGE');
    expect(reasonOf(() => plan([{ kind: 'COUPON', amountMinor: 1000n }]))).to.equal('INVALID_FIELD');
    expect(
      reasonOf(() =>
        plan([
          { kind: 'BALANCE', amountMinor: 500n },
          { kind: 'BALANCE', amountMinor: 500n },
        ]),
      ),
    ).to.equal('INVALID_FIELD');
    expect(reasonOf(() => plan([]))).to.equal('INVALID_FIELD');
    expect(
      reasonOf(() =>
        planPayment({
          orderKind: 'TOP_UP',
          orderAmountMinor: 10n,
          parts: [{ kind: 'BALANCE', amountMinor: 10n }],
          allowedPayChannels: ALLOWED,
          isInternalPayChannel: internal,
        }),
      ),
    ).to.equal('INVALID_FIELD');
  });

  it('accepts positive parts exactly when they sum to the order amount', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -5n, max: 2_000n }),
        fc.bigInt({ min: -5n, max: 2_000n }),
        fc.bigInt({ min: 1n, max: 4_000n }),
        (balance, channel, amount) => {
          const outcome = reasonOf(() =>
            plan(
              [
                { kind: 'BALANCE', amountMinor: balance },
                { kind: 'CHANNEL', amountMinor: channel, payChannel: '2001' },
              ],
              amount,
            ),
          );
          if (balance <= 0n || channel <= 0n) expect(outcome).to.equal('AMOUNT_OUT_OF_RANGE');
          else if (balance + channel !== amount) expect(outcome).to.equal('PARTS_DO_NOT_SUM');
          else expect(outcome).to.equal('ACCEPTED');
        },
      ),
      { numRuns: 300 },
    );
  });
});
