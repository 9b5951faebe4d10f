/**
 * CSV lines as the bill files write them: comma-separated, a field quoted only
 * when it holds a comma or a quote (quotes doubled), no embedded line breaks.
 */
import { ProtocolError, ProtocolErrorReason } from './errors';

export const CSV_FIELDS_MAX = 64;

export function csvField(value: string): string {
  if (/[\r\n]/.test(value)) {
    throw new ProtocolError(ProtocolErrorReason.INVALID_BILL, 'a bill value cannot contain a line break');
  }
  return /[",]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function csvLine(values: readonly string[]): string {
  return values.map(csvField).join(',');
}

export function parseCsvLine(line: string): string[] {
  const fields: string[] = [];
  let index = 0;
  for (;;) {
    if (fields.length >= CSV_FIELDS_MAX) {
      throw new ProtocolError(
        ProtocolErrorReason.INVALID_BILL,
        `more than ${CSV_FIELDS_MAX} fields in a line`,
      );
    }
    if (line[index] === '"') {
      let value = '';
      index += 1;
      for (;;) {
        const quote = line.indexOf('"', index);
        if (quote < 0) throw new ProtocolError(ProtocolErrorReason.INVALID_BILL, 'unterminated quoted field');
        value += line.slice(index, quote);
        if (line[quote + 1] === '"') {
          value += '"';
          index = quote + 2;
          continue;
        }
        index = quote + 1;
        break;
      }
      fields.push(value);
      if (index === line.length) return fields;
      if (line[index] !== ',')
        throw new ProtocolError(ProtocolErrorReason.INVALID_BILL, 'text after a quoted field');
      index += 1;
      continue;
    }
    const comma = line.indexOf(',', index);
    if (comma < 0) {
      fields.push(line.slice(index));
      return fields;
    }
    fields.push(line.slice(index, comma));
    index = comma + 1;
  }
}

/** Splits file text into lines, accepting CRLF or LF, dropping the one empty line after the final break. */
export function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}
