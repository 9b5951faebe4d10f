/**
 * Proves the deposit move's rules: the transition table (every pair checked),
 * the postings of a confirmed day (direct: one balanced posting of net to
 * the deposit and fee to the channel's fee cost against the gross on
 * pending clearing; transit: the same to transit, then transit to deposit),
 * sides flipping on a day of refunds, request ids keyed by (channel no,
 * bill date), and the route setting's parser refusing what it cannot read.
 */
import { expect } from 'chai';
import { canTransition } from '@paycore/platform/domain';
import {
  DEPOSIT_TRANSITIONS,
  nextDepositStep,
  parseDepositRoutes,
  type DepositDay,
  type DepositStateName,
} from './deposit';
import type { PostingLeg } from './batch';

const STATES: DepositStateName[] = ['CONFIRMED', 'IN_TRANSIT', 'DEPOSITED', 'UNMAPPED'];
const ALLOWED = new Set(['CONFIRMED>IN_TRANSIT', 'CONFIRMED>DEPOSITED', 'IN_TRANSIT>DEPOSITED']);

const day = (over: Partial<DepositDay> = {}): DepositDay => ({
  channelNo: '100001',
  billDate: '2026-06-03',
  netSettlementMinor: 9_940n,
  channelFeeMinor: 60n,
  state: 'CONFIRMED',
  depositSubject: '100201',
  transitSubject: null,
  ...over,
});

const shape = (legs: readonly PostingLeg[]) =>
  legs.map((l) => [
    l.account.kind,
    'subject' in l.account ? l.account.subject : 'channelNo' in l.account ? l.account.channelNo : '',
    l.side,
    l.amountMinor,
  ]);

describe('deposit move', () => {
  it('allows exactly the listed moves', () => {
    for (const from of STATES)
      for (const to of STATES)
        expect(canTransition(DEPOSIT_TRANSITIONS, from, to), `${from} > ${to}`).to.equal(
          ALLOWED.has(`${from}>${to}`),
        );
  });

  it('moves net to the deposit and books the fee as the channel fee cost, in one posting', () => {
    const step = nextDepositStep(day());
    expect(step?.requestId).to.equal('settle-deposit:100001:2026-06-03');
    expect(step?.to).to.equal('DEPOSITED');
    expect(shape(step?.legs ?? [])).to.deep.equal([
      ['DEPOSIT', '100201', 'DEBIT', 9_940n],
      ['CHANNEL_FEE_COST', '100001', 'DEBIT', 60n],
      ['CHANNEL_CLEARING', '100001', 'CREDIT', 10_000n],
    ]);
    expect(nextDepositStep(day({ state: 'DEPOSITED' }))).to.equal(null);
    expect(nextDepositStep(day({ state: 'UNMAPPED', depositSubject: null }))).to.equal(null);
  });

  it('goes through the bank transit account in two postings when one is configured', () => {
    const first = nextDepositStep(day({ transitSubject: '30010201' }));
    expect(first?.to).to.equal('IN_TRANSIT');
    expect(shape(first?.legs ?? [])[0]).to.deep.equal(['TRANSIT', '30010201', 'DEBIT', 9_940n]);
    const second = nextDepositStep(day({ transitSubject: '30010201', state: 'IN_TRANSIT' }));
    expect(second?.requestId).to.equal('settle-deposit-bank:100001:2026-06-03');
    expect(second?.to).to.equal('DEPOSITED');
    expect(shape(second?.legs ?? [])).to.deep.equal([
      ['DEPOSIT', '100201', 'DEBIT', 9_940n],
      ['TRANSIT', '30010201', 'CREDIT', 9_940n],
    ]);
  });

  it('flips sides on a day of refunds and leaves out zero legs', () => {
    const step = nextDepositStep(day({ netSettlementMinor: -500n, channelFeeMinor: 0n }));
    expect(shape(step?.legs ?? [])).to.deep.equal([
      ['DEPOSIT', '100201', 'CREDIT', 500n],
      ['CHANNEL_CLEARING', '100001', 'DEBIT', 500n],
    ]);
    expect(nextDepositStep(day({ netSettlementMinor: 0n, channelFeeMinor: 0n }))?.legs).to.deep.equal([]);
  });

  it('parses routes and refuses malformed ones', () => {
    const routes = parseDepositRoutes(' 100001=100201 , 200001=100202/30010202');
    expect(routes.get('100001')).to.deep.equal({ depositSubject: '100201', transitSubject: null });
    expect(routes.get('200001')).to.deep.equal({ depositSubject: '100202', transitSubject: '30010202' });
    expect(parseDepositRoutes('').size).to.equal(0);
    for (const bad of ['10001=100201', '100001=1002', '100001=100201/3001', '100001=100201,100001=100202'])
      expect(() => parseDepositRoutes(bad), bad).to.throw(/deposit route/);
  });
});
