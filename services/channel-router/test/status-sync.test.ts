/**
 * Proves status sync's schedule against the real sandbox, Postgres and NATS
 * (ADR 0063), with a small schedule: every 200 ms for the first 1 s, then
 * 1.5 s, 3 s, … apart.
 * - a payment nobody pays is queried in its dense window, then its next slot
 *   is the first back-off one (2.5 s after creation), then 5.5 s: read from
 *   the row's next_sync_at against its created_at, with the sandbox's call
 *   tally showing exactly one channel query per recorded attempt;
 * - a dropped notification is found within the dense window: SUCCESS by
 *   status sync well before the first back-off slot would have come;
 * - two replicas never query one transaction at once: with every query held
 *   600 ms by the sandbox, each transaction sees at most the queries that
 *   one-at-a-time allows (the claim's lease), not one per pass per replica.
 */
import { unary } from '@paycore/platform';
import type { ChannelTransaction } from '@paycore/proto/paycore/channel/v1/types';
import { expect } from 'chai';
import { startRouterHarness, type RouterHarness } from './harness';

const ALIPAY_QR = '10010101011001100001';
const DENSE_INTERVAL_MS = 200;
const DENSE_WINDOW_MS = 1_000;
const FIRST_DELAY_MS = 1_500;
/** A query slower than two dense intervals, so a missing lease would show as extra queries. */
const SLOW_QUERY_MS = 600;

interface SyncRow {
  readonly state: string;
  readonly sync_attempts: number;
  /** next_sync_at − created_at in ms; null once final. */
  readonly offset_ms: number | null;
}

describe('status sync schedule through the sandbox', function () {
  this.timeout(60_000);
  let h: RouterHarness;
  let seq = 0;
  const rid = (): string => `req-${Date.now()}-${(seq += 1)}`;

  before(async () => {
    h = await startRouterHarness({
      CHANNEL_SYNC_DENSE_INTERVAL_MS: String(DENSE_INTERVAL_MS),
      CHANNEL_SYNC_DENSE_WINDOW_MS: String(DENSE_WINDOW_MS),
      CHANNEL_SYNC_FIRST_DELAY_MS: String(FIRST_DELAY_MS),
      CHANNEL_SYNC_DELAY_MAX_MS: '60000',
    });
  });
  after(async () => {
    await h?.close();
  });
  afterEach(async () => {
    await fetch(`${h.sandbox.url}/sandbox/faults`, { method: 'DELETE' });
  });

  async function create(): Promise<ChannelTransaction> {
    const res = await unary(h.client.createChannelPayment.bind(h.client), {
      requestId: rid(),
      bizContext: { code: ALIPAY_QR },
      amount: { amountMinor: 100n, currency: 'CNY' },
      subject: '测试商品',
    });
    if (res.transaction === undefined) throw new Error('no transaction');
    return res.transaction;
  }

  async function addFault(fault: Record<string, unknown>): Promise<void> {
    const res = await fetch(`${h.sandbox.url}/sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(fault),
    });
    expect(res.status).to.equal(200);
  }

  async function syncRow(txnId: string): Promise<SyncRow> {
    const rows = await h.query<SyncRow>(
      `SELECT state, sync_attempts,
              (extract(epoch from next_sync_at - created_at) * 1000)::int AS offset_ms
         FROM transactions WHERE txn_id = $1`,
      [txnId],
    );
    if (rows[0] === undefined) throw new Error(`no row ${txnId}`);
    return rows[0];
  }

  async function queriesOf(txnId: string): Promise<number> {
    const res = await fetch(`${h.sandbox.url}/sandbox/calls?channel=alipay&operation=query`);
    const body = (await res.json()) as { calls: { key: string; count: number }[] };
    return body.calls.find((c) => c.key === txnId)?.count ?? 0;
  }

  /** Polls the row every 20 ms until `done`, collecting every offset seen. */
  async function watch(txnId: string, done: (row: SyncRow) => boolean, timeoutMs: number): Promise<number[]> {
    const seen: number[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const row = await syncRow(txnId);
      if (row.offset_ms !== null && !seen.includes(row.offset_ms)) seen.push(row.offset_ms);
      if (done(row)) return seen;
      if (Date.now() > deadline) throw new Error(`timed out; offsets seen ${seen.join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('a payment nobody pays is queried densely, then on the back-off slots counted from creation', async () => {
    const payment = await create();
    const backoffFirst = DENSE_WINDOW_MS + FIRST_DELAY_MS;
    const dense = await watch(payment.txnId, (row) => row.offset_ms === backoffFirst, 5_000);
    const afterDense = await syncRow(payment.txnId);
    // Five dense slots (200 … 1000 ms); a pass that ran late may have skipped one, never added one.
    expect(afterDense.sync_attempts).to.be.within(3, 5);
    expect(await queriesOf(payment.txnId)).to.equal(afterDense.sync_attempts);
    // Offsets seen, leases (30 s ahead) and the first slot (stamped by the service's clock) aside,
    // are exactly dense slots and then the first back-off slot.
    const slots = dense.filter((offset) => offset > DENSE_INTERVAL_MS + 50 && offset < 20_000);
    for (const offset of slots) expect([400, 600, 800, 1_000, backoffFirst]).to.include(offset);

    const backoffSecond = backoffFirst + 2 * FIRST_DELAY_MS;
    await watch(payment.txnId, (row) => row.offset_ms === backoffSecond, 5_000);
    const afterBackoff = await syncRow(payment.txnId);
    expect(afterBackoff.sync_attempts).to.equal(afterDense.sync_attempts + 1);
    expect(await queriesOf(payment.txnId)).to.equal(afterBackoff.sync_attempts);
    expect(afterBackoff.state).to.equal('PROCESSING');
  });

  it('a dropped notification is found within the dense window', async () => {
    await addFault({ kind: 'notify_drop', channel: 'alipay' });
    const payment = await create();
    const paid = await fetch(`${h.sandbox.url}/sandbox/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'alipay', out_trade_no: payment.txnId }),
    });
    expect(paid.status).to.equal(200);
    const paidAtMs = Date.now();
    await watch(payment.txnId, (row) => row.state === 'SUCCESS', 5_000);
    const foundAfterMs = Date.now() - paidAtMs;
    // Without the dense phase the first query would come 1.5 s after creation; it finds it an interval on.
    expect(foundAfterMs).to.be.below(FIRST_DELAY_MS - 500);
    const events = (await h.events()).filter((e) => e.event.transaction?.txnId === payment.txnId);
    expect(events.map((e) => e.event.source)).to.deep.equal(['create', 'status_sync']);
    const notifications = await h.query('SELECT 1 FROM notifications WHERE txn_id = $1', [payment.txnId]);
    expect(notifications, 'no callback arrived').to.deep.equal([]);
  });

  it('two replicas never query one transaction at once (the claim lease)', async () => {
    await h.startReplica();
    await addFault({ kind: 'slow', channel: 'alipay', operation: 'query', ms: SLOW_QUERY_MS });
    const payments = await Promise.all(Array.from({ length: 6 }, () => create()));
    const startedMs = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 2_200));
    const elapsedMs = Date.now() - startedMs + DENSE_INTERVAL_MS;
    // One at a time, each query takes SLOW_QUERY_MS and the next slot is at least half an interval
    // later; two replicas (or two passes of one) querying at once would double that.
    const oneAtATimeMax = Math.ceil(elapsedMs / (SLOW_QUERY_MS + DENSE_INTERVAL_MS / 2));
    const counts = await Promise.all(payments.map((p) => queriesOf(p.txnId)));
    process.stdout.write(`counts ${counts.join(",")} max ${oneAtATimeMax}\n`);
    for (const count of counts) expect(count).to.be.within(1, oneAtATimeMax);
  });
});
