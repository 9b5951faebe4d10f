/**
 * The matching engine against real Postgres and NATS (reconciliation in
 * process, channel-router's events published to its stream, files uploaded
 * over gRPC; peers are recording fakes — see harness.ts):
 * - the set-based SQL and the pure decision table (domain/classify.ts) give
 *   the same class, direction and delta for every line and transaction of a
 *   random day (seed RECON_TEST_SEED, printed) with every kind of fault;
 * - a line just before midnight that paycore does not know yet is held on D,
 *   and matched on D+1 once the transaction arrives, with no difference;
 * - a reused request id with another file is refused naming the field, bad
 *   input is refused with its reason, and nothing is written.
 */
import { expect } from 'chai';
import { errorReason, unary } from '@paycore/platform';
import { seededRandom } from '@paycore/testing';
import { buildWechatBill, wechatBillRow, type WechatBillRow } from '@paycore/channel-protocols';
import { classify } from '../src/domain/classify';
import type { ItemKind, TxnState } from '../src/domain/model';
import { startReconHarness, type PublishedTxn, type ReconHarness } from './harness';

const WECHAT = '200001';
const SEED = Number(process.env['RECON_TEST_SEED'] ?? Date.now() % 1_000_000);

const fee = (amount: bigint) => (amount * 6n + 500n) / 1000n;

describe('matching engine (real Postgres and NATS, fake peers)', function () {
  this.timeout(300_000);
  let h: ReconHarness;
  before(async () => {
    h = await startReconHarness();
  });
  after(async () => {
    await h?.close();
  });

  const upload = (billDate: string, rows: readonly WechatBillRow[], requestId: string) =>
    unary(h.client.importStatement.bind(h.client), {
      requestId,
      channelNo: WECHAT,
      billDate,
      format: 'WECHAT_TRADE_ALL',
      content: Buffer.from(buildWechatBill({ billType: 'ALL', rows })),
      operator: 'test',
    });
  const row = (date: string, outTradeNo: string, amount: bigint, over: Partial<WechatBillRow> = {}) =>
    wechatBillRow({
      tradeTime: `${date} 12:00:00`,
      appId: 'wx',
      mchId: 'mch',
      transactionId: `CH-${outTradeNo}`,
      outTradeNo,
      tradeState: 'SUCCESS',
      totalFen: amount,
      feeFen: fee(amount),
      ...over,
    });

  it(`the set-based SQL and the decision table agree on a random day (seed ${SEED})`, async () => {
    process.stdout.write(`      RECON_TEST_SEED=${SEED}\n`);
    const next = seededRandom(SEED);
    const date = '2025-03-10';
    const finish = new Date('2025-03-10T04:00:00Z');
    const txns: PublishedTxn[] = [];
    const rows: WechatBillRow[] = [];
    const fates = [
      'ok',
      'missing',
      'amount',
      'revoked',
      'fee',
      'duplicate',
      'currency',
      'processing',
    ] as const;
    for (let i = 0; i < 400; i += 1) {
      const txnId = `T${SEED}-${i}`;
      const amount = BigInt(100 + Math.floor(next() * 100_000));
      const fate = next() < 0.6 ? 'ok' : (fates[Math.floor(next() * fates.length)] ?? 'ok');
      const state: TxnState = fate === 'processing' ? 'PROCESSING' : 'SUCCESS';
      const currency = fate === 'currency' ? 'USD' : 'CNY';
      txns.push({
        txnId,
        state,
        amountMinor: amount,
        feeMinor: fee(amount),
        channelNo: WECHAT,
        finishTime: finish,
        currency,
      });
      if (fate === 'missing') continue;
      const base = row(date, txnId, amount);
      if (fate === 'amount') rows.push({ ...base, totalFen: amount + 3n, settlementTotalFen: amount + 3n });
      else if (fate === 'revoked') rows.push({ ...base, tradeState: 'REVOKED' });
      else if (fate === 'fee') rows.push({ ...base, feeFen: fee(amount) + 1n });
      else if (fate === 'currency') rows.push({ ...base, currency: 'CNY' });
      else rows.push(base);
      if (fate === 'duplicate') rows.push({ ...base, transactionId: `CH-${txnId}-again` });
    }
    for (let i = 0; i < 10; i += 1) rows.push(row(date, `EXTRA-${SEED}-${i}`, 100n + BigInt(i)));
    for (const txn of txns) await h.publishTxn(txn);
    await h.waitTxns(txns.length, 240_000);
    const res = await upload(date, rows, `eq-${SEED}`);
    const got = await h.sql<{ merchant_order_no: string; class: string; direction: string; delta: string }>(
      `SELECT merchant_order_no, class, direction, delta_minor::text AS delta FROM recon.results
        WHERE run_id = $1 ORDER BY merchant_order_no, class`,
      [res.report?.runId],
    );
    const expected: string[] = [];
    const byTxn = new Map(txns.map((t) => [t.txnId, t]));
    const seen = new Set<string>();
    for (const r of rows) {
      const t = byTxn.get(r.outTradeNo);
      const line = {
        kind: 'PAY' as ItemKind,
        status: r.tradeState,
        amountMinor: r.totalFen,
        feeMinor: r.feeFen,
        currency: r.currency,
      };
      const txn = t && {
        kind: 'PAY' as ItemKind,
        state: t.state,
        amountMinor: t.amountMinor,
        feeMinor: t.feeMinor,
        currency: t.currency ?? 'CNY',
      };
      const c = classify(line, seen.has(r.outTradeNo) ? undefined : txn, seen.has(r.outTradeNo));
      seen.add(r.outTradeNo);
      expected.push(`${r.outTradeNo} ${c.resultClass} ${c.direction} ${c.deltaMinor}`);
    }
    for (const t of txns) {
      if (seen.has(t.txnId) || t.state !== 'SUCCESS') continue;
      const c = classify(undefined, {
        kind: 'PAY',
        state: t.state,
        amountMinor: t.amountMinor,
        feeMinor: t.feeMinor,
        currency: 'CNY',
      });
      expected.push(`${t.txnId} ${c.resultClass} ${c.direction} ${c.deltaMinor}`);
    }
    const actual = got.map((g) => `${g.merchant_order_no} ${g.class} ${g.direction} ${g.delta}`);
    expect(actual.sort()).to.deep.equal(expected.sort());
    const classes = new Set(got.map((g) => g.class));
    for (const name of [
      'MATCHED',
      'PLATFORM_MISSING',
      'CHANNEL_MISSING',
      'STATUS_MISMATCH',
      'AMOUNT_MISMATCH',
      'FEE_MISMATCH',
      'DUPLICATE',
      'CURRENCY_MISMATCH',
    ])
      expect(classes.has(name), `a random day of seed ${SEED} lacks ${name}`).to.equal(true);
  });

  it('a line just before midnight that paycore does not know yet is held on D and matched on D+1 without a difference', async () => {
    const day = '2025-04-01';
    const nextDay = '2025-04-02';
    const late = row(day, 'LATE-1', 8_800n, { tradeTime: `${day} 23:59:58` });
    const first = await upload(day, [late], 'midnight-d');
    expect(first.report?.heldCount).to.equal(1n);
    expect(first.report?.openCount).to.equal(0n);
    // The channel's notification reached paycore after midnight: its channel day is D+1.
    await h.publishTxn({
      txnId: 'LATE-1',
      state: 'SUCCESS',
      amountMinor: 8_800n,
      feeMinor: fee(8_800n),
      channelNo: WECHAT,
      finishTime: new Date('2025-04-01T16:00:03Z'),
    });
    await h.waitTxns(401, 240_000);
    const second = await upload(nextDay, [row(nextDay, 'OTHER-1', 100n)], 'midnight-d1');
    const open = await h.sql<{ merchant_order_no: string; state: string; bill_date: string }>(
      `SELECT merchant_order_no, state, bill_date::text AS bill_date FROM recon.differences
        WHERE bill_date IN ($1, $2) ORDER BY bill_date`,
      [day, nextDay],
    );
    // LATE-1 resolved on D+1; the only D+1 difference is OTHER-1 (no order), not LATE-1 as channel-missing.
    expect(open.map((d) => `${d.bill_date} ${d.merchant_order_no} ${d.state}`)).to.deep.equal([
      `${day} LATE-1 RESOLVED`,
      `${nextDay} OTHER-1 OPEN`,
    ]);
    expect(second.report?.rulesApplied['held_matched_later:RESOLVED']).to.equal(1n);
  });

  it("a held channel-missing item takes its line out of the next day; that order's other line is then the day's first, not a duplicate", async () => {
    const day = '2025-04-11';
    const nextDay = '2025-04-12';
    h.peers.states.set('HELD-2', 'SUCCESS');
    await h.publishTxn({
      txnId: 'HELD-2',
      state: 'SUCCESS',
      amountMinor: 5_000n,
      feeMinor: fee(5_000n),
      channelNo: WECHAT,
      finishTime: new Date(`${day}T04:00:00Z`),
    });
    for (
      let i = 0;
      (await h.sql(`SELECT 1 FROM recon.channel_txns WHERE txn_id = 'HELD-2'`)).length === 0;
      i += 1
    ) {
      if (i > 2_400) throw new Error('HELD-2 never reached reconciliation');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const first = await upload(day, [row(day, 'FILLER-2', 100n)], 'held-rank-d');
    expect(first.report?.heldCount).to.equal(1n);
    // D+1: HELD-2's line first (it matches the held item), then a second line of HELD-2 with another amount.
    const second = await upload(
      nextDay,
      [row(nextDay, 'HELD-2', 5_000n), row(nextDay, 'HELD-2', 7_000n, { transactionId: 'CH-HELD-2-B' })],
      'held-rank-d1',
    );
    expect(second.report?.rulesApplied['held_matched_later:RESOLVED']).to.equal(1n);
    const found = await h.sql<{ class: string; channel_amount_minor: string; state: string }>(
      `SELECT class, channel_amount_minor::text AS channel_amount_minor, state FROM recon.differences
        WHERE bill_date = $1 ORDER BY class`,
      [nextDay],
    );
    expect(found.map((d) => `${d.class} ${d.channel_amount_minor} ${d.state}`)).to.deep.equal([
      'AMOUNT_MISMATCH 7000 OPEN',
    ]);
  });

  it('a reused request id, a bad date and an unknown channel are refused with their reasons; nothing is written', async () => {
    await upload('2025-05-01', [row('2025-05-01', 'ONCE', 100n)], 'reuse-1');
    const before = await h.sql<{ n: string }>('SELECT count(*) AS n FROM recon.statement_files');
    const reason = async (call: Promise<unknown>) => {
      try {
        await call;
      } catch (err) {
        return errorReason(err);
      }
      return 'SUCCEEDED';
    };
    expect(await reason(upload('2025-05-02', [row('2025-05-02', 'X', 1n)], 'reuse-1'))).to.equal(
      'IDEMPOTENCY_KEY_REUSED',
    );
    expect(await reason(upload('2025-02-30', [row('2025-02-30', 'X', 1n)], 'bad-date'))).to.equal(
      'INVALID_FIELD',
    );
    expect(
      await reason(
        unary(h.client.getDayReport.bind(h.client), { channelNo: '999999', billDate: '2025-03-10' }),
      ),
    ).to.equal('CHANNEL_NOT_CONFIGURED');
    expect(
      await reason(
        unary(h.client.getDayReport.bind(h.client), { channelNo: WECHAT, billDate: '2024-01-01' }),
      ),
    ).to.equal('DAY_NOT_RECONCILED');
    const after = await h.sql<{ n: string }>('SELECT count(*) AS n FROM recon.statement_files');
    expect(after[0]?.n).to.equal(before[0]?.n);
  });
});
