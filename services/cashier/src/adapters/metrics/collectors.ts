/**
 * The cashier's business figures on /metrics, read from its tables at scrape
 * time (registerSqlGauges: one bounded read-only query each, never on the hot
 * path). Windows keep every query to recent or unfinished rows, which the
 * partial indexes on unfinished flows serve:
 *
 * - payments and refunds by state and pay channel: created in the last 24 h,
 *   plus every unfinished one whatever its age;
 * - exception-queue depth: OPEN exceptions by flow kind, and the oldest's age;
 * - recovery backlog: unfinished payments / refunds / withdrawals not touched
 *   for RECOVERY_STALE_SECONDS (what the recovery workers still have to drive);
 * - merchant notifications by state (PENDING, DELIVERED, GAVE_UP) over 24 h
 *   plus every pending one, and the pending ones' attempts so far.
 *
 * Names and labels are what deploy/monitoring (alerts, dashboard) query.
 */
import { registerSqlGauges, type Metrics } from '@paycore/platform';
import { finalStatesOf, statesOf, type TransitionTable } from '@paycore/platform/domain';
import type { DataSource } from 'typeorm';
import {
  EXCEPTION_TRANSITIONS,
  NOTIFICATION_TRANSITIONS,
  PAYMENT_TRANSITIONS,
  REFUND_TRANSITIONS,
  WITHDRAWAL_TRANSITIONS,
} from '../../domain/states';

const RECOVERY_STALE_SECONDS = 60;

/** A state list for SQL, read from a domain transition table (states are code identifiers, never input). */
function sqlList(states: readonly string[]): string {
  return states.map((state) => `'${state}'`).join(', ');
}
function unfinished<S extends string>(table: TransitionTable<S>): string {
  const final = new Set<string>(finalStatesOf(table));
  return sqlList(statesOf(table).filter((state) => !final.has(state)));
}
const PAYMENT_FINAL = sqlList(finalStatesOf(PAYMENT_TRANSITIONS));
const WITHDRAWAL_FINAL = sqlList(finalStatesOf(WITHDRAWAL_TRANSITIONS));
const REFUND_UNFINISHED = unfinished(REFUND_TRANSITIONS);
const EXCEPTION_UNRESOLVED = unfinished(EXCEPTION_TRANSITIONS);
const NOTIFICATION_UNFINISHED = unfinished(NOTIFICATION_TRANSITIONS);
const NOTIFICATION_STATES = statesOf(NOTIFICATION_TRANSITIONS)
  .map((state) => `('${state}')`)
  .join(', ');
const WINDOW = `interval '24 hours'`;

/** The pay channel of a payment: its CHANNEL part's, else its first part's kind (BALANCE, COUPON…). */
const PAY_CHANNEL_OF_PAYMENT = `COALESCE(
  (SELECT pp.pay_channel FROM cashier.payment_parts pp
    WHERE pp.payment_id = p.payment_id AND pp.kind = 'CHANNEL' ORDER BY pp.part_no LIMIT 1),
  (SELECT pp.kind FROM cashier.payment_parts pp WHERE pp.payment_id = p.payment_id ORDER BY pp.part_no LIMIT 1),
  'NONE')`;

// eslint-disable-next-line max-lines-per-function -- a table of gauge definitions, one entry per business figure
export function registerCashierCollectors(metrics: Metrics, dataSource: DataSource): void {
  registerSqlGauges(metrics, dataSource, [
    {
      name: 'paycore_cashier_payments',
      help: 'Payments created in the last 24 h or unfinished, by state and pay channel.',
      labelNames: ['state', 'pay_channel'],
      sql: `SELECT p.state, ${PAY_CHANNEL_OF_PAYMENT} AS pay_channel, count(*) AS value
              FROM cashier.payments p
             WHERE p.created_at > now() - ${WINDOW} OR p.state NOT IN (${PAYMENT_FINAL})
             GROUP BY 1, 2`,
    },
    {
      name: 'paycore_cashier_payment_amount_minor',
      help: 'Amount of the payments of paycore_cashier_payments, minor units (all currencies added: CNY only today).',
      labelNames: ['state', 'pay_channel'],
      sql: `SELECT p.state, ${PAY_CHANNEL_OF_PAYMENT} AS pay_channel, sum(p.amount_minor)::text AS value
              FROM cashier.payments p
             WHERE p.created_at > now() - ${WINDOW} OR p.state NOT IN (${PAYMENT_FINAL})
             GROUP BY 1, 2`,
    },
    {
      name: 'paycore_cashier_refunds',
      help: 'Refunds created in the last 24 h or unfinished, by state and the pay channel of the refunded payment.',
      labelNames: ['state', 'pay_channel'],
      sql: `SELECT r.state, ${PAY_CHANNEL_OF_PAYMENT} AS pay_channel, count(*) AS value
              FROM cashier.refunds r JOIN cashier.payments p ON p.payment_id = r.payment_id
             WHERE r.created_at > now() - ${WINDOW} OR r.state IN (${REFUND_UNFINISHED})
             GROUP BY 1, 2`,
    },
    {
      name: 'paycore_cashier_exceptions_open',
      help: 'Exception queue depth: OPEN exceptions awaiting an operator, by flow kind.',
      labelNames: ['flow_kind'],
      sql: `SELECT k.flow_kind, count(e.exception_id) AS value
              FROM (VALUES ('PAYMENT'), ('REFUND'), ('WITHDRAWAL')) AS k (flow_kind)
              LEFT JOIN cashier.exceptions e ON e.flow_kind = k.flow_kind AND e.state IN (${EXCEPTION_UNRESOLVED})
             GROUP BY 1`,
    },
    {
      name: 'paycore_cashier_exception_oldest_open_age_seconds',
      help: 'Age of the oldest OPEN exception, seconds (0 when the queue is empty).',
      labelNames: [],
      sql: `SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) AS value
              FROM cashier.exceptions WHERE state IN (${EXCEPTION_UNRESOLVED})`,
    },
    {
      name: 'paycore_cashier_recovery_backlog',
      help: `Unfinished flows not updated for ${RECOVERY_STALE_SECONDS} s (left to the recovery workers), by flow.`,
      labelNames: ['flow'],
      sql: `SELECT 'PAYMENT' AS flow, count(*) AS value FROM cashier.payments
             WHERE state NOT IN (${PAYMENT_FINAL}) AND updated_at < now() - make_interval(secs => $1)
            UNION ALL
            SELECT 'REFUND', count(*) FROM cashier.refunds
             WHERE state IN (${REFUND_UNFINISHED}) AND updated_at < now() - make_interval(secs => $1)
            UNION ALL
            SELECT 'WITHDRAWAL', count(*) FROM cashier.withdrawals
             WHERE state NOT IN (${WITHDRAWAL_FINAL}) AND updated_at < now() - make_interval(secs => $1)`,
      params: [RECOVERY_STALE_SECONDS],
    },
    {
      name: 'paycore_cashier_notifications',
      help: 'Merchant notifications created in the last 24 h or still pending, by state (DELIVERED, GAVE_UP = give-ups, PENDING).',
      labelNames: ['state'],
      sql: `SELECT s.state, count(n.notification_id) AS value
              FROM (VALUES ${NOTIFICATION_STATES}) AS s (state)
              LEFT JOIN cashier.notifications n
                ON n.state = s.state AND (n.created_at > now() - ${WINDOW} OR n.state IN (${NOTIFICATION_UNFINISHED}))
             GROUP BY 1`,
    },
    {
      name: 'paycore_cashier_notification_pending_attempts',
      help: 'Delivery attempts already made for the notifications still pending (sum).',
      labelNames: [],
      sql: `SELECT COALESCE(sum(attempts), 0) AS value FROM cashier.notifications WHERE state IN (${NOTIFICATION_UNFINISHED})`,
    },
  ]);
}
