/**
 * Proves the sandbox's Alipay gateway end to end over HTTP, with requests
 * signed and every answer and notification verified through
 * @paycore/channel-protocols: precreate → simulated payer → a signed
 * TRADE_SUCCESS notification reaches a local receiver, which refuses it
 * (including near-misses `SUCCESS` and `success\n`) until it answers exactly
 * `success`; the resends follow Alipay's schedule divided by the time scale
 * (1000: 4 m → 240 ms) and stop at the acknowledgement; at scale 100000 the
 * whole 8-attempt schedule is played out and given up. Then query, refund
 * (partial, idempotent, over-refund refused, refund query, full refund →
 * TRADE_CLOSED), close, barcode pay, and the faults: forged requests get
 * `isv.invalid-signature` and change nothing, dropped notifications never
 * arrive while query shows TRADE_SUCCESS, duplicates arrive twice, reordered
 * ones arrive newest first, stale queries, unknown results and timeouts.
 */
import { generateKeyPairSync } from 'node:crypto';
import { alipaySign, alipayVerify, parseForm } from '@paycore/channel-protocols';
import { expect } from 'chai';
import pino from 'pino';
import { startSandbox, type RunningSandbox } from '../src/index';
import {
  AlipayClient,
  expectSchedule,
  gaps,
  getJson,
  postJson,
  Receiver,
  sleep,
  waitFor,
  waitForAttempts,
  type SandboxKeysDocument,
} from './helpers';

const PRECREATE = 'alipay.trade.precreate';
const QUERY = 'alipay.trade.query';
const silent = pino({ level: 'silent' });

async function setUp(
  timeScale: number,
): Promise<{ sandbox: RunningSandbox; keys: SandboxKeysDocument; alipay: AlipayClient }> {
  const sandbox = await startSandbox({ timeScale, logger: silent });
  const keys = await getJson<SandboxKeysDocument>(`${sandbox.url}/sandbox/keys`);
  return { sandbox, keys, alipay: new AlipayClient(keys.alipay) };
}

describe('channel-sandbox: Alipay', function () {
  this.timeout(20_000);
  let sandbox: RunningSandbox;
  let keys: SandboxKeysDocument;
  let alipay: AlipayClient;
  const receivers: Receiver[] = [];

  before(async () => {
    ({ sandbox, keys, alipay } = await setUp(1000));
  });
  after(async () => {
    await sandbox.stop();
    for (const receiver of receivers) await receiver.stop();
  });
  afterEach(async () => {
    await fetch(`${sandbox.url}/sandbox/faults`, { method: 'DELETE' });
  });

  async function receiver(answer: (index: number) => string): Promise<Receiver> {
    const started = await new Receiver(answer).start();
    receivers.push(started);
    return started;
  }

  async function precreate(
    outTradeNo: string,
    notifyUrl: string,
    amount = '12.34',
  ): Promise<Record<string, unknown>> {
    return alipay.call(
      PRECREATE,
      { out_trade_no: outTradeNo, total_amount: amount, subject: '测试商品' },
      { notify_url: notifyUrl },
    );
  }

  async function pay(outTradeNo: string): Promise<void> {
    const paid = await postJson(`${sandbox.url}/sandbox/pay`, {
      channel: 'alipay',
      out_trade_no: outTradeNo,
    });
    expect(paid.status).to.equal(200);
  }

  function notification(receiverOf: Receiver, index: number): Record<string, string> {
    const params = parseForm(receiverOf.received[index]?.body ?? '');
    expect(
      alipayVerify(params, keys.alipay.alipay_public_key, { forNotify: true }),
      'notification signature',
    ).to.equal(true);
    return params;
  }

  it('pays, notifies on the scaled schedule until exactly "success", and query shows TRADE_SUCCESS', async () => {
    const answers = ['fail', 'SUCCESS', 'success\n', 'success'];
    const notify = await receiver((index) => answers[index] ?? 'success');
    const created = await precreate('A-PAY-1', notify.url);
    expect(created).to.include({ code: '10000', out_trade_no: 'A-PAY-1' });
    expect(created.qr_code).to.match(/^https:\/\/qr\.alipay\.com\//);
    expect(await alipay.call(QUERY, { out_trade_no: 'A-PAY-1' })).to.include({
      trade_status: 'WAIT_BUYER_PAY',
    });

    await pay('A-PAY-1');
    await waitFor(() => notify.received.length >= 4, 5_000, 'four notification attempts');
    // 4 m, 10 m, 10 m at 1/1000.
    expectSchedule(gaps(notify.received), [240, 600, 600], 150);
    const first = notification(notify, 0);
    expect(first).to.include({
      trade_status: 'TRADE_SUCCESS',
      out_trade_no: 'A-PAY-1',
      total_amount: '12.34',
      notify_type: 'trade_status_sync',
    });
    expect(first.notify_id).to.match(/^[0-9a-f]{32}$/);
    expect(notification(notify, 3).notify_id).to.equal(first.notify_id);
    expect(notify.received[0]?.contentType).to.contain('application/x-www-form-urlencoded');
    // The next resend would be due 3.6 s later; nothing more comes because the answer was accepted.
    const log = await getJson<{ attempts: { outcome: string }[] }>(
      `${sandbox.url}/sandbox/notifications?out_trade_no=A-PAY-1`,
    );
    expect(log.attempts.map((a) => a.outcome)).to.deep.equal([
      'REFUSED',
      'REFUSED',
      'REFUSED',
      'ACKNOWLEDGED',
    ]);

    const queried = await alipay.call(QUERY, { out_trade_no: 'A-PAY-1' });
    expect(queried).to.include({
      code: '10000',
      trade_status: 'TRADE_SUCCESS',
      total_amount: '12.34',
      receipt_amount: '12.34',
    });
    expect(queried.trade_no).to.equal(first.trade_no);
  });

  it('refunds partially and idempotently, refuses over-refunds, and closes the trade on the full refund', async () => {
    const notify = await receiver(() => 'success');
    await precreate('A-REF-1', notify.url, '100.00');
    await pay('A-REF-1');
    const refund = { out_trade_no: 'A-REF-1', refund_amount: '30.01', out_request_no: 'R1' };
    expect(await alipay.call('alipay.trade.refund', refund)).to.include({
      code: '10000',
      fund_change: 'Y',
      refund_fee: '30.01',
    });
    expect(await alipay.call('alipay.trade.refund', refund)).to.include({
      code: '10000',
      fund_change: 'N',
      refund_fee: '30.01',
    });
    expect(
      await alipay.call('alipay.trade.refund', {
        out_trade_no: 'A-REF-1',
        refund_amount: '70.00',
        out_request_no: 'R2',
      }),
    ).to.include({ code: '40004', sub_code: 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL' });
    expect(
      await alipay.call('alipay.trade.fastpay.refund.query', {
        out_trade_no: 'A-REF-1',
        out_request_no: 'R1',
      }),
    ).to.include({ code: '10000', refund_amount: '30.01', refund_status: 'REFUND_SUCCESS' });
    const none = await alipay.call('alipay.trade.fastpay.refund.query', {
      out_trade_no: 'A-REF-1',
      out_request_no: 'R9',
    });
    expect(none.code).to.equal('10000');
    expect(none).to.not.have.property('refund_amount');
    expect(await alipay.call(QUERY, { out_trade_no: 'A-REF-1' })).to.include({
      trade_status: 'TRADE_SUCCESS',
    });
    await alipay.call('alipay.trade.refund', {
      out_trade_no: 'A-REF-1',
      refund_amount: '69.99',
      out_request_no: 'R3',
    });
    expect(await alipay.call(QUERY, { out_trade_no: 'A-REF-1' })).to.include({
      trade_status: 'TRADE_CLOSED',
    });
    await waitFor(() => notify.received.length >= 3, 2_000, 'pay + two refund notifications');
    const statuses = [0, 1, 2].map((index) => notification(notify, index));
    expect(statuses.map((n) => n.trade_status).sort()).to.deep.equal([
      'TRADE_CLOSED',
      'TRADE_SUCCESS',
      'TRADE_SUCCESS',
    ]);
    expect(statuses.find((n) => n.trade_status === 'TRADE_CLOSED')).to.include({
      refund_fee: '100.00',
      out_biz_no: 'R3',
    });
  });

  it('closes an unpaid trade and refuses to close a paid one', async () => {
    const notify = await receiver(() => 'success');
    await precreate('A-CLOSE-1', notify.url);
    expect(await alipay.call('alipay.trade.close', { out_trade_no: 'A-CLOSE-1' })).to.include({
      code: '10000',
    });
    expect(await alipay.call(QUERY, { out_trade_no: 'A-CLOSE-1' })).to.include({
      trade_status: 'TRADE_CLOSED',
    });
    expect(
      (await postJson(`${sandbox.url}/sandbox/pay`, { channel: 'alipay', out_trade_no: 'A-CLOSE-1' })).status,
    ).to.equal(409);
    await precreate('A-CLOSE-2', notify.url);
    await pay('A-CLOSE-2');
    expect(await alipay.call('alipay.trade.close', { out_trade_no: 'A-CLOSE-2' })).to.include({
      code: '40004',
      sub_code: 'ACQ.TRADE_STATUS_ERROR',
    });
    expect(await alipay.call(QUERY, { out_trade_no: 'NO-SUCH' })).to.include({
      code: '40004',
      sub_code: 'ACQ.TRADE_NOT_EXIST',
    });
  });

  it('barcode pay succeeds synchronously and notifies', async () => {
    const notify = await receiver(() => 'success');
    const paid = await alipay.call(
      'alipay.trade.pay',
      {
        out_trade_no: 'A-BAR-1',
        scene: 'bar_code',
        auth_code: '281234567890123456',
        total_amount: '0.01',
        subject: 'x',
      },
      { notify_url: notify.url },
    );
    expect(paid).to.include({ code: '10000', total_amount: '0.01', out_trade_no: 'A-BAR-1' });
    await waitFor(() => notify.received.length === 1, 2_000, 'notification');
    expect(notification(notify, 0).trade_status).to.equal('TRADE_SUCCESS');
  });

  it('refuses forged requests with isv.invalid-signature and changes nothing', async () => {
    const signed = alipay.params(PRECREATE, { out_trade_no: 'A-FORGED', total_amount: '1.00', subject: 'x' });
    const tampered = { ...signed, biz_content: signed.biz_content?.replace('1.00', '0.01') ?? '' };
    expect(await alipay.send(PRECREATE, tampered)).to.include({
      code: '40002',
      sub_code: 'isv.invalid-signature',
    });
    const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const { sign: _sign, ...unsigned } = signed;
    const wrongKey = { ...unsigned, sign: alipaySign(unsigned, otherKey) };
    expect(await alipay.send(PRECREATE, wrongKey)).to.include({
      code: '40002',
      sub_code: 'isv.invalid-signature',
    });
    expect(await alipay.call(QUERY, { out_trade_no: 'A-FORGED' })).to.include({
      sub_code: 'ACQ.TRADE_NOT_EXIST',
    });
  });

  it('dropped notification never arrives, but query shows TRADE_SUCCESS', async () => {
    const notify = await receiver(() => 'success');
    await postJson(`${sandbox.url}/sandbox/faults`, { kind: 'notify_drop', out_trade_no: 'A-DROP-1' });
    await precreate('A-DROP-1', notify.url);
    await pay('A-DROP-1');
    // The sandbox recorded the notification as dropped: it is final, nothing will be sent for it.
    await waitForAttempts(sandbox.url, 'A-DROP-1', ['DROPPED'], 1);
    expect(notify.received).to.have.length(0);
    expect(await alipay.call(QUERY, { out_trade_no: 'A-DROP-1' })).to.include({
      trade_status: 'TRADE_SUCCESS',
    });
  });

  it('duplicated notification arrives twice with the same notify_id', async () => {
    const notify = await receiver(() => 'success');
    await postJson(`${sandbox.url}/sandbox/faults`, { kind: 'notify_duplicate', out_trade_no: 'A-DUP-1' });
    await precreate('A-DUP-1', notify.url);
    await pay('A-DUP-1');
    // Both copies acknowledged: each is final, so no third arrives after this.
    await waitForAttempts(sandbox.url, 'A-DUP-1', ['ACKNOWLEDGED'], 2);
    expect(notify.received).to.have.length(2);
    expect(notification(notify, 0).notify_id).to.equal(notification(notify, 1).notify_id);
  });

  it('reordered notifications arrive newest first', async () => {
    const notify = await receiver(() => 'success');
    await postJson(`${sandbox.url}/sandbox/faults`, {
      kind: 'notify_reorder',
      out_trade_no: 'A-REORDER-1',
      times: 1,
    });
    await precreate('A-REORDER-1', notify.url);
    await pay('A-REORDER-1');
    await sleep(50);
    expect(notify.received).to.have.length(0);
    await alipay.call('alipay.trade.refund', { out_trade_no: 'A-REORDER-1', refund_amount: '12.34' });
    await waitFor(() => notify.received.length >= 2, 2_000, 'both notifications');
    expect([0, 1].map((index) => notification(notify, index).trade_status)).to.deep.equal([
      'TRADE_CLOSED',
      'TRADE_SUCCESS',
    ]);
  });

  it('stale query answers the previous state once', async () => {
    const notify = await receiver(() => 'success');
    await precreate('A-STALE-1', notify.url);
    await pay('A-STALE-1');
    await postJson(`${sandbox.url}/sandbox/faults`, {
      kind: 'query_stale',
      out_trade_no: 'A-STALE-1',
      times: 1,
    });
    expect(await alipay.call(QUERY, { out_trade_no: 'A-STALE-1' })).to.include({
      trade_status: 'WAIT_BUYER_PAY',
    });
    expect(await alipay.call(QUERY, { out_trade_no: 'A-STALE-1' })).to.include({
      trade_status: 'TRADE_SUCCESS',
    });
  });

  it('unknown result: SYSTEM_ERROR, yet the trade was created', async () => {
    await postJson(`${sandbox.url}/sandbox/faults`, {
      kind: 'unknown',
      out_trade_no: 'A-UNK-1',
      operation: 'create',
    });
    const answer = await alipay.call(PRECREATE, {
      out_trade_no: 'A-UNK-1',
      total_amount: '1.00',
      subject: 'x',
    });
    expect(answer).to.include({ code: '20000', sub_code: 'ACQ.SYSTEM_ERROR' });
    expect(await alipay.call(QUERY, { out_trade_no: 'A-UNK-1' })).to.include({
      trade_status: 'WAIT_BUYER_PAY',
    });
  });

  it("a decline fault refuses the create with 40004; a timeout fault holds the query answer past the caller's deadline", async () => {
    await postJson(`${sandbox.url}/sandbox/faults`, {
      kind: 'decline',
      out_trade_no: 'A-DEC-1',
      operation: 'create',
    });
    expect(
      await alipay.call(PRECREATE, { out_trade_no: 'A-DEC-1', total_amount: '1.00', subject: 'x' }),
    ).to.include({ code: '40004' });
    await postJson(`${sandbox.url}/sandbox/faults`, {
      kind: 'timeout',
      out_trade_no: 'A-DEC-1',
      operation: 'query',
      ms: 400,
      times: 1,
    });
    const started = Date.now();
    const timedOut = await fetch(keys.alipay.gateway_url, {
      method: 'POST',
      body: new URLSearchParams(alipay.params(QUERY, { out_trade_no: 'A-DEC-1' })),
      signal: AbortSignal.timeout(100),
    }).catch((err: unknown) => err);
    expect(timedOut).to.be.instanceOf(Error);
    expect(Date.now() - started).to.be.below(400);
    expect(await alipay.call(QUERY, { out_trade_no: 'A-DEC-1' })).to.include({
      sub_code: 'ACQ.TRADE_NOT_EXIST',
    });
  });

  it('at time scale 100000 plays the whole 24h22m schedule (8 attempts) and gives up', async () => {
    const fast = await setUp(100_000);
    try {
      const notify = await receiver(() => 'fail');
      const fastClient = fast.alipay;
      await fastClient.call(
        PRECREATE,
        { out_trade_no: 'A-GIVEUP', total_amount: '1.00', subject: 'x' },
        { notify_url: notify.url },
      );
      await postJson(`${fast.sandbox.url}/sandbox/pay`, { channel: 'alipay', out_trade_no: 'A-GIVEUP' });
      // Given up is final: the eight received now are all there will be.
      await waitForAttempts(fast.sandbox.url, 'A-GIVEUP', ['GAVE_UP'], 1);
      expect(notify.received).to.have.length(8);
      // 4m,10m,10m,1h,2h,6h,15h / 100000 = 2.4, 6, 6, 36, 72, 216, 540 ms (rounded).
      expectSchedule(gaps(notify.received), [2, 6, 6, 36, 72, 216, 540], 60);
      const log = await getJson<{ attempts: { outcome: string }[] }>(
        `${fast.sandbox.url}/sandbox/notifications`,
      );
      expect(log.attempts.at(-1)?.outcome).to.equal('GAVE_UP');
    } finally {
      await fast.sandbox.stop();
    }
  });
});
