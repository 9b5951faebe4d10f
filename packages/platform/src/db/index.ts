export { createDataSource, pingDatabase, type CreateDataSourceOptions } from './data-source';
export {
  runMigrations,
  readMigrationDir,
  checksumOf,
  migrationLockKey,
  MigrationChecksumError,
  MigrationFailedError,
  InvalidMigrationFileError,
  type RunMigrationsOptions,
  type RunMigrationsResult,
} from './migrations';
export {
  inTransaction,
  isRetryableTransactionError,
  sqlState,
  retryDelayMs,
  SQLSTATE_SERIALIZATION_FAILURE,
  SQLSTATE_DEADLOCK_DETECTED,
  type IsolationLevel,
  type TransactionOptions,
} from './transaction';
export { quoteSchema, advisoryLockKey, InvalidSchemaNameError } from './identifiers';
export { SILENT_LOG_SINK, type PlatformLogSink } from './logging';
export { afterCommit, installPlatformQueryRunner, PlatformQueryRunner } from './query-runner';
export { dbCommitsSent, dbStatementsSent, CountingPgClient } from './statement-count';
export { poolReader, type Queryable } from './pool-reader';
