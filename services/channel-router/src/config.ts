/**
 * Settings of channel-router beyond the platform's common ones. Durations in
 * ms, sizes in rows. CHANNEL_CREDENTIALS_KEY is a secret: it is read here and
 * handed to the sealer, never logged.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ChannelDays, type DayRule } from '@paycore/calendar';
import { int, oneOf, optional, str } from '@paycore/platform';

export const channelConfigSchema = {
  /** base64 of 32 bytes; AES-256-GCM key for channel credentials at rest. */
  CHANNEL_CREDENTIALS_KEY: optional('base64 of 32 random bytes (openssl rand -base64 32)'),
  /** The sandbox (or channel gateway) base URL used by the seed; see sandboxUrl(). */
  SANDBOX_URL: optional('http(s) base URL of channel-sandbox'),
  /** "1": load the demo registry from the sandbox's /sandbox/keys at start-up. */
  CHANNEL_SEED_FROM_SANDBOX: str({ default: '0', pattern: /^[01]$/ }),
  /** Base URL channels call back on; default http://127.0.0.1:<HTTP_PORT>. */
  CHANNEL_CALLBACK_BASE_URL: optional('http(s) URL the channels reach this service at'),
  CHANNEL_CALL_TIMEOUT_MS: int({ min: 100, max: 60_000, default: 10_000 }),
  CHANNEL_SYNC_DENSE_INTERVAL_MS: int({
    min: 0,
    max: 60_000,
    default: 250,
    description:
      'status sync queries a young open transaction this often during its dense window, so a dropped notification is found within about this long of the payer paying (ADR 0063); 0 turns the dense phase off',
  }),
  CHANNEL_SYNC_DENSE_WINDOW_MS: int({
    min: 0,
    max: 600_000,
    default: 4_000,
    description:
      'how long after creation the dense phase lasts: at most window ÷ interval queries for a payment nobody pays (ADR 0063); 0 turns it off',
  }),
  CHANNEL_SYNC_FIRST_DELAY_MS: int({
    min: 10,
    max: 3_600_000,
    default: 5_000,
    description:
      'first back-off delay after the dense window (after creation without one); doubling after that',
  }),
  CHANNEL_SYNC_DELAY_MAX_MS: int({ min: 10, max: 86_400_000, default: 600_000 }),
  /** Status sync's backstop: the longest it sleeps between passes when no wake-up and no due transaction wakes it sooner. */
  CHANNEL_SYNC_TICK_MS: int({ min: 10, max: 60_000, default: 5_000 }),
  CHANNEL_SYNC_BATCH_MAX: int({ min: 1, max: 1_000, default: 100 }),
  CHANNEL_SYNC_CONCURRENCY: int({ min: 1, max: 64, default: 8 }),
  CHANNEL_CALLBACK_POOL_SIZE_MAX: int({
    min: 1,
    max: 50,
    default: 4,
    description:
      "Postgres connections of the channels' callbacks, apart from the RPCs' pool, so that a payer's decision is not queued behind new payments (ADR 0058)",
  }),
  CHANNEL_SYNC_LEASE_MS: int({ min: 1_000, max: 600_000, default: 30_000 }),
  CHANNEL_BREAKER_WINDOW_MS: int({ min: 1_000, max: 3_600_000, default: 60_000 }),
  CHANNEL_BREAKER_MIN_CALLS: int({ min: 1, max: 10_000, default: 10 }),
  CHANNEL_BREAKER_FAILURE_PERCENT: int({ min: 1, max: 100, default: 50 }),
  CHANNEL_BREAKER_OPEN_MS: int({ min: 100, max: 3_600_000, default: 30_000 }),
  /** Unverified (forged, malformed) callbacks stored per channel number per window; the rest are only counted. */
  CHANNEL_UNVERIFIED_SAMPLE_MAX: int({ min: 0, max: 10_000, default: 100 }),
  CHANNEL_UNVERIFIED_SAMPLE_WINDOW_MS: int({ min: 1_000, max: 86_400_000, default: 3_600_000 }),
  /**
   * JSON: channel number → day rule for its caps and bills, e.g.
   * {"300001":{"timeZone":"Asia/Shanghai","cutoverMinutes":1380}}; others use China's natural day.
   */
  CHANNEL_DAY_RULES: str({ default: '{}' }),
  CHANNEL_DEFAULT_STRATEGY: oneOf(['PRIORITY', 'LOWEST_COST', 'WEIGHTED'] as const, { default: 'PRIORITY' }),
};

export const SANDBOX_DEFAULT_URL = 'http://127.0.0.1:8090';

/** SANDBOX_URL, else the sandbox's HTTP endpoint next to ENDPOINTS_FILE (make up writes http-endpoints.json), else the default. */
export function sandboxUrl(explicit: string | undefined, endpointsFile: string | undefined): string {
  if (explicit !== undefined) return explicit.replace(/\/$/, '');
  if (endpointsFile !== undefined) {
    const httpFile = join(dirname(endpointsFile), 'http-endpoints.json');
    if (existsSync(httpFile)) {
      const parsed: unknown = JSON.parse(readFileSync(httpFile, 'utf8'));
      if (typeof parsed === 'object' && parsed !== null) {
        const address = (parsed as Record<string, unknown>)['channel-sandbox'];
        if (typeof address === 'string' && /^[^\s:]+:\d{1,5}$/.test(address)) return `http://${address}`;
      }
    }
  }
  return SANDBOX_DEFAULT_URL;
}

/** The channel day rules of CHANNEL_DAY_RULES, validated (a bad zone or cut-over stops the start-up). */
export function channelDaysFrom(json: string): ChannelDays {
  const parsed: unknown = JSON.parse(json);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error(
      'CHANNEL_DAY_RULES must be a JSON object of channel number → { timeZone, cutoverMinutes }',
    );
  return new ChannelDays(parsed as Record<string, DayRule>);
}
