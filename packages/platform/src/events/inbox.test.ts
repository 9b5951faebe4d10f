/**
 * Which failures the inbox treats as Postgres being unavailable (retried
 * without limit, never dead-lettered) and which as the message's own fault.
 */
import { expect } from 'chai';
import { QueryFailedError } from 'typeorm';
import { isTransientInfrastructureError } from './inbox';

const withCode = (code: string, message = 'x'): Error => Object.assign(new Error(message), { code });

describe('isTransientInfrastructureError', () => {
  it('classes connection, resource and shutdown failures as transient', () => {
    for (const code of [
      '08006',
      '08001',
      '53300',
      '57P01',
      '57P03',
      '40001',
      '40P01',
      'ECONNREFUSED',
      'ECONNRESET',
    ]) {
      expect(isTransientInfrastructureError(withCode(code)), code).to.equal(true);
    }
    expect(isTransientInfrastructureError(new QueryFailedError('SELECT 1', [], withCode('57P01')))).to.equal(
      true,
    );
    expect(isTransientInfrastructureError(new Error('Connection terminated unexpectedly'))).to.equal(true);
  });

  it('classes everything else as the message or handler at fault', () => {
    for (const code of ['23505', '23503', '22P02', '42P01', '57014']) {
      expect(isTransientInfrastructureError(withCode(code)), code).to.equal(false);
    }
    expect(isTransientInfrastructureError(new Error('cannot parse this'))).to.equal(false);
    expect(isTransientInfrastructureError('a string')).to.equal(false);
  });
});
