/**
 * Alipay's merchant bill (`data.dataservice.bill.downloadurl.query`, bill type
 * `trade`): a zip holding two GBK CSV files,
 *
 * - `<account>_<yyyymmdd>_业务明细.csv`: `#` header lines, the 25 业务明细
 *   columns, one line per trade and per refund (refund amounts negative, the
 *   service fee negative on a trade and given back positive on a refund),
 *   `#` footer lines with the counts and totals and the export time;
 * - `<account>_<yyyymmdd>_业务明细(汇总).csv`: the same period summed per store.
 *
 * Amounts are yuan with two decimals on the wire and bigint fen here. The
 * builder is deterministic (export time is an input), so a bill rebuilt from
 * the same records is byte-identical.
 */
import iconv from 'iconv-lite';
import { fenToYuan, yuanToFen } from './amount';
import { assertDate, dateTimeParts, fromChineseDateTime, nextDate, toChineseDateTime } from './bill-dates';
import { csvLine, parseCsvLine, splitLines } from './csv';
import { ProtocolError, ProtocolErrorReason } from './errors';
import { readZip, writeZip } from './zip';

export const ALIPAY_BILL_LINES_MAX = 1_000_000;

export const ALIPAY_DETAIL_COLUMNS = [
  '支付宝交易号',
  '商户订单号',
  '业务类型',
  '商品名称',
  '创建时间',
  '完成时间',
  '门店编号',
  '门店名称',
  '操作员',
  '终端号',
  '对方账户',
  '订单金额（元）',
  '商家实收（元）',
  '支付宝红包（元）',
  '集分宝（元）',
  '支付宝优惠（元）',
  '商家优惠（元）',
  '券核销金额（元）',
  '券名称',
  '商家红包消费金额（元）',
  '卡消费金额（元）',
  '退款批次号/请求号',
  '服务费（元）',
  '分润（元）',
  '备注',
] as const;

export const ALIPAY_SUMMARY_COLUMNS = [
  '门店编号',
  '门店名称',
  '交易订单总笔数',
  '退款订单总笔数',
  '订单金额（元）',
  '商家实收（元）',
  '支付宝红包（元）',
  '集分宝（元）',
  '支付宝优惠（元）',
  '商家优惠（元）',
  '券核销金额（元）',
  '商家红包消费金额（元）',
  '卡消费金额（元）',
  '服务费（元）',
  '分润（元）',
  '实收净额（元）',
] as const;

export const ALIPAY_DETAIL_BEGIN =
  '#-----------------------------------------业务明细列表----------------------------------------';
export const ALIPAY_DETAIL_END =
  '#-----------------------------------------业务明细列表结束------------------------------------';
const SUMMARY_BEGIN =
  '#-----------------------------------------业务汇总列表----------------------------------------';
const SUMMARY_END =
  '#-----------------------------------------业务汇总列表结束------------------------------------';
const LINE_BREAK = '\r\n';

export type AlipayBusinessType = '交易' | '退款';

/** One 业务明细 line; amounts are signed fen exactly as the bill shows them. */
export interface AlipayBillLine {
  readonly tradeNo: string;
  readonly outTradeNo: string;
  readonly businessType: AlipayBusinessType;
  readonly subject: string;
  /** `YYYY-MM-DD HH:mm:ss`, China time. */
  readonly createdAt: string;
  readonly finishedAt: string;
  readonly storeId: string;
  readonly storeName: string;
  readonly operatorId: string;
  readonly terminalId: string;
  readonly counterparty: string;
  readonly orderAmountFen: bigint;
  readonly merchantReceivedFen: bigint;
  readonly alipayRedPacketFen: bigint;
  readonly jifenbaoFen: bigint;
  readonly alipayDiscountFen: bigint;
  readonly merchantDiscountFen: bigint;
  readonly couponWriteOffFen: bigint;
  readonly couponName: string;
  readonly merchantRedPacketFen: bigint;
  readonly cardFen: bigint;
  /** The refund request number (`out_request_no`) on refund lines, empty on trades. */
  readonly refundRequestNo: string;
  readonly serviceFeeFen: bigint;
  readonly profitShareFen: bigint;
  readonly remark: string;
}

export type AlipayBillLineInput = Pick<
  AlipayBillLine,
  'tradeNo' | 'outTradeNo' | 'businessType' | 'subject' | 'createdAt' | 'finishedAt' | 'orderAmountFen'
> &
  Partial<AlipayBillLine>;

/** Fills the columns a simple trade leaves empty or zero; `merchantReceivedFen` defaults to the order amount. */
export function alipayBillLine(input: AlipayBillLineInput): AlipayBillLine {
  return {
    storeId: '',
    storeName: '',
    operatorId: '',
    terminalId: '',
    counterparty: '',
    merchantReceivedFen: input.orderAmountFen,
    alipayRedPacketFen: 0n,
    jifenbaoFen: 0n,
    alipayDiscountFen: 0n,
    merchantDiscountFen: 0n,
    couponWriteOffFen: 0n,
    couponName: '',
    merchantRedPacketFen: 0n,
    cardFen: 0n,
    refundRequestNo: '',
    serviceFeeFen: 0n,
    profitShareFen: 0n,
    remark: '',
    ...input,
  };
}

export interface AlipayBill {
  /** The account shown as `#账号：[…]` (the merchant PID followed by the account suffix). */
  readonly account: string;
  /** `YYYY-MM-DD`: the bill covers this day 00:00:00 to the next day 00:00:00. */
  readonly billDate: string;
  /** `YYYY-MM-DD HH:mm:ss`: written as `#导出时间` and as the zip entries' time. */
  readonly exportedAt: string;
  readonly lines: readonly AlipayBillLine[];
}

export interface AlipayBillTotals {
  readonly tradeCount: number;
  readonly refundCount: number;
  readonly merchantReceivedFen: bigint;
  readonly serviceFeeFen: bigint;
}

export interface ParsedAlipayBill extends AlipayBill {
  /** The totals as the footer states them (checked against the lines when parsing). */
  readonly totals: AlipayBillTotals;
  readonly detailFileName: string;
  readonly summaryFileName: string;
}

function fail(message: string): never {
  throw new ProtocolError(ProtocolErrorReason.INVALID_BILL, message);
}

/** Runs `parse` for one file line, prefixing a refusal with `line N: ` (amount errors become bill errors). */
export function atLine<T>(line: number, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof ProtocolError)
      throw new ProtocolError(ProtocolErrorReason.INVALID_BILL, `line ${line}: ${err.message}`);
    throw err;
  }
}

export function alipayBillFileNames(
  account: string,
  billDate: string,
): { detail: string; summary: string; zip: string } {
  const compact = assertDate(billDate).replace(/-/g, '');
  return {
    detail: `${account}_${compact}_业务明细.csv`,
    summary: `${account}_${compact}_业务明细(汇总).csv`,
    zip: `${account}_${compact}.csv.zip`,
  };
}

export function alipayBillTotals(lines: readonly AlipayBillLine[]): AlipayBillTotals {
  let tradeCount = 0;
  let refundCount = 0;
  let merchantReceivedFen = 0n;
  let serviceFeeFen = 0n;
  for (const line of lines) {
    if (line.businessType === '交易') tradeCount += 1;
    else refundCount += 1;
    merchantReceivedFen += line.merchantReceivedFen;
    serviceFeeFen += line.serviceFeeFen;
  }
  return { tradeCount, refundCount, merchantReceivedFen, serviceFeeFen };
}

export function alipayPeriodLine(billDate: string): string {
  const start = toChineseDateTime(`${billDate} 00:00:00`);
  const end = toChineseDateTime(`${nextDate(billDate)} 00:00:00`);
  return `#起始日期：[${start}]   终止日期：[${end}]`;
}

function detailValues(line: AlipayBillLine): string[] {
  dateTimeParts(line.createdAt);
  dateTimeParts(line.finishedAt);
  const negativeRefund = line.businessType === '退款' ? line.orderAmountFen <= 0n : line.orderAmountFen >= 0n;
  if (!negativeRefund)
    fail(`${line.businessType} line ${line.tradeNo} has an order amount of the wrong sign`);
  return [
    line.tradeNo,
    line.outTradeNo,
    line.businessType,
    line.subject,
    line.createdAt,
    line.finishedAt,
    line.storeId,
    line.storeName,
    line.operatorId,
    line.terminalId,
    line.counterparty,
    fenToYuan(line.orderAmountFen),
    fenToYuan(line.merchantReceivedFen),
    fenToYuan(line.alipayRedPacketFen),
    fenToYuan(line.jifenbaoFen),
    fenToYuan(line.alipayDiscountFen),
    fenToYuan(line.merchantDiscountFen),
    fenToYuan(line.couponWriteOffFen),
    line.couponName,
    fenToYuan(line.merchantRedPacketFen),
    fenToYuan(line.cardFen),
    line.refundRequestNo,
    fenToYuan(line.serviceFeeFen),
    fenToYuan(line.profitShareFen),
    line.remark,
  ];
}

export function alipayDetailCsv(bill: AlipayBill): string {
  if (bill.lines.length > ALIPAY_BILL_LINES_MAX) fail(`more than ${ALIPAY_BILL_LINES_MAX} lines`);
  const totals = alipayBillTotals(bill.lines);
  const rows = [
    '#支付宝业务明细查询',
    `#账号：[${bill.account}]`,
    alipayPeriodLine(bill.billDate),
    ALIPAY_DETAIL_BEGIN,
    csvLine(ALIPAY_DETAIL_COLUMNS),
    ...bill.lines.map((line) => csvLine(detailValues(line))),
    ALIPAY_DETAIL_END,
    `#交易合计：${totals.tradeCount}笔，退款合计：${totals.refundCount}笔，` +
      `商家实收：${fenToYuan(totals.merchantReceivedFen)}元，服务费：${fenToYuan(totals.serviceFeeFen)}元`,
    `#导出时间：[${toChineseDateTime(bill.exportedAt)}]`,
  ];
  return rows.join(LINE_BREAK) + LINE_BREAK;
}

interface StoreSum {
  storeId: string;
  storeName: string;
  tradeCount: number;
  refundCount: number;
  amounts: bigint[];
}

/** Amount columns of the summary, in order, as sums over detail lines; the last is 实收净额 = 商家实收 + 服务费 + 分润. */
function summaryAmounts(line: AlipayBillLine): bigint[] {
  return [
    line.orderAmountFen,
    line.merchantReceivedFen,
    line.alipayRedPacketFen,
    line.jifenbaoFen,
    line.alipayDiscountFen,
    line.merchantDiscountFen,
    line.couponWriteOffFen,
    line.merchantRedPacketFen,
    line.cardFen,
    line.serviceFeeFen,
    line.profitShareFen,
    line.merchantReceivedFen + line.serviceFeeFen + line.profitShareFen,
  ];
}

export function alipaySummaryCsv(bill: AlipayBill): string {
  const stores = new Map<string, StoreSum>();
  const total: StoreSum = { storeId: '合计', storeName: '', tradeCount: 0, refundCount: 0, amounts: [] };
  const add = (target: StoreSum, line: AlipayBillLine): void => {
    if (line.businessType === '交易') target.tradeCount += 1;
    else target.refundCount += 1;
    const amounts = summaryAmounts(line);
    target.amounts = amounts.map((value, index) => (target.amounts[index] ?? 0n) + value);
  };
  for (const line of bill.lines) {
    const key = `${line.storeId}\u0000${line.storeName}`;
    let store = stores.get(key);
    if (!store) {
      store = {
        storeId: line.storeId,
        storeName: line.storeName,
        tradeCount: 0,
        refundCount: 0,
        amounts: [],
      };
      stores.set(key, store);
    }
    add(store, line);
    add(total, line);
  }
  const emptyAmounts = Array.from({ length: ALIPAY_SUMMARY_COLUMNS.length - 4 }, () => 0n);
  const row = (sum: StoreSum): string =>
    csvLine([
      sum.storeId,
      sum.storeName,
      String(sum.tradeCount),
      String(sum.refundCount),
      ...(sum.amounts.length > 0 ? sum.amounts : emptyAmounts).map(fenToYuan),
    ]);
  const rows = [
    '#支付宝业务汇总查询',
    `#账号：[${bill.account}]`,
    alipayPeriodLine(bill.billDate),
    SUMMARY_BEGIN,
    csvLine(ALIPAY_SUMMARY_COLUMNS),
    ...[...stores.values()].map(row),
    row(total),
    SUMMARY_END,
    `#导出时间：[${toChineseDateTime(bill.exportedAt)}]`,
  ];
  return rows.join(LINE_BREAK) + LINE_BREAK;
}

/** The zip archive Alipay serves for the bill download URL. */
export function buildAlipayBill(bill: AlipayBill): Buffer {
  const names = alipayBillFileNames(bill.account, bill.billDate);
  return writeZip(
    [
      { name: names.detail, data: iconv.encode(alipayDetailCsv(bill), 'gbk') },
      { name: names.summary, data: iconv.encode(alipaySummaryCsv(bill), 'gbk') },
    ],
    { modifiedAt: dateTimeParts(bill.exportedAt), nameEncoding: 'gbk' },
  );
}

export function bracketed(line: string | undefined, prefix: string): string {
  if (line === undefined || !line.startsWith(prefix) || !line.endsWith(']'))
    fail(`expected a "${prefix}…]" line`);
  return line.slice(prefix.length, -1);
}

export function parseAlipayDetailLine(fields: readonly string[]): AlipayBillLine {
  if (fields.length !== ALIPAY_DETAIL_COLUMNS.length) {
    fail(`a detail line has ${fields.length} fields, expected ${ALIPAY_DETAIL_COLUMNS.length}`);
  }
  const f = (index: number): string => fields[index] ?? '';
  const amount = (index: number): bigint => yuanToFen(f(index));
  const businessType = f(2);
  if (businessType !== '交易' && businessType !== '退款') fail(`unknown 业务类型 "${businessType}"`);
  return {
    tradeNo: f(0),
    outTradeNo: f(1),
    businessType,
    subject: f(3),
    createdAt: f(4),
    finishedAt: f(5),
    storeId: f(6),
    storeName: f(7),
    operatorId: f(8),
    terminalId: f(9),
    counterparty: f(10),
    orderAmountFen: amount(11),
    merchantReceivedFen: amount(12),
    alipayRedPacketFen: amount(13),
    jifenbaoFen: amount(14),
    alipayDiscountFen: amount(15),
    merchantDiscountFen: amount(16),
    couponWriteOffFen: amount(17),
    couponName: f(18),
    merchantRedPacketFen: amount(19),
    cardFen: amount(20),
    refundRequestNo: f(21),
    serviceFeeFen: amount(22),
    profitShareFen: amount(23),
    remark: f(24),
  };
}

export const ALIPAY_TOTALS_PATTERN =
  /^#交易合计：(\d+)笔，退款合计：(\d+)笔，商家实收：(-?\d+\.\d{2})元，服务费：(-?\d+\.\d{2})元$/;

/** Reads the detail CSV text (already decoded from GBK) and checks its footer against its lines. */
export function parseAlipayDetailCsv(
  text: string,
): Omit<ParsedAlipayBill, 'detailFileName' | 'summaryFileName'> {
  const rows = splitLines(text);
  if (rows.length > ALIPAY_BILL_LINES_MAX + 16) fail('bill too long');
  if (rows[0] !== '#支付宝业务明细查询') fail('not an Alipay 业务明细 file');
  const account = bracketed(rows[1], '#账号：[');
  const period = /^#起始日期：\[(.+)\] {3}终止日期：\[(.+)\]$/.exec(rows[2] ?? '');
  if (!period) fail('missing #起始日期 line');
  const billDate = fromChineseDateTime(period[1] ?? '').slice(0, 10);
  if (rows[3] !== ALIPAY_DETAIL_BEGIN) fail('missing 业务明细列表 begin line');
  if (rows[4] !== csvLine(ALIPAY_DETAIL_COLUMNS)) fail('the 业务明细 header row differs');
  const endIndex = rows.indexOf(ALIPAY_DETAIL_END);
  if (endIndex < 0) fail('missing 业务明细列表结束 line');
  // Detail rows start on file line 6; a refusal names the line it is about.
  const lines = rows
    .slice(5, endIndex)
    .map((row, index) => atLine(index + 6, () => parseAlipayDetailLine(parseCsvLine(row))));
  const totalsMatch = ALIPAY_TOTALS_PATTERN.exec(rows[endIndex + 1] ?? '');
  if (!totalsMatch) fail(`line ${endIndex + 2}: missing #交易合计 line`);
  const totals: AlipayBillTotals = {
    tradeCount: Number(totalsMatch[1]),
    refundCount: Number(totalsMatch[2]),
    merchantReceivedFen: yuanToFen(totalsMatch[3] ?? ''),
    serviceFeeFen: yuanToFen(totalsMatch[4] ?? ''),
  };
  const exportedAt = fromChineseDateTime(bracketed(rows[endIndex + 2], '#导出时间：['));
  if (rows.length !== endIndex + 3) fail('lines after #导出时间');
  const computed = alipayBillTotals(lines);
  if (
    computed.tradeCount !== totals.tradeCount ||
    computed.refundCount !== totals.refundCount ||
    computed.merchantReceivedFen !== totals.merchantReceivedFen ||
    computed.serviceFeeFen !== totals.serviceFeeFen
  ) {
    fail(`line ${endIndex + 2}: the footer totals do not match the lines`);
  }
  return { account, billDate, exportedAt, lines, totals };
}

/** Reads the zip Alipay serves: finds the 业务明细 file (not the 汇总 one) and parses it. */
export function parseAlipayBill(zip: Buffer): ParsedAlipayBill {
  const entries = readZip(zip);
  const detail = entries.find((entry) => entry.name.endsWith('_业务明细.csv'));
  const summary = entries.find((entry) => entry.name.endsWith('_业务明细(汇总).csv'));
  if (!detail || !summary) fail('the archive lacks the 业务明细 or the 汇总 file');
  const parsed = parseAlipayDetailCsv(iconv.decode(detail.data, 'gbk'));
  if (!iconv.decode(summary.data, 'gbk').startsWith('#支付宝业务汇总查询'))
    fail('the 汇总 file has no header');
  return { ...parsed, detailFileName: detail.name, summaryFileName: summary.name };
}
