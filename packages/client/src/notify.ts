/**
 * Verifying paycore's merchant notifications (异步通知) on the merchant side.
 *
 * paycore POSTs a JSON body to the order's notify URL with headers
 *   X-Paycore-Timestamp: decimal Unix seconds when this attempt was signed
 *   X-Paycore-Signature: v1=<hex(HMAC-SHA256(notify_key, timestamp + "\n" + body))>
 *   X-Paycore-Notify-Id: stable across retries of one notification (dedup on it)
 *   X-Biz-Context:       the payment's context code
 * and retries until the merchant answers HTTP 2xx with the body `success`.
 *
 * `verifyNotification` checks the signature over the exact body bytes with a
 * constant-time compare and refuses timestamps outside the replay window
 * (default ±300 s), so a captured request cannot be replayed later. Only
 * after it returns `ok` should the merchant parse the body and act on it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const NOTIFY_SIGNATURE_VERSION = 'v1';
export const NOTIFY_REPLAY_WINDOW_SECONDS_DEFAULT = 300;
const REPLAY_WINDOW_SECONDS_MAX = 3_600;
const BODY_BYTES_MAX = 64 * 1024;
const TIMESTAMP_PATTERN = /^[0-9]{1,12}$/;

export const NOTIFY_HEADERS = {
  timestamp: 'x-paycore-timestamp',
  signature: 'x-paycore-signature',
  notifyId: 'x-paycore-notify-id',
  bizContext: 'x-biz-context',
} as const;

/** The body of a `payment_succeeded` notification (amounts are decimal strings of minor units). */
export interface PaymentNotification {
  readonly event: 'payment_succeeded';
  readonly order_id: string;
  readonly merchant_id: string;
  readonly merchant_order_no: string;
  readonly payment_id: string;
  /** Minor units (分 for CNY) as a decimal string; parse with BigInt(). */
  readonly amount_minor: string;
  readonly currency: string;
  readonly state: 'PAID';
  readonly biz_code: string;
  /** ISO 8601 UTC. */
  readonly paid_at: string;
}

export type NotificationVerdict =
  | { readonly ok: true; readonly notification: PaymentNotification; readonly notifyId: string }
  | {
      readonly ok: false;
      readonly reason: 'MALFORMED_HEADERS' | 'STALE_TIMESTAMP' | 'BAD_SIGNATURE' | 'MALFORMED_BODY';
    };

export interface VerifyOptions {
  /** The merchant's notify key (RegisterMerchant.notify_key). */
  readonly notifyKey: string;
  /** The request headers, lower-case names (Node's `req.headers`). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The exact body bytes as received. */
  readonly body: string | Buffer;
  /** Seconds a timestamp may be off from now, either way (default 300, at most 3600). */
  readonly replayWindowSeconds?: number;
  readonly nowMs?: number;
}

export function signNotificationBody(
  notifyKey: string,
  timestampSeconds: number,
  body: string | Buffer,
): string {
  const hmac = createHmac('sha256', notifyKey);
  hmac.update(`${timestampSeconds}\n`, 'utf8');
  hmac.update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
  return `${NOTIFY_SIGNATURE_VERSION}=${hmac.digest('hex')}`;
}

function header(headers: VerifyOptions['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? (value.length === 1 ? value[0] : undefined) : value;
}

function isPaymentNotification(value: unknown): value is PaymentNotification {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const strings = ['order_id', 'merchant_id', 'merchant_order_no', 'payment_id', 'amount_minor', 'currency'];
  return (
    v['event'] === 'payment_succeeded' &&
    strings.every((key) => typeof v[key] === 'string') &&
    /^[0-9]{1,19}$/.test(String(v['amount_minor']))
  );
}

export function verifyNotification(options: VerifyOptions): NotificationVerdict {
  const windowSeconds = options.replayWindowSeconds ?? NOTIFY_REPLAY_WINDOW_SECONDS_DEFAULT;
  if (!Number.isInteger(windowSeconds) || windowSeconds < 1 || windowSeconds > REPLAY_WINDOW_SECONDS_MAX) {
    throw new RangeError(`replayWindowSeconds must be an integer in 1..${REPLAY_WINDOW_SECONDS_MAX}`);
  }
  const body = typeof options.body === 'string' ? Buffer.from(options.body, 'utf8') : options.body;
  const timestamp = header(options.headers, NOTIFY_HEADERS.timestamp);
  const signature = header(options.headers, NOTIFY_HEADERS.signature);
  const notifyId = header(options.headers, NOTIFY_HEADERS.notifyId) ?? '';
  if (timestamp === undefined || signature === undefined || !TIMESTAMP_PATTERN.test(timestamp)) {
    return { ok: false, reason: 'MALFORMED_HEADERS' };
  }
  if (body.length > BODY_BYTES_MAX) return { ok: false, reason: 'MALFORMED_BODY' };
  const timestampSeconds = Number(timestamp);
  const nowSeconds = Math.floor((options.nowMs ?? Date.now()) / 1000);
  if (Math.abs(nowSeconds - timestampSeconds) > windowSeconds)
    return { ok: false, reason: 'STALE_TIMESTAMP' };
  const expected = Buffer.from(signNotificationBody(options.notifyKey, timestampSeconds, body));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return { ok: false, reason: 'BAD_SIGNATURE' };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, reason: 'MALFORMED_BODY' };
  }
  if (!isPaymentNotification(parsed)) return { ok: false, reason: 'MALFORMED_BODY' };
  return { ok: true, notification: parsed, notifyId };
}

/** What the merchant answers once it has stored the notification: HTTP 200, body `success`. */
export const NOTIFY_ACK_BODY = 'success';
