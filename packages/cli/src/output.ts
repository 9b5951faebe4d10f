/**
 * Rendering command results: `-o text` (aligned table or key: value lines,
 * for people), `-o json` (one JSON document), `-o jsonl` (one JSON object
 * per line: a list prints one line per row, for `jq` and pipelines).
 * bigint becomes a decimal string and Date an ISO string, so money never
 * passes through a JS number.
 */
import type { OutputFormat } from './settings';

export type Cell = string | number | boolean | bigint | null | undefined;
export type Row = Readonly<Record<string, Cell>>;
export type Result =
  | { readonly kind: 'rows'; readonly rows: readonly Row[]; readonly columns?: readonly string[] }
  | { readonly kind: 'record'; readonly record: Row };

const CELL_WIDTH_MAX = 60;

function jsonValue(cell: Cell): string | number | boolean | null {
  if (typeof cell === 'bigint') return cell.toString();
  return cell ?? null;
}

function jsonRow(row: Row): Record<string, string | number | boolean | null> {
  return Object.fromEntries(Object.entries(row).map(([key, cell]) => [key, jsonValue(cell)]));
}

function text(cell: Cell): string {
  if (cell === undefined || cell === null || cell === '') return '-';
  const value = String(cell);
  return value.length > CELL_WIDTH_MAX ? `${value.slice(0, CELL_WIDTH_MAX - 1)}…` : value;
}

function table(rows: readonly Row[], columns: readonly string[]): string {
  if (rows.length === 0) return '(none)\n';
  const widths = columns.map((column) =>
    Math.max(column.length, ...rows.map((row) => text(row[column]).length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [
    line(columns.map((c) => c.toUpperCase())),
    ...rows.map((row) => line(columns.map((c) => text(row[c])))),
  ]
    .map((l) => `${l}\n`)
    .join('');
}

export function render(result: Result, format: OutputFormat): string {
  if (result.kind === 'record') {
    if (format === 'json') return `${JSON.stringify(jsonRow(result.record), null, 2)}\n`;
    if (format === 'jsonl') return `${JSON.stringify(jsonRow(result.record))}\n`;
    const width = Math.max(0, ...Object.keys(result.record).map((k) => k.length));
    return Object.entries(result.record)
      .map(([key, cell]) => `${`${key}:`.padEnd(width + 1)} ${text(cell)}\n`)
      .join('');
  }
  if (format === 'json') return `${JSON.stringify(result.rows.map(jsonRow), null, 2)}\n`;
  if (format === 'jsonl') return result.rows.map((row) => `${JSON.stringify(jsonRow(row))}\n`).join('');
  const columns = result.columns ?? [...new Set(result.rows.flatMap((row) => Object.keys(row)))];
  return table(result.rows, columns);
}

/** `PAYMENT_STATE_SUCCEEDED` → `SUCCEEDED` for an enum value, given the enum object and its prefix. */
export function enumName(enumObject: Record<number, string>, value: number, prefix: string): string {
  const name = enumObject[value] ?? String(value);
  return name.startsWith(prefix) ? name.slice(prefix.length) : name;
}
