/**
 * Proves the sandbox's WeChat Pay v2 API end to end over HTTP with both sign
 * types, every answer's signature verified with @paycore/channel-protocols:
 * unifiedorder → simulated payer → signed XML notification to a local
 * receiver, refused (FAIL answers and non-XML) until `return_code` SUCCESS,
 * resent on WeChat's schedule / 1000 (15 s → 15 ms …) and stopped there;
 * orderquery NOTPAY → SUCCESS → REFUND, refund idempotent by out_refund_no,
 * refundquery, closeorder, and the faults: a bad sign gets `return_code` FAIL
 * `签名错误` and creates nothing, dropped notifications never arrive while
 * the query shows SUCCESS, duplicates arrive twice, payer outcomes give
 * USERPAYING / PAYERROR / REVOKED.
 */
import { fromXml, toXml, wechatVerify } from '@paycore/channel-protocols';
import { expect } from 'chai';
import pino from 'pino';
import { startSandbox, type RunningSandbox } from '../src/index';
import {
  expectSchedule,
  gaps,
  getJson,
  postJson,
  Receiver,
  waitFor,
  waitForAttempts,
  WechatClient,
  type SandboxKeysDocument,
} from './helpers';

const SUCCESS_XML = toXml({ return_code: 'SUCCESS', return_msg: 'OK' });
const FAIL_XML = toXml({ return_code: 'FAIL', return_msg: 'busy' });

describe('channel-sandbox: WeChat Pay v2', function () {
  this.timeout(20_000);
  let sandbox: RunningSandbox;
  let keys: SandboxKeysDocument;
  let wechat: WechatClient;
  const receivers: Receiver[] = [];

  before(async () => {
    sandbox = await startSandbox({ timeScale: 1000, logger: pino({ level: 'silent' }) });
    keys = await getJson<SandboxKeysDocument>(`${sandbox.url}/sandbox/keys`);
    wechat = new WechatClient(keys.wechat);
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

  function order(outTradeNo: string, notifyUrl: string, totalFee = '1234'): Record<string, string> {
    return {
      out_trade_no: outTradeNo,
      total_fee: totalFee,
      body: '测试商品',
      spbill_create_ip: '127.0.0.1',
      notify_url: notifyUrl,
      trade_type: 'NATIVE',
    };
  }

  async function pay(outTradeNo: string, outcome = 'success'): Promise<number> {
    return (
      await postJson(`${sandbox.url}/sandbox/pay`, { channel: 'wechat', out_trade_no: outTradeNo, outcome })
    ).status;
  }

  for (const signType of ['MD5', 'HMAC-SHA256'] as const) {
    it(`${signType}: pays, notifies on the scaled schedule until return_code SUCCESS, query shows SUCCESS`, async () => {
      const answers = [
        FAIL_XML,
        'success',
        '<xml><return_code>FAIL</return_code></xml>',
        'not xml',
        SUCCESS_XML,
      ];
      const notify = await receiver((index) => answers[index] ?? SUCCESS_XML);
      const outTradeNo = `W-PAY-${signType.slice(0, 3)}`;
      const created = await wechat.call('/pay/unifiedorder', order(outTradeNo, notify.url), signType);
      expect(created).to.include({ return_code: 'SUCCESS', result_code: 'SUCCESS', trade_type: 'NATIVE' });
      expect(created.code_url).to.match(/^weixin:\/\/wxpay\/bizpayurl\?pr=/);
      expect(await wechat.call('/pay/orderquery', { out_trade_no: outTradeNo }, signType)).to.include({
        trade_state: 'NOTPAY',
      });
      expect(await pay(outTradeNo)).to.equal(200);
      await waitFor(() => notify.received.length >= 5, 5_000, 'five attempts');
      // 15 s, 15 s, 30 s, 3 m at 1/1000.
      expectSchedule(gaps(notify.received), [15, 15, 30, 180], 80);
      // The fifth attempt was acknowledged: an acknowledged notification is never sent again.
      await waitForAttempts(sandbox.url, outTradeNo, ['ACKNOWLEDGED'], 1);
      expect(notify.received, 'no resend after SUCCESS').to.have.length(5);
      const notification = fromXml(notify.received[0]?.body ?? '');
      expect(wechatVerify(notification, keys.wechat.api_key, signType)).to.equal(true);
      expect(notification).to.include({
        result_code: 'SUCCESS',
        out_trade_no: outTradeNo,
        total_fee: '1234',
      });
      const queried = await wechat.call('/pay/orderquery', { out_trade_no: outTradeNo }, signType);
      expect(queried).to.include({
        trade_state: 'SUCCESS',
        total_fee: '1234',
        transaction_id: notification.transaction_id,
      });
      expect(queried.time_end).to.match(/^\d{14}$/);
    });
  }

  it('refunds idempotently, refuses over-refunds, answers refundquery, and moves the order to REFUND', async () => {
    const notify = await receiver(() => SUCCESS_XML);
    await wechat.call('/pay/unifiedorder', order('W-REF-1', notify.url, '10000'));
    const early = await wechat.call('/secapi/pay/refund', {
      out_trade_no: 'W-REF-1',
      out_refund_no: 'WR1',
      total_fee: '10000',
      refund_fee: '100',
    });
    expect(early).to.include({ result_code: 'FAIL', err_code: 'TRADE_STATE_ERROR' });
    await pay('W-REF-1');
    const request = { out_trade_no: 'W-REF-1', out_refund_no: 'WR1', total_fee: '10000', refund_fee: '2500' };
    const first = await wechat.call('/secapi/pay/refund', request);
    expect(first).to.include({ result_code: 'SUCCESS', refund_fee: '2500' });
    const again = await wechat.call('/secapi/pay/refund', request);
    expect(again.refund_id).to.equal(first.refund_id);
    expect(
      await wechat.call('/secapi/pay/refund', { ...request, out_refund_no: 'WR2', refund_fee: '7501' }),
    ).to.include({
      result_code: 'FAIL',
      err_code: 'INVALID_REQUEST',
    });
    const queried = await wechat.call('/pay/refundquery', { out_trade_no: 'W-REF-1' });
    expect(queried).to.include({
      result_code: 'SUCCESS',
      refund_count: '1',
      refund_fee_0: '2500',
      refund_status_0: 'SUCCESS',
      out_refund_no_0: 'WR1',
    });
    expect(await wechat.call('/pay/refundquery', { out_refund_no: 'NOPE' })).to.include({
      err_code: 'REFUNDNOTEXIST',
    });
    expect(await wechat.call('/pay/orderquery', { out_trade_no: 'W-REF-1' })).to.include({
      trade_state: 'REFUND',
    });
  });

  it('closes an unpaid order; a paid one cannot be closed; unknown orders are ORDERNOTEXIST', async () => {
    const notify = await receiver(() => SUCCESS_XML);
    await wechat.call('/pay/unifiedorder', order('W-CLOSE-1', notify.url));
    expect(await wechat.call('/pay/closeorder', { out_trade_no: 'W-CLOSE-1' })).to.include({
      result_code: 'SUCCESS',
    });
    expect(await wechat.call('/pay/orderquery', { out_trade_no: 'W-CLOSE-1' })).to.include({
      trade_state: 'CLOSED',
    });
    expect(await wechat.call('/pay/unifiedorder', order('W-CLOSE-1', notify.url))).to.include({
      err_code: 'ORDERCLOSED',
    });
    await wechat.call('/pay/unifiedorder', order('W-CLOSE-2', notify.url));
    await pay('W-CLOSE-2');
    expect(await wechat.call('/pay/closeorder', { out_trade_no: 'W-CLOSE-2' })).to.include({
      err_code: 'ORDERPAID',
    });
    expect(await wechat.call('/pay/orderquery', { out_trade_no: 'W-NONE' })).to.include({
      err_code: 'ORDERNOTEXIST',
    });
  });

  it('reports USERPAYING, PAYERROR and REVOKED from the payer outcomes', async () => {
    const notify = await receiver(() => SUCCESS_XML);
    for (const [outcome, state] of [
      ['paying', 'USERPAYING'],
      ['failed', 'PAYERROR'],
      ['revoked', 'REVOKED'],
    ] as const) {
      const outTradeNo = `W-OUT-${outcome}`;
      await wechat.call('/pay/unifiedorder', order(outTradeNo, notify.url));
      expect(await pay(outTradeNo, outcome)).to.equal(200);
      expect(await wechat.call('/pay/orderquery', { out_trade_no: outTradeNo })).to.include({
        trade_state: state,
      });
    }
    expect(notify.received).to.have.length(0);
  });

  it('refuses a bad signature with return_code FAIL 签名错误 and creates nothing', async () => {
    const fields = wechat.fields(order('W-FORGED', 'http://127.0.0.1:1/n'));
    const tampered = toXml({ ...fields, total_fee: '1' });
    expect(fromXml(await wechat.raw('/pay/unifiedorder', tampered))).to.deep.equal({
      return_code: 'FAIL',
      return_msg: '签名错误',
    });
    const wrongType = toXml({ ...fields, sign_type: 'HMAC-SHA256' });
    expect(fromXml(await wechat.raw('/pay/unifiedorder', wrongType)).return_msg).to.equal('签名错误');
    expect(fromXml(await wechat.raw('/pay/unifiedorder', '<!DOCTYPE x><xml/>')).return_code).to.equal('FAIL');
    expect(await wechat.call('/pay/orderquery', { out_trade_no: 'W-FORGED' })).to.include({
      err_code: 'ORDERNOTEXIST',
    });
  });

  it('dropped notification never arrives but query shows SUCCESS; duplicated arrives twice', async () => {
    const notify = await receiver(() => SUCCESS_XML);
    await postJson(`${sandbox.url}/sandbox/faults`, {
      faults: [
        { kind: 'notify_drop', out_trade_no: 'W-DROP' },
        { kind: 'notify_duplicate', out_trade_no: 'W-DUP', copies: 2 },
      ],
    });
    await wechat.call('/pay/unifiedorder', order('W-DROP', notify.url));
    await pay('W-DROP');
    await waitForAttempts(sandbox.url, 'W-DROP', ['DROPPED'], 1);
    expect(notify.received).to.have.length(0);
    expect(await wechat.call('/pay/orderquery', { out_trade_no: 'W-DROP' })).to.include({
      trade_state: 'SUCCESS',
    });
    await wechat.call('/pay/unifiedorder', order('W-DUP', notify.url));
    await pay('W-DUP');
    await waitForAttempts(sandbox.url, 'W-DUP', ['ACKNOWLEDGED'], 2);
    expect(notify.received.map((r) => fromXml(r.body).out_trade_no)).to.deep.equal(['W-DUP', 'W-DUP']);
  });

  it('unknown result answers SYSTEMERROR; rejects malformed fault scripts', async () => {
    await postJson(`${sandbox.url}/sandbox/faults`, {
      kind: 'unknown',
      channel: 'wechat',
      operation: 'create',
      applied: false,
    });
    expect(await wechat.call('/pay/unifiedorder', order('W-UNK', 'http://127.0.0.1:1/n'))).to.include({
      err_code: 'SYSTEMERROR',
    });
    await fetch(`${sandbox.url}/sandbox/faults`, { method: 'DELETE' });
    expect(await wechat.call('/pay/orderquery', { out_trade_no: 'W-UNK' })).to.include({
      err_code: 'ORDERNOTEXIST',
    });
    expect((await postJson(`${sandbox.url}/sandbox/faults`, { kind: 'nope' })).status).to.equal(400);
    expect((await postJson(`${sandbox.url}/sandbox/faults`, { kind: 'slow', ms: -1 })).status).to.equal(400);
    expect((await postJson(`${sandbox.url}/sandbox/faults`, { kind: 'slow', extra: 1 })).status).to.equal(
      400,
    );
  });
});
