/**
 * docs/api-errors.md is what the generator renders from the protos today
 * (through `buf build`), so the documented reasons and scopes per RPC cannot
 * drift from the contracts; and the comment parser reads the two shapes the
 * protos use ("Errors: CODE REASON, REASON (why); CODE REASON", "Scope x:y").
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  collect,
  parseErrors,
  parseScope,
  readImage,
  renderMarkdown,
  sameAs,
} from '../scripts/gen-catalogue';

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

  it('gives a bare reason the code its enum declares, and shares another RPC\'s list for "Errors as X plus Y"', () => {
    const declared = (reason: string): string | undefined =>
      ({ DIFFERENCE_NOT_FOUND: 'NOT_FOUND', INVALID_FIELD: 'INVALID_ARGUMENT' })[reason];
    expect(
      parseErrors('Errors: INVALID_FIELD, DIFFERENCE_NOT_FOUND, NOT_FOUND OTHER_THING.', declared),
    ).to.deep.equal([
      { code: 'INVALID_ARGUMENT', reason: 'INVALID_FIELD' },
      { code: 'NOT_FOUND', reason: 'DIFFERENCE_NOT_FOUND' },
      { code: 'NOT_FOUND', reason: 'OTHER_THING' },
    ]);
    expect(sameAs('Scope recon:write. Errors as ReconcileDay plus STATEMENT_TOO_LARGE.')).to.equal(
      'ReconcileDay',
    );
    const { rpcs } = collect(readImage());
    const path = (rpc: string) => `/paycore.reconciliation.v1.ReconciliationService/${rpc}`;
    const reconcile = rpcs.find((r) => r.path === path('ReconcileDay'));
    const imported = rpcs.find((r) => r.path === path('ImportStatement'));
    expect(reconcile?.errors).to.deep.include({
      code: 'FAILED_PRECONDITION',
      reason: 'DAY_ALREADY_RECONCILED',
    });
    expect(imported?.errors).to.deep.include.members([
      ...(reconcile?.errors ?? []),
      { code: 'INVALID_ARGUMENT', reason: 'STATEMENT_TOO_LARGE' },
    ]);
    // Every RPC of every service documents at least one reason, except the plain reads.
    const undocumented = rpcs.filter((r) => r.errors.length === 0).map((r) => r.rpc);
    expect(
      undocumented.every((rpc) => /^(List|Get)/.test(rpc)),
      undocumented.join(', '),
    ).to.equal(true);
  });
});
