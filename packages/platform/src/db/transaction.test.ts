/**
 * Retry classification and delays (pure): only 40001 and 40P01 are
 * retryable, whether bare pg errors or wrapped by TypeORM; delays stay
 * positive and under the cap.
 */
import { expect } from 'chai';
import { QueryFailedError } from 'typeorm';
import { isRetryableTransactionError, retryDelayMs, sqlState } from './transaction';

function pgError(code: string): Error & { code: string } {
  return Object.assign(new Error(`pg ${code}`), { code });
}

describe('transaction retry rules', () => {
  it('retries serialization failures and deadlocks only', () => {
    expect(isRetryableTransactionError(pgError('40001'))).to.equal(true);
    expect(isRetryableTransactionError(pgError('40P01'))).to.equal(true);
    expect(isRetryableTransactionError(new QueryFailedError('SELECT 1', [], pgError('40001')))).to.equal(
      true,
    );
    expect(isRetryableTransactionError(new QueryFailedError('SELECT 1', [], pgError('23505')))).to.equal(
      false,
    );
    expect(isRetryableTransactionError(new Error('plain'))).to.equal(false);
    expect(isRetryableTransactionError(undefined)).to.equal(false);
    expect(sqlState(pgError('57014'))).to.equal('57014');
  });

  it('keeps delays positive and bounded', () => {
    for (let attempt = 0; attempt < 20; attempt++) {
      expect(retryDelayMs(attempt, () => 0)).to.equal(1);
      expect(retryDelayMs(attempt, () => 0.999_999)).to.be.at.most(500);
    }
  });
});
