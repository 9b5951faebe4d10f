/**
 * Explicit transactions with an explicit isolation level, retried only when
 * Postgres says the transaction lost a race and a retry can succeed:
 * serialization failure (40001) and deadlock (40P01). Everything else — a
 * constraint violation, a typo, a timeout — is the caller's to handle and is
 * rethrown untouched after the first attempt.
 *
 * Because the whole function runs again on a retry, `fn` must not have side
 * effects outside the transaction (no gRPC calls, no publishes: write to the
 * outbox instead).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { trace } from '@opentelemetry/api';
import { QueryFailedError, type DataSource, type EntityManager } from 'typeorm';

export type IsolationLevel = 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';

export interface TransactionOptions {
  /** Pass it every time; READ COMMITTED when absent. */
  readonly isolation?: IsolationLevel;
  /** Names the transaction on the retry events of the active span, e.g. 'account.transfer'. */
  readonly name?: string;
  /** Retries after the first attempt for 40001 / 40P01. Default 3, at most 10. */
  readonly retriesMax?: number;
}

const RETRIES_MAX_DEFAULT = 3;
const RETRIES_MAX_LIMIT = 10;
const BACKOFF_BASE_MS = 10;
const BACKOFF_CAP_MS = 500;

export const SQLSTATE_SERIALIZATION_FAILURE = '40001';
export const SQLSTATE_DEADLOCK_DETECTED = '40P01';

/** The SQLSTATE of a pg error (bare or wrapped by TypeORM), or undefined. */
export function sqlState(error: unknown): string | undefined {
  const source: unknown = error instanceof QueryFailedError ? error.driverError : error;
  if (typeof source !== 'object' || source === null || !('code' in source)) return undefined;
  const code = source.code;
  return typeof code === 'string' ? code : undefined;
}

export function isRetryableTransactionError(error: unknown): boolean {
  const state = sqlState(error);
  return state === SQLSTATE_SERIALIZATION_FAILURE || state === SQLSTATE_DEADLOCK_DETECTED;
}

/** Full jitter over an exponential ceiling: spreads retrying rivals apart. */
export function retryDelayMs(attempt: number, random: () => number = Math.random): number {
  const ceilingMs = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return Math.floor(random() * ceilingMs) + 1;
}

export async function inTransaction<T>(
  dataSource: DataSource,
  fn: (manager: EntityManager) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const isolation = options.isolation ?? 'READ COMMITTED';
  const retriesMax = options.retriesMax ?? RETRIES_MAX_DEFAULT;
  if (!Number.isInteger(retriesMax) || retriesMax < 0 || retriesMax > RETRIES_MAX_LIMIT) {
    throw new RangeError(`retriesMax must be an integer in [0, ${RETRIES_MAX_LIMIT}], got ${retriesMax}`);
  }
  for (let attempt = 0; ; attempt++) {
    try {
      return await dataSource.transaction(isolation, fn);
    } catch (error) {
      if (attempt >= retriesMax || !isRetryableTransactionError(error)) throw error;
      // A retry is invisible to the caller; the span event keeps it visible to an SRE.
      trace.getActiveSpan()?.addEvent('db.transaction.retry', {
        'db.transaction.name': options.name ?? 'unnamed',
        'db.transaction.attempt': attempt + 1,
        'db.response.status_code': sqlState(error) ?? '',
      });
      await sleep(retryDelayMs(attempt));
    }
  }
}
