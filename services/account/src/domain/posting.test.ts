/**
 * Proves normal-side arithmetic, the overdraft rule and the entry chain.
 * Hand cases pin the sign rules (a debit increases a debit-normal account);
 * a fast-check model runs random transfers over a small ledger and checks
 * after every step that per currency the debit-normal balances equal the
 * credit-normal ones, that non-overdraft accounts never go negative, that
 * refused transfers change nothing, and that each account's entries chain.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { opposite, signedEffect, type Side } from '@paycore/money';
import { applyQueued, hold, planReserve, planTransfer, release } from './posting';
import { totalOf, type AccountState, type Entry, type Leg } from './types';

function account(id: string, normalSide: Side, extra: Partial<AccountState> = {}): AccountState {
  return {
    id,
    subjectCode: '224101',
    currency: 'CNY',
    normalSide,
    allowOverdraft: false,
    status: 'ACTIVE',
    postingMode: 'REALTIME',
    available: 0n,
    frozen: 0n,
    lastSeq: 0n,
    ...extra,
  };
}

const context = { transferId: 't1', bizCode: '10010101000100000000', accountingDate: '2025-01-01' };

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as { reason?: string }).reason ?? 'NO_REASON';
  }
  return 'NO_ERROR';
}

describe('posting', () => {
  it('a debit increases a debit-normal account and decreases a credit-normal one', () => {
    expect(signedEffect('DEBIT', 'DEBIT', 5n)).to.equal(5n);
    expect(signedEffect('CREDIT', 'DEBIT', 5n)).to.equal(-5n);
    const bank = account('bank', 'DEBIT', { allowOverdraft: true });
    const customer = account('cust', 'CREDIT');
    const accounts = new Map([
      [bank.id, bank],
      [customer.id, customer],
    ]);
    // Top-up: Dr bank / Cr customer balance; both balances grow on their normal sides.
    const plan = planTransfer(
      (id) => accounts.get(id),
      [
        { accountId: 'bank', side: 'DEBIT', amountMinor: 500n, currency: 'CNY' },
        { accountId: 'cust', side: 'CREDIT', amountMinor: 500n, currency: 'CNY' },
      ],
      context,
    );
    expect(plan.accounts.get('bank')?.available).to.equal(500n);
    expect(plan.accounts.get('cust')?.available).to.equal(500n);
    expect(plan.entries.map((e) => [e.accountId, e.seq, e.balanceAfter])).to.deep.equal([
      ['bank', 1n, 500n],
      ['cust', 1n, 500n],
    ]);
  });

  it('refuses to overdraw a non-overdraft account, with the shortfall', () => {
    const customer = account('cust', 'CREDIT', { available: 100n });
    const bank = account('bank', 'DEBIT', { allowOverdraft: true });
    const lookup = (id: string): AccountState | undefined =>
      id === 'cust' ? customer : id === 'bank' ? bank : undefined;
    const legs: Leg[] = [
      { accountId: 'cust', side: 'DEBIT', amountMinor: 101n, currency: 'CNY' },
      { accountId: 'bank', side: 'CREDIT', amountMinor: 101n, currency: 'CNY' },
    ];
    try {
      planTransfer(lookup, legs, context);
      expect.fail('overdraft accepted');
    } catch (err) {
      expect((err as { reason: string }).reason).to.equal('INSUFFICIENT_BALANCE');
      expect((err as { metadata: Record<string, string> }).metadata['shortfall_minor']).to.equal('1');
    }
    // The overdraft-allowed bank goes negative on its normal side.
    const ok = planTransfer(
      lookup,
      [
        { accountId: 'bank', side: 'CREDIT', amountMinor: 100n, currency: 'CNY' },
        { accountId: 'cust', side: 'DEBIT', amountMinor: 100n, currency: 'CNY' },
      ],
      context,
    );
    expect(ok.accounts.get('bank')?.available).to.equal(-100n);
    expect(ok.accounts.get('cust')?.available).to.equal(0n);
  });

  it('refuses unknown, closed, frozen accounts and currency mismatch', () => {
    const states = new Map<string, AccountState>([
      ['a', account('a', 'DEBIT', { allowOverdraft: true })],
      ['closed', account('closed', 'CREDIT', { status: 'CLOSED' })],
      ['frozen', account('frozen', 'CREDIT', { status: 'FROZEN' })],
      ['usd', account('usd', 'CREDIT', { currency: 'USD' })],
    ]);
    const lookup = (id: string): AccountState | undefined => states.get(id);
    const pair = (target: string): Leg[] => [
      { accountId: 'a', side: 'DEBIT', amountMinor: 1n, currency: 'CNY' },
      { accountId: target, side: 'CREDIT', amountMinor: 1n, currency: 'CNY' },
    ];
    expect(reasonOf(() => planTransfer(lookup, pair('nope'), context))).to.equal('ACCOUNT_NOT_FOUND');
    expect(reasonOf(() => planTransfer(lookup, pair('closed'), context))).to.equal('ACCOUNT_CLOSED');
    expect(reasonOf(() => planTransfer(lookup, pair('frozen'), context))).to.equal('ACCOUNT_FROZEN');
    expect(reasonOf(() => planTransfer(lookup, pair('usd'), context))).to.equal('CURRENCY_MISMATCH');
  });

  it('queues increasing legs of a buffered account and posts its decreasing legs', () => {
    const hot = account('hot', 'CREDIT', { postingMode: 'BUFFERED', available: 10n, lastSeq: 3n });
    const bank = account('bank', 'DEBIT', { allowOverdraft: true });
    const states = new Map([
      ['hot', hot],
      ['bank', bank],
    ]);
    const credit = planTransfer(
      (id) => states.get(id),
      [
        { accountId: 'bank', side: 'DEBIT', amountMinor: 7n, currency: 'CNY' },
        { accountId: 'hot', side: 'CREDIT', amountMinor: 7n, currency: 'CNY' },
      ],
      context,
    );
    expect(credit.accounts.has('hot')).to.equal(false);
    expect(credit.queued).to.have.length(1);
    expect(credit.legs[1]?.buffered).to.equal(true);
    // Debits see only applied funds: 10 available, not 17.
    expect(
      reasonOf(() =>
        planTransfer(
          (id) => states.get(id),
          [
            { accountId: 'hot', side: 'DEBIT', amountMinor: 11n, currency: 'CNY' },
            { accountId: 'bank', side: 'CREDIT', amountMinor: 11n, currency: 'CNY' },
          ],
          context,
        ),
      ),
    ).to.equal('INSUFFICIENT_BALANCE');
    const applied = applyQueued(hot, credit.queued);
    expect(applied.account.available).to.equal(17n);
    expect(applied.entries[0]?.seq).to.equal(4n);
    expect(applied.entries[0]?.balanceAfter).to.equal(17n);
  });

  it('holds and releases: available <-> frozen, total unchanged', () => {
    const customer = account('cust', 'CREDIT', { available: 100n });
    const held = hold(customer, 40n);
    expect([held.available, held.frozen, totalOf(held)]).to.deep.equal([60n, 40n, 100n]);
    expect(reasonOf(() => hold(held, 61n))).to.equal('INSUFFICIENT_BALANCE');
    const back = release(held, 40n);
    expect([back.available, back.frozen]).to.deep.equal([100n, 0n]);
    const reserve = planReserve(
      (id) => (id === 'cust' ? customer : account('bank', 'DEBIT', { allowOverdraft: true })),
      [
        { accountId: 'cust', side: 'DEBIT', amountMinor: 30n, currency: 'CNY' },
        { accountId: 'bank', side: 'CREDIT', amountMinor: 30n, currency: 'CNY' },
      ],
    );
    // Both legs decrease their accounts: a debit to the credit-normal customer
    // and a credit to the debit-normal bank, so both hold (the bank may go
    // negative because it allows overdraft).
    expect(reserve.reservations.map((r) => r.accountId).sort()).to.deep.equal(['bank', 'cust']);
  });

  it('property: random transfers keep every ledger invariant', () => {
    const ids = ['d0', 'd1', 'c0', 'c1', 'c2'];
    const transfer = fc.record({
      from: fc.constantFrom(...ids),
      to: fc.constantFrom(...ids),
      fromSide: fc.constantFrom<Side>('DEBIT', 'CREDIT'),
      amount: fc.bigInt({ min: 1n, max: 1_000n }),
    });
    fc.assert(
      fc.property(fc.array(transfer, { maxLength: 60 }), (transfers) => {
        const states = new Map<string, AccountState>(
          ids.map((id) => [
            id,
            account(id, id.startsWith('d') ? 'DEBIT' : 'CREDIT', { allowOverdraft: id === 'd0' }),
          ]),
        );
        const journal: Entry[] = [];
        for (const [n, t] of transfers.entries()) {
          if (t.from === t.to) continue;
          const before = new Map(states);
          const legs: Leg[] = [
            { accountId: t.from, side: t.fromSide, amountMinor: t.amount, currency: 'CNY' },
            {
              accountId: t.to,
              side: opposite(t.fromSide),
              amountMinor: t.amount,
              currency: 'CNY',
            },
          ];
          try {
            const plan = planTransfer((id) => states.get(id), legs, { ...context, transferId: `t${n}` });
            for (const [id, state] of plan.accounts) states.set(id, state);
            journal.push(...plan.entries);
          } catch (err) {
            expect((err as { reason: string }).reason).to.equal('INSUFFICIENT_BALANCE');
            expect(states).to.deep.equal(before);
          }
          let debitNormal = 0n;
          let creditNormal = 0n;
          for (const s of states.values()) {
            if (!s.allowOverdraft) expect(s.available >= 0n).to.equal(true);
            if (s.normalSide === 'DEBIT') debitNormal += totalOf(s);
            else creditNormal += totalOf(s);
          }
          expect(debitNormal).to.equal(creditNormal);
        }
        for (const s of states.values()) {
          const chain = journal.filter((e) => e.accountId === s.id);
          let balance = 0n;
          chain.forEach((e, i) => {
            expect(e.seq).to.equal(BigInt(i + 1));
            balance += signedEffect(s.normalSide, e.side, e.amountMinor);
            expect(e.balanceAfter).to.equal(balance);
          });
          expect(balance).to.equal(totalOf(s));
        }
      }),
    );
  });
});
