/**
 * Proves the channel transaction state machine exhaustively over every pair
 * of states: final states never change, non-final ones move anywhere else,
 * and a same-state "move" is a no-op rather than a change (so a duplicated
 * notification publishes nothing).
 */
import { expect } from 'chai';
import { isFinal, transition, type TxnState } from './txn';

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

  it('exactly SUCCESS, FAIL and CLOSED are final', () => {
    expect(STATES.filter(isFinal)).to.deep.equal(['SUCCESS', 'FAIL', 'CLOSED']);
  });
});
