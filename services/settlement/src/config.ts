/**
 * Settings of the settlement service, validated at start-up with the common
 * ones (packages/platform/src/config.ts).
 */
import { int, optional, str } from '@paycore/platform';

export const settlementConfigSchema = {
  ACCOUNT_ADDRESS: optional('host:port of the account service; else `account` in ENDPOINTS_FILE'),
  CHANNEL_ROUTER_ADDRESS: optional('host:port of channel-router; else `channel-router` in ENDPOINTS_FILE'),
  SETTLEMENT_PAYOUT_CHANNEL_NO: str({
    default: '300001',
    pattern: /^\d{6}$/,
    description: 'channel number of the bank that sends payouts (its pending-clearing account takes them)',
  }),
  SETTLEMENT_DEPOSIT_SUBJECT: str({
    default: '100201',
    pattern: /^\d{6}(\d{2})?$/,
    description:
      "reserve-fund bank deposit subject a confirmed channel day's net moves to (channels SETTLEMENT_DEPOSIT_ROUTES does not list)",
  }),
  SETTLEMENT_DEPOSIT_ROUTES: str({
    default: '',
    pattern: /^[\d=/, ]{0,2000}$/,
    description:
      'per channel: <channel no>=<deposit subject>[/<transit subject>], comma-separated, e.g. 200001=100202/30010202',
  }),
  SETTLEMENT_PAYOUT_ATTEMPTS_MAX: int({
    min: 1,
    max: 10,
    default: 3,
    description: 'payout attempts per batch',
  }),
  SETTLEMENT_BATCH_ACK_WAIT_MS: int({
    min: 1_000,
    max: 600_000,
    default: 30_000,
    description: 'a batch held by a replica that stopped answering goes to another after this long',
  }),
  SETTLEMENT_BATCH_DRIVES_IN_FLIGHT: int({
    min: 1,
    max: 64,
    default: 16,
    description:
      'batches one replica drives at once (each waits on account and channel-router most of its time)',
  }),
  SETTLEMENT_PAYOUT_POLL_MS: int({
    min: 100,
    max: 600_000,
    default: 5_000,
    description: 'delay before asking again about a payout in progress',
  }),
  SETTLEMENT_RETRY_DELAY_MS: int({
    min: 100,
    max: 600_000,
    default: 2_000,
    description: 'delay before retrying a batch step that failed (a dependency unreachable)',
  }),
  SETTLEMENT_TEST_HOLD_FILE: optional(
    'crash tests only: a file naming a point where a batch is held for good (src/adapters/test-hold.ts); unset in production',
  ),
} as const;
