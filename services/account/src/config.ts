/**
 * Settings of the account service, on top of the platform's common ones.
 * Every limit is explicit; defaults follow DESIGN.md (calendar Asia/Shanghai,
 * cut-over 00:00; buffered defaults from the Alipay practice: 300 s, 2,000).
 */
import { int, optional, str } from '@paycore/platform';
import { DEFAULT_CLASS_RULES } from './domain/sv-reconciliation';

export const accountConfigSchema = {
  ACCOUNT_TIME_ZONE: str({ default: 'Asia/Shanghai', description: 'IANA zone of the accounting calendar' }),
  ACCOUNT_CUTOVER_MINUTES: int({
    min: 0,
    max: 1439,
    default: 0,
    description: 'local minutes after midnight at which the accounting date advances',
  }),
  ACCOUNT_BATCH_SIZE_MAX: int({
    min: 1,
    max: 2_000,
    default: 256,
    description: 'transfers per database transaction',
  }),
  ACCOUNT_BATCH_CONCURRENCY: int({ min: 1, max: 32, default: 3, description: 'batches in flight at once' }),
  ACCOUNT_BATCH_QUEUE_MAX: int({
    min: 1,
    max: 1_000_000,
    default: 20_000,
    description: 'transfers waiting before UNAVAILABLE',
  }),
  ACCOUNT_BATCH_LINGER_MS: int({
    min: 0,
    max: 100,
    default: 0,
    description: 'wait for more transfers before a non-full batch',
  }),
  ACCOUNT_FLUSH_TICK_MS: int({
    min: 1,
    max: 60_000,
    // 1 s: a BUFFERED account flushes at most this late after its interval (default 300 s) is due;
    // accounts with sub-second intervals need a lower tick. Idle cost: one statement per tick (ADR 0060).
    default: 1_000,
    description: 'how often the flusher looks for due BUFFERED accounts',
  }),
  ACCOUNT_EXPIRY_TICK_MS: int({
    min: 10,
    max: 60_000,
    default: 1_000,
    description: 'how often expired tries are released',
  }),
  ACCOUNT_FLUSH_INTERVAL_MS_DEFAULT: int({ min: 1, max: 3_600_000, default: 300_000 }),
  ACCOUNT_FLUSH_BATCH_MAX_DEFAULT: int({ min: 1, max: 10_000, default: 2_000 }),
  ACCOUNT_SV_JOB_TICK_MS: int({
    min: 100,
    max: 3_600_000,
    default: 10_000,
    description: 'how often stored-value lots past expiry and consumption tries past timeout are released',
  }),
  ACCOUNT_SV_RECOGNITION_DAY: int({
    min: 1,
    max: 28,
    default: 1,
    description:
      'day of the month (accounting date) from which stored-value revenue of the previous month is recognised',
  }),
  ACCOUNT_SV_DIFFERENCE_RULES: str({
    default: DEFAULT_CLASS_RULES,
    description:
      'stored-value difference classes: CLASS:METRIC:OP:THRESHOLD:ACTION, comma-separated (CLASS GENERAL|LARGE|EXTREME, METRIC VALUE|QUANTITY, OP >=|>|<|<=, ACTION ALARM|BALANCE)',
  }),
  ACCOUNT_SV_JOB_BIZ_CODE: str({
    default: '10030103080003000000',
    description: 'context code of expiry postings (ad-credit coins, prepaid, adjust, stored value)',
  }),
  ACCOUNT_SUBJECTS: optional(
    'comma-separated subject codes of the chart; the shipped default chart when unset',
  ),
} as const;
