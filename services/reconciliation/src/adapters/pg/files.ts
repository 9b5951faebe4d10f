/**
 * Statement files and their lines. Lines go in with COPY (pg-copy-streams),
 * in chunks of at most COPY_CHUNK_LINES rows per COPY statement and with
 * back-pressure on each stream, inside the caller's transaction: a file is
 * imported whole or not at all. A streamed file's lines are copied as they
 * are read: while one chunk's COPY runs, the next chunk is being read and
 * encoded (at most two chunks of text in memory).
 */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { FilesRepo, StatementFileRow } from '../../application/ports';
import type { ParsedStatement, StatementLine } from '../../domain/model';
import type { SqlTx } from '@paycore/platform';

export const COPY_CHUNK_LINES = 50_000;
/** Rows per pushed text block inside one COPY (keeps each write small). */
const COPY_BLOCK_ROWS = 1_000;

/** COPY text format: backslash, tab, newline and carriage return escaped. */
function copyText(value: string): string {
  return value.replace(/[\\\t\n\r]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r',
  );
}

function copyRow(file: StatementFileRow, line: StatementLine): string {
  return [
    file.fileId,
    String(line.lineNo),
    file.channelNo,
    file.billDate,
    line.kind,
    copyText(line.status),
    copyText(line.merchantOrderNo),
    copyText(line.channelTxnNo),
    line.amountMinor.toString(),
    line.feeMinor.toString(),
    copyText(line.currency),
    copyText(line.finishedAt),
  ].join('\t');
}

function* blocks(
  file: StatementFileRow,
  lines: readonly StatementLine[],
  start: number,
  end: number,
): Generator<string> {
  for (let index = start; index < end; index += COPY_BLOCK_ROWS) {
    const stop = Math.min(end, index + COPY_BLOCK_ROWS);
    let text = '';
    for (let i = index; i < stop; i += 1) {
      const line = lines[i];
      if (line !== undefined) text += copyRow(file, line) + '\n';
    }
    yield text;
  }
}

const COPY_LINES_SQL = `COPY statement_lines (file_id, line_no, channel_no, bill_date, kind, status, merchant_order_no,
   channel_txn_no, amount_minor, fee_minor, currency, finished_at) FROM STDIN`;

function* textBlocks(rows: readonly string[]): Generator<string> {
  for (let index = 0; index < rows.length; index += COPY_BLOCK_ROWS)
    yield rows.slice(index, index + COPY_BLOCK_ROWS).join('\n') + '\n';
}

/** One COPY statement of already-encoded rows. */
async function copyChunk(client: PoolClient, rows: readonly string[]): Promise<void> {
  await pipeline(Readable.from(textBlocks(rows)), client.query(copyFrom(COPY_LINES_SQL)));
}

/** The pg client under TypeORM's query runner of this transaction. */
function pgClientOf(sql: SqlTx): PoolClient {
  const runner = sql.manager.queryRunner;
  const client = (runner as unknown as { databaseConnection?: PoolClient } | undefined)?.databaseConnection;
  if (client === undefined) throw new Error("COPY needs the transaction's pg client");
  return client;
}

export class PgFiles implements FilesRepo {
  constructor(private readonly sql: SqlTx) {}

  async byChecksum(channelNo: string, billDate: string, checksum: string): Promise<StatementFileRow | null> {
    const rows = await this.sql.query(
      `SELECT * FROM statement_files WHERE channel_no = $1 AND bill_date = $2 AND checksum_sha256 = $3`,
      [channelNo, billDate, checksum],
    );
    return rows[0] === undefined ? null : fileRow(rows[0]);
  }

  async byId(fileId: string): Promise<StatementFileRow | null> {
    const rows = await this.sql.query(`SELECT * FROM statement_files WHERE file_id = $1`, [fileId]);
    return rows[0] === undefined ? null : fileRow(rows[0]);
  }

  async insert(file: StatementFileRow): Promise<void> {
    await this.sql.query(
      `INSERT INTO statement_files (file_id, channel_no, bill_date, format, checksum_sha256, size_bytes,
         line_count, stated_amount_minor, stated_fee_minor, source, operator)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [
        file.fileId,
        file.channelNo,
        file.billDate,
        file.format,
        file.checksumSha256,
        file.sizeBytes,
        file.lineCount,
        file.statedAmountMinor.toString(),
        file.statedFeeMinor.toString(),
        file.source,
        file.operator,
      ],
    );
  }

  async copyLineBatches(
    file: StatementFileRow,
    batches: AsyncIterable<readonly StatementLine[]>,
  ): Promise<number> {
    const client = pgClientOf(this.sql);
    let running: Promise<void> = Promise.resolve();
    let rows: string[] = [];
    let count = 0;
    const flush = async (): Promise<void> => {
      const chunk = rows;
      rows = [];
      await running;
      if (chunk.length === 0) return;
      running = copyChunk(client, chunk);
      // Observed at the next flush (or below); the handler only keeps Node from calling it unhandled meanwhile.
      running.catch(() => undefined);
    };
    try {
      for await (const batch of batches) {
        for (const line of batch) rows.push(copyRow(file, line));
        count += batch.length;
        if (rows.length >= COPY_CHUNK_LINES) await flush();
      }
      await flush();
      await running;
    } catch (err) {
      // Let a running COPY end before the caller rolls back on this connection.
      await running.catch(() => undefined);
      throw err;
    }
    return count;
  }

  async complete(
    fileId: string,
    figures: { sizeBytes: number; lineCount: number; statedAmountMinor: bigint; statedFeeMinor: bigint },
  ): Promise<void> {
    await this.sql.query(
      `UPDATE statement_files SET size_bytes = $2, line_count = $3, stated_amount_minor = $4, stated_fee_minor = $5
        WHERE file_id = $1`,
      [
        fileId,
        figures.sizeBytes,
        figures.lineCount,
        figures.statedAmountMinor.toString(),
        figures.statedFeeMinor.toString(),
      ],
    );
  }

  async copyLines(file: StatementFileRow, statement: ParsedStatement): Promise<void> {
    const client = pgClientOf(this.sql);
    const lines = statement.lines;
    for (let start = 0; start < lines.length; start += COPY_CHUNK_LINES) {
      const end = Math.min(lines.length, start + COPY_CHUNK_LINES);
      const stream = client.query(
        copyFrom(
          `COPY statement_lines (file_id, line_no, channel_no, bill_date, kind, status, merchant_order_no,
             channel_txn_no, amount_minor, fee_minor, currency, finished_at) FROM STDIN`,
        ),
      );
      await pipeline(Readable.from(blocks(file, lines, start, end)), stream);
    }
  }
}

export function fileRow(row: Record<string, unknown>): StatementFileRow {
  return {
    fileId: String(row['file_id']),
    channelNo: String(row['channel_no']),
    billDate: dateText(row['bill_date']),
    format: String(row['format']),
    checksumSha256: String(row['checksum_sha256']),
    sizeBytes: Number(row['size_bytes']),
    lineCount: Number(row['line_count']),
    statedAmountMinor: BigInt(String(row['stated_amount_minor'])),
    statedFeeMinor: BigInt(String(row['stated_fee_minor'])),
    source: row['source'] === 'UPLOAD' ? 'UPLOAD' : 'DOWNLOAD',
    operator: String(row['operator']),
  };
}

/** `date` columns come back as text (the data source sets no date parser) or Date; both become YYYY-MM-DD. */
export function dateText(value: unknown): string {
  if (value instanceof Date) {
    const local = new Date(value.getTime() - value.getTimezoneOffset() * 60_000);
    return local.toISOString().slice(0, 10);
  }
  return String(value).slice(0, 10);
}
