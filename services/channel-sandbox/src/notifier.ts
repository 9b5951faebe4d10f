/**
 * Asynchronous notifications with the channels' real retry schedules.
 *
 * A notification is POSTed at once; while the receiver's answer is not the
 * acknowledgement the channel requires (Alipay: the body is exactly
 * `success`; WeChat: XML with `return_code` SUCCESS), it is resent after each
 * interval of the schedule in turn, and given up when the schedule is spent.
 * Intervals are divided by the time scale. Faults can drop, duplicate, delay
 * or reorder notifications. Every attempt is logged in memory (bounded) so a
 * test can read what happened.
 */
import type { Logger } from '@paycore/platform';
import type { Timers } from './timers';

/** Alipay: 4m, 10m, 10m, 1h, 2h, 6h, 15h after the first attempt — 24h 22m in total. */
export const ALIPAY_RETRY_SCHEDULE_MS: readonly number[] = [4, 10, 10, 60, 120, 360, 900].map(
  (m) => m * 60_000,
);
/** WeChat Pay v2: 15s, 15s, 30s, 3m, 10m, 20m, 30m, 30m, 30m, 60m, 3h, 3h, 3h, 6h, 6h. */
export const WECHAT_RETRY_SCHEDULE_MS: readonly number[] = [
  15_000, 15_000, 30_000, 180_000, 600_000, 1_200_000, 1_800_000, 1_800_000, 1_800_000, 3_600_000, 10_800_000,
  10_800_000, 10_800_000, 21_600_000, 21_600_000,
];

const ATTEMPT_LOG_MAX = 10_000;
const DELIVERIES_IN_FLIGHT_MAX = 10_000;
const POST_TIMEOUT_MS = 5_000;
const RESPONSE_BYTES_MAX = 4096;
const REORDER_HOLD_DEFAULT_MS = 5_000;

export interface Notification {
  readonly key: string;
  readonly outTradeNo: string;
  readonly url: string;
  readonly body: string;
  readonly contentType: string;
  readonly scheduleMs: readonly number[];
  readonly acknowledged: (status: number, body: string) => boolean;
}

export interface NotificationFaults {
  readonly drop: boolean;
  readonly copies: number;
  readonly extraDelayMs: number;
  readonly reorderHoldMs?: number;
}

export interface AttemptRecord {
  readonly key: string;
  readonly outTradeNo: string;
  readonly copy: number;
  readonly attempt: number;
  readonly atMs: number;
  readonly outcome: 'ACKNOWLEDGED' | 'REFUSED' | 'ERROR' | 'GAVE_UP' | 'DROPPED';
  readonly detail: string;
}

export class Notifier {
  private readonly attempts: AttemptRecord[] = [];
  private inFlight = 0;
  /** Per order: a held notification waiting for the next one (the reorder fault). */
  private readonly held = new Map<string, () => void>();

  constructor(
    private readonly timers: Timers,
    private readonly logger: Logger,
  ) {}

  send(notification: Notification, faults: NotificationFaults): void {
    if (faults.drop) {
      this.record(notification, 0, 0, 'DROPPED', 'notify_drop fault');
      return;
    }
    const start = (): void => {
      for (let copy = 0; copy < faults.copies; copy += 1) {
        this.timers.after(faults.extraDelayMs, () => void this.deliver(notification, copy));
      }
    };
    const earlier = this.held.get(notification.outTradeNo);
    if (faults.reorderHoldMs !== undefined && earlier === undefined) {
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        this.held.delete(notification.outTradeNo);
        start();
      };
      this.held.set(notification.outTradeNo, release);
      this.timers.after(faults.reorderHoldMs, release);
      return;
    }
    start();
    if (earlier !== undefined) {
      // The held notification goes out after this newer one has had its first attempt started.
      this.timers.after(1, earlier);
    }
  }

  static reorderHoldMs(faultMs: number | undefined): number {
    return faultMs ?? REORDER_HOLD_DEFAULT_MS;
  }

  log(outTradeNo?: string): AttemptRecord[] {
    return outTradeNo === undefined
      ? [...this.attempts]
      : this.attempts.filter((a) => a.outTradeNo === outTradeNo);
  }

  private record(
    n: Notification,
    copy: number,
    attempt: number,
    outcome: AttemptRecord['outcome'],
    detail: string,
  ): void {
    if (this.attempts.length >= ATTEMPT_LOG_MAX) this.attempts.shift();
    this.attempts.push({
      key: n.key,
      outTradeNo: n.outTradeNo,
      copy,
      attempt,
      atMs: Date.now(),
      outcome,
      detail,
    });
  }

  private async deliver(notification: Notification, copy: number): Promise<void> {
    if (this.inFlight >= DELIVERIES_IN_FLIGHT_MAX) {
      this.record(notification, copy, 0, 'DROPPED', 'too many notifications in flight');
      return;
    }
    this.inFlight += 1;
    try {
      // One first attempt plus one per schedule interval: the loop is bounded by the schedule.
      for (let attempt = 0; attempt <= notification.scheduleMs.length; attempt += 1) {
        if (this.timers.isStopped) return;
        if (attempt > 0)
          await this.timers.sleep(this.timers.scaled(notification.scheduleMs[attempt - 1] ?? 0));
        if (this.timers.isStopped) return;
        const acknowledged = await this.attempt(notification, copy, attempt);
        if (acknowledged) return;
      }
      this.record(notification, copy, notification.scheduleMs.length, 'GAVE_UP', 'schedule spent');
    } finally {
      this.inFlight -= 1;
    }
  }

  private async attempt(notification: Notification, copy: number, attempt: number): Promise<boolean> {
    try {
      const response = await fetch(notification.url, {
        method: 'POST',
        headers: { 'content-type': notification.contentType },
        body: notification.body,
        signal: AbortSignal.timeout(POST_TIMEOUT_MS),
        redirect: 'manual',
      });
      const body = (await response.text()).slice(0, RESPONSE_BYTES_MAX);
      const ok = notification.acknowledged(response.status, body);
      this.record(
        notification,
        copy,
        attempt,
        ok ? 'ACKNOWLEDGED' : 'REFUSED',
        `${response.status} ${body.slice(0, 80)}`,
      );
      return ok;
    } catch (err: unknown) {
      const detail = err instanceof Error ? err.message : String(err);
      this.record(notification, copy, attempt, 'ERROR', detail);
      this.logger.debug(
        { out_trade_no: notification.outTradeNo, attempt, err: detail },
        'notification attempt failed',
      );
      return false;
    }
  }
}
