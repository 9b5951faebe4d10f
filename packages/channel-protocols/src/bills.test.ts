/**
 * Proves the bill codecs. Alipay: build → parse round-trips trades and refunds
 * (negative amounts, service fees, a product name with a comma and quotes);
 * the archive is a real zip (listed by the system `unzip -l` when installed,
 * and by our reader) holding the 业务明细 and 汇总 files; their bytes are GBK
 * (iconv decodes the Chinese header, UTF-8 does not); the header, column,
 * footer and line counts are exactly as laid out; tampered totals are caught.
 * WeChat: ALL / SUCCESS / REFUND bills round-trip, every value carries its
 * backtick, the bill ends with the two summary lines, and bad input is refused.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import iconv from 'iconv-lite';
import {
  ALIPAY_DETAIL_COLUMNS,
  alipayBillLine,
  alipayDetailCsv,
  buildAlipayBill,
  buildWechatBill,
  parseAlipayBill,
  parseAlipayDetailCsv,
  parseWechatBill,
  ProtocolError,
  readZip,
  WECHAT_BILL_COLUMNS,
  wechatBillRow,
  type AlipayBill,
  type WechatBillRow,
} from './index';

const ALIPAY_BILL: AlipayBill = {
  account: '20880000000000010156',
  billDate: '2024-02-29',
  exportedAt: '2024-03-01 09:15:30',
  lines: [
    alipayBillLine({
      tradeNo: '2024022922001400000000000001',
      outTradeNo: 'ORDER-1',
      businessType: '交易',
      subject: '书, "精装"',
      createdAt: '2024-02-29 10:00:00',
      finishedAt: '2024-02-29 10:00:05',
      counterparty: 'abc***@163.com',
      orderAmountFen: 10000n,
      serviceFeeFen: -60n,
    }),
    alipayBillLine({
      tradeNo: '2024022922001400000000000002',
      outTradeNo: 'ORDER-2',
      businessType: '交易',
      subject: '笔',
      createdAt: '2024-02-29 11:00:00',
      finishedAt: '2024-02-29 11:00:01',
      orderAmountFen: 1n,
      storeId: 'S1',
      storeName: '一号店',
    }),
    alipayBillLine({
      tradeNo: '2024022922001400000000000001',
      outTradeNo: 'ORDER-1',
      businessType: '退款',
      subject: '书, "精装"',
      createdAt: '2024-02-29 10:00:00',
      finishedAt: '2024-02-29 20:00:00',
      orderAmountFen: -2500n,
      serviceFeeFen: 15n,
      refundRequestNo: 'R-1',
    }),
  ],
};

describe('alipay bill', () => {
  const zip = buildAlipayBill(ALIPAY_BILL);

  it('round-trips through the zip', () => {
    const parsed = parseAlipayBill(zip);
    expect(parsed.account).to.equal(ALIPAY_BILL.account);
    expect(parsed.billDate).to.equal(ALIPAY_BILL.billDate);
    expect(parsed.exportedAt).to.equal(ALIPAY_BILL.exportedAt);
    expect(parsed.lines).to.deep.equal(ALIPAY_BILL.lines);
    expect(parsed.totals).to.deep.equal({
      tradeCount: 2,
      refundCount: 1,
      merchantReceivedFen: 7501n,
      serviceFeeFen: -45n,
    });
    expect(parsed.detailFileName).to.equal('20880000000000010156_20240229_业务明细.csv');
    expect(parsed.summaryFileName).to.equal('20880000000000010156_20240229_业务明细(汇总).csv');
  });

  it('is deterministic: the same records give the same bytes', () => {
    expect(buildAlipayBill(ALIPAY_BILL).equals(zip)).to.equal(true);
  });

  it('is a zip that unzip can list', function () {
    if (!existsSync('/usr/bin/unzip')) this.skip();
    const dir = mkdtempSync(join(tmpdir(), 'alipay-bill-'));
    try {
      writeFileSync(join(dir, 'bill.zip'), zip);
      execFileSync('unzip', ['-tq', join(dir, 'bill.zip')]);
      const listing = execFileSync('unzip', ['-l', join(dir, 'bill.zip')]).toString('latin1');
      expect(listing).to.match(/\s2 files\s*$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('holds GBK CSVs in the Alipay layout', () => {
    const entries = readZip(zip);
    expect(entries.map((entry) => entry.name)).to.deep.equal([
      '20880000000000010156_20240229_业务明细.csv',
      '20880000000000010156_20240229_业务明细(汇总).csv',
    ]);
    const detailBytes = entries[0]!.data;
    expect(detailBytes.toString('utf8').includes('#支付宝业务明细查询')).to.equal(false);
    const text = iconv.decode(detailBytes, 'gbk');
    expect(iconv.encode(text, 'gbk').equals(detailBytes)).to.equal(true);
    const lines = text.split('\r\n');
    expect(lines.pop()).to.equal('');
    expect(lines).to.have.length(4 + 1 + 3 + 3);
    expect(lines.slice(0, 3)).to.deep.equal([
      '#支付宝业务明细查询',
      '#账号：[20880000000000010156]',
      '#起始日期：[2024年02月29日 00:00:00]   终止日期：[2024年03月01日 00:00:00]',
    ]);
    expect(lines[4]).to.equal(ALIPAY_DETAIL_COLUMNS.join(','));
    expect(lines[4]!.split(',')).to.have.length(25);
    expect(lines[5]).to.equal(
      '2024022922001400000000000001,ORDER-1,交易,"书, ""精装""",2024-02-29 10:00:00,2024-02-29 10:00:05,,,,,' +
        'abc***@163.com,100.00,100.00,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,,-0.60,0.00,',
    );
    expect(lines[7]).to.contain(',退款,').and.contain(',-25.00,-25.00,').and.contain(',R-1,0.15,');
    expect(lines.slice(-3)).to.deep.equal([
      '#-----------------------------------------业务明细列表结束------------------------------------',
      '#交易合计：2笔，退款合计：1笔，商家实收：75.01元，服务费：-0.45元',
      '#导出时间：[2024年03月01日 09:15:30]',
    ]);
    const summary = iconv.decode(entries[1]!.data, 'gbk').split('\r\n');
    expect(summary[0]).to.equal('#支付宝业务汇总查询');
    expect(summary).to.include('合计,,2,1,75.01,75.01,0.00,0.00,0.00,0.00,0.00,0.00,0.00,-0.45,0.00,74.56');
    expect(summary).to.include('S1,一号店,1,0,0.01,0.01,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.01');
  });

  it('catches a footer that disagrees with the lines, and a refund with a positive amount', () => {
    const text = alipayDetailCsv(ALIPAY_BILL).replace('退款合计：1笔', '退款合计：2笔');
    expect(() => parseAlipayDetailCsv(text)).to.throw(ProtocolError, /footer totals/);
    const positiveRefund = { ...ALIPAY_BILL, lines: [{ ...ALIPAY_BILL.lines[2]!, orderAmountFen: 2500n }] };
    expect(() => buildAlipayBill(positiveRefund)).to.throw(ProtocolError);
    expect(() => parseAlipayBill(Buffer.from('not a zip at all, not even close'))).to.throw(ProtocolError);
  });

  it('builds an empty bill', () => {
    const parsed = parseAlipayBill(buildAlipayBill({ ...ALIPAY_BILL, lines: [] }));
    expect(parsed.lines).to.deep.equal([]);
    expect(parsed.totals.tradeCount).to.equal(0);
  });
});

const PAYMENT: WechatBillRow = wechatBillRow({
  tradeTime: '2024-02-29 10:00:05',
  appId: 'wx0000000000000001',
  mchId: '1900000109',
  transactionId: '4200000000202402290000000001',
  outTradeNo: 'ORDER-1',
  openId: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
  tradeState: 'SUCCESS',
  totalFen: 10000n,
  feeFen: 60n,
  body: '书',
});
const REFUND: WechatBillRow = wechatBillRow({
  ...PAYMENT,
  tradeTime: '2024-02-29 20:00:00',
  tradeState: 'REFUND',
  settlementTotalFen: 0n,
  refundRequestedAt: '2024-02-29 19:59:00',
  refundSucceededAt: '2024-02-29 20:00:00',
  refundId: '50000000002024022900000000001',
  outRefundNo: 'R-1',
  refundFen: 2500n,
  requestedRefundFen: 2500n,
  refundType: 'ORIGINAL',
  refundStatus: 'SUCCESS',
  feeFen: -15n,
});

describe('wechat bill', () => {
  it('ALL: header, backticked rows, two summary lines; round-trips', () => {
    const text = buildWechatBill({ billType: 'ALL', rows: [PAYMENT, REFUND] });
    const lines = text.split('\r\n');
    expect(lines.pop()).to.equal('');
    expect(lines).to.have.length(1 + 2 + 2);
    expect(lines[0]).to.equal(WECHAT_BILL_COLUMNS.ALL.join(','));
    expect(lines[0]!.split(',')).to.have.length(27);
    for (const line of lines.slice(1, 3)) {
      const values = line.split(',');
      expect(values).to.have.length(27);
      for (const value of values) expect(value.startsWith('`'), value).to.equal(true);
    }
    expect(lines[3]).to.equal(
      '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额',
    );
    expect(lines[4]).to.equal('`2,`100.00,`25.00,`0.00,`0.45,`200.00,`25.00');
    const parsed = parseWechatBill(text);
    expect(parsed.billType).to.equal('ALL');
    // ALL has no refund request / success time columns, so those read back empty.
    expect(parsed.rows).to.deep.equal([PAYMENT, { ...REFUND, refundRequestedAt: '', refundSucceededAt: '' }]);
    expect(parsed.summary.rowCount).to.equal(2);
  });

  it('SUCCESS and REFUND column sets round-trip', () => {
    const success = buildWechatBill({ billType: 'SUCCESS', rows: [PAYMENT] });
    expect(success.split('\r\n')[1]!.split(',')).to.have.length(20);
    expect(parseWechatBill(success).rows).to.deep.equal([PAYMENT]);
    const refund = buildWechatBill({ billType: 'REFUND', rows: [REFUND] });
    expect(refund.split('\r\n')[0]).to.equal(WECHAT_BILL_COLUMNS.REFUND.join(','));
    expect(refund.split('\r\n')[1]!.split(',')).to.have.length(29);
    expect(parseWechatBill(refund).rows).to.deep.equal([REFUND]);
  });

  it('refuses unwritable values, missing backticks and wrong summaries', () => {
    expect(() => buildWechatBill({ billType: 'ALL', rows: [{ ...PAYMENT, body: 'a,b' }] })).to.throw(
      ProtocolError,
    );
    const text = buildWechatBill({ billType: 'ALL', rows: [PAYMENT] });
    expect(() => parseWechatBill(text.replace('`ORDER-1', 'ORDER-1'))).to.throw(ProtocolError, /backtick/);
    expect(() => parseWechatBill(text.replace('`1,`100.00', '`2,`100.00'))).to.throw(
      ProtocolError,
      /summary/,
    );
    expect(() => parseWechatBill(text.replace('交易时间', '交易日期'))).to.throw(ProtocolError);
  });
});
