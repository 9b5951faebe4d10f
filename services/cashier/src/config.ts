/**
 * Settings of the cashier beyond the platform's common ones. Durations in
 * ms. Addresses default to the entries of ENDPOINTS_FILE (make up).
 */
import { bool, int, optional } from '@paycore/platform';

export const cashierConfigSchema = {
  ACCOUNT_ADDRESS: optional('host:port of the account service; else `account` in ENDPOINTS_FILE'),
  CHANNEL_ROUTER_ADDRESS: optional('host:port of channel-router; else `channel-router` in ENDPOINTS_FILE'),
  CASHIER_ORDER_TTL_MS: int({
    min: 1_000,
    max: 7 * 86_400_000,
    default: 1_800_000,
    description: 'default order expiry',
  }),
  CASHIER_TRY_MARGIN_MS: int({
    min: 1_000,
    max: 86_400_000,
    default: 3_600_000,
    description: 'how long reservations outlive the order expiry',
  }),
  /** Recovery's pass: a flow idle for CASHIER_RECOVERY_IDLE_MS is driven at most this much later (ADR 0060). */
  CASHIER_RECOVERY_TICK_MS: int({ min: 10, max: 60_000, default: 2_500 }),
  CASHIER_RECOVERY_IDLE_MS: int({
    min: 10,
    max: 3_600_000,
    default: 5_000,
    description: 'an unfinished flow untouched this long is resumed and its channel polled',
  }),
  CASHIER_EXCEPTION_WINDOW_MS: int({
    min: 1_000,
    max: 30 * 86_400_000,
    default: 7_200_000,
    description: 'a flow still unknown this long after it started goes to the exception queue',
  }),
  CASHIER_WITHDRAWAL_HOLD_MS: int({
    min: 1_000,
    max: 7 * 86_400_000,
    default: 2 * 86_400_000,
    description: "how long a withdrawal holds the payer's balance while the payout is unknown",
  }),
  CASHIER_NOTIFY_ALLOW_PRIVATE_URLS: bool({
    default: false,
    description:
      'accept merchant notify_url hosts on loopback, link-local and private ranges (local development)',
  }),
  CASHIER_CHANNEL_EVENTS_CONCURRENCY: int({
    min: 1,
    max: 32,
    default: 8,
    description:
      'channel.txn_updated events handled at once (same channel transaction: in order), on a pool of twice as many connections of their own (ADR 0058)',
  }),
  CASHIER_NOTIFY_TICK_MS: int({
    min: 10,
    max: 60_000,
    default: 5_000,
    description:
      "the notifier's backstop: its longest sleep (a new notification wakes it after its commit, a retry when due)",
  }),
  CASHIER_NOTIFY_BATCH_MAX: int({ min: 1, max: 500, default: 50 }),
  CASHIER_NOTIFY_TIMEOUT_MS: int({ min: 100, max: 60_000, default: 5_000 }),
  CASHIER_NOTIFY_TIME_SCALE: int({
    min: 1,
    max: 1_000_000,
    default: 1,
    description: 'divides the notification retry schedule (tests, demo)',
  }),
} as const;
