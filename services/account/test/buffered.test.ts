/**
 * Proves buffered (hot-account) posting on real Postgres (must-show 5):
 * 5,000 concurrent credits to one BUFFERED account are queued without locking
 * it and applied by the flusher in batches, giving a continuous entry chain
 * and the exact final balance; debits see only applied funds; switching the
 * mode back and forth in the middle of the load loses and duplicates nothing.
 */
import { expect } from 'chai';
import {
  BIZ_TRANSFER,
  invariantViolations,
  openAccount,
  reasonOf,
  rid,
  startHarness,
  type Harness,
} from './harness';

describe('buffered posting (Postgres)', function () {
  this.timeout(120_000);
  let h: Harness;
  before(async () => {
    h = await startHarness({ flushTickMs: 5 });
  });
  after(async () => {
    await h.close();
  });

  it('5,000 concurrent credits, mode switched mid-load: continuous chain, exact balance', async () => {
    const bank = await openAccount(h, 'DEBIT', { allowOverdraft: true });
    const hot = await openAccount(h, 'CREDIT', { subjectCode: '224102' });
    const buffered = await h.service.setPostingMode({
      requestId: rid('mode'),
      bizCode: BIZ_TRANSFER,
      accountId: hot,
      postingMode: 'BUFFERED',
      flushIntervalMs: 5,
      flushBatchMax: 500,
    });
    expect(buffered.postingMode).to.equal('BUFFERED');

    const credit = (n: number): ReturnType<Harness['service']['transfer']> =>
      h.service.transfer({
        requestId: `hot-${n}`,
        bizCode: BIZ_TRANSFER,
        legs: [
          { accountId: bank, side: 'DEBIT', amountMinor: 3n, currency: 'CNY' },
          { accountId: hot, side: 'CREDIT', amountMinor: 3n, currency: 'CNY' },
        ],
      });
    const first = await credit(-1);
    expect(first.legs[1]?.buffered).to.equal(true);
    // Not applied yet, so a debit of it is refused: debits see only applied funds.
    const refused = await reasonOf(
      h.service.transfer({
        requestId: rid('debit'),
        bizCode: BIZ_TRANSFER,
        legs: [
          { accountId: hot, side: 'DEBIT', amountMinor: 4n, currency: 'CNY' },
          { accountId: bank, side: 'CREDIT', amountMinor: 4n, currency: 'CNY' },
        ],
      }),
    );
    expect(refused).to.equal('INSUFFICIENT_BALANCE');

    const total = 5_000;
    const load = Promise.all(Array.from({ length: total }, (_, n) => credit(n)));
    const switches = (async (): Promise<void> => {
      for (const mode of ['REALTIME', 'BUFFERED', 'REALTIME', 'BUFFERED'] as const) {
        await new Promise((resolve) => setTimeout(resolve, 150));
        await h.service.setPostingMode({
          requestId: rid('mode'),
          bizCode: BIZ_TRANSFER,
          accountId: hot,
          postingMode: mode,
          flushIntervalMs: 5,
          flushBatchMax: 500,
        });
      }
    })();
    const [answers] = await Promise.all([load, switches]);
    const bufferedCount = answers.filter((a) => a.legs[1]?.buffered === true).length;
    expect(bufferedCount).to.be.greaterThan(0);
    // Drain: switching to REALTIME applies every queued credit first.
    await h.service.setPostingMode({
      requestId: rid('mode'),
      bizCode: BIZ_TRANSFER,
      accountId: hot,
      postingMode: 'REALTIME',
    });
    const account = await h.service.getAccount(hot);
    expect(account.pendingBuffered).to.equal(0n);
    expect(account.available).to.equal(3n * BigInt(total + 1));
    expect(account.lastSeq).to.equal(BigInt(total + 1));
    const entries = await h.dataSource.query<
      {
        n: number;
      }[]
    >('SELECT count(DISTINCT transfer_id)::int n FROM entries WHERE account_id = $1', [hot]);
    expect(entries[0]?.n).to.equal(total + 1);
    expect(await invariantViolations(h)).to.deep.equal([]);
    console.log(`      ${bufferedCount} of ${total} credits went through the queue`);
  });
});
