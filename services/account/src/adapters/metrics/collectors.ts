/**
 * The account service's figures on /metrics:
 *
 * - transfer batch sizes (histogram, in process: how many transfers each
 *   batch transaction posted; batches grow with load, see batcher.ts) and the
 *   transfers waiting for a batch slot (gauge, read at scrape time);
 * - hot-account queues (BUFFERED accounts, whose credits queue in
 *   buffered_credits until a flush): the queued credits of the longest
 *   HOT_ACCOUNTS_LISTED_MAX queues by account, the total, and the age of the
 *   oldest queued credit, read from Postgres at scrape time.
 */
import { Gauge, Histogram } from 'prom-client';
import { registerSqlGauges, type Metrics } from '@paycore/platform';
import type { DataSource } from 'typeorm';

const HOT_ACCOUNTS_LISTED_MAX = 20;

export interface AccountMetricsHooks {
  /** Called with the size of every transfer batch. */
  readonly observeTransferBatch: (size: number) => void;
}

export function registerAccountCollectors(
  metrics: Metrics,
  dataSource: DataSource,
  transfersQueued: () => number,
): AccountMetricsHooks {
  const batchSize = new Histogram({
    name: 'paycore_account_transfer_batch_size',
    help: 'Transfers posted per batch transaction.',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
    registers: [metrics.registry],
  });
  new Gauge({
    name: 'paycore_account_transfer_queue_length',
    help: 'Transfers waiting for a batch slot.',
    registers: [metrics.registry],
    collect() {
      this.set(transfersQueued());
    },
  });
  registerSqlGauges(metrics, dataSource, [
    {
      name: 'paycore_account_hot_queue_length',
      help: `Credits queued on a BUFFERED (hot) account awaiting its flush, for the ${HOT_ACCOUNTS_LISTED_MAX} longest queues.`,
      labelNames: ['account_id', 'subject_code'],
      sql: `SELECT q.account_id::text AS account_id, a.subject_code, q.value
              FROM (SELECT account_id, count(*) AS value FROM account.buffered_credits
                     GROUP BY account_id ORDER BY count(*) DESC LIMIT $1) q
              JOIN account.accounts a ON a.id = q.account_id`,
      params: [HOT_ACCOUNTS_LISTED_MAX],
    },
    {
      name: 'paycore_account_hot_queue_total',
      help: 'Credits queued on all BUFFERED (hot) accounts awaiting their flush.',
      labelNames: [],
      sql: `SELECT count(*) AS value FROM account.buffered_credits`,
    },
    {
      name: 'paycore_account_hot_queue_oldest_age_seconds',
      help: 'Age of the oldest queued credit on a BUFFERED account, seconds (0 when none is queued).',
      labelNames: [],
      sql: `SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) AS value FROM account.buffered_credits`,
    },
    {
      name: 'paycore_account_hot_accounts',
      help: 'Accounts in BUFFERED posting mode (hot accounts), by status.',
      labelNames: ['status'],
      sql: `SELECT status, count(*) AS value FROM account.accounts WHERE posting_mode = 'BUFFERED' GROUP BY 1`,
    },
  ]);
  return { observeTransferBatch: (size) => batchSize.observe(size) };
}
