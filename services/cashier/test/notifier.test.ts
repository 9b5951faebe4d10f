/**
 * The notifier against a real Postgres (the cashier's migrations):
 * - a committed notification wakes the notifier's wake-up channel; one
 *   whose transaction rolls back does not;
 * - a pass sends only what is due and answers when the next one is due:
 *   a failed attempt's retry (the retry schedule from the pass's clock) or
 *   the earliest pending notification not due yet, read in the claiming
 *   statement, whichever is earlier.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { Wakeup } from '@paycore/platform';
import { NOTIFY_WAKEUP } from '../src/adapters/pg/notifications';
import { nextNotifyDelayMs } from '../src/domain/notify';
import { Notifier, type HttpPost } from '../src/application/workers';
import { registerUnlimitedMerchant, startHarness, type Harness } from './harness';

const uid = (p: string) => `${p}-${randomUUID().slice(0, 8)}`;
const TIME_SCALE = 1_000;
const URL_OK = 'https://merchant.example.com/notify/ok';
const URL_DOWN = 'https://merchant.example.com/notify/down';

describe('merchant notifier', function () {
  this.timeout(60_000);
  let h: Harness;
  let merchantId: string;
  let wake: Wakeup;

  before(async () => {
    h = await startHarness();
    merchantId = await registerUnlimitedMerchant(h);
    wake = new Wakeup(NOTIFY_WAKEUP, { backstopIntervalMs: 60_000 });
  });
  after(async () => {
    wake?.close();
    await h?.close();
  });

  /** Queues a notification for a new order, committed unless `rollBack`. */
  async function queue(url: string, rollBack = false): Promise<string> {
    const order = await h.cashier.createOrder({
      requestId: uid('co'),
      merchantId,
      merchantOrderNo: uid('no'),
      amountMinor: 100n,
      currency: 'CNY',
      product: '100101',
      bizMode: 'INSTANT',
      subject: 'thing',
      expireAt: undefined,
      notifyUrl: url,
    });
    const notificationId = randomUUID();
    await h.store
      .transaction('test.notify', 'READ COMMITTED', async (tx) => {
        await tx.notifications.insert({
          notificationId,
          orderId: order.orderId,
          merchantId,
          url,
          body: '{}',
          bizCode: '10010101100110000100',
        });
        if (rollBack) throw new Error('rolled back on purpose');
      })
      .catch((err: unknown) => {
        if (!rollBack) throw err;
      });
    return notificationId;
  }

  it('is woken by a committed notification, not by one rolled back', async () => {
    // Drains a signal an earlier insert left latched.
    await wake.wait(1);
    await queue(URL_OK, true);
    expect(await wake.wait(300), 'no wake-up for a rolled-back insert').to.equal('backstop');
    await queue(URL_OK);
    expect(await wake.wait(5_000)).to.equal('signal');
  });

  it('sends what is due and answers when the next attempt is due', async () => {
    await h.sql(`UPDATE notifications SET state = 'DELIVERED'`);
    const down = await queue(URL_DOWN);
    await queue(URL_OK);
    const later = await queue(URL_OK);
    await h.sql(
      `UPDATE notifications SET next_attempt_at = now() + interval '1 hour' WHERE notification_id = $1`,
      [later],
    );
    const posted: string[] = [];
    const post: HttpPost = (url, headers) => {
      posted.push(headers['x-paycore-notify-id'] ?? '');
      return Promise.resolve(
        url === URL_DOWN ? { status: 503, body: 'busy' } : { status: 200, body: 'success' },
      );
    };
    const nowMs = Date.now();
    const notifier = new Notifier(h.store, post, pino({ level: 'silent' }), {
      timeScale: TIME_SCALE,
      batchMax: 10,
      timeoutMs: 1_000,
      nowMs: () => nowMs,
    });
    const first = await notifier.pass();
    expect(posted, 'the two due ones, not the one an hour away').to.have.length(2);
    expect(posted).not.to.include(later);
    expect(first.again).to.equal(false);
    const retryDelayMs = nextNotifyDelayMs(1, TIME_SCALE) ?? 0;
    expect(first.nextDueAt?.getTime(), 'the failed one, retried on the schedule').to.equal(
      nowMs + retryDelayMs,
    );

    await h.sql(`UPDATE notifications SET state = 'DELIVERED' WHERE notification_id = $1`, [down]);
    const [row] = await h.sql<{ at: Date }>(
      'SELECT next_attempt_at AS at FROM notifications WHERE notification_id = $1',
      [later],
    );
    const second = await notifier.pass();
    expect(posted, 'nothing due').to.have.length(2);
    expect(second.nextDueAt?.getTime(), 'the one an hour away, read with the claim').to.equal(
      row?.at.getTime(),
    );
  });
});
