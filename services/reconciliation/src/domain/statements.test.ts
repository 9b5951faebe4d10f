/**
 * Statement formats into lines: the channel-protocols bills (reused, not
 * re-parsed), a generic CSV by mapping (yuan / fen, signed / absolute, date
 * formats, status words), and refusals that name the file line: unknown
 * column, formula cell, malformed amount, wrong encoding; the channel
 * configuration's validation.
 */
import { expect } from 'chai';
import iconv from 'iconv-lite';
import { buildWechatBill, wechatBillRow } from '@paycore/channel-protocols';
import { BANK_PAYOUT_MAPPING, DEFAULT_CHANNELS, parseChannels } from './channels';
import { MalformedStatementError } from './errors';
import { parseGenericCsv, parseWechatStatement, summaryHolds, type GenericCsvMapping } from './statements';

const YUAN_SIGNED: GenericCsvMapping = {
  encoding: 'gbk',
  columns: {
    merchantOrderNo: '商户订单号',
    channelTxnNo: '流水号',
    kind: '类型',
    status: '状态',
    amount: '金额',
    fee: '手续费',
    currency: '币种',
    finishedAt: '完成时间',
  },
  ignoredColumns: ['备注'],
  amountUnit: 'YUAN',
  signConvention: 'SIGNED',
  dateFormat: 'YYYY-MM-DD HH:mm:ss',
  kindWords: { PAY: ['支付'], REFUND: ['退款'] },
  successWords: ['成功'],
};

function refusal(fn: () => unknown): MalformedStatementError {
  try {
    fn();
  } catch (err) {
    if (err instanceof MalformedStatementError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('statement formats', () => {
  it('a generic GBK CSV in signed yuan becomes lines with kinds, positive amounts and fees', () => {
    const text =
      '商户订单号,流水号,类型,状态,金额,手续费,币种,完成时间,备注\r\nA1,S1,支付,成功,12.34,0.07,CNY,2024-03-01 10:00:00,x\r\nR1,S2,退款,成功,-2.00,-0.01,CNY,2024-03-01 11:00:00,\r\n';
    const parsed = parseGenericCsv('f', iconv.encode(text, 'gbk'), YUAN_SIGNED);
    expect(
      parsed.lines.map((l) => [l.kind, l.merchantOrderNo, l.amountMinor, l.feeMinor, l.status]),
    ).to.deep.equal([
      ['PAY', 'A1', 1_234n, 7n, 'SUCCESS'],
      ['REFUND', 'R1', 200n, -1n, 'SUCCESS'],
    ]);
    expect(parsed.statedAmountMinor).to.equal(1_034n);
    expect(summaryHolds(parsed).holds).to.equal(true);
  });
  it('the bank payout file in fen with compact times', () => {
    const text =
      'out_payout_no,bank_serial,type,status,amount_fen,fee_fen,currency,finished_at,account_no_masked,remark\nP1,B1,代付,成功,5000,0,CNY,20240301120000,6222****1234,\nP2,B2,代付,失败,300,0,CNY,20240301120500,,\n';
    const parsed = parseGenericCsv('bank', Buffer.from(text), BANK_PAYOUT_MAPPING);
    expect(parsed.lines.map((l) => [l.kind, l.amountMinor, l.status, l.finishedAt])).to.deep.equal([
      ['PAYOUT', 5_000n, 'SUCCESS', '2024-03-01 12:00:00'],
      ['PAYOUT', 300n, '失败', '2024-03-01 12:05:00'],
    ]);
  });
  it('refusals name the file line and the reason', () => {
    const head =
      'out_payout_no,bank_serial,type,status,amount_fen,fee_fen,currency,finished_at,account_no_masked,remark\n';
    const bad = (row: string) =>
      refusal(() => parseGenericCsv('bank.csv', Buffer.from(head + row), BANK_PAYOUT_MAPPING));
    expect(bad('P1,B1,代付,成功,12.5,0,CNY,20240301120000,,\n').message).to.equal(
      'bank.csv, line 2: amount "12.5" is not integer fen',
    );
    expect(bad('P1,B1,代付,成功,100,0,CNY,20240301120000,,=cmd|x\n').line).to.equal(2);
    expect(bad('P1,B1,转账,成功,100,0,CNY,20240301120000,,\n').why).to.match(/unknown kind word/);
    const unknown = refusal(() => parseGenericCsv('x.csv', Buffer.from('a,b\n1,2\n'), BANK_PAYOUT_MAPPING));
    expect([unknown.line, unknown.why]).to.deep.equal([1, 'unknown column "a"']);
  });
  it('a WeChat bill is read by the shared parser; a formula cell or GBK bytes are refused', () => {
    const row = {
      tradeTime: '2024-03-01 10:00:00',
      appId: 'wx',
      mchId: 'm',
      transactionId: '42',
      outTradeNo: 'T1',
      tradeState: 'SUCCESS',
      totalFen: 500n,
      feeFen: 3n,
    };
    const bill = buildWechatBill({
      billType: 'ALL',
      rows: [wechatBillRow(row), wechatBillRow({ ...row, tradeState: 'REVOKED', outTradeNo: 'T2' })],
    });
    const parsed = parseWechatStatement('wx', Buffer.from(bill));
    expect(parsed.lines.map((l) => [l.merchantOrderNo, l.status, l.amountMinor])).to.deep.equal([
      ['T1', 'SUCCESS', 500n],
      ['T2', 'REVOKED', 500n],
    ]);
    const formula = buildWechatBill({ billType: 'ALL', rows: [wechatBillRow({ ...row, body: '@SUM(A1)' })] });
    expect(refusal(() => parseWechatStatement('wx', Buffer.from(formula))).line).to.equal(2);
    expect(refusal(() => parseWechatStatement('wx', iconv.encode(bill, 'gbk'))).why).to.match(
      /not valid UTF-8/,
    );
    const broken = bill.replace('`5.00', '`5.001');
    expect(refusal(() => parseWechatStatement('wx', Buffer.from(broken))).message).to.match(
      /^wx, line 2: (?!line)/,
    );
  });
  it('channel configuration is validated; empty means the defaults', () => {
    expect(parseChannels('')).to.equal(DEFAULT_CHANNELS);
    expect(
      parseChannels(
        '[{"channelNo":"100001","format":"ALIPAY_TRADE_ZIP","payChannel":"1001","holdDays":2}]',
      )[0]?.holdDays,
    ).to.equal(2);
    expect(() =>
      parseChannels('[{"channelNo":"1","format":"ALIPAY_TRADE_ZIP","payChannel":"1001","holdDays":1}]'),
    ).to.throw(/6 digits/);
    expect(() =>
      parseChannels('[{"channelNo":"300001","format":"GENERIC_CSV","payChannel":"4001","holdDays":1}]'),
    ).to.throw(/mapping/);
  });
});
