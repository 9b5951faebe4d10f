/**
 * Proves that every reason the ledger service can return is declared in a
 * proto enum: each business error class of src/domain/errors.ts is built
 * and its reason looked up in paycore.ledger.v1.LedgerErrorReason or the
 * common paycore.common.v1.ErrorReason; and that no value of the service
 * enum repeats a common one.
 */
import { expect } from 'chai';
import { LedgerErrorReason } from '@paycore/proto/paycore/ledger/v1/error_reason';
import { ErrorReason } from '@paycore/proto/paycore/common/v1/error_reason';
import * as errors from '../../domain/errors';

const SERVICE_PREFIX = 'LEDGER_ERROR_REASON_';

function reasonsThrown(): string[] {
  const reasons: string[] = [];
  for (const value of Object.values(errors)) {
    if (typeof value !== 'function' || !(value.prototype instanceof errors.LedgerError)) continue;
    const error: unknown = Reflect.construct(value, ['probe']);
    reasons.push((error as { reason: string }).reason);
  }
  return reasons;
}

const declared = Object.keys(LedgerErrorReason).filter((name) => name.startsWith(SERVICE_PREFIX));

describe('ledger error reasons in the proto', () => {
  it('declares every reason a ledger business error carries', () => {
    const thrown = reasonsThrown();
    expect(thrown.length).to.be.greaterThan(10);
    for (const reason of thrown) {
      const known =
        `${SERVICE_PREFIX}${reason}` in LedgerErrorReason || `ERROR_REASON_${reason}` in ErrorReason;
      expect(known, reason).to.equal(true);
    }
  });

  it('declares no service reason twice over, nor one the common enum already has', () => {
    for (const name of declared) {
      const reason = name.slice(SERVICE_PREFIX.length);
      if (reason === 'UNSPECIFIED') continue;
      expect(`ERROR_REASON_${reason}` in ErrorReason, reason).to.equal(false);
    }
  });
});
