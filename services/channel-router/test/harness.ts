/**
 * Starts channel-router in this process against a real in-process sandbox
 * (time-scaled so channel retry schedules take milliseconds), a per-run
 * Postgres database and NATS prefix, with the demo registry seeded from the
 * sandbox and a fast status-sync schedule.
 */
import { randomBytes } from 'node:crypto';
import { startSandbox, type RunningSandbox } from '@paycore/channel-sandbox';
import { createClient, createLogger, runService, type RunningService } from '@paycore/platform';
import { ChannelServiceClient } from '@paycore/proto/paycore/channel/v1/channel_service';
import { TxnUpdated } from '@paycore/proto/paycore/channel/v1/events';
import {
  createTestDatabase,
  createTokenMinter,
  freePort,
  testPrefix,
  type TestDatabase,
} from '@paycore/testing';
import { Client } from 'pg';
import { channelRouterSpec } from '../src/service';

export interface RouterHarness {
  readonly sandbox: RunningSandbox;
  readonly service: RunningService;
  readonly client: ChannelServiceClient;
  readonly httpUrl: string;
  readonly database: TestDatabase;
  /** Every channel.txn_updated written to the outbox, in order. */
  events(): Promise<{ subject: string; event: TxnUpdated }[]>;
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Another replica of the service on the same database, NATS prefix, sandbox and key; stopped by close(). */
  startReplica(): Promise<RunningService>;
  close(): Promise<void>;
}

/** `env` overrides or adds settings (e.g. a small sample bound) for one test file. */
export async function startRouterHarness(env: Readonly<Record<string, string>> = {}): Promise<RouterHarness> {
  const silent = createLogger({ service: 'channel-test', level: 'silent' });
  const sandbox = await startSandbox({ timeScale: 1000, logger: silent });
  const database = await createTestDatabase();
  const minter = await createTokenMinter();
  const grpcPort = await freePort();
  const httpPort = await freePort();
  // CHANNEL_TEST_LOG=debug shows the service's log lines when a test needs explaining.
  const serviceLogger = createLogger({
    service: 'channel-router',
    level: process.env['CHANNEL_TEST_LOG'] ?? 'silent',
  });
  const sharedEnv = {
    SERVICE_NAME: 'channel-router',
    GRPC_HOST: '127.0.0.1',
    DATABASE_URL: database.url,
    NATS_URL: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
    NATS_PREFIX: testPrefix(),
    AUTH_JWT_PUBLIC_KEY: minter.publicKeyPem,
    AUTH_JWT_ISSUER: minter.issuer,
    AUTH_JWT_AUDIENCE: minter.audience,
    SHUTDOWN_GRACE_MS: '1000',
    LOG_LEVEL: 'silent',
    SANDBOX_URL: sandbox.url,
    CHANNEL_SEED_FROM_SANDBOX: '1',
    CHANNEL_CREDENTIALS_KEY: randomBytes(32).toString('base64'),
    CHANNEL_SYNC_FIRST_DELAY_MS: '300',
    CHANNEL_SYNC_TICK_MS: '50',
    CHANNEL_CALL_TIMEOUT_MS: '3000',
    ...env,
  };
  const run = async (grpc: number, http: number): Promise<RunningService> => {
    const running = await runService(channelRouterSpec, {
      handleSignals: false,
      logger: serviceLogger,
      readinessIntervalMs: 200,
      env: { ...sharedEnv, GRPC_PORT: String(grpc), HTTP_PORT: String(http) },
    });
    await running.ready;
    return running;
  };
  const service = await run(grpcPort, httpPort);
  const replicas: RunningService[] = [];
  const token = await minter.mint({
    sub: 'channel-test',
    scopes: ['channel:read', 'channel:write', 'channel:admin'],
  });
  const client = createClient(ChannelServiceClient, {
    address: `127.0.0.1:${service.grpcPort}`,
    token: () => token,
    defaultDeadlineMs: 10_000,
  });
  const pg = new Client({ connectionString: database.url });
  await pg.connect();
  await pg.query('SET search_path TO channel');
  const query = async <T>(sql: string, params: unknown[] = []): Promise<T[]> =>
    (await pg.query(sql, params)).rows as T[];
  return {
    sandbox,
    service,
    client,
    httpUrl: `http://127.0.0.1:${service.httpPort}`,
    database,
    query,
    async events() {
      const rows = await query<{ subject: string; payload: Buffer }>(
        'SELECT subject, payload FROM outbox ORDER BY id',
      );
      return rows.map((row) => ({ subject: row.subject, event: TxnUpdated.decode(row.payload) }));
    },
    async startReplica() {
      const replica = await run(await freePort(), await freePort());
      replicas.push(replica);
      return replica;
    },
    async close() {
      client.close();
      await pg.end();
      for (const replica of replicas) await replica.stop();
      await service.stop();
      await sandbox.stop();
      await database.drop();
    },
  };
}
