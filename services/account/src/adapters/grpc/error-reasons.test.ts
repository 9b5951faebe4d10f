/**
 * Proves that every reason the account service can return is declared in a
 * proto enum: each business error class of src/domain/errors.ts is built
 * and its reason looked up in paycore.account.v1.AccountErrorReason or the
 * common paycore.common.v1.ErrorReason; and that no value of the service
 * enum repeats a common one.
 */
import { expect } from 'chai';
import { AccountErrorReason } from '@paycore/proto/paycore/account/v1/error_reason';
import { ErrorReason } from '@paycore/proto/paycore/common/v1/error_reason';
import * as errors from '../../domain/errors';

const SERVICE_PREFIX = 'ACCOUNT_ERROR_REASON_';

function reasonsThrown(): string[] {
  const reasons: string[] = [];
  for (const value of Object.values(errors)) {
    if (typeof value !== 'function' || !(value.prototype instanceof errors.AccountError)) continue;
    const error: unknown = Reflect.construct(value, ['probe']);
    reasons.push((error as { reason: string }).reason);
  }
  return reasons;
}

const declared = Object.keys(AccountErrorReason).filter((name) => name.startsWith(SERVICE_PREFIX));

describe('account error reasons in the proto', () => {
  it('declares every reason an account business error carries', () => {
    const thrown = reasonsThrown();
    expect(thrown.length).to.be.greaterThan(10);
    for (const reason of thrown) {
      const known =
        `${SERVICE_PREFIX}${reason}` in AccountErrorReason || `ERROR_REASON_${reason}` in ErrorReason;
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
