/**
 * channel-router's business figures on /metrics, read from its tables at
 * scrape time (registerSqlGauges: one bounded read-only query each). Channel
 * call latency and breaker state are counted in process by the channel
 * adapters; these are the stored side:
 *
 * - channel transactions by channel number, kind and state: created in the
 *   last 24 h, plus every unfinished one (PROCESSING, UNKNOWN);
 * - the status-sync backlog: transactions whose next sync is due;
 * - transactions parked as exceptions (exception_at set), by channel number.
 */
import { registerSqlGauges, type Metrics } from '@paycore/platform';
import type { DataSource } from 'typeorm';
import { OPEN_TXN_STATES } from '../../domain/txn';

export function registerChannelCollectors(metrics: Metrics, dataSource: DataSource): void {
  registerSqlGauges(metrics, dataSource, [
    {
      name: 'paycore_channel_transactions',
      help: 'Channel transactions created in the last 24 h or unfinished, by channel number, kind and state.',
      labelNames: ['channel_no', 'kind', 'state'],
      sql: `SELECT channel_no, kind, state, count(*) AS value FROM channel.transactions
             WHERE created_at > now() - interval '24 hours' OR state = ANY($1::text[])
             GROUP BY 1, 2, 3`,
      // The unfinished states come from the domain's transition table.
      params: [OPEN_TXN_STATES],
    },
    {
      name: 'paycore_channel_sync_due',
      help: 'Channel transactions whose status sync is due now (the status-sync backlog).',
      labelNames: [],
      sql: `SELECT count(*) AS value FROM channel.transactions WHERE next_sync_at <= now()`,
    },
    {
      name: 'paycore_channel_exceptions',
      help: 'Channel transactions parked as exceptions, by channel number.',
      labelNames: ['channel_no'],
      sql: `SELECT n.channel_no, count(t.txn_id) AS value
              FROM channel.channel_numbers n
              LEFT JOIN channel.transactions t ON t.channel_no = n.channel_no AND t.exception_at IS NOT NULL
             GROUP BY 1`,
    },
  ]);
}
