/**
 * docs/api-errors.md is what the generator renders from the protos today
 * (through `buf build`), so the documented reasons and scopes per RPC cannot
 * drift from the contracts; and the comment parser reads the two shapes the
 * protos use ("Errors: CODE REASON, REASON (why); CODE REASON", "Scope x:y").
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { collect, parseErrors, parseScope, readImage, renderMarkdown } from '../scripts/gen-catalogue';

describe('the generated error and scope catalogue', function () {
  this.timeout(60_000);

  it('docs/api-errors.md equals the generator output (run the generator with --markdown to refresh it)', () => {
    const { reasons, rpcs } = collect(readImage());
    const committed = readFileSync(path.resolve(__dirname, '../../../docs/api-errors.md'), 'utf8');
    expect(committed).to.equal(renderMarkdown(reasons, rpcs));
  });

  it('reads codes, reasons and scopes out of RPC comments, skipping parenthesised and quoted words', () => {
    const text =
      'Pay pays. Scope cashier:write. Errors: NOT_FOUND ORDER_NOT_FOUND, COUPON_NOT_FOUND; FAILED_PRECONDITION ' +
      'PAYMENT_IN_FLIGHT (metadata `payment_id`, NOT_A_REASON), INSUFFICIENT_BALANCE.';
    expect(parseScope(text)).to.equal('cashier:write');
    expect(parseErrors(text)).to.deep.equal([
      { code: 'NOT_FOUND', reason: 'ORDER_NOT_FOUND' },
      { code: 'NOT_FOUND', reason: 'COUPON_NOT_FOUND' },
      { code: 'FAILED_PRECONDITION', reason: 'PAYMENT_IN_FLIGHT' },
      { code: 'FAILED_PRECONDITION', reason: 'INSUFFICIENT_BALANCE' },
    ]);
  });
});
