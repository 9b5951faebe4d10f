/**
 * Daily cap counters (daily_usage): plain reads and writes under a row lock.
 * Whether an amount fits, and what a release leaves, is decided by the
 * domain (domain/caps.ts) over the locked value.
 */
import type { CapsRepo } from '../../application/ports';
import { usageKey } from '../../domain/routing';
import type { Sql } from './rows';

/** Pairs asked for in one read (routes × days); the registry holds at most 1000 routes. */
const USAGE_KEYS_MAX = 2000;

export class PgCaps implements CapsRepo {
  constructor(private readonly sql: Sql) {}

  async lockUsage(payChannel: string, channelNo: string, day: string): Promise<bigint> {
    await this.sql.query(
      `INSERT INTO daily_usage (pay_channel, channel_no, usage_date) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
      [payChannel, channelNo, day],
    );
    const rows = await this.sql.query<{ used: string }>(
      `SELECT used_amount::text AS used FROM daily_usage
       WHERE pay_channel = $1 AND channel_no = $2 AND usage_date = $3 FOR UPDATE`,
      [payChannel, channelNo, day],
    );
    return BigInt(rows[0]?.used ?? '0');
  }

  async setUsage(payChannel: string, channelNo: string, day: string, usedMinor: bigint): Promise<void> {
    await this.sql.query(
      `UPDATE daily_usage SET used_amount = $4 WHERE pay_channel = $1 AND channel_no = $2 AND usage_date = $3`,
      [payChannel, channelNo, day, usedMinor],
    );
  }

  async usage(
    keys: readonly { payChannel: string; channelNo: string; day: string }[],
  ): Promise<Map<string, bigint>> {
    if (keys.length === 0) return new Map();
    if (keys.length > USAGE_KEYS_MAX) throw new RangeError(`at most ${USAGE_KEYS_MAX} usage keys per read`);
    const rows = await this.sql.query<{ pay_channel: string; channel_no: string; day: string; used: string }>(
      `SELECT u.pay_channel, u.channel_no, to_char(u.usage_date, 'YYYY-MM-DD') AS day, u.used_amount::text AS used
       FROM daily_usage u
       JOIN unnest($1::text[], $2::text[], $3::date[]) AS k(pay_channel, channel_no, day)
         ON u.pay_channel = k.pay_channel AND u.channel_no = k.channel_no AND u.usage_date = k.day`,
      [keys.map((k) => k.payChannel), keys.map((k) => k.channelNo), keys.map((k) => k.day)],
    );
    return new Map(
      rows.map((row) => [`${usageKey(row.pay_channel, row.channel_no)}|${row.day}`, BigInt(row.used)]),
    );
  }
}
