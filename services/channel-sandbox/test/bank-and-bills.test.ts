/**
 * Proves the bank payout API (signed JSON envelopes both ways: accepted as
 * PROCESSING, SUCCESS after one scaled minute, idempotent by out_payout_no,
 * reuse with other content refused, bad signature refused with code 1001,
 * decline fault → FAILED) and the bill downloads: after paying and refunding
 * through both channels, the Alipay zip fetched via the signed download URL
 * and the WeChat downloadbill text are byte-identical to what the protocol
 * package's builders make of the sandbox's records (`/sandbox/bill-records`),
 * those records hold exactly the trades and refunds the test made, the files
 * parse back with the right line counts, and bill faults (missing line,
 * extra line, wrong amount) change exactly what they say; the request tally
 * (`/sandbox/calls`) counts every signed call per number, replays included.
 */
import {
  buildAlipayBill,
  buildWechatBill,
  parseAlipayBill,
  parseWechatBill,
  readZip,
  toXml,
  type AlipayBill,
  type AlipayBillLine,
  type WechatBill,
  type WechatBillRow,
} from '@paycore/channel-protocols';
import { expect } from 'chai';
import iconv from 'iconv-lite';
import pino from 'pino';
import { startSandbox, type RunningSandbox } from '../src/index';
import {
  AlipayClient,
  BankClient,
  chinaNow,
  getJson,
  postJson,
  sleep,
  WechatClient,
  type SandboxKeysDocument,
} from './helpers';

/** JSON from /sandbox/bill-records carries amounts as strings; fields ending in Fen become bigint again. */
function revive(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => [
      key,
      key.endsWith('Fen') && typeof v === 'string' ? BigInt(v) : v,
    ]),
  );
}

describe('channel-sandbox: bank payout and bills', function () {
  this.timeout(20_000);
  let sandbox: RunningSandbox;
  let keys: SandboxKeysDocument;

  before(async () => {
    sandbox = await startSandbox({ timeScale: 1000, logger: pino({ level: 'silent' }) });
    keys = await getJson<SandboxKeysDocument>(`${sandbox.url}/sandbox/keys`);
  });
  after(() => sandbox.stop());
  afterEach(async () => {
    await fetch(`${sandbox.url}/sandbox/faults`, { method: 'DELETE' });
  });

  it('payout: PROCESSING → SUCCESS, idempotent, conflicts and forgeries refused, decline fails it', async () => {
    const bank = new BankClient(keys.bank);
    const request = {
      out_payout_no: 'P-1',
      amount: '123456',
      currency: 'CNY',
      account_no: '6222020200001234567',
      account_name: '张三',
      bank_code: 'ICBC',
    };
    expect(await bank.call('/payout', request)).to.include({
      code: '0000',
      status: 'PROCESSING',
      amount: '123456',
    });
    expect(await bank.call('/payout/query', { out_payout_no: 'P-1' })).to.include({ status: 'PROCESSING' });
    await sleep(150);
    const done = await bank.call('/payout/query', { out_payout_no: 'P-1' });
    expect(done).to.include({ code: '0000', status: 'SUCCESS', out_payout_no: 'P-1' });
    expect(await bank.call('/payout', request)).to.include({
      status: 'SUCCESS',
      bank_serial_no: done.bank_serial_no,
    });
    expect(await bank.call('/payout', { ...request, amount: '1' })).to.include({ code: '1002' });
    expect(await bank.call('/payout/query', { out_payout_no: 'P-NONE' })).to.include({ code: '1004' });
    const held = await getJson<{ payouts: Record<string, unknown>[] }>(
      `${sandbox.url}/sandbox/payouts?account_no=6222020200001234567`,
    );
    // One payout for the payee; three requests named its number (the first, the replay, the conflict).
    expect(held.payouts).to.have.length(1);
    expect(held.payouts[0]).to.include({ out_payout_no: 'P-1', status: 'SUCCESS', requests: 3 });

    const forged = await fetch(`${keys.bank.base_url}/payout`, {
      method: 'POST',
      body: JSON.stringify({
        mch_id: keys.bank.mch_id,
        timestamp: String(Date.now()),
        nonce: 'n',
        sign_type: 'HMAC-SHA256',
        body: JSON.stringify({ ...request, out_payout_no: 'P-F' }),
        sign: 'ab'.repeat(32),
      }),
    });
    expect(JSON.parse((JSON.parse(await forged.text()) as { body: string }).body)).to.include({
      code: '1001',
    });
    expect(await bank.call('/payout/query', { out_payout_no: 'P-F' })).to.include({ code: '1004' });

    await postJson(`${sandbox.url}/sandbox/faults`, {
      kind: 'decline',
      channel: 'bank',
      out_trade_no: 'P-2',
    });
    expect(await bank.call('/payout', { ...request, out_payout_no: 'P-2' })).to.include({
      status: 'FAILED',
      fail_reason: '收款账户户名不符',
    });
  });

  it('bills are byte-identical to the builders over the sandbox records, and parse back', async () => {
    const alipay = new AlipayClient(keys.alipay);
    const wechat = new WechatClient(keys.wechat);
    for (const [no, amount] of [
      ['B-A-1', '10.00'],
      ['B-A-2', '0.99'],
      ['B-A-3', '5.00'],
    ] as const) {
      await alipay.call('alipay.trade.precreate', {
        out_trade_no: no,
        total_amount: amount,
        subject: '账单测试',
      });
      await postJson(`${sandbox.url}/sandbox/pay`, { channel: 'alipay', out_trade_no: no });
    }
    await alipay.call('alipay.trade.precreate', {
      out_trade_no: 'B-A-UNPAID',
      total_amount: '1.00',
      subject: 'x',
    });
    await alipay.call('alipay.trade.refund', {
      out_trade_no: 'B-A-1',
      refund_amount: '2.50',
      out_request_no: 'BR-1',
    });
    for (const [no, fee] of [
      ['B-W-1', '1000'],
      ['B-W-2', '99'],
    ] as const) {
      await wechat.call('/pay/unifiedorder', {
        out_trade_no: no,
        total_fee: fee,
        body: '账单测试',
        spbill_create_ip: '127.0.0.1',
        notify_url: 'http://127.0.0.1:1/n',
        trade_type: 'NATIVE',
      });
      await postJson(`${sandbox.url}/sandbox/pay`, { channel: 'wechat', out_trade_no: no });
    }
    await wechat.call('/secapi/pay/refund', {
      out_trade_no: 'B-W-1',
      out_refund_no: 'BWR-1',
      total_fee: '1000',
      refund_fee: '300',
    });
    const today = chinaNow().date;

    // Alipay: URL from the gateway, zip from the URL.
    const urlAnswer = await alipay.call('alipay.data.dataservice.bill.downloadurl.query', {
      bill_type: 'trade',
      bill_date: today,
    });
    const download = await fetch(String(urlAnswer.bill_download_url));
    expect(download.status).to.equal(200);
    const zip = Buffer.from(await download.arrayBuffer());
    const rawAlipay = await getJson<Record<string, unknown> & { lines: Record<string, unknown>[] }>(
      `${sandbox.url}/sandbox/bill-records?channel=alipay&date=${today}`,
    );
    const alipayRecords: AlipayBill = {
      ...(rawAlipay as unknown as AlipayBill),
      lines: rawAlipay.lines.map((l) => revive(l) as unknown as AlipayBillLine),
    };
    expect(buildAlipayBill(alipayRecords).equals(zip)).to.equal(true);
    expect(
      alipayRecords.lines.map((l) => [l.outTradeNo, l.businessType, l.orderAmountFen]),
    ).to.have.deep.members([
      ['B-A-1', '交易', 1000n],
      ['B-A-2', '交易', 99n],
      ['B-A-3', '交易', 500n],
      ['B-A-1', '退款', -250n],
    ]);
    const parsedAlipay = parseAlipayBill(zip);
    expect(parsedAlipay.lines).to.have.length(4);
    expect(parsedAlipay.totals).to.deep.include({
      tradeCount: 3,
      refundCount: 1,
      merchantReceivedFen: 1349n,
    });
    const detail = iconv.decode(readZip(zip)[0]!.data, 'gbk').split('\r\n');
    expect(detail).to.have.length(4 + 1 + 4 + 3 + 1);
    const wrongUrl = String(urlAnswer.bill_download_url).replace(/token=[0-9a-f]+/, 'token=00');
    expect((await fetch(wrongUrl)).status).to.equal(403);

    // WeChat: the bill text is the answer to downloadbill.
    const billDate = today.replace(/-/g, '');
    const text = await wechat.raw(
      '/pay/downloadbill',
      toXml(wechat.fields({ bill_date: billDate, bill_type: 'ALL' })),
    );
    const rawWechat = await getJson<{ billType: 'ALL'; rows: Record<string, unknown>[] }>(
      `${sandbox.url}/sandbox/bill-records?channel=wechat&date=${today}&bill_type=ALL`,
    );
    const wechatRecords: WechatBill = {
      billType: 'ALL',
      rows: rawWechat.rows.map((r) => revive(r) as unknown as WechatBillRow),
    };
    expect(buildWechatBill(wechatRecords)).to.equal(text);
    const parsedWechat = parseWechatBill(text);
    expect(
      parsedWechat.rows.map((r) => [r.outTradeNo, r.tradeState, r.totalFen, r.refundFen]),
    ).to.have.deep.members([
      ['B-W-1', 'SUCCESS', 1000n, 0n],
      ['B-W-2', 'SUCCESS', 99n, 0n],
      ['B-W-1', 'REFUND', 0n, 300n],
    ]);
    expect(text.split('\r\n')).to.have.length(1 + 3 + 2 + 1);
    const refundOnly = await wechat.raw(
      '/pay/downloadbill',
      toXml(wechat.fields({ bill_date: billDate, bill_type: 'REFUND' })),
    );
    expect(parseWechatBill(refundOnly).rows).to.have.length(1);
    const none = await wechat.raw(
      '/pay/downloadbill',
      toXml(wechat.fields({ bill_date: '20000101', bill_type: 'ALL' })),
    );
    expect(none).to.contain('No Bill Exist');
  });

  it('bill faults: missing, extra and wrong-amount lines change the file as scripted', async () => {
    const today = chinaNow().date;
    const before = parseAlipayBill(
      Buffer.from(await (await fetch(await alipayBillUrl(today))).arrayBuffer()),
    );
    await postJson(`${sandbox.url}/sandbox/faults`, {
      faults: [
        { kind: 'bill_missing', channel: 'alipay', out_trade_no: 'B-A-2' },
        { kind: 'bill_extra', channel: 'alipay', out_trade_no: 'B-A-GHOST' },
        { kind: 'bill_wrong_amount', channel: 'alipay', out_trade_no: 'B-A-3', delta_fen: '7' },
      ],
    });
    const after = parseAlipayBill(Buffer.from(await (await fetch(await alipayBillUrl(today))).arrayBuffer()));
    expect(after.lines).to.have.length(before.lines.length);
    expect(after.lines.map((l) => l.outTradeNo)).to.not.include('B-A-2');
    expect(after.lines.map((l) => l.outTradeNo)).to.include('B-A-GHOST');
    expect(after.lines.find((l) => l.outTradeNo === 'B-A-3')?.orderAmountFen).to.equal(507n);
  });

  async function alipayBillUrl(date: string): Promise<string> {
    const answer = await new AlipayClient(keys.alipay).call(
      'alipay.data.dataservice.bill.downloadurl.query',
      { bill_type: 'trade', bill_date: date },
    );
    return String(answer.bill_download_url);
  }
  it('the request tally counts every signed call per number, replays and conflicts included', async () => {
    const bank = new BankClient(keys.bank);
    const alipay = new AlipayClient(keys.alipay);
    const request = {
      out_payout_no: 'T-1',
      amount: '500',
      currency: 'CNY',
      account_no: '6222020200001234567',
      account_name: '张三',
      bank_code: 'ICBC',
    };
    await bank.call('/payout', request);
    await bank.call('/payout', request);
    await bank.call('/payout', { ...request, amount: '1' });
    await bank.call('/payout/query', { out_payout_no: 'T-1' });
    await alipay.call('alipay.trade.precreate', { out_trade_no: 'T-A', total_amount: '1.00', subject: 's' });
    await postJson(`${sandbox.url}/sandbox/pay`, { channel: 'alipay', out_trade_no: 'T-A' });
    for (let i = 0; i < 2; i++)
      await alipay.call('alipay.trade.refund', {
        out_trade_no: 'T-A',
        out_request_no: 'T-R',
        refund_amount: '0.50',
      });
    type Tally = { calls: { channel: string; operation: string; key: string; count: number }[] };
    const bankCalls = await getJson<Tally>(`${sandbox.url}/sandbox/calls?channel=bank`);
    const of = (t: Tally, key: string) =>
      t.calls.filter((c) => c.key === key).map((c) => [c.operation, c.count]);
    expect(of(bankCalls, 'T-1')).to.deep.equal([
      ['payout', 3],
      ['payout_query', 1],
    ]);
    const refunds = await getJson<Tally>(`${sandbox.url}/sandbox/calls?channel=alipay&operation=refund`);
    expect(of(refunds, 'T-A/T-R')).to.deep.equal([['refund', 2]]);
    const creates = await getJson<Tally>(`${sandbox.url}/sandbox/calls?channel=alipay&operation=create`);
    expect(of(creates, 'T-A')).to.deep.equal([['create', 1]]);
  });
});
