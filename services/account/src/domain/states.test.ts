/**
 * The account's transition tables are well formed, and every pair of states
 * is allowed exactly when the table lists it (so a change of a table is a
 * deliberate, reviewed change of these expectations).
 */
import { expect } from 'chai';
import { assertWellFormed, canTransition, finalStatesOf, statesOf } from '@paycore/platform/domain';
import { ACCOUNT_STATUS_TRANSITIONS, FREEZE_TRANSITIONS, PENDING_TRANSITIONS } from './states';

describe('account transition tables', () => {
  it('are well formed', () => {
    assertWellFormed(ACCOUNT_STATUS_TRANSITIONS);
    assertWellFormed(PENDING_TRANSITIONS);
    assertWellFormed(FREEZE_TRANSITIONS);
  });

  it('allow exactly the listed moves', () => {
    const allowed = (table: Readonly<Record<string, readonly string[]>>): string[] =>
      statesOf(table).flatMap((from) =>
        statesOf(table)
          .filter((to) => canTransition(table, from, to))
          .map((to) => `${from}>${to}`),
      );
    expect(allowed(ACCOUNT_STATUS_TRANSITIONS)).to.deep.equal([
      'ACTIVE>FROZEN',
      'ACTIVE>CLOSED',
      'FROZEN>ACTIVE',
      'FROZEN>CLOSED',
    ]);
    expect(allowed(PENDING_TRANSITIONS)).to.deep.equal([
      'TRIED>CONFIRMED',
      'TRIED>CANCELLED',
      'TRIED>EXPIRED',
    ]);
    expect(allowed(FREEZE_TRANSITIONS)).to.deep.equal(['ACTIVE>RELEASED']);
    expect(finalStatesOf(PENDING_TRANSITIONS)).to.deep.equal([
      'CONFIRMED',
      'CANCELLED',
      'CANCELLED_EMPTY',
      'EXPIRED',
    ]);
  });
});
