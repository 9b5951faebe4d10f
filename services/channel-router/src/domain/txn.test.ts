/**
 * Proves the channel transaction state machine exhaustively over every pair
 * of states: final states never change, non-final ones move anywhere else,
 * and a same-state "move" is a no-op rather than a change (so a duplicated
 * notification publishes nothing); the table is well formed; a payment or
 * payout that fails or closes gives its cap back, a refund never does.
 */
import { assertWellFormed } from '@paycore/platform/domain';
import { expect } from 'chai';
import { isFinal, OPEN_TXN_STATES, releasesCap, transition, TXN_TRANSITIONS, type TxnState } from './txn';

const STATES: TxnState[] = ['PROCESSING', 'SUCCESS', 'FAIL', 'CLOSED', 'UNKNOWN'];

describe('channel transaction states', () => {
  it('final states never change; non-final ones may move to any other state', () => {
    for (const from of STATES) {
      for (const to of STATES) {
        const result = transition(from, to);
        if (from === to) expect(result).to.deep.equal({ change: false, why: 'SAME_STATE' });
        else if (isFinal(from)) expect(result).to.deep.equal({ change: false, why: 'ALREADY_FINAL' });
        else expect(result).to.deep.equal({ change: true, from, to });
      }
    }
  });

  it('exactly SUCCESS, FAIL and CLOSED are final; the rest are the states status sync asks about', () => {
    assertWellFormed(TXN_TRANSITIONS);
    expect(STATES.filter(isFinal)).to.deep.equal(['SUCCESS', 'FAIL', 'CLOSED']);
    expect([...OPEN_TXN_STATES].sort()).to.deep.equal(['PROCESSING', 'UNKNOWN']);
  });

  it('a failed or closed payment or payout gives its cap back; success and refunds do not', () => {
    expect(releasesCap('PAYMENT', 'FAIL')).to.equal(true);
    expect(releasesCap('PAYOUT', 'FAIL')).to.equal(true);
    expect(releasesCap('PAYOUT', 'CLOSED')).to.equal(true);
    expect(releasesCap('PAYOUT', 'SUCCESS')).to.equal(false);
    expect(releasesCap('REFUND', 'FAIL')).to.equal(false);
  });
});
