/**
 * Settings of the ledger service, validated at start-up with the common ones
 * (packages/platform/src/config.ts). The accounting calendar is shared with
 * the account service: the ledger reads account's own variables
 * (ACCOUNT_TIME_ZONE, ACCOUNT_CUTOVER_MINUTES) with the same defaults, so one
 * ConfigMap entry configures both and they cannot drift apart.
 */
import { int, optional, str } from '@paycore/platform';

export const ledgerConfigSchema = {
  /** host:port of the account service; else `account` in ENDPOINTS_FILE. */
  ACCOUNT_ADDRESS: optional('host:port of the account service'),
  /** Bearer token (scope account:read) the ledger sends to account. */
  ACCOUNT_CLIENT_TOKEN: optional('bearer token with scope account:read for calling account'),
  ACCOUNT_TIME_ZONE: str({ default: 'Asia/Shanghai', pattern: /^[A-Za-z_+\-/0-9]{1,64}$/ }),
  ACCOUNT_CUTOVER_MINUTES: int({ default: 0, min: 0, max: 1439 }),
} as const;
