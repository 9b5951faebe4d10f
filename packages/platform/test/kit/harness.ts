/**
 * Starts the echo fixture service in this process against a per-run database
 * and NATS prefix, with log lines captured for assertions.
 */
import { credentials } from '@grpc/grpc-js';
import { createLogger, createClient, runService, type RunningService } from '../../src';
import {
  createTestDatabase,
  createTokenMinter,
  freePort,
  testPrefix,
  type TestDatabase,
  type TokenMinter,
} from '@paycore/testing';
import { EchoServiceClient } from '../gen/paycore/testing/v1/echo_service';
import { echoSpec } from '../fixtures/echo-service';

export const UNROUTED_CODE = '10010101010000000000';

function throughPort(url: string, port: number): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString();
}

export interface Harness {
  readonly service: RunningService;
  readonly address: string;
  readonly minter: TokenMinter;
  readonly database: TestDatabase;
  readonly prefix: string;
  readonly logLines: Record<string, unknown>[];
  /** A client with the kit's interceptors and a token holding every echo scope. */
  client(scopes?: readonly string[]): Promise<EchoServiceClient>;
  /** A bare grpc-js client: no deadline, no token, nothing added. */
  rawClient(): EchoServiceClient;
  close(): Promise<void>;
}

export async function startEchoHarness(
  options: {
    /** Reach the per-run database through this local port (a TcpProxy) instead of directly. */
    pgProxyPort?: number;
    natsUrl?: string;
    consume?: boolean;
    waitReady?: boolean;
  } = {},
): Promise<Harness> {
  const database = await createTestDatabase();
  const minter = await createTokenMinter();
  const prefix = testPrefix();
  const grpcPort = await freePort();
  const consumerToken = await minter.mint({
    sub: 'echo-consumer',
    scopes: ['echo:read'],
    expiresInSeconds: 3600,
  });
  const logLines: Record<string, unknown>[] = [];
  const logger = createLogger({
    service: 'echo',
    level: 'debug',
    destination: {
      write(line: string) {
        logLines.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  });
  const service = await runService(echoSpec, {
    handleSignals: false,
    logger,
    readinessIntervalMs: 200,
    env: {
      SERVICE_NAME: 'echo',
      GRPC_HOST: '127.0.0.1',
      GRPC_PORT: String(grpcPort),
      HTTP_PORT: '0',
      DATABASE_URL:
        options.pgProxyPort === undefined ? database.url : throughPort(database.url, options.pgProxyPort),
      NATS_URL: options.natsUrl ?? process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
      NATS_PREFIX: prefix,
      AUTH_JWT_PUBLIC_KEY: minter.publicKeyPem,
      AUTH_JWT_ISSUER: minter.issuer,
      AUTH_JWT_AUDIENCE: minter.audience,
      ECHO_CONSUME: options.consume === true ? '1' : '0',
      ECHO_CLIENT_TOKEN: consumerToken,
      SHUTDOWN_GRACE_MS: '2000',
      LOG_LEVEL: 'debug',
    },
  });
  if (options.waitReady ?? true) await service.ready;
  const address = `127.0.0.1:${service.grpcPort}`;
  const clients: EchoServiceClient[] = [];
  return {
    service,
    address,
    minter,
    database,
    prefix,
    logLines,
    async client(scopes = ['echo:read', 'echo:write']) {
      const token = await minter.mint({ sub: 'kit-test', scopes });
      const c = createClient(EchoServiceClient, { address, token: () => token, defaultDeadlineMs: 5000 });
      clients.push(c);
      return c;
    },
    rawClient() {
      const c = new EchoServiceClient(address, credentials.createInsecure());
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.close();
      await service.stop();
      await database.drop();
    },
  };
}
