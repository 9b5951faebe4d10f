/**
 * The cashier's store over the platform's unit of work: `transaction` gives
 * the use cases a `CashierTx` (idempotency claim, outbox, one repository per
 * aggregate, all in one Postgres transaction opened with one BEGIN); reads
 * outside a transaction are single statements on the pool. One file per
 * aggregate beside this one; state changes only through the domain tables.
 */
import type { DataSource } from 'typeorm';
import {
  createUnitOfWork,
  type EventNaming,
  type IsolationLevel,
  type SqlTx,
  type UnitOfWork,
} from '@paycore/platform';
import { fromStatesOf } from '@paycore/platform/domain';
import {
  COUPON_TRANSITIONS,
  EXCEPTION_TRANSITIONS,
  NOTIFICATION_TRANSITIONS,
  ORDER_TRANSITIONS,
} from '../../domain/states';
import type { CashierStore, CashierTx, IdleFlows } from '../../application/ports';
import type {
  CouponRecord,
  ExceptionRecord,
  MerchantRecord,
  NotificationRecord,
  OrderRecord,
  PaymentRecord,
  RefundRecord,
  WithdrawalRecord,
} from '../../application/records';
import { PgCoupons } from './coupons';
import { PgCashierEvents } from './events';
import { PgExceptions } from './exceptions';
import { PgMerchants, selectMerchant } from './merchants';
import { PgNotifications } from './notifications';
import { PgOrders, selectOrder, selectOrderByMerchantNo } from './orders';
import { PgPayments, selectPayments } from './payments';
import { PgRefunds, selectRefunds } from './refunds';
import { PgRisk } from './risk';
import { COUPON_COLUMNS, couponOf, EXCEPTION_COLUMNS, exceptionOf } from './rows';
import {
  PAYMENT_NOT_FINAL,
  poolReader,
  REFUND_NOT_FINAL,
  stateList,
  WITHDRAWAL_NOT_FINAL,
  type Queryable,
} from './sql';
import { PgWithdrawals, selectWithdrawal } from './withdrawals';

class PgCashierTx implements CashierTx {
  readonly merchants: PgMerchants;
  readonly orders: PgOrders;
  readonly payments: PgPayments;
  readonly refunds: PgRefunds;
  readonly withdrawals: PgWithdrawals;
  readonly coupons: PgCoupons;
  readonly notifications: PgNotifications;
  readonly exceptions: PgExceptions;
  readonly risk: PgRisk;
  readonly events: PgCashierEvents;

  constructor(
    private readonly sql: SqlTx,
    naming: EventNaming,
  ) {
    this.merchants = new PgMerchants(sql);
    this.orders = new PgOrders(sql);
    this.payments = new PgPayments(sql);
    this.refunds = new PgRefunds(sql);
    this.withdrawals = new PgWithdrawals(sql);
    this.coupons = new PgCoupons(sql);
    this.notifications = new PgNotifications(sql);
    this.exceptions = new PgExceptions(sql);
    this.risk = new PgRisk(sql);
    this.events = new PgCashierEvents(sql, naming);
  }

  claim: SqlTx['claim'] = (request) => this.sql.claim(request);
  claimAnswered: SqlTx['claimAnswered'] = (request, response) => this.sql.claimAnswered(request, response);
  remember: SqlTx['remember'] = (request, response) => this.sql.remember(request, response);
  publish: SqlTx['publish'] = (event) => this.sql.publish(event);
}

const WAIT_PAY_SQL = `state IN ${stateList(fromStatesOf(ORDER_TRANSITIONS, 'CLOSED'))}`;
const OPEN_EXCEPTION_SQL = `state IN ${stateList(fromStatesOf(EXCEPTION_TRANSITIONS, 'RESOLVED'))}`;
const PENDING_NOTIFICATION_SQL = `state IN ${stateList(fromStatesOf(NOTIFICATION_TRANSITIONS, 'DELIVERED'))}`;

export class PgCashierStore implements CashierStore {
  private readonly uow: UnitOfWork;
  private readonly reader: Queryable;

  constructor(
    dataSource: DataSource,
    private readonly naming: EventNaming,
  ) {
    this.uow = createUnitOfWork(dataSource);
    this.reader = poolReader(dataSource);
  }

  transaction<T>(name: string, isolation: IsolationLevel, fn: (tx: CashierTx) => Promise<T>): Promise<T> {
    return this.uow.transaction(name, isolation, (sql) => fn(new PgCashierTx(sql, this.naming)));
  }

  merchant(merchantId: string): Promise<MerchantRecord | undefined> {
    return selectMerchant(this.reader, merchantId);
  }

  order(orderId: string): Promise<OrderRecord | undefined> {
    return selectOrder(this.reader, orderId);
  }

  orderByMerchantNo(merchantId: string, merchantOrderNo: string): Promise<OrderRecord | undefined> {
    return selectOrderByMerchantNo(this.reader, merchantId, merchantOrderNo);
  }

  async payment(paymentId: string): Promise<PaymentRecord | undefined> {
    return (await selectPayments(this.reader, 'payment_id = $1', [paymentId]))[0];
  }

  paymentsOfOrder(orderId: string): Promise<PaymentRecord[]> {
    return selectPayments(this.reader, 'order_id = $1 ORDER BY created_at, payment_id', [orderId]);
  }

  async refund(refundId: string): Promise<RefundRecord | undefined> {
    return (await selectRefunds(this.reader, 'refund_id = $1', [refundId]))[0];
  }

  refundsOfOrder(orderId: string): Promise<RefundRecord[]> {
    return selectRefunds(this.reader, 'order_id = $1 ORDER BY created_at, refund_id', [orderId]);
  }

  async refundByMerchantNo(merchantId: string, merchantRefundNo: string): Promise<RefundRecord | undefined> {
    return (
      await selectRefunds(this.reader, 'merchant_id = $1 AND merchant_refund_no = $2', [
        merchantId,
        merchantRefundNo,
      ])
    )[0];
  }

  withdrawal(withdrawalId: string): Promise<WithdrawalRecord | undefined> {
    return selectWithdrawal(this.reader, withdrawalId);
  }

  async availableCoupons(payerId: string, now: Date): Promise<CouponRecord[]> {
    const rows = await this.reader.query(
      `SELECT ${COUPON_COLUMNS} FROM coupons WHERE payer_id = $1 AND state = ANY($2::text[]) AND expire_at > $3
        ORDER BY expire_at LIMIT 100`,
      [payerId, fromStatesOf(COUPON_TRANSITIONS, 'RESERVED'), now],
    );
    return rows.map(couponOf);
  }

  async exceptions(includeResolved: boolean, limit: number): Promise<ExceptionRecord[]> {
    const rows = await this.reader.query(
      `SELECT ${EXCEPTION_COLUMNS} FROM exceptions WHERE ($1 OR ${OPEN_EXCEPTION_SQL})
        ORDER BY created_at, exception_id LIMIT $2`,
      [includeResolved, limit],
    );
    return rows.map(exceptionOf);
  }

  async accountId(key: string): Promise<string | undefined> {
    const rows = await this.reader.query<{ account_id: string }>(
      'SELECT account_id FROM ledger_accounts WHERE account_key = $1',
      [key],
    );
    return rows[0]?.account_id;
  }

  async saveAccountId(key: string, accountId: string): Promise<void> {
    await this.reader.query(
      'INSERT INTO ledger_accounts (account_key, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      [key, accountId],
    );
  }

  async idleFlows(idleMs: number, now: Date, batchMax: number): Promise<IdleFlows> {
    const idle = `updated_at <= now() - $1::bigint * interval '1 millisecond'`;
    const noOpen = (kind: string, table: string, id: string) =>
      `NOT EXISTS (SELECT 1 FROM exceptions e WHERE e.flow_kind = '${kind}' AND e.flow_id = ${table}.${id}::text AND e.${OPEN_EXCEPTION_SQL})`;
    const rows = await this.reader.query<{ kind: string; id: string }>(
      `(SELECT 'payment' AS kind, payment_id::text AS id FROM payments
         WHERE ${PAYMENT_NOT_FINAL} AND ${idle} AND ${noOpen('PAYMENT', 'payments', 'payment_id')}
         ORDER BY updated_at LIMIT $3)
       UNION ALL (SELECT 'refund', refund_id::text FROM refunds
         WHERE ${REFUND_NOT_FINAL} AND ${idle} AND ${noOpen('REFUND', 'refunds', 'refund_id')}
         ORDER BY updated_at LIMIT $3)
       UNION ALL (SELECT 'withdrawal', withdrawal_id::text FROM withdrawals
         WHERE ${WITHDRAWAL_NOT_FINAL} AND ${idle} AND ${noOpen('WITHDRAWAL', 'withdrawals', 'withdrawal_id')}
         ORDER BY updated_at LIMIT $3)
       UNION ALL (SELECT 'expired', order_id::text FROM orders WHERE ${WAIT_PAY_SQL} AND expire_at <= $2
         ORDER BY expire_at LIMIT $3)
       UNION ALL (SELECT 'release', order_id::text FROM orders WHERE receipt_confirmed AND NOT release_posted
         LIMIT $3)`,
      [idleMs, now, batchMax],
    );
    const of = (kind: string) => rows.filter((r) => r.kind === kind).map((r) => r.id);
    return {
      paymentIds: of('payment'),
      refundIds: of('refund'),
      withdrawalIds: of('withdrawal'),
      expiredOrderIds: of('expired'),
      unpostedReleaseOrderIds: of('release'),
    };
  }

  async claimNotifications(
    limit: number,
    leaseMs: number,
  ): Promise<{ due: NotificationRecord[]; nextDueAt: Date | undefined }> {
    // One statement: the claim and, from the same snapshot, the earliest pending one not due
    // yet (the claimed ones are due, so not in it); the LEFT JOIN keeps that row when none is due.
    const rows = await this.reader.query(
      `WITH claimed AS (
         UPDATE notifications n SET next_attempt_at = now() + $2::bigint * interval '1 millisecond'
           FROM merchants m
          WHERE n.merchant_id = m.merchant_id AND n.notification_id IN (
            SELECT notification_id FROM notifications WHERE ${PENDING_NOTIFICATION_SQL} AND next_attempt_at <= now()
             ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
          RETURNING n.notification_id::text, n.order_id::text, n.merchant_id, n.url, n.body, n.attempts, n.biz_code, m.notify_key
       ),
       later AS (
         SELECT min(next_attempt_at) AS next_due_at FROM notifications
          WHERE ${PENDING_NOTIFICATION_SQL} AND next_attempt_at > now()
       )
       SELECT claimed.*, later.next_due_at FROM later LEFT JOIN claimed ON true`,
      [limit, leaseMs],
    );
    const nextDue = rows[0]?.['next_due_at'];
    const due = rows
      .filter((r) => r['notification_id'] !== null && r['notification_id'] !== undefined)
      .map((r) => ({
        notificationId: String(r['notification_id']),
        orderId: String(r['order_id']),
        merchantId: String(r['merchant_id']),
        url: String(r['url']),
        body: String(r['body']),
        attempts: Number(r['attempts']),
        bizCode: String(r['biz_code']),
        notifyKey: String(r['notify_key']),
      }));
    return { due, nextDueAt: nextDue instanceof Date ? nextDue : undefined };
  }
}
