/**
 * Merchant notifications (异步通知): the signature and the retry schedule.
 *
 * Signature: hex(HMAC-SHA256(notify_key, timestamp + "\n" + body)), where
 * timestamp is the decimal Unix time in seconds sent in header
 * `X-Paycore-Timestamp` and body is the exact bytes of the JSON body (UTF-8).
 * Headers: `X-Paycore-Signature: v1=<hex>`, `X-Paycore-Notify-Id` (stable
 * across retries, for the merchant's dedup). A merchant verifies the
 * signature with a constant-time compare and rejects timestamps more than 5
 * minutes off. The merchant acknowledges by answering HTTP 2xx with the body
 * `success` (whitespace ignored); anything else is retried.
 *
 * Schedule after the first attempt: 5 s, 2 m, 10 m, 15 m, 1 h, 2 h, 6 h, 15 h
 * (nine attempts in about 24 h), each delay divided by a time-scale factor so
 * tests watch the whole schedule in seconds.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const NOTIFY_RETRY_SCHEDULE_MS: readonly number[] = [
  5_000, 120_000, 600_000, 900_000, 3_600_000, 7_200_000, 21_600_000, 54_000_000,
];
/** The first attempt plus one per scheduled retry. */
export const NOTIFY_ATTEMPTS_MAX = NOTIFY_RETRY_SCHEDULE_MS.length + 1;
export const SIGNATURE_VERSION = 'v1';

export function signNotification(key: string, timestampSeconds: number, body: string): string {
  return createHmac('sha256', key).update(`${timestampSeconds}\n${body}`, 'utf8').digest('hex');
}

/** What a merchant runs; exported for tests, the demo and merchants' reference. */
export function verifyNotification(
  key: string,
  timestampSeconds: number,
  body: string,
  signatureHeader: string,
): boolean {
  const expected = Buffer.from(`${SIGNATURE_VERSION}=${signNotification(key, timestampSeconds, body)}`);
  const given = Buffer.from(signatureHeader);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/**
 * Delay before the next attempt after `attemptsMade` attempts failed, or
 * undefined when the schedule is exhausted. `timeScale` >= 1 divides delays.
 */
export function nextNotifyDelayMs(attemptsMade: number, timeScale: number): number | undefined {
  if (!Number.isInteger(attemptsMade) || attemptsMade < 1) throw new Error('attemptsMade must be >= 1');
  if (!(timeScale >= 1)) throw new Error('timeScale must be >= 1');
  const delay = NOTIFY_RETRY_SCHEDULE_MS[attemptsMade - 1];
  return delay === undefined ? undefined : Math.max(1, Math.floor(delay / timeScale));
}

export function isAcknowledged(status: number, body: string): boolean {
  return status >= 200 && status < 300 && body.trim() === 'success';
}
