/**
 * Stored-value figures on /metrics, read from Postgres at scrape time
 * (ADR 0021): the differences of the latest reconciled date by class, and
 * the lots' remaining and expired value by currency.
 */
import { registerSqlGauges, type Metrics } from '@paycore/platform';
import type { DataSource } from 'typeorm';

export function registerStoredValueCollectors(metrics: Metrics, dataSource: DataSource): void {
  registerSqlGauges(metrics, dataSource, [
    {
      name: 'paycore_account_stored_value_differences',
      help: 'Reconciled scopes (contracts, members, platform) of the latest reconciled date, by difference class.',
      labelNames: ['difference_class'],
      sql: `SELECT difference_class, count(*) AS value FROM account.sv_recon_rows
             WHERE accounting_date = (SELECT max(accounting_date) FROM account.sv_recon_rows)
             GROUP BY difference_class`,
    },
    {
      name: 'paycore_account_stored_value_remaining_minor',
      help: 'Value of stored-value units not yet consumed or expired (available, held, frozen), minor units.',
      labelNames: ['currency'],
      sql: `SELECT currency, sum(available_value + held_value + frozen_value) AS value
              FROM account.sv_lots GROUP BY currency`,
    },
  ]);
}
