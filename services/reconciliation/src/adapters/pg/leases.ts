/**
 * The run lease as a row of run_leases: taken by an upsert that only wins
 * when the row is free, expired or already ours, renewed the same way, and
 * released by deleting our row. Expiry uses the database's clock.
 */
import type { DataSource } from 'typeorm';
import type { LeasePort, LeaseState } from '../../application/ports';

const TAKE_SQL = `INSERT INTO run_leases (channel_no, bill_date, owner, expires_at)
       VALUES ($1, $2, $3, now() + $4::integer * interval '1 millisecond')
  ON CONFLICT (channel_no, bill_date) DO UPDATE
        SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at,
            acquired_at = CASE WHEN run_leases.owner = EXCLUDED.owner THEN run_leases.acquired_at ELSE now() END
      WHERE run_leases.owner = EXCLUDED.owner OR run_leases.expires_at < now()
  RETURNING expires_at`;

export class PgLeases implements LeasePort {
  constructor(private readonly dataSource: DataSource) {}

  async take(channelNo: string, billDate: string, owner: string, ttlMs: number): Promise<LeaseState> {
    const taken = await this.dataSource.query<{ expires_at: Date }[]>(TAKE_SQL, [
      channelNo,
      billDate,
      owner,
      ttlMs,
    ]);
    if (taken[0] !== undefined) return { taken: true, expiresAt: taken[0].expires_at };
    const held = await this.dataSource.query<{ expires_at: Date }[]>(
      'SELECT expires_at FROM run_leases WHERE channel_no = $1 AND bill_date = $2',
      [channelNo, billDate],
    );
    // Released between the two statements: free now, the caller tries again.
    return { taken: false, expiresAt: held[0]?.expires_at ?? new Date(0) };
  }

  async release(channelNo: string, billDate: string, owner: string): Promise<void> {
    await this.dataSource.query(
      'DELETE FROM run_leases WHERE channel_no = $1 AND bill_date = $2 AND owner = $3',
      [channelNo, billDate, owner],
    );
  }
}
