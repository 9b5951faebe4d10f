/** Channel callbacks received (notifications), for audit: every verified one, a bounded sample of the rest. */
import type { CallbackRecord, CallbacksRepo } from '../../application/ports';
import type { Sql } from './rows';

/** A stored body is cut here; a channel callback is a few hundred bytes. */
export const CALLBACK_BODY_CHARS_MAX = 64 * 1024;

export class PgCallbacks implements CallbacksRepo {
  constructor(private readonly sql: Sql) {}

  async record(callback: CallbackRecord): Promise<void> {
    await this.sql.query(
      'INSERT INTO notifications (channel_no, txn_id, verified, outcome, body) VALUES ($1, $2, $3, $4, $5)',
      [
        callback.channelNo,
        callback.txnId ?? null,
        callback.verified,
        callback.outcome,
        callback.body.slice(0, CALLBACK_BODY_CHARS_MAX),
      ],
    );
  }

  async unverifiedSince(channelNo: string, since: Date, limit: number): Promise<number> {
    const rows = await this.sql.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM (
         SELECT 1 FROM notifications WHERE channel_no = $1 AND NOT verified AND received_at >= $2 LIMIT $3) AS recent`,
      [channelNo, since, limit],
    );
    return Number(rows[0]?.n ?? '0');
  }
}
