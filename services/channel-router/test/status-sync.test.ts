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
 * - two replicas together keep each transaction to one query at a time:
 *   with every query held 800 ms by the sandbox and slots every 100 ms, each
 *   transaction sees at most what one-at-a-time allows (a rate bound; it
 *   does not by itself catch a missing lease, since the replicas rarely
 *   claim the same slot in the same instant);
 * - and directly at the store: of two claims at once exactly one gets a due
 *   row, a repeated claim gets nothing while the lease lasts, and the row is
 *   claimable again once it has passed (a replica that died mid-query).
 */
import { unary } from '@paycore/platform';
import type { ChannelTransaction } from '@paycore/proto/paycore/channel/v1/types';
import type { RunningService } from '@paycore/platform';
import { expect } from 'chai';
import { Client } from 'pg';
import { PgSync } from '../src/adapters/pg/sync';
import { startRouterHarness, type RouterHarness } from './harness';

const ALIPAY_QR = '10010101011001100001';
const DENSE_INTERVAL_MS = 200;
const DENSE_WINDOW_MS = 1_000;
const FIRST_DELAY_MS = 1_500;
/** A query slower than two dense intervals, so a missing lease would show as extra queries. */
const SLOW_QUERY_MS = 800;
const REPLICA_DENSE_INTERVAL_MS = 100;
/** A short lease for the claim test; the service's own is CHANNEL_SYNC_LEASE_MS (30 s). */
const LEASE_MS = 500;

/**
 * Slots are stamped from the service's millisecond clock, created_at by Postgres in
 * microseconds: an offset read back may be a millisecond off its slot.
 */
const SLOT_TOLERANCE_MS = 2;
const near = (offset: number | null, slot: number): boolean =>
  offset !== null && Math.abs(offset - slot) <= SLOT_TOLERANCE_MS;

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
    const dense = await watch(payment.txnId, (row) => near(row.offset_ms, backoffFirst), 5_000);
    const afterDense = await syncRow(payment.txnId);
    // Five dense slots (200 … 1000 ms); a pass that ran late may have skipped one, never added one.
    expect(afterDense.sync_attempts).to.be.within(3, 5);
    expect(await queriesOf(payment.txnId)).to.equal(afterDense.sync_attempts);
    // Offsets seen, leases (30 s ahead) and the first slot (stamped by the service's clock) aside,
    // are exactly dense slots and then the first back-off slot.
    const slots = dense.filter((offset) => offset > DENSE_INTERVAL_MS + 50 && offset < 20_000);
    for (const offset of slots) {
      expect(
        [400, 600, 800, 1_000, backoffFirst].some((slot) => near(offset, slot)),
        `offset ${offset}`,
      ).to.be.true;
    }

    const backoffSecond = backoffFirst + 2 * FIRST_DELAY_MS;
    await watch(payment.txnId, (row) => near(row.offset_ms, backoffSecond), 5_000);
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
});

describe('status sync with two replicas', function () {
  this.timeout(60_000);
  let h: RouterHarness;
  let replica: RunningService;
  let seq = 0;

  before(async () => {
    // A long dense phase of short slots: queries held SLOW_QUERY_MS fit many slots, so a
    // missing lease would show as a second query of the same slot from the other replica.
    h = await startRouterHarness({
      CHANNEL_SYNC_DENSE_INTERVAL_MS: String(REPLICA_DENSE_INTERVAL_MS),
      CHANNEL_SYNC_DENSE_WINDOW_MS: '10000',
      CHANNEL_SYNC_FIRST_DELAY_MS: '10000',
    });
    replica = await h.startReplica();
  });
  after(async () => {
    await h?.close();
  });

  it('never query one transaction at once (the claim lease)', async () => {
    const fault = await fetch(`${h.sandbox.url}/sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'slow', channel: 'alipay', operation: 'query', ms: SLOW_QUERY_MS }),
    });
    expect(fault.status).to.equal(200);
    const startedMs = Date.now();
    const payments = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const res = await unary(h.client.createChannelPayment.bind(h.client), {
          requestId: `req-replicas-${Date.now()}-${(seq += 1)}`,
          bizContext: { code: ALIPAY_QR },
          amount: { amountMinor: 100n, currency: 'CNY' },
          subject: '测试商品',
        });
        return res.transaction?.txnId ?? '';
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const elapsedMs = Date.now() - startedMs;
    const res = await fetch(`${h.sandbox.url}/sandbox/calls?channel=alipay&operation=query`);
    const calls = ((await res.json()) as { calls: { key: string; count: number }[] }).calls;
    const counts = payments.map((txnId) => calls.find((c) => c.key === txnId)?.count ?? 0);
    // One at a time, a query holds its transaction SLOW_QUERY_MS and the next slot is at least half
    // an interval after it; a second replica querying the same slot would double the count.
    const oneAtATimeMax = Math.ceil(elapsedMs / (SLOW_QUERY_MS + REPLICA_DENSE_INTERVAL_MS / 2));
    process.stdout.write(
      `      queries per transaction ${counts.join(', ')}, one at a time at most ${oneAtATimeMax}\n`,
    );
    for (const count of counts) expect(count, `counts ${counts.join(', ')}`).to.be.within(2, oneAtATimeMax);
  });
  it('a claim leases its rows: another replica claiming at once or just after gets nothing until the lease ends', async () => {
    const res = await unary(h.client.createChannelPayment.bind(h.client), {
      requestId: `req-lease-${Date.now()}`,
      bizContext: { code: ALIPAY_QR },
      amount: { amountMinor: 100n, currency: 'CNY' },
      subject: '测试商品',
    });
    const txnId = res.transaction?.txnId ?? '';
    // The services' own workers stop, so that only the two claimants below touch the rows.
    await replica.stop();
    await h.service.stop();
    await h.query('UPDATE transactions SET next_sync_at = NULL');
    await h.query(`UPDATE transactions SET next_sync_at = now() - interval '1 second' WHERE txn_id = $1`, [
      txnId,
    ]);
    const clients = [
      new Client({ connectionString: h.database.url }),
      new Client({ connectionString: h.database.url }),
    ];
    try {
      const syncs = await Promise.all(
        clients.map(async (client) => {
          await client.connect();
          await client.query('SET search_path TO channel');
          return new PgSync({
            query: async <R extends object>(sql: string, params: readonly unknown[] = []) =>
              (await client.query(sql, [...params])).rows as R[],
          });
        }),
      );
      const [first, second] = [syncs[0], syncs[1]];
      if (first === undefined || second === undefined) throw new Error('two claimants');
      const together = await Promise.all([first.claimDue(10, LEASE_MS), second.claimDue(10, LEASE_MS)]);
      expect(
        together.flat().map((t) => t.txnId),
        'claimed at once: one of the two',
      ).to.deep.equal([txnId]);
      expect(await first.claimDue(10, LEASE_MS), 'leased').to.deep.equal([]);
      expect(await second.claimDue(10, LEASE_MS), 'leased').to.deep.equal([]);
      await new Promise((resolve) => setTimeout(resolve, LEASE_MS + 100));
      const after = await second.claimDue(10, LEASE_MS);
      expect(
        after.map((t) => t.txnId),
        'the lease ended: claimed again',
      ).to.deep.equal([txnId]);
    } finally {
      await Promise.all(clients.map((client) => client.end()));
    }
  });
});
