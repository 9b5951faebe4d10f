/**
 * One way to open Postgres in every service: a TypeORM DataSource over a
 * bounded pg pool whose sessions start with `search_path = <schema>, public`,
 * so that service SQL names its own tables without a schema prefix and can
 * never touch another service's tables by accident.
 *
 * TypeORM never changes the schema on its own (`synchronize: false`,
 * `migrationsRun: false`); `runMigrations` is the only way tables come to be.
 * Services mostly write SQL through `manager.query`; entities are optional.
 */
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import type { PostgresConnectionOptions } from 'typeorm/driver/postgres/PostgresConnectionOptions';
import { quoteSchema } from './identifiers';
import { installPlatformQueryRunner } from './query-runner';
import { CountingPgClient } from './statement-count';

export interface CreateDataSourceOptions {
  /** postgres://user:pass@host:port/db */
  readonly url: string;
  /** The one schema this service owns; also the first entry of search_path. */
  readonly schema: string;
  /** Shown in pg_stat_activity so an operator can tell services apart. */
  readonly applicationName: string;
  /** Upper bound on pooled connections. Default 10. */
  readonly poolSizeMax?: number;
  /** Server-side statement_timeout for every statement of every session; none when absent. */
  readonly statementTimeoutMs?: number;
  /** How long to wait for a new connection before failing. Default 5000. */
  readonly connectTimeoutMs?: number;
  /** How long an idle pooled connection lives. Default 30000. */
  readonly idleTimeoutMs?: number;
  readonly entities?: PostgresConnectionOptions['entities'];
}

const POOL_SIZE_MAX_DEFAULT = 10;
const CONNECT_TIMEOUT_MS_DEFAULT = 5_000;
const IDLE_TIMEOUT_MS_DEFAULT = 30_000;

/** Builds (but does not initialize) the DataSource; call `await ds.initialize()`. */
export function createDataSource(options: CreateDataSourceOptions): DataSource {
  quoteSchema(options.schema); // Fails fast on a schema name that could not be used safely.
  const poolSizeMax = options.poolSizeMax ?? POOL_SIZE_MAX_DEFAULT;
  if (!Number.isInteger(poolSizeMax) || poolSizeMax < 1 || poolSizeMax > 200) {
    throw new RangeError(`poolSizeMax must be an integer in [1, 200], got ${poolSizeMax}`);
  }
  // The pg pool takes libpq-style startup options; search_path set here holds
  // for the whole session, including sessions the pool opens after a reconnect.
  const sessionOptions = [`-c search_path=${options.schema},public`];
  if (options.statementTimeoutMs !== undefined) {
    sessionOptions.push(`-c statement_timeout=${Math.trunc(options.statementTimeoutMs)}`);
  }
  const pgOptions: PostgresConnectionOptions = {
    type: 'postgres',
    url: options.url,
    schema: options.schema,
    applicationName: options.applicationName,
    poolSize: poolSizeMax,
    connectTimeoutMS: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS_DEFAULT,
    synchronize: false,
    migrationsRun: false,
    logging: false,
    entities: options.entities ?? [],
    extra: {
      options: sessionOptions.join(' '),
      idleTimeoutMillis: options.idleTimeoutMs ?? IDLE_TIMEOUT_MS_DEFAULT,
      keepAlive: true,
      // Counts statements for /metrics and the benchmarks (statement-count.ts).
      Client: CountingPgClient,
    },
  };
  const dataSource = new DataSource(pgOptions);
  // One-statement transaction starts and after-commit callbacks (query-runner.ts).
  installPlatformQueryRunner(dataSource);
  return dataSource;
}

/**
 * True when the database answers `SELECT 1` within `timeoutMs`. Never throws:
 * health checks want a yes or no, and the reason is logged by the caller's
 * pool error handler anyway.
 */
export async function pingDatabase(dataSource: DataSource, timeoutMs: number): Promise<boolean> {
  if (!dataSource.isInitialized) return false;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const ping = dataSource.query('SELECT 1 AS ok').then(
    () => true,
    () => false,
  );
  try {
    return await Promise.race([ping, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
