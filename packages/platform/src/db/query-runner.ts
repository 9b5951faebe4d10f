/**
 * The platform's TypeORM query runner for Postgres. Two differences from
 * TypeORM's own, both about the transaction boundary:
 *
 *  1. A transaction opens with ONE statement, `START TRANSACTION ISOLATION
 *     LEVEL …`, instead of `START TRANSACTION` followed by `SET TRANSACTION
 *     ISOLATION LEVEL …`: one round trip less for every transaction of every
 *     service (docs/adr/0027). Savepoints (nested transactions) are
 *     unchanged.
 *  2. Code running inside a transaction can ask for a callback after the
 *     transaction COMMITTED (`afterCommit`), e.g. to wake the outbox relay
 *     of this process: the callback runs only when the work is visible to
 *     other sessions, and never after a rollback.
 *
 * `installPlatformQueryRunner` is called by createDataSource, so every
 * DataSource the platform builds has it.
 */
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { PostgresQueryRunner } from 'typeorm/driver/postgres/PostgresQueryRunner';
import type { IsolationLevel as TypeOrmIsolationLevel } from 'typeorm/driver/types/IsolationLevel';

/** Bound on callbacks one transaction may queue: more means a loop registers per row. */
const AFTER_COMMIT_CALLBACKS_MAX = 1_000;

export class PlatformQueryRunner extends PostgresQueryRunner {
  private afterCommitCallbacks: (() => void)[] = [];
  /** Keys of keyed callbacks queued in this transaction: the same key is queued once. */
  private afterCommitKeys = new Set<string>();

  override async startTransaction(isolationLevel?: TypeOrmIsolationLevel): Promise<void> {
    if (this.transactionDepth > 0) return super.startTransaction(isolationLevel);
    this.isTransactionActive = true;
    try {
      await this.broadcaster.broadcast('BeforeTransactionStart');
    } catch (error) {
      this.isTransactionActive = false;
      throw error;
    }
    this.afterCommitCallbacks = [];
    this.afterCommitKeys = new Set();
    try {
      await this.query(
        isolationLevel !== undefined
          ? `START TRANSACTION ISOLATION LEVEL ${isolationLevel}`
          : 'START TRANSACTION',
      );
    } catch (error) {
      this.isTransactionActive = false;
      throw error;
    }
    this.transactionDepth += 1;
    await this.broadcaster.broadcast('AfterTransactionStart');
  }

  override async commitTransaction(): Promise<void> {
    const outermost = this.transactionDepth === 1;
    await super.commitTransaction();
    if (!outermost) return;
    const callbacks = this.afterCommitCallbacks;
    this.afterCommitCallbacks = [];
    this.afterCommitKeys = new Set();
    // A callback is a notification (wake a loop); one that throws must not turn a commit into an error.
    for (const callback of callbacks) {
      try {
        callback();
      } catch {
        // Deliberately ignored: the transaction is committed, the caller's result stands.
      }
    }
  }

  override async rollbackTransaction(): Promise<void> {
    if (this.transactionDepth === 1) {
      this.afterCommitCallbacks = [];
      this.afterCommitKeys = new Set();
    }
    await super.rollbackTransaction();
  }

  /**
   * Queues `callback` to run once the outermost transaction of this runner
   * commits. With a `key`, a callback already queued under the same key makes
   * this one a no-op (a wake-up per outbox row is one wake-up per transaction).
   */
  queueAfterCommit(callback: () => void, key?: string): void {
    if (!this.isTransactionActive) throw new Error('queueAfterCommit outside a transaction');
    if (key !== undefined) {
      if (this.afterCommitKeys.has(key)) return;
      this.afterCommitKeys.add(key);
    }
    if (this.afterCommitCallbacks.length >= AFTER_COMMIT_CALLBACKS_MAX) {
      throw new RangeError(
        `more than ${AFTER_COMMIT_CALLBACKS_MAX} after-commit callbacks in one transaction`,
      );
    }
    this.afterCommitCallbacks.push(callback);
  }
}

/** Makes every query runner of `dataSource` a PlatformQueryRunner. Idempotent. */
export function installPlatformQueryRunner(dataSource: DataSource): void {
  const driver = dataSource.driver;
  if (!(driver instanceof PostgresDriver))
    throw new TypeError('the platform query runner is for Postgres only');
  driver.createQueryRunner = (mode) => new PlatformQueryRunner(driver, mode);
}

/**
 * Runs `callback` after the transaction of `manager` commits; at once when
 * `manager` is in no transaction (its statements are committed already).
 * With a query runner that is not the platform's (a DataSource built
 * elsewhere), the callback also runs at once: a wake-up that comes early
 * finds nothing and the loop's backstop poll picks the work up.
 */
export function afterCommit(manager: EntityManager, callback: () => void, key?: string): void {
  const runner: QueryRunner | undefined = manager.queryRunner;
  if (runner instanceof PlatformQueryRunner && runner.isTransactionActive) {
    runner.queueAfterCommit(callback, key);
    return;
  }
  callback();
}
