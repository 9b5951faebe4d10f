/**
 * The run lease of a (channel number, date), against real Postgres and NATS
 * (reconciliation in process; channel-router's download and query are fakes,
 * the query slowed to 40 ms so that two runs of the same day would overlap
 * in the rules step):
 * - two concurrent ReconcileDay calls (different request ids) for the same
 *   day return the same run; the channel is asked about each held item once,
 *   each rule is recorded once per difference, and DayReconciled is written
 *   once — the second call waited for the first's lease;
 * - a lease left by a holder that died (a row nobody renews, as SIGKILL
 *   leaves it) is taken over once it expires, and the day is reconciled;
 * - a lease that outlives the caller's wait is refused with RUN_IN_PROGRESS
 *   and its `lease_expires_at`, leaving nothing behind.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { decodeStatusDetails, errorReason, unary } from '@paycore/platform';
import { buildWechatBill, wechatBillRow } from '@paycore/channel-protocols';
import { startReconHarness, type ReconHarness } from './harness';

const WECHAT = '200001';
const QUERY_DELAY_MS = 40;

describe('run lease: one replica per (channel number, date)', function () {
  this.timeout(300_000);
  let h: ReconHarness;
  const bills = new Map<string, Buffer>();

  before(async () => {
    h = await startReconHarness({ RECON_RUN_LEASE_MS: '4000', RECON_RUN_LEASE_WAIT_MS: '8000' });
    const channel = h.peers.channel;
    channel.downloadStatement = (_channelNo, billDate) => {
      const content = bills.get(billDate);
      return Promise.resolve(content === undefined ? undefined : { format: 'WECHAT_TRADE_ALL', content });
    };
    const query = h.peers.channel.queryPayment.bind(h.peers.channel);
    channel.queryPayment = async (txnId) => {
      await sleep(QUERY_DELAY_MS);
      return query(txnId);
    };
  });
  after(async () => {
    await h?.close();
  });

  /** A day where paycore has 30 successes the bill lacks (held, each queried) and 20 that match. */
  async function day(billDate: string): Promise<void> {
    const finishTime = new Date(`${billDate}T04:00:00Z`);
    const rows = [];
    for (let i = 0; i < 50; i += 1) {
      const txnId = `L-${billDate}-${i}`;
      await h.publishTxn({
        txnId,
        state: 'SUCCESS',
        amountMinor: 500n,
        feeMinor: 3n,
        channelNo: WECHAT,
        finishTime,
      });
      if (i >= 30)
        rows.push(
          wechatBillRow({
            tradeTime: `${billDate} 12:00:00`,
            appId: 'wx',
            mchId: 'mch',
            transactionId: `W-${txnId}`,
            outTradeNo: txnId,
            tradeState: 'SUCCESS',
            totalFen: 500n,
            feeFen: 3n,
          }),
        );
    }
    bills.set(billDate, Buffer.from(buildWechatBill({ billType: 'ALL', rows })));
  }
  const reconcile = (requestId: string, billDate: string) =>
    unary(h.client.reconcileDay.bind(h.client), { requestId, channelNo: WECHAT, billDate });
  const count = async (sql: string, params: unknown[]) =>
    Number((await h.sql<{ n: string }>(sql, params))[0]?.n);

  it('two concurrent ReconcileDay calls: one run, each held item queried once, each rule and DayReconciled written once', async () => {
    const billDate = '2025-04-01';
    let published = 0;
    await day(billDate);
    published += 50;
    await h.waitTxns(published, 120_000);
    const [first, second] = await Promise.all([
      reconcile('lease-a', billDate),
      reconcile('lease-b', billDate),
    ]);
    expect(second.report?.runId).to.equal(first.report?.runId);
    const queried = h.peers.queried.filter((id) => id.startsWith(`L-${billDate}-`));
    expect(queried.length).to.equal(30);
    expect(new Set(queried).size).to.equal(30);
    const repeated = await count(
      `SELECT count(*) AS n FROM (SELECT difference_id, rule FROM recon.rule_applications
          GROUP BY 1, 2 HAVING count(*) > 1) r`,
      [],
    );
    expect(repeated).to.equal(0);
    expect(
      await count(`SELECT count(*) AS n FROM recon.outbox WHERE subject LIKE '%.day_reconciled.v1'`, []),
    ).to.equal(1);
    expect(await count('SELECT count(*) AS n FROM recon.run_leases', [])).to.equal(0);
  });

  it('a lease its dead holder no longer renews is taken over once it expires', async () => {
    const billDate = '2025-04-02';
    await day(billDate);
    await h.waitTxns(100, 120_000);
    await h.sql(
      `INSERT INTO recon.run_leases (channel_no, bill_date, owner, expires_at)
       VALUES ($1, $2, 'killed-replica', now() + interval '2 seconds')`,
      [WECHAT, billDate],
    );
    const done = await reconcile('after-kill', billDate);
    expect(done.report?.lineCount).to.equal(20n);
    const leases = await h.sql<{ owner: string }>('SELECT owner FROM recon.run_leases WHERE bill_date = $1', [
      billDate,
    ]);
    expect(leases).to.deep.equal([]);
  });

  it('a lease held beyond the wait is refused with RUN_IN_PROGRESS and leaves nothing behind', async () => {
    const billDate = '2025-04-03';
    await day(billDate);
    await h.waitTxns(150, 120_000);
    await h.sql(
      `INSERT INTO recon.run_leases (channel_no, bill_date, owner, expires_at)
       VALUES ($1, $2, 'busy-replica', now() + interval '1 hour')`,
      [WECHAT, billDate],
    );
    let refusal: unknown;
    await reconcile('while-busy', billDate).catch((err: unknown) => {
      refusal = err;
    });
    expect(errorReason(refusal)).to.equal('RUN_IN_PROGRESS');
    expect(decodeStatusDetails(refusal as object).errorInfo?.metadata['lease_expires_at']).to.match(
      /^\d{4}-/,
    );
    expect(await count('SELECT count(*) AS n FROM recon.runs WHERE bill_date = $1', [billDate])).to.equal(0);
  });
});
