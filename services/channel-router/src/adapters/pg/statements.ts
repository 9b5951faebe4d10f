/** Downloaded channel bills (对账单), one per (channel number, bill date). */
import { createHash } from 'node:crypto';
import type { StatementsRepo } from '../../application/ports';
import type { StatementRecord } from '../../application/model';
import type { Sql } from './rows';

interface StatementRow {
  statement_id: string;
  channel_no: string;
  bill_date: string;
  format: string;
  checksum_sha256: string;
  line_count: number;
  size_bytes: number;
  content: Buffer;
}

export class PgStatements implements StatementsRepo {
  constructor(private readonly sql: Sql) {}

  /** Replaces the stored file only if its bytes changed. */
  async save(
    channelNo: string,
    billDate: string,
    format: string,
    content: Buffer,
    lineCount: number,
  ): Promise<StatementRecord> {
    const checksum = createHash('sha256').update(content).digest('hex');
    const statementId = `S${channelNo}${billDate.replace(/-/g, '')}`;
    await this.sql.query(
      `INSERT INTO statements (statement_id, channel_no, bill_date, format, checksum_sha256, line_count, size_bytes, content)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (channel_no, bill_date) DO UPDATE SET format = EXCLUDED.format,
         checksum_sha256 = EXCLUDED.checksum_sha256, line_count = EXCLUDED.line_count,
         size_bytes = EXCLUDED.size_bytes, content = EXCLUDED.content, downloaded_at = now()
       WHERE statements.checksum_sha256 <> EXCLUDED.checksum_sha256`,
      [statementId, channelNo, billDate, format, checksum, lineCount, content.length, content],
    );
    return {
      statementId,
      channelNo,
      billDate,
      format,
      checksumSha256: checksum,
      lineCount,
      sizeBytes: content.length,
    };
  }

  async byId(statementId: string): Promise<{ record: StatementRecord; content: Buffer } | undefined> {
    const rows = await this.sql.query<StatementRow>(
      `SELECT statement_id, channel_no, to_char(bill_date, 'YYYY-MM-DD') AS bill_date, format, checksum_sha256,
              line_count, size_bytes, content FROM statements WHERE statement_id = $1`,
      [statementId],
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    return {
      record: {
        statementId: row.statement_id,
        channelNo: row.channel_no,
        billDate: row.bill_date,
        format: row.format,
        checksumSha256: row.checksum_sha256,
        lineCount: row.line_count,
        sizeBytes: row.size_bytes,
      },
      content: row.content,
    };
  }
}
