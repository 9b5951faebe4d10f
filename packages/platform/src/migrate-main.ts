/**
 * Runs one service's migrations and exits: the Kubernetes migrations Job
 * (deploy/k8s/base/migrate-job.yaml) runs it before the rollout, so a new
 * version's pods start on a current schema. The same code runs at every
 * service start (runService), under the same advisory lock, so the Job and a
 * starting pod never migrate at once and a second run is a no-op.
 *
 * Environment: DATABASE_URL; MIGRATIONS_SCHEMA (the service's schema, e.g.
 * account); MIGRATIONS_DIR (its NNNN_name.sql directory, e.g.
 * services/account/migrations; absent: the platform's tables only);
 * MIGRATIONS_LOCK_TIMEOUT_MS (default 300000); LOG_LEVEL.
 * Exit: 0 when the schema is current, 1 on any failure (the Job retries).
 */
import path from 'node:path';
import { ConfigError, int, loadConfig, optional, redactUrl, str } from './config';
import { createDataSource, runMigrations } from './db';
import { createLogger } from './logger';

const schema = {
  DATABASE_URL: str({ description: 'Postgres connection URL' }),
  MIGRATIONS_SCHEMA: str({ pattern: /^[a-z][a-z0-9_]{0,62}$/, description: "the service's schema" }),
  MIGRATIONS_DIR: optional('directory of the NNNN_name.sql files'),
  MIGRATIONS_LOCK_TIMEOUT_MS: int({ min: 1_000, max: 3_600_000, default: 300_000 }),
  LOG_LEVEL: str({ default: 'info' }),
};

async function main(): Promise<void> {
  const config = loadConfig(schema, process.env);
  if (!/^postgres(ql)?:\/\//.test(config.DATABASE_URL))
    throw new ConfigError(
      'DATABASE_URL',
      `must be a postgres:// URL, got "${redactUrl(config.DATABASE_URL)}"`,
    );
  const logger = createLogger({ service: `${config.MIGRATIONS_SCHEMA}-migrate`, level: config.LOG_LEVEL });
  const dataSource = createDataSource({
    url: config.DATABASE_URL,
    schema: config.MIGRATIONS_SCHEMA,
    applicationName: `${config.MIGRATIONS_SCHEMA}-migrate`,
    poolSizeMax: 1,
  });
  await dataSource.initialize();
  try {
    const result = await runMigrations(dataSource, {
      schema: config.MIGRATIONS_SCHEMA,
      ...(config.MIGRATIONS_DIR !== undefined ? { migrationsDir: path.resolve(config.MIGRATIONS_DIR) } : {}),
      logger,
      lockTimeoutMs: config.MIGRATIONS_LOCK_TIMEOUT_MS,
    });
    logger.info({ schema: config.MIGRATIONS_SCHEMA, applied: result.applied }, 'migrations current');
  } finally {
    await dataSource.destroy();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`migrate: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
