/** Merchant notifications: queued in the payment's success transaction, attempts recorded by the notifier. */
import { signalAfterCommit, wakeupChannel, type SqlTx } from '@paycore/platform';
import { fromStatesOf } from '@paycore/platform/domain';
import { NOTIFICATION_TRANSITIONS, type NotificationStateName } from '../../domain/states';
import type { NotificationRepo } from '../../application/ports';
import type { NotificationRecord } from '../../application/records';

const PENDING: NotificationStateName = 'PENDING';
/** Wakes the notifier (here, or at a peer over NOTIFY) once a new notification is committed. */
export const NOTIFY_WAKEUP = wakeupChannel('cashier', 'notifications');

export class PgNotifications implements NotificationRepo {
  constructor(private readonly sql: SqlTx) {}

  async insert(n: Omit<NotificationRecord, 'notifyKey' | 'attempts'>): Promise<void> {
    await this.sql.query(
      `INSERT INTO notifications (notification_id, order_id, merchant_id, url, body, state, next_attempt_at, biz_code)
       VALUES ($1, $2, $3, $4, $5, $6, now(), $7) ON CONFLICT (order_id) DO NOTHING`,
      [n.notificationId, n.orderId, n.merchantId, n.url, n.body, PENDING, n.bizCode],
    );
    signalAfterCommit(this.sql.manager, NOTIFY_WAKEUP);
  }

  async recordAttempt(
    notificationId: string,
    outcome: {
      to: NotificationStateName | undefined;
      status: number | null;
      error: string;
      nextDelayMs: number;
    },
  ): Promise<void> {
    // Still PENDING: count the attempt and schedule the next one. Otherwise a guarded move out of PENDING.
    const to = outcome.to ?? PENDING;
    const from = outcome.to === undefined ? [PENDING] : fromStatesOf(NOTIFICATION_TRANSITIONS, outcome.to);
    await this.sql.query(
      `UPDATE notifications SET attempts = attempts + 1, state = $2, last_status = $3, last_error = $4,
              next_attempt_at = now() + $5::bigint * interval '1 millisecond',
              delivered_at = CASE WHEN $6 THEN now() ELSE delivered_at END
        WHERE notification_id = $1 AND state = ANY($7::text[])`,
      [
        notificationId,
        to,
        outcome.status,
        outcome.error.slice(0, 512),
        outcome.nextDelayMs,
        outcome.to === 'DELIVERED',
        from,
      ],
    );
  }
}
