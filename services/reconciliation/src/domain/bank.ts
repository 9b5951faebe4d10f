/**
 * Bank statements of offline transfers (认款): a CSV described by a mapping,
 * read with csv-parse; each credit line can be claimed in parts until used
 * up. Pure.
 */
import { parse as parseCsv } from 'csv-parse/sync';
import iconv from 'iconv-lite';
import { yuanToFen } from '@paycore/channel-protocols';
import { MalformedStatementError } from './errors';

export const BANK_LINES_MAX = 100_000;

export interface BankCsvMapping {
  readonly encoding: 'utf8' | 'gbk';
  readonly columns: {
    readonly serial: string;
    readonly payerName: string;
    readonly amount: string;
    readonly currency: string;
    readonly valueDate: string;
  };
  readonly amountUnit: 'YUAN' | 'FEN';
}

export interface BankLineInput {
  readonly bankSerial: string;
  readonly payerName: string;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly valueDate: string;
}

/** Bank A's statement export: GBK, amounts in yuan. */
export const DEFAULT_BANK_MAPPINGS: Readonly<Record<string, BankCsvMapping>> = {
  bankA: {
    encoding: 'gbk',
    columns: { serial: '流水号', payerName: '付款人', amount: '金额', currency: '币种', valueDate: '起息日' },
    amountUnit: 'YUAN',
  },
};

function refuse(file: string, line: number, why: string): never {
  throw new MalformedStatementError(file, line, why);
}

export function parseBankStatement(file: string, content: Buffer, mapping: BankCsvMapping): BankLineInput[] {
  const text = mapping.encoding === 'utf8' ? content.toString('utf8') : iconv.decode(content, 'gbk');
  if (text.includes('\uFFFD')) refuse(file, 0, `the file is not valid ${mapping.encoding}`);
  let records: string[][];
  try {
    records = parseCsv(text.replace(/^\uFEFF/, ''), { skip_empty_lines: true, to: BANK_LINES_MAX + 1 });
  } catch (err) {
    return refuse(file, 0, `not CSV: ${err instanceof Error ? err.message : String(err)}`);
  }
  const header = records[0] ?? refuse(file, 1, 'no header line');
  const wanted = Object.values(mapping.columns);
  for (const name of header) if (!wanted.includes(name)) refuse(file, 1, `unknown column "${name}"`);
  const at = (name: string): number => {
    const index = header.indexOf(name);
    return index >= 0 ? index : refuse(file, 1, `missing column "${name}"`);
  };
  const columns = mapping.columns;
  const index = {
    serial: at(columns.serial),
    payerName: at(columns.payerName),
    amount: at(columns.amount),
    currency: at(columns.currency),
    valueDate: at(columns.valueDate),
  };
  const seen = new Set<string>();
  return records.slice(1).map((cells, position) => {
    const lineNo = position + 2;
    const cell = (i: number): string => cells[i] ?? '';
    for (const value of cells)
      if (/^[=+\-@]/.test(value) && !/^-?\d/.test(value)) refuse(file, lineNo, 'a cell looks like a formula');
    const serial = cell(index.serial);
    if (serial === '' || seen.has(serial)) refuse(file, lineNo, `serial "${serial}" is empty or repeated`);
    seen.add(serial);
    let amountMinor: bigint;
    try {
      amountMinor = mapping.amountUnit === 'FEN' ? BigInt(cell(index.amount)) : yuanToFen(cell(index.amount));
    } catch {
      return refuse(file, lineNo, `amount "${cell(index.amount)}" is malformed`);
    }
    if (amountMinor <= 0n) refuse(file, lineNo, 'only credits (positive amounts) can be claimed');
    const valueDate = cell(index.valueDate);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(valueDate))
      refuse(file, lineNo, `value date "${valueDate}" is not YYYY-MM-DD`);
    return {
      bankSerial: serial,
      payerName: cell(index.payerName),
      amountMinor,
      currency: cell(index.currency),
      valueDate,
    };
  });
}
