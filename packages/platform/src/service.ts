/**
 * `runService` is how every paycore service process starts and stops.
 *
 * Order matters and is fixed here once:
 *  1. configuration is read and validated (a bad setting stops start-up, naming it);
 *  2. the gRPC server (health only, NOT_SERVING) and the HTTP server (/metrics,
 *     /healthz, /readyz) listen at once, so probes get an honest answer while
 *     dependencies are still coming up;
 *  3. Postgres and NATS are connected with bounded backoff between attempts
 *     (a pod waiting for its database is normal), migrations run under an
 *     advisory lock, streams are provisioned;
 *  4. the service registers its RPCs and background workers (outbox relay,
 *     consumers, schedulers);
 *  5. a readiness loop keeps grpc.health.v1 in step with the dependencies:
 *     SERVING while Postgres and NATS answer, NOT_SERVING while either does not;
 *  6. SIGTERM / SIGINT: NOT_SERVING, drain gRPC, stop workers, close connections.
 */
import type { DataSource } from 'typeorm';
import type { Logger } from 'pino';
import { loadCatalogue, defaultCataloguePath, type Catalogue } from '@paycore/context';
import {
  ConfigError,
  loadConfig,
  redactUrl,
  serviceConfigSchema,
  type ConfigOf,
  type Spec,
  type Env,
} from './config';
import { createLogger } from './logger';
import { createMetrics, registerRelayMetrics, type Metrics } from './metrics';
import { registerInboxMetrics, registerPlatformSqlMetrics } from './sql-metrics';
import { verifierFromConfig } from './auth';
import { GrpcServerKit } from './grpc/server';
import { HttpServer } from './http';
import { createDataSource, runMigrations, pingDatabase } from './db';
import { connectNats, OutboxRelay, outboxWakeupChannel, type NatsConnections } from './events';
import { PgWakeups } from './wakeup';
import { readTlsCredentials } from './tls';

export interface Worker {
  readonly name: string;
  start(): void | Promise<void>;
  stop(): Promise<void>;
}

export type FullConfig<C extends Record<string, Spec>> = ConfigOf<typeof serviceConfigSchema> & ConfigOf<C>;

export interface ServiceDeps<C extends Record<string, Spec>> {
  readonly config: FullConfig<C>;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly catalogue: Catalogue;
  /** Present when the spec declares a schema. */
  readonly dataSource: DataSource | undefined;
  /** Present when the spec uses NATS. */
  readonly nats: NatsConnections | undefined;
  /**
   * Present when the spec declares a schema: the process's LISTEN/NOTIFY hub.
   * Background loops wait on `wakeups.wakeup(wakeupChannel(schema, topic), { backstopIntervalMs })`
   * and writers call `signalAfterCommit(manager, channel)` (docs/adr/0026, /work/briefs/wakeup-api.md).
   */
  readonly wakeups: PgWakeups | undefined;
  readonly grpc: GrpcServerKit;
  readonly http: HttpServer;
}

export interface ServiceSpec<C extends Record<string, Spec>> {
  /** Short name, e.g. "account"; also the ErrorInfo domain prefix ("account.paycore"). */
  readonly name: string;
  /** Postgres schema the service owns; null for a service without a database. */
  readonly schema: string | null;
  readonly migrationsDir?: string;
  readonly useNats: boolean;
  /** Service-specific settings, validated with the common ones. */
  readonly configSchema: C;
  /** Registers RPCs and HTTP routes; returns background workers to run while the process lives. */
  readonly setup: (deps: ServiceDeps<C>) => Promise<readonly Worker[]>;
  /** Proto roots besides the repository's proto/ for server reflection (test fixtures). */
  readonly extraProtoRoots?: readonly string[];
  /** Relay the service's outbox to NATS (default true when it has a schema and NATS). */
  readonly relayOutbox?: boolean;
}

export interface RunningService {
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly logger: Logger;
  /** Resolves once dependencies are up and the service registered its RPCs. */
  readonly ready: Promise<void>;
  stop(): Promise<void>;
}

export interface RunOptions {
  readonly env?: Env;
  /** Install SIGTERM/SIGINT handlers that stop the process (default true; tests running in-process pass false). */
  readonly handleSignals?: boolean;
  readonly logger?: Logger;
  readonly readinessIntervalMs?: number;
}

const RETRY_DELAYS_MS = [250, 500, 1000, 2000, 5000];

async function withRetry<T>(
  what: string,
  logger: Logger,
  stopped: () => boolean,
  fn: () => Promise<T>,
): Promise<T> {
  // Bounded delay between attempts, unbounded attempts: a service waits for its dependencies
  // rather than crash-looping, and reports NOT_SERVING meanwhile. Stop ends the wait.
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (stopped()) throw err;
      const delayMs = RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length - 1)] ?? 5000;
      logger.warn({ err, attempt, delay_ms: delayMs }, `${what} not available yet; retrying`);
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}

// eslint-disable-next-line max-lines-per-function -- the bootstrap is one linear script of start-up steps; each step is a call
export async function runService<C extends Record<string, Spec>>(
  spec: ServiceSpec<C>,
  options: RunOptions = {},
): Promise<RunningService> {
  const env = options.env ?? process.env;
  const config = loadConfig({ ...serviceConfigSchema, ...spec.configSchema }, env) as FullConfig<C>;
  const databaseUrl = config.DATABASE_URL;
  if (spec.schema !== null) {
    if (databaseUrl === undefined)
      throw new ConfigError('DATABASE_URL', 'is required (postgres://user@host:port/db)');
    if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
      throw new ConfigError('DATABASE_URL', `must be a postgres:// URL, got "${redactUrl(databaseUrl)}"`);
    }
  }
  const logger = options.logger ?? createLogger({ service: spec.name, level: config.LOG_LEVEL });
  const metrics = createMetrics(spec.name, {
    eventLoopResolutionMs: config.METRICS_EVENT_LOOP_RESOLUTION_MS,
  });
  const catalogue = loadCatalogue(config.BIZ_CATALOGUE_FILE ?? defaultCataloguePath());
  const verifier = config.AUTH_DISABLED ? null : verifierFromConfig(config);
  if (verifier === null) logger.warn('AUTH_DISABLED=true: gRPC callers are not authenticated');

  const grpc = new GrpcServerKit({
    serviceName: spec.name,
    errorDomain: `${spec.name}.paycore`,
    logger,
    metrics,
    verifier,
    validateBizCode: (code) => void catalogue.validate(code),
    ...(spec.extraProtoRoots !== undefined ? { extraProtoRoots: spec.extraProtoRoots } : {}),
  });
  let dependenciesUp = false;
  const http = new HttpServer({
    port: config.HTTP_PORT,
    registry: metrics.registry,
    ready: () => dependenciesUp,
    logger,
  });
  const grpcPort = await grpc.start(config.GRPC_HOST, config.GRPC_PORT, readTlsCredentials(config));
  const httpPort = await http.listen();
  logger.info({ grpc_port: grpcPort, http_port: httpPort }, `${spec.name} listening`);

  let stopping = false;
  let dataSource: DataSource | undefined;
  let nats: NatsConnections | undefined;
  let wakeups: PgWakeups | undefined;
  const workers: Worker[] = [];
  let readinessTimer: NodeJS.Timeout | undefined;

  const checkDependencies = async (): Promise<boolean> => {
    const checks: Promise<boolean>[] = [];
    if (dataSource) checks.push(pingDatabase(dataSource, 1000));
    if (nats) {
      const nc = nats.nc;
      checks.push(
        Promise.race([
          nc.flush().then(() => !nc.isClosed()),
          new Promise<boolean>((r) => setTimeout(() => r(false), 1000).unref()),
        ]).catch(() => false),
      );
    }
    const results = await Promise.all(checks);
    return results.every(Boolean);
  };

  const ready = (async () => {
    if (spec.schema !== null) {
      const ds = createDataSource({
        url: databaseUrl ?? '',
        schema: spec.schema,
        applicationName: spec.name,
        poolSizeMax: config.DATABASE_POOL_SIZE_MAX,
      });
      await withRetry(
        'postgres',
        logger,
        () => stopping,
        () => ds.initialize(),
      );
      dataSource = ds;
      wakeups = new PgWakeups({
        url: databaseUrl ?? '',
        applicationName: spec.name,
        notifyPeers: config.WAKEUP_NOTIFY_PEERS,
        logger,
      });
      await wakeups.start();
      logger.info({ database: redactUrl(databaseUrl ?? ''), schema: spec.schema }, 'postgres connected');
      // The platform's own tables (outbox, inbox) are migrated even without a service directory.
      const schemaName = spec.schema;
      const migrationsDir = spec.migrationsDir;
      // Not retried: a failed or changed migration is not transient; start-up fails (below) and says why.
      await runMigrations(ds, {
        schema: schemaName,
        ...(migrationsDir !== undefined ? { migrationsDir } : {}),
        logger,
      });
    }
    if (spec.useNats) {
      nats = await withRetry(
        'nats',
        logger,
        () => stopping,
        () => connectNats({ servers: config.NATS_URL, name: `paycore-${spec.name}` }),
      );
      logger.info({ nats: config.NATS_URL }, 'nats connected');
    }
    const own = await spec.setup({
      config,
      logger,
      metrics,
      catalogue,
      dataSource,
      nats,
      wakeups,
      grpc,
      http,
    });
    if ((spec.relayOutbox ?? true) && dataSource && nats && wakeups && spec.schema !== null) {
      const relay = new OutboxRelay({
        dataSource,
        schema: spec.schema,
        js: nats.js,
        logger,
        pollIntervalMs: config.OUTBOX_RELAY_BACKSTOP_MS,
        wakeup: wakeups.wakeup(outboxWakeupChannel(spec.schema), {
          backstopIntervalMs: config.OUTBOX_RELAY_BACKSTOP_MS,
        }),
      });
      registerRelayMetrics(metrics, relay);
      registerPlatformSqlMetrics(metrics, dataSource, spec.schema);
      registerInboxMetrics(metrics, spec.schema);
      workers.push({ name: 'outbox-relay', start: () => relay.start(), stop: () => relay.stop() });
    }
    workers.push(...own);
    grpc.finalize();
    for (const w of workers) await w.start();
    const refresh = async (): Promise<void> => {
      const up = !stopping && (await checkDependencies());
      if (up !== dependenciesUp)
        logger.info({ serving: up }, up ? 'dependencies up: SERVING' : 'dependencies down: NOT_SERVING');
      dependenciesUp = up;
      grpc.health.setAll(up);
    };
    await refresh();
    readinessTimer = setInterval(
      () => void refresh(),
      options.readinessIntervalMs ?? config.READINESS_INTERVAL_MS,
    );
    readinessTimer.unref();
  })();
  ready.catch((err: unknown) => {
    if (stopping) return;
    logger.fatal({ err }, `${spec.name} failed to start`);
    // As a process, exit so the orchestrator restarts it and shows the failure; in-process callers see `ready` reject.
    if (options.handleSignals ?? true) {
      logger.flush();
      setTimeout(() => process.exit(1), 100).unref();
    }
  });

  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    if (readinessTimer) clearInterval(readinessTimer);
    logger.info('shutting down: NOT_SERVING, draining');
    await grpc.shutdown(config.SHUTDOWN_GRACE_MS);
    for (const w of [...workers].reverse()) {
      await w.stop().catch((err: unknown) => logger.error({ err, worker: w.name }, 'worker stop failed'));
    }
    await http.close();
    if (nats) await nats.nc.drain().catch(() => nats?.nc.close());
    await wakeups?.stop();
    if (dataSource?.isInitialized) await dataSource.destroy();
    logger.info('stopped');
    logger.flush();
  };

  if (options.handleSignals ?? true) {
    const onSignal = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'signal received');
      stop().then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }

  return { grpcPort, httpPort, logger, ready, stop };
}
