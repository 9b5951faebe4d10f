/**
 * Proves point-in-time balances (must-show 4) and day sealing (must-show 6)
 * on real Postgres. As-of: while concurrent transfers run, 50 random instants
 * are read with GetBalance(as_of) and compared with an independent replay of
 * the journal (summing signed amounts of entries created at or before the
 * instant, not reading balance_after). Sealing: after SealDay(D) postings are
 * dated D+1, the daily rows reconcile (opening ± sums = closing with sides
 * respected), the per-subject totals match the journal, sealing again replays,
 * and dates out of order or in the future are refused.
 */
import { expect } from 'chai';
import { DaySealed } from '@paycore/proto/paycore/account/v1/events';
import {
  BIZ_TRANSFER,
  invariantViolations,
  openAccount,
  reasonOf,
  rid,
  startHarness,
  type Harness,
} from './harness';
import { addDays, DEFAULT_CALENDAR, naturalAccountingDate } from '../src/domain/calendar';
import { signedEffect } from '@paycore/money';

describe('balances over time and day sealing (Postgres)', function () {
  this.timeout(120_000);
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    expect(await invariantViolations(h)).to.deep.equal([]);
    await h.close();
  });

  it('as-of balance equals a replay of the journal at 50 random instants', async () => {
    const bank = await openAccount(h, 'DEBIT', { allowOverdraft: true });
    const wallets = await Promise.all(
      [1, 2, 3].map(() => openAccount(h, 'CREDIT', { allowOverdraft: true })),
    );
    const start = new Date();
    const accounts = [bank, ...wallets];
    await Promise.all(
      Array.from({ length: 8 }, async (_, client) => {
        for (let i = 0; i < 60; i++) {
          const from = accounts[(client + i) % 4] ?? '';
          const to = accounts[(client + i + 1) % 4] ?? '';
          await h.service.transfer({
            requestId: rid('asof'),
            bizCode: BIZ_TRANSFER,
            legs: [
              { accountId: from, side: 'DEBIT', amountMinor: BigInt(1 + ((i * 37) % 500)), currency: 'CNY' },
              { accountId: to, side: 'CREDIT', amountMinor: BigInt(1 + ((i * 37) % 500)), currency: 'CNY' },
            ],
          });
          if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
        }
      }),
    );
    const end = new Date();
    for (let n = 0; n < 50; n++) {
      const account = accounts[n % accounts.length] ?? '';
      const instant = new Date(start.getTime() + Math.random() * (end.getTime() - start.getTime()));
      const asOf = await h.service.getBalance(account, instant);
      const view = await h.service.getAccount(account);
      // Replay from amounts (not balance_after), with the same instant comparison as the read.
      const journal = await h.dataSource.query<{ side: 'DEBIT' | 'CREDIT'; amount: string }[]>(
        'SELECT side, amount::text FROM entries WHERE account_id = $1 AND created_at <= $2',
        [account, instant.toISOString()],
      );
      let replay = 0n;
      for (const entry of journal) replay += signedEffect(view.normalSide, entry.side, BigInt(entry.amount));
      expect(asOf.total, `account ${account} at ${instant.toISOString()}`).to.equal(replay);
    }
  });

  it('seals a day: later postings land on D+1, daily rows reconcile, totals match', async () => {
    const today = naturalAccountingDate(new Date(), DEFAULT_CALENDAR);
    const bank = await openAccount(h, 'DEBIT', { allowOverdraft: true });
    const wallet = await openAccount(h, 'CREDIT');
    const move = (amountMinor: bigint): ReturnType<Harness['service']['transfer']> =>
      h.service.transfer({
        requestId: rid('day'),
        bizCode: BIZ_TRANSFER,
        legs: [
          { accountId: bank, side: 'DEBIT', amountMinor, currency: 'CNY' },
          { accountId: wallet, side: 'CREDIT', amountMinor, currency: 'CNY' },
        ],
      });
    expect((await move(100n)).accountingDate).to.equal(today);
    expect(
      await reasonOf(
        h.service.sealDay({
          requestId: rid('seal'),
          bizCode: BIZ_TRANSFER,
          accountingDate: addDays(today, 1),
        }),
      ),
    ).to.equal('DAY_NOT_SEALABLE');
    const sealRequest = { requestId: rid('seal'), bizCode: BIZ_TRANSFER, accountingDate: today };
    const sealed = await h.service.sealDay(sealRequest);
    expect(sealed.accountingDate).to.equal(today);
    const replay = await h.service.sealDay(sealRequest);
    expect(replay.sealedAt.getTime()).to.equal(sealed.sealedAt.getTime());

    const after = await move(40n);
    expect(after.accountingDate).to.equal(addDays(today, 1));

    const rows = (await h.service.getDailyBalances(today, 500, '')).items;
    expect(rows.length).to.be.greaterThan(0);
    for (const row of rows) {
      const normal =
        row.normalSide === 'DEBIT' ? row.debitTotal - row.creditTotal : row.creditTotal - row.debitTotal;
      expect(row.opening + normal).to.equal(row.closing);
    }
    const walletRow = rows.find((r) => r.accountId === wallet);
    expect(walletRow && [walletRow.opening, walletRow.creditTotal, walletRow.closing]).to.deep.equal([
      0n,
      100n,
      100n,
    ]);
    // Per-subject totals equal the journal of D.
    const journal = await h.dataSource.query<{ subject_code: string; n: string; d: string; c: string }[]>(
      `SELECT a.subject_code, count(*)::text n, COALESCE(sum(e.amount) FILTER (WHERE e.side = 'DEBIT'), 0)::text d,
              COALESCE(sum(e.amount) FILTER (WHERE e.side = 'CREDIT'), 0)::text c
         FROM entries e JOIN accounts a ON a.id = e.account_id WHERE e.accounting_date = $1 GROUP BY 1 ORDER BY 1`,
      [today],
    );
    expect(
      sealed.totals
        .filter((t) => t.entryCount > 0n)
        .map((t) => [t.subjectCode, t.entryCount, t.debitTotal, t.creditTotal]),
    ).to.deep.equal(journal.map((j) => [j.subject_code, BigInt(j.n), BigInt(j.d), BigInt(j.c)]));
    const events = await h.dataSource.query<
      {
        payload: Buffer;
      }[]
    >(`SELECT payload FROM outbox WHERE subject = 'paycore.account.day_sealed.v1'`);
    expect(events.map((e) => DaySealed.decode(e.payload).accountingDate)).to.deep.equal([today]);
    // The next date seals in order; the one after it is in the future.
    expect(
      await reasonOf(
        h.service.sealDay({
          requestId: rid('seal'),
          bizCode: BIZ_TRANSFER,
          accountingDate: addDays(today, 2),
        }),
      ),
    ).to.equal('DAY_NOT_SEALABLE');
    expect(await reasonOf(h.service.getDailyBalances(addDays(today, 1), 10, ''))).to.equal('DAY_NOT_SEALED');
    const next = await h.service.sealDay({
      requestId: rid('seal'),
      bizCode: BIZ_TRANSFER,
      accountingDate: addDays(today, 1),
    });
    const nextWallet = (await h.service.getDailyBalances(next.accountingDate, 500, '')).items.find(
      (r) => r.accountId === wallet,
    );
    expect(nextWallet && [nextWallet.opening, nextWallet.creditTotal, nextWallet.closing]).to.deep.equal([
      100n,
      40n,
      140n,
    ]);
  });
});
