/**
 * The whole platform as real processes for end-to-end tests: the channel
 * sandbox (time-scaled), account, ledger, channel-router (registry seeded
 * from the sandbox), the cashier and reconciliation, each started with `spawnNode` exactly as
 * `make up` starts them (node --import tsx <main.ts>, env contract of
 * scripts/up.sh), on one fresh database (one schema per service) and one
 * NATS prefix. Also: a merchant webhook server that verifies signatures and
 * answers `success`, gRPC clients with a token carrying every scope, and
 * helpers to pay at the sandbox and to wait for a condition.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client as GrpcClient, credentials } from '@grpc/grpc-js';
import { connectNats, createClient } from '@paycore/platform';
import { AccountServiceClient } from '@paycore/proto/paycore/account/v1/account_service';
import { CashierServiceClient } from '@paycore/proto/paycore/cashier/v1/cashier_service';
import { ChannelServiceClient } from '@paycore/proto/paycore/channel/v1/channel_service';
import { LedgerServiceClient } from '@paycore/proto/paycore/ledger/v1/ledger_service';
import { ReconciliationServiceClient } from '@paycore/proto/paycore/reconciliation/v1/reconciliation_service';
import { SettlementServiceClient } from '@paycore/proto/paycore/settlement/v1/settlement_service';
import {
  createTestDatabase,
  createTokenMinter,
  freePort,
  spawnNode,
  testPrefix,
  type ChildHandle,
  type TestDatabase,
} from '@paycore/testing';
import { Client as PgClient } from 'pg';
import { verifyNotification } from '@paycore/cashier';
import { checkHealth } from '../../scripts/wait-healthy';

const ROOT = path.resolve(__dirname, '..', '..');
/** Bound on one service's start; PAYCORE_E2E_START_TIMEOUT_MS raises it on a loaded machine. */
const START_TIMEOUT_MS = Number(process.env['PAYCORE_E2E_START_TIMEOUT_MS'] ?? 60_000);
export const NOTIFY_KEY = 'merchant-notify-key-0123456789';
export const ALL_SCOPES = [
  'account:read',
  'account:write',
  'account:admin',
  'ledger:read',
  'ledger:adjust',
  'ledger:admin',
  'channel:read',
  'channel:write',
  'channel:admin',
  'cashier:read',
  'cashier:write',
  'cashier:ops',
  'recon:read',
  'recon:write',
  'recon:ops',
  'settlement:read',
  'settlement:write',
  'settlement:ops',
];

const ENTRIES: Readonly<Record<string, string>> = {
  account: 'services/account/src/main.ts',
  ledger: 'services/ledger/src/main.ts',
  'channel-router': 'services/channel-router/src/main.ts',
  cashier: 'services/cashier/src/main.ts',
  reconciliation: 'services/reconciliation/src/main.ts',
  settlement: 'services/settlement/src/main.ts',
};

export interface ReceivedNotification {
  readonly body: string;
  readonly orderId: string;
  readonly signatureValid: boolean;
  readonly receivedAtMs: number;
}

export interface Platform {
  readonly sandboxUrl: string;
  /** `{"cashier": "127.0.0.1:port", ...}`, as `make up` writes .run/endpoints.json. */
  readonly endpointsFile: string;
  /** The token issuer's private key (PKCS#8 PEM file) and name, for clients that mint their own tokens. */
  readonly privateKeyFile: string;
  readonly tokenIssuer: string;
  readonly cashier: CashierServiceClient;
  readonly account: AccountServiceClient;
  readonly ledger: LedgerServiceClient;
  readonly channel: ChannelServiceClient;
  readonly recon: ReconciliationServiceClient;
  /** Base URL of reconciliation's HTTP port (reports, CSV export). */
  readonly reconHttpUrl: string;
  readonly settlement: SettlementServiceClient;
  readonly notifyUrl: string;
  /** The run's database (benches read its pg_stat_database row). */
  readonly databaseName: string;
  /** host:port of a service's HTTP server (/metrics, /healthz). */
  httpAddress(name: string): string;
  /** The process ids of the services and the sandbox, by name. */
  pids(): ReadonlyMap<string, number>;
  /** Notifications the merchant webhook received, in arrival order. */
  readonly notifications: ReceivedNotification[];
  /** The webhook answers this for the next N requests instead of `success` (0 = always success). */
  failNextNotifications(count: number): void;
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
  process(name: string): ChildHandle;
  /** Starts a service again after it exited (same ports, same env). */
  restart(name: string): Promise<void>;
  close(): Promise<void>;
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function waitServing(name: string, address: string, child: ChildHandle): Promise<void> {
  const client = new GrpcClient(address, credentials.createInsecure());
  try {
    await waitFor(
      `${name} SERVING`,
      async () => {
        if (child.hasExited()) throw new Error(`${name} exited:\n${child.lines.slice(-30).join('\n')}`);
        return (await checkHealth(client, 1_000)) === 'SERVING' ? true : undefined;
      },
      START_TIMEOUT_MS,
    );
  } finally {
    client.close();
  }
}

/** Pays (or fails) a channel payment as the payer would, at the sandbox. */
export async function payAtSandbox(
  sandboxUrl: string,
  channel: 'alipay' | 'wechat',
  txnId: string,
  outcome: 'success' | 'failed' = 'success',
): Promise<void> {
  const res = await fetch(`${sandboxUrl}/sandbox/pay`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ channel, out_trade_no: txnId, outcome }),
  });
  if (res.status !== 200) throw new Error(`sandbox pay answered ${res.status}: ${await res.text()}`);
}

export async function addFault(sandboxUrl: string, fault: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${sandboxUrl}/sandbox/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(fault),
  });
  if (res.status !== 200) throw new Error(`sandbox fault answered ${res.status}: ${await res.text()}`);
}

function startWebhook(
  notifications: ReceivedNotification[],
  failures: { left: number },
): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const timestamp = Number(req.headers['x-paycore-timestamp']);
      const signature = String(req.headers['x-paycore-signature'] ?? '');
      let orderId = '';
      try {
        const parsed = (JSON.parse(body) as { order_id?: unknown }).order_id;
        orderId = typeof parsed === 'string' ? parsed : '';
      } catch {
        orderId = '';
      }
      notifications.push({
        body,
        orderId,
        signatureValid: verifyNotification(NOTIFY_KEY, timestamp, body, signature),
        receivedAtMs: Date.now(),
      });
      if (failures.left > 0) {
        failures.left -= 1;
        res.writeHead(500).end('busy');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('success');
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      resolve({ server, url: `http://127.0.0.1:${port}/notify` });
    });
  });
}

/** Removes the run's JetStream streams (its prefix is unique), so a run leaves nothing behind. */
async function deleteStreams(prefix: string): Promise<void> {
  const nats = await connectNats({
    servers: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
    name: 'e2e-cleanup',
  });
  try {
    for await (const stream of nats.jsm.streams.list()) {
      if (stream.config.name.startsWith(`${prefix.toUpperCase()}_`))
        await nats.jsm.streams.delete(stream.config.name);
    }
  } finally {
    await nats.nc.close();
  }
}

export interface StartPlatformOptions {
  /**
   * The fast background schedules the end-to-end tests use (recovery, notifier
   * and status-sync ticks of 100–200 ms). Default true; false runs every
   * service on its production defaults (the idle bench).
   */
  readonly testSchedules?: boolean;
}

export async function startPlatform(
  extraEnv: Readonly<Record<string, Record<string, string>>> = {},
  commonEnv: Readonly<Record<string, string>> = {},
  startOptions: StartPlatformOptions = {},
): Promise<Platform> {
  const testSchedules: Record<string, string> =
    startOptions.testSchedules === false
      ? {}
      : {
          CHANNEL_SYNC_FIRST_DELAY_MS: '500',
          CHANNEL_SYNC_DELAY_MAX_MS: '2000',
          CHANNEL_SYNC_TICK_MS: '100',
          CASHIER_RECOVERY_TICK_MS: '200',
          CASHIER_RECOVERY_IDLE_MS: '1500',
          CASHIER_NOTIFY_TICK_MS: '100',
        };
  const runDir = mkdtempSync(path.join(tmpdir(), 'paycore-e2e-'));
  const database: TestDatabase = await createTestDatabase();
  const minter = await createTokenMinter();
  const token = await minter.mint({ sub: 'e2e', scopes: ALL_SCOPES, expiresInSeconds: 3_600 });
  const tokenFile = path.join(runDir, 'token');
  writeFileSync(tokenFile, token);
  const privateKeyFile = path.join(runDir, 'private.pem');
  writeFileSync(privateKeyFile, minter.privateKeyPem, { mode: 0o600 });
  const prefix = testPrefix();
  const ports: Record<string, { grpc: number; http: number }> = {};
  for (const name of Object.keys(ENTRIES)) ports[name] = { grpc: await freePort(), http: await freePort() };
  const endpointsFile = path.join(runDir, 'endpoints.json');
  writeFileSync(
    endpointsFile,
    JSON.stringify(Object.fromEntries(Object.entries(ports).map(([n, p]) => [n, `127.0.0.1:${p.grpc}`]))),
  );
  const children = new Map<string, ChildHandle>();

  const sandboxPort = await freePort();
  const sandbox = spawnNode(path.join(ROOT, 'services/channel-sandbox/src/main.ts'), {
    name: 'sandbox',
    cwd: ROOT,
    env: {
      HTTP_PORT: String(sandboxPort),
      HTTP_HOST: '127.0.0.1',
      SANDBOX_TIME_SCALE: '1000',
      LOG_LEVEL: 'warn',
    },
  });
  children.set('channel-sandbox', sandbox);
  await sandbox.waitForLine(/channel-sandbox listening/, START_TIMEOUT_MS);
  const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;

  const envFor = (name: string): Record<string, string> => {
    const p = ports[name];
    if (!p) throw new Error(`no ports for ${name}`);
    return {
      SERVICE_NAME: name,
      GRPC_HOST: '127.0.0.1',
      GRPC_PORT: String(p.grpc),
      HTTP_PORT: String(p.http),
      DATABASE_URL: database.url,
      NATS_URL: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
      NATS_PREFIX: prefix,
      AUTH_JWT_PUBLIC_KEY: minter.publicKeyPem,
      AUTH_JWT_ISSUER: minter.issuer,
      AUTH_JWT_AUDIENCE: minter.audience,
      SERVICE_TOKEN_FILE: tokenFile,
      ACCOUNT_CLIENT_TOKEN: token,
      ENDPOINTS_FILE: endpointsFile,
      LOG_LEVEL: process.env['PAYCORE_E2E_LOG'] ?? 'warn',
      SHUTDOWN_GRACE_MS: '1000',
      // channel-router
      SANDBOX_URL: sandboxUrl,
      CHANNEL_SEED_FROM_SANDBOX: '1',
      CHANNEL_CREDENTIALS_KEY: randomBytes(32).toString('base64'),
      // settlement
      SETTLEMENT_BATCH_ACK_WAIT_MS: '3000',
      SETTLEMENT_PAYOUT_POLL_MS: '300',
      SETTLEMENT_RETRY_DELAY_MS: '300',
      // cashier
      CASHIER_NOTIFY_TIME_SCALE: '1000',
      ...testSchedules,
      // reconciliation: runs on request only (no daily schedule); the resume worker waits long enough never to race a live run (tests resume by replay)
      RECON_SCHEDULE_ENABLED: 'false',
      RECON_SCHEDULE_TICK_MS: '500',
      RECON_RESUME_AFTER_MS: '600000',
      // A killed reconciliation's run lease ends 5 s after its last renewal (the restarted process's replay waits for it).
      RECON_RUN_LEASE_MS: '5000',
      // The merchants' webhooks of these tests listen on 127.0.0.1.
      CASHIER_NOTIFY_ALLOW_PRIVATE_URLS: 'true',
      ...commonEnv,
      ...(extraEnv[name] ?? {}),
    };
  };
  const credentialsKey = randomBytes(32).toString('base64');
  const start = async (name: string): Promise<void> => {
    const entry = ENTRIES[name];
    if (!entry) throw new Error(`unknown service ${name}`);
    const env = envFor(name);
    if (name === 'channel-router') env['CHANNEL_CREDENTIALS_KEY'] = credentialsKey;
    const child = spawnNode(path.join(ROOT, entry), { name, cwd: ROOT, env });
    children.set(name, child);
    await waitServing(name, `127.0.0.1:${ports[name]?.grpc ?? 0}`, child);
  };
  // Order: account first (others open accounts in it), then the rest in parallel.
  try {
    await start('account');
    await Promise.all([start('ledger'), start('channel-router')]);
    await start('cashier');
    await start('reconciliation');
    await start('settlement');
  } catch (err) {
    // A platform that fails to start leaves nothing behind: no process, no database.
    for (const child of children.values()) if (!child.hasExited()) child.kill('SIGKILL');
    await Promise.all([...children.values()].map((child) => child.exited));
    await database.drop();
    throw err;
  }

  const notifications: ReceivedNotification[] = [];
  const failures = { left: 0 };
  const webhook = await startWebhook(notifications, failures);
  const options = { token: () => token, defaultDeadlineMs: 30_000 };
  const address = (name: string): string => `127.0.0.1:${ports[name]?.grpc ?? 0}`;
  const pg = new PgClient({ connectionString: database.url });
  await pg.connect();

  return {
    sandboxUrl,
    endpointsFile,
    privateKeyFile,
    tokenIssuer: minter.issuer,
    cashier: createClient(CashierServiceClient, { address: address('cashier'), ...options }),
    account: createClient(AccountServiceClient, { address: address('account'), ...options }),
    ledger: createClient(LedgerServiceClient, { address: address('ledger'), ...options }),
    channel: createClient(ChannelServiceClient, { address: address('channel-router'), ...options }),
    recon: createClient(ReconciliationServiceClient, { address: address('reconciliation'), ...options }),
    reconHttpUrl: `http://127.0.0.1:${ports['reconciliation']?.http ?? 0}`,
    settlement: createClient(SettlementServiceClient, { address: address('settlement'), ...options }),
    notifyUrl: webhook.url,
    databaseName: database.name,
    httpAddress(name: string): string {
      const p = ports[name];
      if (!p) throw new Error(`no service ${name}`);
      return `127.0.0.1:${p.http}`;
    },
    pids(): ReadonlyMap<string, number> {
      return new Map([...children].map(([name, child]) => [name, child.pid]));
    },
    notifications,
    failNextNotifications(count: number) {
      failures.left = count;
    },
    async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
      return (await pg.query(sql, params)).rows as T[];
    },
    process(name: string): ChildHandle {
      const child = children.get(name);
      if (!child) throw new Error(`no process ${name}`);
      return child;
    },
    restart: start,
    async close() {
      await pg.end();
      webhook.server.close();
      for (const name of [
        'reconciliation',
        'settlement',
        'cashier',
        'channel-router',
        'ledger',
        'account',
        'channel-sandbox',
      ]) {
        const child = children.get(name);
        if (child && !child.hasExited()) {
          child.kill('SIGTERM');
          const exited = await Promise.race([
            child.exited,
            new Promise((r) => setTimeout(() => r('timeout'), 5_000)),
          ]);
          if (exited === 'timeout') child.kill('SIGKILL');
        }
      }
      await database.drop();
      await deleteStreams(prefix);
      rmSync(runDir, { recursive: true, force: true });
    },
  };
}
