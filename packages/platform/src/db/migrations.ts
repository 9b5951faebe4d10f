/**
 * Forward-only SQL migrations, one schema per service.
 *
 * Order: the platform's own migrations (outbox, inbox) first, then every
 * `NNNN_name.sql` file of the service's migrations directory by number. Each
 * migration runs in its own transaction with search_path set to the schema
 * and is recorded in `<schema>.schema_migrations` with the sha256 of its text.
 * An applied migration whose text changed is refused by name: production has
 * already run the old text, so editing it would fork the schema silently.
 *
 * Several replicas start at once in Kubernetes; a session-level advisory lock
 * keyed by the schema serialises them, so the second starter waits and then
 * finds nothing to do.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataSource, QueryRunner } from 'typeorm';
import { advisoryLockKey, quoteSchema } from './identifiers';
import { SILENT_LOG_SINK, type PlatformLogSink } from './logging';
import { PLATFORM_MIGRATIONS } from './platform-migrations';

export interface RunMigrationsOptions {
  readonly schema: string;
  /** Directory of `NNNN_name.sql` files; only platform migrations run when absent or ''. */
  readonly migrationsDir?: string;
  readonly logger?: PlatformLogSink;
  /** How long to wait for another starter's migration lock. Default 60000. */
  readonly lockTimeoutMs?: number;
}

export interface RunMigrationsResult {
  /** Versions applied by this call, in order; empty when the schema was current. */
  readonly applied: readonly string[];
}

export class MigrationChecksumError extends Error {
  override readonly name = 'MigrationChecksumError';
  constructor(
    readonly version: string,
    readonly file: string,
  ) {
    super(
      `migration ${file} was changed after it was applied (checksum differs); add a new migration instead`,
    );
  }
}

export class MigrationFailedError extends Error {
  override readonly name = 'MigrationFailedError';
  constructor(
    readonly file: string,
    options: { cause: unknown },
  ) {
    super(
      `migration ${file} failed: ${options.cause instanceof Error ? options.cause.message : String(options.cause)}`,
      options,
    );
  }
}

export class InvalidMigrationFileError extends Error {
  override readonly name = 'InvalidMigrationFileError';
}

interface Migration {
  readonly version: string;
  /** For messages: the file path, or `platform:<version>`. */
  readonly file: string;
  readonly sql: string;
  readonly checksum: string;
}

const MIGRATION_FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;
const MIGRATION_FILES_MAX = 10_000;
const LOCK_TIMEOUT_MS_DEFAULT = 60_000;

export function checksumOf(sql: string): string {
  return createHash('sha256').update(sql, 'utf8').digest('hex');
}

export function migrationLockKey(schema: string): string {
  return advisoryLockKey(`paycore:migrate:${schema}`);
}

/** Reads the service migrations, in order; rejects names that do not fit or repeat a number. */
export async function readMigrationDir(dir: string): Promise<Migration[]> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.sql')).sort();
  if (names.length > MIGRATION_FILES_MAX) {
    throw new InvalidMigrationFileError(`${dir} holds more than ${MIGRATION_FILES_MAX} migrations`);
  }
  const seenNumbers = new Set<string>();
  const migrations: Migration[] = [];
  for (const name of names) {
    const match = MIGRATION_FILE_PATTERN.exec(name);
    if (!match?.[1]) {
      throw new InvalidMigrationFileError(
        `${join(dir, name)}: migration files are named NNNN_lower_snake.sql`,
      );
    }
    if (seenNumbers.has(match[1])) {
      throw new InvalidMigrationFileError(`${join(dir, name)}: migration number ${match[1]} is used twice`);
    }
    seenNumbers.add(match[1]);
    const sql = await readFile(join(dir, name), 'utf8');
    migrations.push({
      version: name.slice(0, -'.sql'.length),
      file: join(dir, name),
      sql,
      checksum: checksumOf(sql),
    });
  }
  return migrations;
}

function platformMigrations(): Migration[] {
  return PLATFORM_MIGRATIONS.map((m) => ({
    version: m.version,
    file: `platform:${m.version}`,
    sql: m.sql,
    checksum: checksumOf(m.sql),
  }));
}

export async function runMigrations(
  dataSource: DataSource,
  options: RunMigrationsOptions,
): Promise<RunMigrationsResult> {
  const schema = quoteSchema(options.schema);
  const logger = options.logger ?? SILENT_LOG_SINK;
  // Read and validate files before taking the lock: a bad directory should
  // fail without making other starters wait.
  const migrations = [
    ...platformMigrations(),
    ...(options.migrationsDir !== undefined && options.migrationsDir !== ''
      ? await readMigrationDir(options.migrationsDir)
      : []),
  ];
  const lockKey = migrationLockKey(options.schema);
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    // lock_timeout bounds the wait for the advisory lock; reset right after so
    // the migrations themselves run with the server's setting.
    await runner.query(`SET lock_timeout = ${Math.trunc(options.lockTimeoutMs ?? LOCK_TIMEOUT_MS_DEFAULT)}`);
    try {
      await runner.query('SELECT pg_advisory_lock($1::bigint)', [lockKey]);
    } finally {
      await runner.query('RESET lock_timeout');
    }
    try {
      return { applied: await applyPending(runner, schema, migrations, logger) };
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1::bigint)', [lockKey]);
    }
  } finally {
    await runner.release();
  }
}

async function applyPending(
  runner: QueryRunner,
  schema: string,
  migrations: readonly Migration[],
  logger: PlatformLogSink,
): Promise<string[]> {
  await runner.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await runner.query(
    `CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (
       version text PRIMARY KEY,
       applied_at timestamptz NOT NULL DEFAULT now(),
       checksum text NOT NULL
     )`,
  );
  // QueryRunner.query is not generic; the cast states what the SELECT returns.
  const rows = (await runner.query(`SELECT version, checksum FROM ${schema}.schema_migrations`)) as {
    version: string;
    checksum: string;
  }[];
  const appliedChecksums = new Map(rows.map((row) => [row.version, row.checksum]));
  const applied: string[] = [];
  for (const migration of migrations) {
    const recorded = appliedChecksums.get(migration.version);
    if (recorded !== undefined) {
      if (recorded !== migration.checksum)
        throw new MigrationChecksumError(migration.version, migration.file);
      continue;
    }
    await runner.startTransaction('READ COMMITTED');
    try {
      await runner.query(`SET LOCAL search_path TO ${schema}, public`);
      await runner.query(migration.sql);
      await runner.query(`INSERT INTO ${schema}.schema_migrations (version, checksum) VALUES ($1, $2)`, [
        migration.version,
        migration.checksum,
      ]);
      await runner.commitTransaction();
    } catch (error) {
      await runner.rollbackTransaction();
      throw new MigrationFailedError(migration.file, { cause: error });
    }
    logger.info({ schema, version: migration.version }, 'migration applied');
    applied.push(migration.version);
  }
  return applied;
}
