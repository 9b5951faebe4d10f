/**
 * The matching decision table, case by case: each class with its direction
 * and delta (channel's signed amount minus paycore's), on payments and
 * refunds; and the transition tables' shape (only RESOLVED is final).
 */
import { expect } from 'chai';
import { classify, type LineSide, type TxnSide } from './classify';
import { DIFFERENCE_TRANSITIONS, RUN_TRANSITIONS } from './states';
import { canTransition, fromStatesOf } from '@paycore/platform/domain';

const line = (over: Partial<LineSide> = {}): LineSide => ({
  kind: 'PAY',
  status: 'SUCCESS',
  amountMinor: 1_000n,
  feeMinor: 6n,
  currency: 'CNY',
  ...over,
});
const txn = (over: Partial<TxnSide> = {}): TxnSide => ({
  kind: 'PAY',
  state: 'SUCCESS',
  amountMinor: 1_000n,
  feeMinor: 6n,
  currency: 'CNY',
  ...over,
});
const c = (l: LineSide | undefined, t: TxnSide | undefined, duplicate = false) => {
  const r = classify(l, t, duplicate);
  return [r.resultClass, r.direction, r.deltaMinor];
};

describe('matching decision table', () => {
  it('agreeing line and transaction match with no delta', () => {
    expect(c(line(), txn())).to.deep.equal(['MATCHED', 'NONE', 0n]);
    expect(c(line({ kind: 'REFUND', feeMinor: -3n }), txn({ kind: 'REFUND', feeMinor: 0n }))).to.deep.equal([
      'MATCHED',
      'NONE',
      0n,
    ]);
  });
  it('a line paycore never saw is 长款 (over) by its amount; a refund line for no refund is under', () => {
    expect(c(line(), undefined)).to.deep.equal(['PLATFORM_MISSING', 'OVER', 1_000n]);
    expect(c(line({ kind: 'REFUND' }), undefined)).to.deep.equal(['PLATFORM_MISSING', 'UNDER', -1_000n]);
  });
  it('a successful transaction the bill lacks is 短款 (under)', () => {
    expect(c(undefined, txn())).to.deep.equal(['CHANNEL_MISSING', 'UNDER', -1_000n]);
  });
  it('status differences point the way the money went', () => {
    expect(c(line(), txn({ state: 'PROCESSING' }))).to.deep.equal(['STATUS_MISMATCH', 'OVER', 1_000n]);
    expect(c(line({ status: 'REVOKED' }), txn())).to.deep.equal(['STATUS_MISMATCH', 'UNDER', -1_000n]);
    expect(c(line({ kind: 'REFUND' }), txn())).to.deep.equal(['STATUS_MISMATCH', 'UNDER', -2_000n]);
  });
  it('amount differences carry both amounts in the delta', () => {
    expect(c(line({ amountMinor: 1_007n }), txn())).to.deep.equal(['AMOUNT_MISMATCH', 'OVER', 7n]);
    expect(c(line({ amountMinor: 995n }), txn())).to.deep.equal(['AMOUNT_MISMATCH', 'UNDER', -5n]);
    expect(
      c(line({ kind: 'REFUND', amountMinor: 510n }), txn({ kind: 'REFUND', amountMinor: 500n })),
    ).to.deep.equal(['AMOUNT_MISMATCH', 'UNDER', -10n]);
  });
  it('fee and currency differences are classified but carry no delta', () => {
    expect(c(line({ feeMinor: 7n }), txn())).to.deep.equal(['FEE_MISMATCH', 'OVER', 0n]);
    expect(c(line({ currency: 'USD' }), txn())).to.deep.equal(['CURRENCY_MISMATCH', 'NONE', 0n]);
  });
  it('a repeated line is a duplicate by its own amount', () => {
    expect(c(line(), undefined, true)).to.deep.equal(['DUPLICATE', 'OVER', 1_000n]);
  });
  it('only RESOLVED and REPORTED are final; held items open or resolve', () => {
    expect(fromStatesOf(DIFFERENCE_TRANSITIONS, 'RESOLVED')).to.deep.equal(['HELD', 'OPEN']);
    expect(canTransition(DIFFERENCE_TRANSITIONS, 'RESOLVED', 'OPEN')).to.equal(false);
    expect(canTransition(RUN_TRANSITIONS, 'MATCHED', 'REPORTED')).to.equal(false);
    expect(() => fromStatesOf(RUN_TRANSITIONS, 'MATCHED')).to.throw();
  });
});
