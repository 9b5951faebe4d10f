/**
 * Proves that SealDay succeeds and leaves reconciling daily rows when a hot
 * (BUFFERED) account's credits are applied after the cut-over, interleaved
 * with realtime postings on the same account around midnight, on real
 * Postgres. The store's clock is moved to 23:59 and 00:00:01 Shanghai time;
 * a credit queued on D is applied after a realtime debit already dated D+1,
 * so in the journal (seq order) an entry dated D follows one dated D+1. The
 * daily row of D must still be opening + D's postings = closing, D+1 must
 * open where D closed, and D+1's closing must equal the account's balance.
 * Two ways the late credit gets applied: by the flusher after midnight, and
 * by SealDay's own drain.
 */
import { expect } from 'chai';
import { addDays, DEFAULT_ACCOUNTING_DAY, naturalAccountingDate } from '@paycore/calendar';
import { BIZ_TRANSFER, invariantViolations, openAccount, rid, startHarness, type Harness } from './harness';

const MINUTE_MS = 60_000;

/** The clock offset that puts the store at `shanghai` local time (HH:MM:SS) of yesterday's date there. */
function offsetTo(localTime: string): number {
  const yesterdayUtc = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  return Date.parse(`${yesterdayUtc}T${localTime}+08:00`) - Date.now();
}

describe('SealDay with buffered credits applied after the cut-over (Postgres)', function () {
  this.timeout(120_000);
  let h: Harness;
  beforeEach(async () => {
    // The flusher runs only when a test calls it.
    h = await startHarness({ flushTickMs: 3_600_000 });
  });
  afterEach(async () => {
    await h.close();
  });

  async function midnightScenario(): Promise<{ hot: string; dayD: string }> {
    h.clockOffsetMs = offsetTo('23:58:00');
    const dayD = naturalAccountingDate(new Date(Date.now() + h.clockOffsetMs), DEFAULT_ACCOUNTING_DAY);
    const bank = await openAccount(h, 'DEBIT', { allowOverdraft: true });
    const hot = await openAccount(h, 'CREDIT', { subjectCode: '224102' });
    const move = async (debit: string, credit: string, amountMinor: bigint): Promise<string> => {
      const posted = await h.service.transfer({
        requestId: rid('mid'),
        bizCode: BIZ_TRANSFER,
        legs: [
          { accountId: debit, side: 'DEBIT', amountMinor, currency: 'CNY' },
          { accountId: credit, side: 'CREDIT', amountMinor, currency: 'CNY' },
        ],
      });
      return posted.accountingDate;
    };
    expect(await move(bank, hot, 1_000n)).to.equal(dayD);
    await h.service.setPostingMode({
      requestId: rid('mode'),
      bizCode: BIZ_TRANSFER,
      accountId: hot,
      postingMode: 'BUFFERED',
      flushIntervalMs: 1,
      flushBatchMax: 500,
    });
    // 23:58 on D: queued, dated D, not applied yet.
    expect(await move(bank, hot, 100n)).to.equal(dayD);
    // 00:00:01 on D+1: a realtime debit of the hot account, dated D+1, lands before the credit is applied.
    h.clockOffsetMs += 2 * MINUTE_MS + 1_000;
    expect(await move(hot, bank, 30n)).to.equal(addDays(dayD, 1));
    return { hot, dayD };
  }

  async function expectReconcilingDays(hot: string, dayD: string): Promise<void> {
    const sealedD = await h.service.sealDay({
      requestId: rid('seal'),
      bizCode: BIZ_TRANSFER,
      accountingDate: dayD,
    });
    expect(sealedD.accountingDate).to.equal(dayD);
    const rowsD = (await h.service.getDailyBalances(dayD, 500, '')).items;
    const hotD = rowsD.find((r) => r.accountId === hot);
    expect(hotD && [hotD.opening, hotD.debitTotal, hotD.creditTotal, hotD.closing]).to.deep.equal([
      0n,
      0n,
      1_100n,
      1_100n,
    ]);
    const dayAfter = addDays(dayD, 1);
    h.clockOffsetMs += 86_400_000;
    await h.service.sealDay({ requestId: rid('seal'), bizCode: BIZ_TRANSFER, accountingDate: dayAfter });
    const hotAfter = (await h.service.getDailyBalances(dayAfter, 500, '')).items.find(
      (r) => r.accountId === hot,
    );
    const account = await h.service.getAccount(hot);
    expect(
      hotAfter && [hotAfter.opening, hotAfter.debitTotal, hotAfter.creditTotal, hotAfter.closing],
    ).to.deep.equal([1_100n, 30n, 0n, account.available + account.frozen]);
    expect(account.available + account.frozen).to.equal(1_070n);
    for (const date of [dayD, dayAfter]) {
      for (const row of (await h.service.getDailyBalances(date, 500, '')).items) {
        const normal =
          row.normalSide === 'DEBIT' ? row.debitTotal - row.creditTotal : row.creditTotal - row.debitTotal;
        expect(row.opening + normal, `${date} ${row.accountId}`).to.equal(row.closing);
      }
    }
    // D's sealed totals are exactly the journal dated D, so the ledger's check of D can pass.
    const journal = await h.dataSource.query<{ subject_code: string; d: string; c: string }[]>(
      `SELECT a.subject_code, COALESCE(sum(e.amount) FILTER (WHERE e.side = 'DEBIT'), 0)::text d,
              COALESCE(sum(e.amount) FILTER (WHERE e.side = 'CREDIT'), 0)::text c
         FROM entries e JOIN accounts a ON a.id = e.account_id WHERE e.accounting_date = $1 GROUP BY 1 ORDER BY 1`,
      [dayD],
    );
    expect(
      sealedD.totals
        .filter((t) => t.entryCount > 0n)
        .map((t) => [t.subjectCode, t.debitTotal, t.creditTotal]),
    ).to.deep.equal(journal.map((j) => [j.subject_code, BigInt(j.d), BigInt(j.c)]));
    expect(await invariantViolations(h)).to.deep.equal([]);
  }

  it('seals D when the flusher applied D’s credit after a realtime posting dated D+1', async () => {
    const { hot, dayD } = await midnightScenario();
    expect(await h.store.flushDue(10)).to.equal(1);
    const dates = await h.dataSource.query<{ seq: string; d: string }[]>(
      `SELECT seq::text, accounting_date::text d FROM entries WHERE account_id = $1 ORDER BY seq`,
      [hot],
    );
    // The journal order the old sealing could not handle: D, D+1, then D again.
    expect(dates.map((r) => r.d)).to.deep.equal([dayD, addDays(dayD, 1), dayD]);
    await expectReconcilingDays(hot, dayD);
  });

  it('seals D when SealDay itself drains D’s credit after a realtime posting dated D+1', async () => {
    const { hot, dayD } = await midnightScenario();
    await expectReconcilingDays(hot, dayD);
  });
});
