/**
 * WeChat Pay v2 trade bill (`downloadbill`), UTF-8 text:
 *
 *   <header line: the column names of the bill type ALL, SUCCESS or REFUND>
 *   <one line per row, every value prefixed with a backtick>
 *   总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额
 *   <the totals, backticked>
 *
 * The backtick is how WeChat stops spreadsheets from turning order numbers
 * into floats. Values are not quoted, so a value holding a comma, a backtick
 * or a line break cannot be written and is refused. Amounts are yuan with two
 * decimals, bigint fen here.
 */
import { fenToYuan, yuanToFen } from './amount';
import { splitLines } from './csv';
import { atLine } from './alipay-bill';
import { ProtocolError, ProtocolErrorReason } from './errors';

export const WECHAT_BILL_ROWS_MAX = 1_000_000;
const LINE_BREAK = '\r\n';

export type WechatBillType = 'ALL' | 'SUCCESS' | 'REFUND';

export interface WechatBillRow {
  /** `YYYY-MM-DD HH:mm:ss`, China time. */
  readonly tradeTime: string;
  readonly appId: string;
  readonly mchId: string;
  readonly subMchId: string;
  readonly deviceInfo: string;
  readonly transactionId: string;
  readonly outTradeNo: string;
  readonly openId: string;
  readonly tradeType: string;
  /** SUCCESS for a payment row, REFUND for a refund row. */
  readonly tradeState: string;
  readonly bankType: string;
  readonly currency: string;
  readonly settlementTotalFen: bigint;
  readonly couponFen: bigint;
  /** Only in REFUND bills. */
  readonly refundRequestedAt: string;
  /** Only in REFUND bills. */
  readonly refundSucceededAt: string;
  readonly refundId: string;
  readonly outRefundNo: string;
  readonly refundFen: bigint;
  readonly couponRefundFen: bigint;
  readonly refundType: string;
  readonly refundStatus: string;
  readonly body: string;
  readonly attach: string;
  /** Signed: charged on a payment, given back (negative) on a refund. */
  readonly feeFen: bigint;
  /** As WeChat prints it, e.g. `0.60%`. */
  readonly rate: string;
  readonly totalFen: bigint;
  readonly requestedRefundFen: bigint;
  readonly rateRemark: string;
}

type TextKey = {
  [K in keyof WechatBillRow]: WechatBillRow[K] extends string ? K : never;
}[keyof WechatBillRow];
type AmountKey = {
  [K in keyof WechatBillRow]: WechatBillRow[K] extends bigint ? K : never;
}[keyof WechatBillRow];

type Column =
  { readonly name: string; readonly text: TextKey } | { readonly name: string; readonly amount: AmountKey };

const COLUMN: Readonly<Record<string, Column>> = Object.fromEntries(
  (
    [
      { name: '交易时间', text: 'tradeTime' },
      { name: '公众账号ID', text: 'appId' },
      { name: '商户号', text: 'mchId' },
      { name: '特约商户号', text: 'subMchId' },
      { name: '设备号', text: 'deviceInfo' },
      { name: '微信订单号', text: 'transactionId' },
      { name: '商户订单号', text: 'outTradeNo' },
      { name: '用户标识', text: 'openId' },
      { name: '交易类型', text: 'tradeType' },
      { name: '交易状态', text: 'tradeState' },
      { name: '付款银行', text: 'bankType' },
      { name: '货币种类', text: 'currency' },
      { name: '应结订单金额', amount: 'settlementTotalFen' },
      { name: '代金券金额', amount: 'couponFen' },
      { name: '退款申请时间', text: 'refundRequestedAt' },
      { name: '退款成功时间', text: 'refundSucceededAt' },
      { name: '微信退款单号', text: 'refundId' },
      { name: '商户退款单号', text: 'outRefundNo' },
      { name: '退款金额', amount: 'refundFen' },
      { name: '充值券退款金额', amount: 'couponRefundFen' },
      { name: '退款类型', text: 'refundType' },
      { name: '退款状态', text: 'refundStatus' },
      { name: '商品名称', text: 'body' },
      { name: '商户数据包', text: 'attach' },
      { name: '手续费', amount: 'feeFen' },
      { name: '费率', text: 'rate' },
      { name: '订单金额', amount: 'totalFen' },
      { name: '申请退款金额', amount: 'requestedRefundFen' },
      { name: '费率备注', text: 'rateRemark' },
    ] satisfies Column[]
  ).map((column) => [column.name, column]),
);

const COMMON_HEAD = [
  '交易时间',
  '公众账号ID',
  '商户号',
  '特约商户号',
  '设备号',
  '微信订单号',
  '商户订单号',
  '用户标识',
  '交易类型',
  '交易状态',
  '付款银行',
  '货币种类',
  '应结订单金额',
  '代金券金额',
];

export const WECHAT_BILL_COLUMNS: Readonly<Record<WechatBillType, readonly string[]>> = {
  ALL: [
    ...COMMON_HEAD,
    '微信退款单号',
    '商户退款单号',
    '退款金额',
    '充值券退款金额',
    '退款类型',
    '退款状态',
    '商品名称',
    '商户数据包',
    '手续费',
    '费率',
    '订单金额',
    '申请退款金额',
    '费率备注',
  ],
  SUCCESS: [...COMMON_HEAD, '商品名称', '商户数据包', '手续费', '费率', '订单金额', '费率备注'],
  REFUND: [
    ...COMMON_HEAD,
    '退款申请时间',
    '退款成功时间',
    '微信退款单号',
    '商户退款单号',
    '退款金额',
    '充值券退款金额',
    '退款类型',
    '退款状态',
    '商品名称',
    '商户数据包',
    '手续费',
    '费率',
    '订单金额',
    '申请退款金额',
    '费率备注',
  ],
};

export const WECHAT_SUMMARY_COLUMNS = [
  '总交易单数',
  '应结订单总金额',
  '退款总金额',
  '充值券退款总金额',
  '手续费总金额',
  '订单总金额',
  '申请退款总金额',
] as const;

export interface WechatBill {
  readonly billType: WechatBillType;
  readonly rows: readonly WechatBillRow[];
}

export interface WechatBillSummary {
  readonly rowCount: number;
  readonly settlementTotalFen: bigint;
  readonly refundFen: bigint;
  readonly couponRefundFen: bigint;
  readonly feeFen: bigint;
  readonly totalFen: bigint;
  readonly requestedRefundFen: bigint;
}

export interface ParsedWechatBill extends WechatBill {
  readonly summary: WechatBillSummary;
}

export type WechatBillRowInput = Pick<
  WechatBillRow,
  'tradeTime' | 'appId' | 'mchId' | 'transactionId' | 'outTradeNo' | 'tradeState' | 'totalFen'
> &
  Partial<WechatBillRow>;

/** Fills the columns a simple row leaves empty or zero; `settlementTotalFen` defaults to the order amount. */
export function wechatBillRow(input: WechatBillRowInput): WechatBillRow {
  return {
    subMchId: '0',
    deviceInfo: '',
    openId: '',
    tradeType: 'NATIVE',
    bankType: 'OTHERS',
    currency: 'CNY',
    settlementTotalFen: input.totalFen,
    couponFen: 0n,
    refundRequestedAt: '',
    refundSucceededAt: '',
    refundId: '0',
    outRefundNo: '0',
    refundFen: 0n,
    couponRefundFen: 0n,
    refundType: '',
    refundStatus: '',
    body: '',
    attach: '',
    feeFen: 0n,
    rate: '0.60%',
    requestedRefundFen: 0n,
    rateRemark: '',
    ...input,
  };
}

function fail(message: string): never {
  throw new ProtocolError(ProtocolErrorReason.INVALID_BILL, message);
}

function backticked(value: string): string {
  if (/[,`\r\n]/.test(value))
    fail(`a WeChat bill value cannot hold a comma, backtick or line break: "${value}"`);
  return `\`${value}`;
}

export function wechatBillSummary(rows: readonly WechatBillRow[]): WechatBillSummary {
  const sum = (key: AmountKey): bigint => rows.reduce((total, row) => total + row[key], 0n);
  return {
    rowCount: rows.length,
    settlementTotalFen: sum('settlementTotalFen'),
    refundFen: sum('refundFen'),
    couponRefundFen: sum('couponRefundFen'),
    feeFen: sum('feeFen'),
    totalFen: sum('totalFen'),
    requestedRefundFen: sum('requestedRefundFen'),
  };
}

function cell(row: WechatBillRow, column: Column): string {
  return 'text' in column ? row[column.text] : fenToYuan(row[column.amount]);
}

export function buildWechatBill(bill: WechatBill): string {
  if (bill.rows.length > WECHAT_BILL_ROWS_MAX) fail(`more than ${WECHAT_BILL_ROWS_MAX} rows`);
  const columns = WECHAT_BILL_COLUMNS[bill.billType].map((name) => COLUMN[name] ?? fail(`no column ${name}`));
  const summary = wechatBillSummary(bill.rows);
  const lines = [
    WECHAT_BILL_COLUMNS[bill.billType].join(','),
    ...bill.rows.map((row) => columns.map((column) => backticked(cell(row, column))).join(',')),
    WECHAT_SUMMARY_COLUMNS.join(','),
    [
      String(summary.rowCount),
      fenToYuan(summary.settlementTotalFen),
      fenToYuan(summary.refundFen),
      fenToYuan(summary.couponRefundFen),
      fenToYuan(summary.feeFen),
      fenToYuan(summary.totalFen),
      fenToYuan(summary.requestedRefundFen),
    ]
      .map(backticked)
      .join(','),
  ];
  return lines.join(LINE_BREAK) + LINE_BREAK;
}

function unbacktick(line: string): string[] {
  return line.split(',').map((value) => {
    if (!value.startsWith('`')) fail(`a value lacks its backtick: "${value.slice(0, 40)}"`);
    return value.slice(1);
  });
}

export function wechatBillTypeOf(header: string | undefined): WechatBillType {
  for (const type of ['ALL', 'SUCCESS', 'REFUND'] as const) {
    if (header === WECHAT_BILL_COLUMNS[type].join(',')) return type;
  }
  return fail('the header line matches no WeChat bill type');
}

/** Per bill type, the position of each field's column (-1: the type has no such column). */
const FIELD_INDEX: Readonly<Record<WechatBillType, Readonly<Record<string, number>>>> = {
  ALL: fieldIndex('ALL'),
  SUCCESS: fieldIndex('SUCCESS'),
  REFUND: fieldIndex('REFUND'),
};

function fieldIndex(billType: WechatBillType): Record<string, number> {
  const index: Record<string, number> = {};
  for (const column of Object.values(COLUMN)) index['text' in column ? column.text : column.amount] = -1;
  WECHAT_BILL_COLUMNS[billType].forEach((name, position) => {
    const column = COLUMN[name] ?? fail(`no column ${name}`);
    index['text' in column ? column.text : column.amount] = position;
  });
  return index;
}

/**
 * One backticked row of a bill of `billType` (the header line names its
 * columns). Built as one object literal in a fixed shape (a million rows a
 * bill: no per-row dictionary of fields); absent columns take the defaults
 * of `wechatBillRow`.
 */
export function parseWechatRow(billType: WechatBillType, line: string): WechatBillRow {
  const names = WECHAT_BILL_COLUMNS[billType];
  const values = unbacktick(line);
  if (values.length !== names.length) fail(`a row has ${values.length} values, expected ${names.length}`);
  const at = FIELD_INDEX[billType];
  const text = (key: TextKey, absent: string): string => {
    const position = at[key] ?? -1;
    return position < 0 ? absent : (values[position] ?? '');
  };
  const amount = (key: AmountKey): bigint => {
    const position = at[key] ?? -1;
    return position < 0 ? 0n : yuanToFen(values[position] ?? '');
  };
  const totalFen = amount('totalFen');
  return {
    tradeTime: text('tradeTime', ''),
    appId: text('appId', ''),
    mchId: text('mchId', ''),
    subMchId: text('subMchId', '0'),
    deviceInfo: text('deviceInfo', ''),
    transactionId: text('transactionId', ''),
    outTradeNo: text('outTradeNo', ''),
    openId: text('openId', ''),
    tradeType: text('tradeType', 'NATIVE'),
    tradeState: text('tradeState', ''),
    bankType: text('bankType', 'OTHERS'),
    currency: text('currency', 'CNY'),
    settlementTotalFen: (at['settlementTotalFen'] ?? -1) < 0 ? totalFen : amount('settlementTotalFen'),
    couponFen: amount('couponFen'),
    refundRequestedAt: text('refundRequestedAt', ''),
    refundSucceededAt: text('refundSucceededAt', ''),
    refundId: text('refundId', '0'),
    outRefundNo: text('outRefundNo', '0'),
    refundFen: amount('refundFen'),
    couponRefundFen: amount('couponRefundFen'),
    refundType: text('refundType', ''),
    refundStatus: text('refundStatus', ''),
    body: text('body', ''),
    attach: text('attach', ''),
    feeFen: amount('feeFen'),
    rate: text('rate', '0.60%'),
    totalFen,
    requestedRefundFen: amount('requestedRefundFen'),
    rateRemark: text('rateRemark', ''),
  };
}

/** The summary line's values, checked for shape. */
export function parseWechatSummary(line: string): WechatBillSummary {
  const totals = unbacktick(line);
  if (totals.length !== WECHAT_SUMMARY_COLUMNS.length || !/^\d+$/.test(totals[0] ?? ''))
    fail('malformed summary values');
  const amount = (index: number): bigint => yuanToFen(totals[index] ?? '');
  return {
    rowCount: Number(totals[0]),
    settlementTotalFen: amount(1),
    refundFen: amount(2),
    couponRefundFen: amount(3),
    feeFen: amount(4),
    totalFen: amount(5),
    requestedRefundFen: amount(6),
  };
}

export function parseWechatBill(text: string): ParsedWechatBill {
  const lines = splitLines(text);
  if (lines.length > WECHAT_BILL_ROWS_MAX + 3) fail('bill too long');
  const billType = wechatBillTypeOf(lines[0]);
  const summaryIndex = lines.indexOf(WECHAT_SUMMARY_COLUMNS.join(','));
  if (summaryIndex < 0 || summaryIndex !== lines.length - 2) fail('the two summary lines must end the bill');
  // Rows start on file line 2; a refusal names the line it is about.
  const rows = lines
    .slice(1, summaryIndex)
    .map((line, index) => atLine(index + 2, () => parseWechatRow(billType, line)));
  const summary = parseWechatSummary(lines[summaryIndex + 1] ?? '');
  const computed = wechatBillSummary(rows);
  for (const key of Object.keys(summary) as (keyof WechatBillSummary)[]) {
    if (summary[key] !== computed[key])
      fail(`line ${summaryIndex + 2}: summary ${key} does not match the rows`);
  }
  return { billType, rows, summary };
}
