/**
 * The ledger's figures on /metrics, read at scrape time (registerSqlGauges):
 * transfers it could not turn into vouchers (voucher_exceptions)
 * and accounting days by status (a day left OPEN or SEALED long after its
 * date is a close that did not happen).
 */
import { registerSqlGauges, type Metrics } from '@paycore/platform';
import type { DataSource } from 'typeorm';

export function registerLedgerCollectors(metrics: Metrics, dataSource: DataSource): void {
  registerSqlGauges(metrics, dataSource, [
    {
      name: 'paycore_ledger_voucher_exceptions',
      help: 'Account transfers recorded as voucher exceptions instead of vouchers (reasons: the table).',
      labelNames: [],
      sql: `SELECT count(*) AS value FROM ledger.voucher_exceptions`,
    },
    {
      name: 'paycore_ledger_days',
      help: 'Accounting days by status (OPEN, SEALED, CLOSED).',
      labelNames: ['status'],
      sql: `SELECT s.status, count(d.accounting_date) AS value
              FROM (VALUES ('OPEN'), ('SEALED'), ('CLOSED')) AS s (status)
              LEFT JOIN ledger.days d ON d.status = s.status
             GROUP BY 1`,
    },
  ]);
}
