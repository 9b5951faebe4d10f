/**
 * Settings of reconciliation beyond the platform's common ones. Durations in
 * ms. Addresses default to the entries of ENDPOINTS_FILE (make up).
 */
import { bool, int, optional, str } from '@paycore/platform';

export const reconConfigSchema = {
  ACCOUNT_ADDRESS: optional('host:port of the account service; else `account` in ENDPOINTS_FILE'),
  LEDGER_ADDRESS: optional('host:port of the ledger service; else `ledger` in ENDPOINTS_FILE'),
  CHANNEL_ROUTER_ADDRESS: optional('host:port of channel-router; else `channel-router` in ENDPOINTS_FILE'),
  RECON_CHANNELS: str({
    default: '',
    description:
      'JSON list of {channelNo, format, payChannel, holdDays, mapping?}; empty = the built-in defaults',
  }),
  RECON_HOLD_WINDOW_MINUTES: int({
    min: 0,
    max: 720,
    default: 30,
    description: 'a channel-only line this close to midnight is held for the next bill',
  }),
  RECON_UPLOAD_BYTES_MAX: int({
    min: 1024,
    max: 3 * 1024 * 1024,
    default: 3 * 1024 * 1024,
    description: 'ImportStatement (one message) and any GENERIC_CSV file (parsed whole)',
  }),
  RECON_STREAM_UPLOAD_BYTES_MAX: int({
    min: 1024,
    max: 2 * 1024 * 1024 * 1024 - 1,
    default: 512 * 1024 * 1024,
    description: 'UploadStatement: the largest file streamed in (read as it arrives, never held whole)',
  }),
  RECON_RUN_LEASE_MS: int({
    min: 1_000,
    max: 600_000,
    default: 30_000,
    description:
      "a (channel, day) run lease's time to live; renewed every third of it; a dead holder's lease ends after it",
  }),
  RECON_RUN_LEASE_WAIT_MS: int({
    min: 0,
    max: 3_600_000,
    default: 120_000,
    description: 'how long a call waits for a day whose lease another replica holds before RUN_IN_PROGRESS',
  }),
  RECON_SCHEDULE_MINUTE_OF_DAY: int({
    min: 0,
    max: 1439,
    default: 600,
    description: 'China time minute after which the previous day is reconciled (600 = 10:00)',
  }),
  RECON_SCHEDULE_ENABLED: bool({
    default: true,
    description:
      'fetch and reconcile the previous day by itself (false: on request only; interrupted runs still resume)',
  }),
  RECON_SCHEDULE_TICK_MS: int({ min: 100, max: 3_600_000, default: 60_000 }),
  RECON_RESUME_AFTER_MS: int({
    min: 100,
    max: 86_400_000,
    default: 60_000,
    description: 'an unfinished run, or a bank claim left PENDING, untouched this long is resumed',
  }),
} as const;
