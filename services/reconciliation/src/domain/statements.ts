/**
 * Every statement format becomes StatementLine[] here. The channel formats are
 * parsed by @paycore/channel-protocols (the one parser of each format, shared
 * with channel-router and the sandbox); this module only maps their rows to
 * lines and checks what the parsers leave to the caller. The generic CSV is
 * read with csv-parse and described by a mapping (columns, encoding, amount
 * unit, sign convention, date format, status words), so a new channel is
 * configuration. Any refusal is a MalformedStatementError naming the line.
 */
import { parse as parseCsv } from 'csv-parse/sync';
import iconv from 'iconv-lite';
import {
  AlipayBillStream,
  ProtocolError,
  WechatBillStream,
  yuanToFen,
  type AlipayBillLine,
  type WechatBillRow,
} from '@paycore/channel-protocols';
import { MalformedStatementError } from './errors';
import type { ItemKind, ParsedStatement, StatementLine } from './model';

export const FORMATS = ['ALIPAY_TRADE_ZIP', 'WECHAT_TRADE_ALL', 'GENERIC_CSV'] as const;
export type StatementFormat = (typeof FORMATS)[number];

/** Lines one file may hold (the channel formats allow 1 000 000 each). */
export const STATEMENT_LINES_MAX = 1_000_000;
/** A cell starting like a spreadsheet formula is refused (CSV injection). */
const FORMULA_PATTERN = /^[=+\-@\t\r]/;

export interface GenericCsvMapping {
  readonly encoding: 'utf8' | 'gbk';
  /** Header names of the columns holding each field; any other header is refused. */
  readonly columns: {
    readonly merchantOrderNo: string;
    readonly channelTxnNo: string;
    readonly kind: string;
    readonly status: string;
    readonly amount: string;
    readonly fee: string;
    readonly currency: string;
    readonly finishedAt: string;
  };
  /** Columns present in the file that reconciliation ignores. */
  readonly ignoredColumns: readonly string[];
  readonly amountUnit: 'YUAN' | 'FEN';
  /** SIGNED: refunds are negative amounts; ABSOLUTE: the kind column alone says the direction. */
  readonly signConvention: 'SIGNED' | 'ABSOLUTE';
  /** 'YYYY-MM-DD HH:mm:ss' or 'YYYYMMDDHHmmss'. */
  readonly dateFormat: 'YYYY-MM-DD HH:mm:ss' | 'YYYYMMDDHHmmss';
  /** The file's words for each kind, e.g. { PAY: ['支付'], REFUND: ['退款'] }. */
  readonly kindWords: Readonly<Partial<Record<ItemKind, readonly string[]>>>;
  /** The file's words meaning the money moved, e.g. ['成功', 'SUCCESS']. */
  readonly successWords: readonly string[];
}

function refuse(file: string, line: number, reason: string): never {
  throw new MalformedStatementError(file, line, reason);
}

function protocolLine(message: string): number {
  const match = /^line (\d+):/.exec(message);
  return match ? Number(match[1]) : 0;
}

/** Runs a channel-protocols parser, turning its refusal into a MalformedStatementError. */
function viaProtocol<T>(file: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof ProtocolError)
      refuse(file, protocolLine(err.message), err.message.replace(/^line \d+: /, ''));
    throw err;
  }
}

function checkCells(file: string, lineNo: number, cells: readonly string[]): void {
  for (const cell of cells) {
    if (FORMULA_PATTERN.test(cell) && !/^-\d/.test(cell))
      refuse(file, lineNo, `a cell looks like a formula: "${cell.slice(0, 20)}"`);
  }
}

/** Alipay's detail rows start on file line 6, WeChat's on line 2: refusals name the file line. */
const ALIPAY_FIRST_ROW_LINE = 6;
const WECHAT_FIRST_ROW_LINE = 2;

function alipayLine(file: string, row: AlipayBillLine, lineNo: number): StatementLine {
  checkCells(file, lineNo + ALIPAY_FIRST_ROW_LINE - 1, [
    row.tradeNo,
    row.outTradeNo,
    row.subject,
    row.remark,
    row.refundRequestNo,
  ]);
  const refund = row.businessType === '退款';
  return {
    lineNo,
    kind: refund ? 'REFUND' : 'PAY',
    status: 'SUCCESS',
    // A refund line names the refund by its request number; one without it names the trade.
    merchantOrderNo: refund && row.refundRequestNo !== '' ? row.refundRequestNo : row.outTradeNo,
    channelTxnNo: row.tradeNo,
    amountMinor: refund ? -row.merchantReceivedFen : row.merchantReceivedFen,
    // Alipay writes the fee negative on a trade (taken) and positive on a refund (given back).
    feeMinor: -row.serviceFeeFen,
    currency: 'CNY',
    finishedAt: row.finishedAt,
  };
}

/**
 * A statement read as its bytes arrive: `push` returns the lines a chunk
 * completed, `end` the last ones and the footer's totals (checked against
 * the lines by the channel-protocols reader). Memory is bounded by the chunk,
 * except for GENERIC_CSV, which is parsed whole at `end` (the caller bounds
 * its size).
 */
export interface StatementReader {
  push(chunk: Buffer): StatementLine[];
  end(): { lines: StatementLine[]; statedAmountMinor: bigint; statedFeeMinor: bigint };
}

class AlipayReader implements StatementReader {
  private readonly stream = new AlipayBillStream();
  private count = 0;

  constructor(private readonly file: string) {}

  push(chunk: Buffer): StatementLine[] {
    return this.map(viaProtocol(this.file, () => this.stream.push(chunk)));
  }

  end(): { lines: StatementLine[]; statedAmountMinor: bigint; statedFeeMinor: bigint } {
    const { rows, end } = viaProtocol(this.file, () => this.stream.end());
    return {
      lines: this.map(rows),
      statedAmountMinor: end.totals.merchantReceivedFen,
      statedFeeMinor: -end.totals.serviceFeeFen,
    };
  }

  private map(rows: readonly AlipayBillLine[]): StatementLine[] {
    return rows.map((row) => {
      this.count += 1;
      const line = alipayLine(this.file, row, this.count);
      if (line.amountMinor < 0n)
        refuse(
          this.file,
          line.lineNo + ALIPAY_FIRST_ROW_LINE - 1,
          'an amount has the wrong sign for its 业务类型',
        );
      return line;
    });
  }
}

class WechatReader implements StatementReader {
  private readonly stream = new WechatBillStream();
  private count = 0;

  constructor(private readonly file: string) {}

  push(chunk: Buffer): StatementLine[] {
    return this.map(this.read(() => this.stream.push(chunk)));
  }

  end(): { lines: StatementLine[]; statedAmountMinor: bigint; statedFeeMinor: bigint } {
    const { rows, end } = this.read(() => this.stream.end());
    return {
      lines: this.map(rows),
      statedAmountMinor: end.summary.totalFen - end.summary.refundFen,
      statedFeeMinor: end.summary.feeFen,
    };
  }

  /** A UTF-8 refusal names the file as a whole (line 0), as the whole-file reader did. */
  private read<T>(fn: () => T): T {
    try {
      return viaProtocol(this.file, fn);
    } catch (err) {
      if (err instanceof MalformedStatementError && /not valid UTF-8/.test(err.message))
        refuse(this.file, 0, 'the file is not valid UTF-8');
      throw err;
    }
  }

  private map(rows: readonly WechatBillRow[]): StatementLine[] {
    return rows.map((row) => {
      this.count += 1;
      return wechatLine(this.file, row, this.count);
    });
  }
}

/** A generic CSV is parsed whole: its chunks are kept (the caller bounds the total) and read at the end. */
class GenericCsvReader implements StatementReader {
  private readonly chunks: Buffer[] = [];

  constructor(
    private readonly file: string,
    private readonly mapping: GenericCsvMapping,
  ) {}

  push(chunk: Buffer): StatementLine[] {
    this.chunks.push(chunk);
    return [];
  }

  end(): { lines: StatementLine[]; statedAmountMinor: bigint; statedFeeMinor: bigint } {
    const parsed = parseGenericCsv(this.file, Buffer.concat(this.chunks), this.mapping);
    return {
      lines: [...parsed.lines],
      statedAmountMinor: parsed.statedAmountMinor,
      statedFeeMinor: parsed.statedFeeMinor,
    };
  }
}

export function statementReader(
  format: StatementFormat,
  file: string,
  mapping: GenericCsvMapping | undefined,
): StatementReader {
  switch (format) {
    case 'ALIPAY_TRADE_ZIP':
      return new AlipayReader(file);
    case 'WECHAT_TRADE_ALL':
      return new WechatReader(file);
    case 'GENERIC_CSV':
      if (mapping === undefined) return refuse(file, 0, 'no generic CSV mapping for this channel');
      return new GenericCsvReader(file, mapping);
  }
}

function readWhole(format: StatementFormat, reader: StatementReader, content: Buffer): ParsedStatement {
  const first = reader.push(content);
  const last = reader.end();
  return {
    format,
    lines: [...first, ...last.lines],
    statedAmountMinor: last.statedAmountMinor,
    statedFeeMinor: last.statedFeeMinor,
  };
}

export function parseAlipayStatement(file: string, zip: Buffer): ParsedStatement {
  return readWhole('ALIPAY_TRADE_ZIP', new AlipayReader(file), zip);
}

function wechatLine(file: string, row: WechatBillRow, lineNo: number): StatementLine {
  checkCells(file, lineNo + WECHAT_FIRST_ROW_LINE - 1, [
    row.transactionId,
    row.outTradeNo,
    row.outRefundNo,
    row.body,
    row.attach,
  ]);
  const refund = row.tradeState === 'REFUND';
  return {
    lineNo,
    kind: refund ? 'REFUND' : 'PAY',
    status: refund ? (row.refundStatus === 'SUCCESS' ? 'SUCCESS' : row.refundStatus) : row.tradeState,
    merchantOrderNo: refund ? row.outRefundNo : row.outTradeNo,
    channelTxnNo: refund ? row.refundId : row.transactionId,
    amountMinor: refund ? row.refundFen : row.totalFen,
    feeMinor: row.feeFen,
    currency: row.currency === '' ? 'CNY' : row.currency,
    finishedAt: row.tradeTime,
  };
}

export function parseWechatStatement(file: string, content: Buffer): ParsedStatement {
  return readWhole('WECHAT_TRADE_ALL', new WechatReader(file), content);
}

function amountOf(file: string, lineNo: number, text: string, unit: 'YUAN' | 'FEN'): bigint {
  if (unit === 'FEN') {
    if (!/^-?(0|[1-9]\d{0,17})$/.test(text)) refuse(file, lineNo, `amount "${text}" is not integer fen`);
    return BigInt(text);
  }
  try {
    return yuanToFen(text);
  } catch {
    return refuse(file, lineNo, `amount "${text}" is not yuan with at most two decimals`);
  }
}

function dateTimeOf(
  file: string,
  lineNo: number,
  text: string,
  format: GenericCsvMapping['dateFormat'],
): string {
  const compact = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(text);
  if (format === 'YYYYMMDDHHmmss' && compact)
    return `${compact[1]}-${compact[2]}-${compact[3]} ${compact[4]}:${compact[5]}:${compact[6]}`;
  if (format === 'YYYY-MM-DD HH:mm:ss' && /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(text)) return text;
  return refuse(file, lineNo, `time "${text}" is not ${format}`);
}

function kindOf(file: string, lineNo: number, word: string, mapping: GenericCsvMapping): ItemKind {
  for (const kind of ['PAY', 'REFUND', 'PAYOUT'] as const) {
    if (mapping.kindWords[kind]?.includes(word) === true) return kind;
  }
  return refuse(file, lineNo, `unknown kind word "${word}"`);
}

function decodeText(file: string, content: Buffer, encoding: 'utf8' | 'gbk'): string {
  const text = encoding === 'utf8' ? content.toString('utf8') : iconv.decode(content, 'gbk');
  if (text.includes('\uFFFD')) refuse(file, 0, `the file is not valid ${encoding}`);
  return text.replace(/^\uFEFF/, '');
}

/** A CSV described by a mapping; there is no footer, so its totals are its lines' sums. */
export function parseGenericCsv(file: string, content: Buffer, mapping: GenericCsvMapping): ParsedStatement {
  const text = decodeText(file, content, mapping.encoding);
  let records: string[][];
  try {
    records = parseCsv(text, {
      relax_column_count: false,
      skip_empty_lines: true,
      to: STATEMENT_LINES_MAX + 1,
    });
  } catch (err) {
    const line = typeof err === 'object' && err !== null && 'lines' in err ? Number(err.lines) : 0;
    return refuse(file, line, `not CSV: ${err instanceof Error ? err.message : String(err)}`);
  }
  const header = records[0] ?? refuse(file, 1, 'no header line');
  const wanted = new Set<string>([...Object.values(mapping.columns), ...mapping.ignoredColumns]);
  for (const name of header) if (!wanted.has(name)) refuse(file, 1, `unknown column "${name}"`);
  const at = (field: keyof GenericCsvMapping['columns']): number => {
    const index = header.indexOf(mapping.columns[field]);
    return index >= 0 ? index : refuse(file, 1, `missing column "${mapping.columns[field]}"`);
  };
  const index = {
    merchantOrderNo: at('merchantOrderNo'),
    channelTxnNo: at('channelTxnNo'),
    kind: at('kind'),
    status: at('status'),
    amount: at('amount'),
    fee: at('fee'),
    currency: at('currency'),
    finishedAt: at('finishedAt'),
  };
  if (records.length - 1 > STATEMENT_LINES_MAX) refuse(file, 0, `more than ${STATEMENT_LINES_MAX} lines`);
  const lines = records.slice(1).map((cells, position): StatementLine => {
    const lineNo = position + 1;
    checkCells(file, lineNo + 1, cells);
    const cell = (i: number): string => cells[i] ?? '';
    const kind = kindOf(file, lineNo + 1, cell(index.kind), mapping);
    let amountMinor = amountOf(file, lineNo + 1, cell(index.amount), mapping.amountUnit);
    if (mapping.signConvention === 'SIGNED') amountMinor = kind === 'PAY' ? amountMinor : -amountMinor;
    if (amountMinor < 0n) refuse(file, lineNo + 1, 'amount has the wrong sign for its kind');
    return {
      lineNo,
      kind,
      status: mapping.successWords.includes(cell(index.status)) ? 'SUCCESS' : cell(index.status),
      merchantOrderNo: cell(index.merchantOrderNo),
      channelTxnNo: cell(index.channelTxnNo),
      amountMinor,
      feeMinor: amountOf(file, lineNo + 1, cell(index.fee), mapping.amountUnit),
      currency: cell(index.currency),
      finishedAt: dateTimeOf(file, lineNo + 1, cell(index.finishedAt), mapping.dateFormat),
    };
  });
  return {
    format: 'GENERIC_CSV',
    lines,
    statedAmountMinor: lines.reduce(
      (sum, l) => sum + (l.kind === 'PAY' ? l.amountMinor : -l.amountMinor),
      0n,
    ),
    statedFeeMinor: lines.reduce((sum, l) => sum + l.feeMinor, 0n),
  };
}

/** The bill's own summary check: its footer totals equal the sums of its detail lines. */
export function summaryHolds(statement: ParsedStatement): { holds: boolean; detail: string } {
  let amount = 0n;
  let fee = 0n;
  for (const line of statement.lines) {
    if (line.status === 'SUCCESS' || statement.format === 'WECHAT_TRADE_ALL')
      amount += line.kind === 'PAY' ? line.amountMinor : -line.amountMinor;
    fee += line.feeMinor;
  }
  const holds = amount === statement.statedAmountMinor && fee === statement.statedFeeMinor;
  return {
    holds,
    detail: `lines ${amount}/${fee} vs footer ${statement.statedAmountMinor}/${statement.statedFeeMinor} (amount/fee, minor units)`,
  };
}

export function parseStatement(
  format: StatementFormat,
  file: string,
  content: Buffer,
  mapping: GenericCsvMapping | undefined,
): ParsedStatement {
  if (format === 'GENERIC_CSV') {
    if (mapping === undefined) return refuse(file, 0, 'no generic CSV mapping for this channel');
    return parseGenericCsv(file, content, mapping);
  }
  return readWhole(format, statementReader(format, file, mapping), content);
}
