/**
 * Streaming readers of the Alipay and WeChat bills: bytes go in as they
 * arrive (`push`), parsed rows come out, and `end()` checks the footer
 * against running totals. Memory is bounded by the chunk pushed and one
 * carried partial line, whatever the file's size, so a bill of a million
 * lines is read without holding it.
 *
 * The rows are the same objects the whole-file parsers return (the per-line
 * parsers are shared: `parseAlipayDetailLine`, `parseWechatRow`), and
 * refusals carry the same `line N:` prefix.
 *
 * Alipay's zip is read with fflate's streaming `Unzip` (a maintained
 * library; entries are read from their local headers as bytes arrive). It
 * does not check CRC-32, so the reader computes each entry's CRC-32 and
 * size and, at the end, compares them with the central directory at the
 * archive's tail (kept in a bounded window). GBK is decoded by iconv-lite's
 * streaming decoder, UTF-8 by TextDecoder in fatal streaming mode.
 */
import { crc32 } from 'node:zlib';
import { Unzip, UnzipInflate, UnzipPassThrough, type UnzipFile } from 'fflate';
import iconv from 'iconv-lite';
import {
  ALIPAY_BILL_LINES_MAX,
  ALIPAY_DETAIL_BEGIN,
  ALIPAY_DETAIL_COLUMNS,
  ALIPAY_DETAIL_END,
  ALIPAY_TOTALS_PATTERN,
  atLine,
  bracketed,
  parseAlipayDetailLine,
  type AlipayBillLine,
  type AlipayBillTotals,
} from './alipay-bill';
import { yuanToFen } from './amount';
import { csvLine, parseCsvLine } from './csv';
import { ProtocolError, ProtocolErrorReason } from './errors';
import {
  parseWechatRow,
  parseWechatSummary,
  WECHAT_BILL_ROWS_MAX,
  WECHAT_SUMMARY_COLUMNS,
  wechatBillTypeOf,
  type WechatBillRow,
  type WechatBillSummary,
  type WechatBillType,
} from './wechat-bill';
import { ZIP_ENTRIES_MAX } from './zip';

/** A line longer than this is refused (a file without line breaks must not grow the carry without bound). */
export const BILL_LINE_CHARS_MAX = 64 * 1024;
/** Inflated bytes of one streamed archive: a million detail lines of up to ~1 KiB. */
export const STREAM_INFLATED_BYTES_MAX = 1024 * 1024 * 1024;
const SUMMARY_BYTES_MAX = 1024 * 1024;
/** The archive's tail kept for its central directory (end record + comment + a few entries). */
const TAIL_BYTES_MAX = 256 * 1024;
const END_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const FLAG_UTF8_NAME = 0x0800;

function billFail(message: string): never {
  throw new ProtocolError(ProtocolErrorReason.INVALID_BILL, message);
}

function zipFail(message: string): never {
  throw new ProtocolError(ProtocolErrorReason.INVALID_ZIP, message);
}

/** Splits decoded text into lines across pushes; CRLF or LF; the carry is bounded. */
class LineSplitter {
  private carry = '';

  push(text: string): string[] {
    const joined = this.carry + text;
    const lines = joined.split('\n');
    this.carry = lines.pop() ?? '';
    if (this.carry.length > BILL_LINE_CHARS_MAX)
      billFail(`a line is longer than ${BILL_LINE_CHARS_MAX} characters`);
    return lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  }

  /** The last line when the file does not end with a line break. */
  end(): string[] {
    const last = this.carry;
    this.carry = '';
    return last === '' ? [] : [last.endsWith('\r') ? last.slice(0, -1) : last];
  }
}

export interface AlipayBillHead {
  readonly account: string;
}

export interface AlipayStreamEnd {
  readonly account: string;
  readonly totals: AlipayBillTotals;
  readonly lineCount: number;
  readonly exportedAt: string;
}

type AlipayPhase = 'HEAD' | 'DETAIL' | 'TOTALS' | 'EXPORTED' | 'DONE';

/** The 业务明细 CSV as text lines: header lines, rows, footer; running totals instead of a list. */
class AlipayDetailLines {
  private fileLine = 0;
  private phase: AlipayPhase = 'HEAD';
  private account = '';
  private stated: AlipayBillTotals | undefined;
  private exportedAt = '';
  private totalsLine = 0;
  private readonly computed = { tradeCount: 0, refundCount: 0, merchantReceivedFen: 0n, serviceFeeFen: 0n };
  private readonly header = csvLine(ALIPAY_DETAIL_COLUMNS);

  accept(lines: readonly string[], out: AlipayBillLine[]): void {
    for (const text of lines) {
      this.fileLine += 1;
      const n = this.fileLine;
      if (this.phase === 'DETAIL') {
        if (text === ALIPAY_DETAIL_END) {
          this.phase = 'TOTALS';
          continue;
        }
        if (n - 5 > ALIPAY_BILL_LINES_MAX) billFail(`more than ${ALIPAY_BILL_LINES_MAX} lines`);
        const row = atLine(n, () => parseAlipayDetailLine(parseCsvLine(text)));
        if (row.businessType === '交易') this.computed.tradeCount += 1;
        else this.computed.refundCount += 1;
        this.computed.merchantReceivedFen += row.merchantReceivedFen;
        this.computed.serviceFeeFen += row.serviceFeeFen;
        out.push(row);
      } else this.headOrFoot(n, text);
    }
  }

  private headOrFoot(n: number, text: string): void {
    if (this.phase === 'HEAD') {
      if (n === 1 && text !== '#支付宝业务明细查询') billFail('not an Alipay 业务明细 file');
      if (n === 2) this.account = bracketed(text, '#账号：[');
      if (n === 3 && !/^#起始日期：\[(.+)\] {3}终止日期：\[(.+)\]$/.test(text))
        billFail('missing #起始日期 line');
      if (n === 4 && text !== ALIPAY_DETAIL_BEGIN) billFail('missing 业务明细列表 begin line');
      if (n === 5) {
        if (text !== this.header) billFail('the 业务明细 header row differs');
        this.phase = 'DETAIL';
      }
      return;
    }
    if (this.phase === 'TOTALS') {
      const match = ALIPAY_TOTALS_PATTERN.exec(text);
      if (!match) billFail(`line ${n}: missing #交易合计 line`);
      this.totalsLine = n;
      this.stated = {
        tradeCount: Number(match[1]),
        refundCount: Number(match[2]),
        merchantReceivedFen: yuanToFen(match[3] ?? ''),
        serviceFeeFen: yuanToFen(match[4] ?? ''),
      };
      this.phase = 'EXPORTED';
      return;
    }
    if (this.phase === 'EXPORTED') {
      this.exportedAt = bracketed(text, '#导出时间：[');
      this.phase = 'DONE';
      return;
    }
    billFail('lines after #导出时间');
  }

  end(): AlipayStreamEnd {
    if (this.phase === 'HEAD') billFail('not an Alipay 业务明细 file');
    if (this.phase === 'DETAIL') billFail('missing 业务明细列表结束 line');
    if (this.phase === 'TOTALS') billFail(`line ${this.fileLine + 1}: missing #交易合计 line`);
    if (this.phase === 'EXPORTED' || this.stated === undefined) billFail('expected a "#导出时间：[…]" line');
    const stated = this.stated;
    const c = this.computed;
    if (
      c.tradeCount !== stated.tradeCount ||
      c.refundCount !== stated.refundCount ||
      c.merchantReceivedFen !== stated.merchantReceivedFen ||
      c.serviceFeeFen !== stated.serviceFeeFen
    )
      billFail(`line ${this.totalsLine}: the footer totals do not match the lines`);
    return {
      account: this.account,
      totals: stated,
      lineCount: c.tradeCount + c.refundCount,
      exportedAt: this.exportedAt,
    };
  }
}

interface EntryCheck {
  crc: number;
  size: number;
  done: boolean;
}

/**
 * Alipay's bill zip, pushed in chunks. Only the 业务明细 entry is parsed; the
 * 汇总 entry must be present and start with its header; any other entry is
 * read (counted against the inflated bound) and dropped.
 */
export class AlipayBillStream {
  private readonly unzip = new Unzip();
  private readonly detail = new AlipayDetailLines();
  private readonly decoder = iconv.getDecoder('gbk');
  private readonly splitter = new LineSplitter();
  private readonly entries = new Map<string, EntryCheck>();
  private readonly summaryParts: Buffer[] = [];
  private summaryBytes = 0;
  private sawDetail = false;
  private inflated = 0;
  private tail: Buffer = Buffer.alloc(0);
  private rows: AlipayBillLine[] = [];
  private failure: Error | undefined;

  constructor() {
    this.unzip.register(UnzipInflate);
    this.unzip.register(UnzipPassThrough);
    this.unzip.onfile = (file) => this.onFile(file);
  }

  /** Feeds bytes; returns the detail rows they completed. */
  push(chunk: Uint8Array): AlipayBillLine[] {
    this.keepTail(chunk);
    this.unzip.push(chunk, false);
    return this.take();
  }

  /** No more bytes: the last rows and the footer, checked against the rows and the central directory. */
  end(): { rows: AlipayBillLine[]; end: AlipayStreamEnd } {
    this.unzip.push(new Uint8Array(0), true);
    const rows = this.take();
    if (!this.sawDetail || !this.entries.has('summary'))
      billFail('the archive lacks the 业务明细 or the 汇总 file');
    for (const entry of this.entries.values()) if (!entry.done) zipFail('entry data truncated');
    if (!iconv.decode(Buffer.concat(this.summaryParts), 'gbk').startsWith('#支付宝业务汇总查询'))
      billFail('the 汇总 file has no header');
    this.checkCentralDirectory();
    return { rows, end: this.detail.end() };
  }

  private take(): AlipayBillLine[] {
    if (this.failure !== undefined) throw this.failure;
    const rows = this.rows;
    this.rows = [];
    return rows;
  }

  private keepTail(chunk: Uint8Array): void {
    const joined = Buffer.concat([this.tail, chunk]);
    this.tail = joined.length > TAIL_BYTES_MAX ? joined.subarray(joined.length - TAIL_BYTES_MAX) : joined;
  }

  private onFile(file: UnzipFile): void {
    if (this.entries.size >= ZIP_ENTRIES_MAX) zipFail(`more than ${ZIP_ENTRIES_MAX} entries`);
    // fflate gives a name without the UTF-8 flag as Latin-1 of its bytes; Alipay writes GBK.
    const name = /^[\x20-\x7e]*$/.test(file.name)
      ? file.name
      : iconv.decode(Buffer.from(file.name, 'latin1'), 'gbk');
    const role = name.endsWith('_业务明细.csv')
      ? 'detail'
      : name.endsWith('_业务明细(汇总).csv')
        ? 'summary'
        : `other:${this.entries.size}`;
    if (this.entries.has(role)) zipFail(`the archive holds two ${role} entries`);
    const check: EntryCheck = { crc: 0, size: 0, done: false };
    this.entries.set(role === 'detail' || role === 'summary' ? role : name, check);
    if (role === 'detail') this.sawDetail = true;
    file.ondata = (err, data, final) => {
      if (this.failure !== undefined) return;
      try {
        if (err !== null) zipFail(`entry does not inflate: ${err.message}`);
        this.onData(role, check, data, final);
      } catch (failure) {
        this.failure = failure instanceof Error ? failure : new Error(String(failure));
      }
    };
    file.start();
  }

  private onData(role: string, check: EntryCheck, data: Uint8Array, final: boolean): void {
    check.crc = crc32(data, check.crc);
    check.size += data.length;
    this.inflated += data.length;
    if (this.inflated > STREAM_INFLATED_BYTES_MAX)
      zipFail(`inflated size over ${STREAM_INFLATED_BYTES_MAX} bytes`);
    if (role === 'detail') {
      const text = this.decoder.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      this.detail.accept(this.splitter.push(text), this.rows);
      if (final) {
        const rest = this.decoder.end() ?? '';
        this.detail.accept([...this.splitter.push(rest), ...this.splitter.end()], this.rows);
      }
    } else if (role === 'summary' && this.summaryBytes < SUMMARY_BYTES_MAX) {
      this.summaryParts.push(Buffer.from(data));
      this.summaryBytes += data.length;
    }
    if (final) check.done = true;
  }

  /** The central directory at the tail must name the entries read, with their sizes and CRC-32s. */
  private checkCentralDirectory(): void {
    const tail = this.tail;
    let endIndex = -1;
    for (let i = tail.length - 22; i >= 0; i -= 1) {
      if (tail.readUInt32LE(i) === END_SIGNATURE) {
        endIndex = i;
        break;
      }
    }
    if (endIndex < 0) zipFail('no end of central directory record');
    const count = tail.readUInt16LE(endIndex + 10);
    const centralBytes = tail.readUInt32LE(endIndex + 12);
    let cursor = endIndex - centralBytes;
    if (cursor < 0) zipFail('central directory larger than the reader keeps');
    if (count !== this.entries.size) zipFail('the central directory and the entries differ');
    const byRole = [...this.entries.entries()];
    for (let index = 0; index < count; index += 1) {
      if (cursor + 46 > endIndex || tail.readUInt32LE(cursor) !== CENTRAL_SIGNATURE)
        zipFail('bad central directory');
      const flags = tail.readUInt16LE(cursor + 8);
      const crc = tail.readUInt32LE(cursor + 16);
      const size = tail.readUInt32LE(cursor + 24);
      const nameLength = tail.readUInt16LE(cursor + 28);
      const skip = nameLength + tail.readUInt16LE(cursor + 30) + tail.readUInt16LE(cursor + 32);
      const nameBytes = tail.subarray(cursor + 46, cursor + 46 + nameLength);
      const name =
        (flags & FLAG_UTF8_NAME) !== 0 ? nameBytes.toString('utf8') : iconv.decode(nameBytes, 'gbk');
      cursor += 46 + skip;
      const role = name.endsWith('_业务明细.csv')
        ? 'detail'
        : name.endsWith('_业务明细(汇总).csv')
          ? 'summary'
          : name;
      const entry = this.entries.get(role) ?? byRole[index]?.[1];
      if (entry === undefined || entry.size !== size || entry.crc >>> 0 !== crc)
        zipFail('entry size or CRC-32 mismatch');
    }
  }
}

export interface WechatStreamEnd {
  readonly billType: WechatBillType;
  readonly summary: WechatBillSummary;
  readonly rowCount: number;
}

/** WeChat's bill text (UTF-8), pushed in chunks; the summary lines are checked against running sums. */
export class WechatBillStream {
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private readonly splitter = new LineSplitter();
  private fileLine = 0;
  private billType: WechatBillType | undefined;
  private summaryHeaderLine = 0;
  private summary: WechatBillSummary | undefined;
  private readonly computed = {
    rowCount: 0,
    settlementTotalFen: 0n,
    refundFen: 0n,
    couponRefundFen: 0n,
    feeFen: 0n,
    totalFen: 0n,
    requestedRefundFen: 0n,
  };
  private readonly summaryHeader = WECHAT_SUMMARY_COLUMNS.join(',');

  push(chunk: Uint8Array): WechatBillRow[] {
    return this.lines(this.splitter.push(this.decode(chunk, false)));
  }

  end(): { rows: WechatBillRow[]; end: WechatStreamEnd } {
    const rows = this.lines([
      ...this.splitter.push(this.decode(new Uint8Array(0), true)),
      ...this.splitter.end(),
    ]);
    if (this.billType === undefined) billFail('the header line matches no WeChat bill type');
    if (this.summary === undefined) billFail('the two summary lines must end the bill');
    const stated = this.summary;
    for (const key of Object.keys(stated) as (keyof WechatBillSummary)[]) {
      if (stated[key] !== this.computed[key])
        billFail(`line ${this.summaryHeaderLine + 1}: summary ${key} does not match the rows`);
    }
    return { rows, end: { billType: this.billType, summary: stated, rowCount: this.computed.rowCount } };
  }

  private decode(chunk: Uint8Array, last: boolean): string {
    try {
      return this.decoder.decode(chunk, { stream: !last });
    } catch {
      return billFail('the file is not valid UTF-8');
    }
  }

  private lines(lines: readonly string[]): WechatBillRow[] {
    const rows: WechatBillRow[] = [];
    for (const text of lines) {
      this.fileLine += 1;
      const n = this.fileLine;
      if (this.billType === undefined) {
        this.billType = wechatBillTypeOf(text.replace(/^\uFEFF/, ''));
        continue;
      }
      if (this.summary !== undefined) billFail('the two summary lines must end the bill');
      if (this.summaryHeaderLine > 0) {
        this.summary = parseWechatSummary(text);
        continue;
      }
      if (text === this.summaryHeader) {
        this.summaryHeaderLine = n;
        continue;
      }
      if (this.computed.rowCount >= WECHAT_BILL_ROWS_MAX) billFail('bill too long');
      const billType = this.billType;
      const row = atLine(n, () => parseWechatRow(billType, text));
      const c = this.computed;
      c.rowCount += 1;
      c.settlementTotalFen += row.settlementTotalFen;
      c.refundFen += row.refundFen;
      c.couponRefundFen += row.couponRefundFen;
      c.feeFen += row.feeFen;
      c.totalFen += row.totalFen;
      c.requestedRefundFen += row.requestedRefundFen;
      rows.push(row);
    }
    return rows;
  }
}
