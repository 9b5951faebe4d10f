/**
 * Schema names and advisory lock keys (pure): only plain lower-case names
 * pass; lock keys are stable, signed 64-bit and differ per label.
 */
import { expect } from 'chai';
import { advisoryLockKey, InvalidSchemaNameError, quoteSchema } from './identifiers';
import { migrationLockKey } from './migrations';

describe('identifiers', () => {
  it('quotes plain schema names and refuses anything else', () => {
    expect(quoteSchema('account')).to.equal('"account"');
    expect(quoteSchema('outbox_test')).to.equal('"outbox_test"');
    for (const bad of ['', 'Account', 'a-b', 'a;drop', '"x"', '1abc', 'a'.repeat(64)]) {
      expect(() => quoteSchema(bad), bad).to.throw(InvalidSchemaNameError);
    }
  });

  it('derives stable signed 64-bit lock keys', () => {
    const key = migrationLockKey('account');
    expect(key).to.equal(migrationLockKey('account'));
    expect(key).to.equal(advisoryLockKey('paycore:migrate:account'));
    expect(key).not.to.equal(migrationLockKey('ledger'));
    const value = BigInt(key);
    expect(value >= -(2n ** 63n) && value < 2n ** 63n).to.equal(true);
  });
});
