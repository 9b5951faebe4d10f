/**
 * Observable end conditions for the end-to-end tests, so that a test proves
 * "nothing more happened" by waiting for the state after which nothing more
 * can happen, not by sleeping.
 */
import { waitFor, type Platform } from './platform';

/**
 * Waits until the merchant notification of an order is final (DELIVERED or
 * GAVE_UP): the notifier sends a final notification no more, so the webhook's
 * count for the order is then the count for good.
 */
export async function notificationSettled(
  p: Platform,
  orderId: string,
  timeoutMs = 60_000,
): Promise<{ state: string; attempts: number }> {
  return waitFor(
    `the notification of order ${orderId} final`,
    async () => {
      const rows = await p.query<{ state: string; attempts: number }>(
        'SELECT state, attempts FROM cashier.notifications WHERE order_id = $1',
        [orderId],
      );
      const row = rows[0];
      return row !== undefined && row.state !== 'PENDING' ? row : undefined;
    },
    timeoutMs,
  );
}
