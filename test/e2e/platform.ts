/**
 * The whole platform as real processes for end-to-end tests: the channel
 * sandbox (time-scaled), account, ledger, channel-router (registry seeded
 * from the sandbox), the cashier and reconciliation, each started with `spawnNode` exactly as
 * `make up` starts them (node --import tsx <main.ts>, env contract of
 * scripts/up.sh), on one fresh database (one schema per service) and one
 * NATS prefix. Also: a merchant webhook server that verifies signatures and
 * answers `success`, gRPC clients with a token carrying every scope, and
 * helpers to pay at the sandbox and to wait for a condition.
 *
 * With `replicas: n` every service runs as n processes, each on its own gRPC
 * and HTTP port, all on the same database and NATS prefix. The endpoints
 * file then names all of a service's replicas as one gRPC target
 * (`ipv4:127.0.0.1:a,127.0.0.1:b`: grpc-js picks the first that answers and
 * moves to the next when it dies), so services call each other across
 * replicas; every channel-router replica seeds the registry from the sandbox
 * and gives the sandbox its own callback URL. The replica processes are named
 * `cashier`, `cashier-2`, …; `replicaClients` holds one client per replica.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client as GrpcClient, credentials, type Metadata } from '@grpc/grpc-js';
import { context as otelContext, propagation } from '@opentelemetry/api';
import {
  createPaycoreClient,
  loadEndpointsFile,
  tokenFile as tokenFromFile,
  type PaycoreClient,
} from '@paycore/client';
import { connectNats, createClient } from '@paycore/platform';
import { AccountServiceClient } from '@paycore/proto/paycore/account/v1/account_service';
import { StoredValueServiceClient } from '@paycore/proto/paycore/account/v1/stored_value_service';
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
/** The harness's bearer token lives an hour and is replaced every ten minutes. */
const TOKEN_LIFETIME_S = 3_600;
const TOKEN_ROTATE_MS = 600_000;
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
  /** The `x-paycore-notify-id` header: the cashier's id of the notification (one per order). */
  readonly notificationId: string;
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
  /** Every service through @paycore/client: a token with every scope, 30 s deadlines, the test's trace context. */
  readonly paycore: PaycoreClient;
  readonly cashier: CashierServiceClient;
  readonly account: AccountServiceClient;
  /** Stored value, served by the account process on its address. */
  readonly storedValue: StoredValueServiceClient;
  readonly ledger: LedgerServiceClient;
  readonly channel: ChannelServiceClient;
  readonly recon: ReconciliationServiceClient;
  /** Base URL of reconciliation's HTTP port (reports, CSV export). */
  readonly reconHttpUrl: string;
  readonly settlement: SettlementServiceClient;
  /** One client per replica of each service (index 0 is the first replica), for spreading load. */
  readonly replicaClients: ReplicaClients;
  /** The process names of a service's replicas: `cashier`, `cashier-2`, … */
  replicaNames(service: string): readonly string[];
  readonly notifyUrl: string;
  /** The run's database (benches read its pg_stat_database row). */
  readonly databaseName: string;
  /** A client of one settlement process (`settlement` or `settlement-2`), for tests that kill the other. */
  settlementReplica(name: string): SettlementServiceClient;
  /** The run's NATS stream and subject prefix (EventNaming), for tests that publish or read events. */
  readonly natsPrefix: string;
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

export interface ReplicaClients {
  readonly cashier: readonly CashierServiceClient[];
  readonly account: readonly AccountServiceClient[];
  readonly ledger: readonly LedgerServiceClient[];
  readonly channel: readonly ChannelServiceClient[];
  readonly recon: readonly ReconciliationServiceClient[];
  readonly settlement: readonly SettlementServiceClient[];
}

/** The process name of replica `index` (0-based) of a service: the service's name, then `name-2`, `name-3`, … */
export function replicaName(service: string, index: number): string {
  return index === 0 ? service : `${service}-${index + 1}`;
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
        notificationId: String(req.headers['x-paycore-notify-id'] ?? ''),
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
  /** Processes per service, 1 to 4 (default 1); the sandbox is always one. */
  readonly replicas?: number;
  /** Settlement processes on the one work queue: 1 (default) or 2 (the second is `settlement-2`). */
  readonly settlementReplicas?: 1 | 2;
}

const REPLICAS_MAX = 4;

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
          // Reconciliation's resume and bank-claim pass (production: 60 s); the idle bench keeps the default.
          RECON_SCHEDULE_TICK_MS: '500',
        };
  const runDir = mkdtempSync(path.join(tmpdir(), 'paycore-e2e-'));
  const database: TestDatabase = await createTestDatabase();
  const minter = await createTokenMinter();
  // The services re-read SERVICE_TOKEN_FILE, as a Kubernetes projected token is: the harness
  // rotates it well inside its lifetime, so a run longer than a token's life (a benchmark) keeps going.
  const mintToken = () => minter.mint({ sub: 'e2e', scopes: ALL_SCOPES, expiresInSeconds: TOKEN_LIFETIME_S });
  let token = await mintToken();
  const tokenFile = path.join(runDir, 'token');
  writeFileSync(tokenFile, token);
  let rotating = true;
  const tokenRotation = setInterval(() => {
    void mintToken().then((next) => {
      // A mint that finishes after close() writes nothing (the run directory is gone).
      if (!rotating) return;
      writeFileSync(`${tokenFile}.next`, next);
      renameSync(`${tokenFile}.next`, tokenFile);
      token = next;
    });
  }, TOKEN_ROTATE_MS);
  tokenRotation.unref();
  const privateKeyFile = path.join(runDir, 'private.pem');
  writeFileSync(privateKeyFile, minter.privateKeyPem, { mode: 0o600 });
  const prefix = testPrefix();
  const replicas = startOptions.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > REPLICAS_MAX)
    throw new Error(`replicas must be an integer from 1 to ${REPLICAS_MAX}, got ${replicas}`);
  const settlementReplicas = startOptions.settlementReplicas ?? 1;
  /** A service's process names; settlementReplicas adds `settlement-2` (not in settlement's endpoint). */
  const names = (service: string): string[] =>
    Array.from(
      { length: service === 'settlement' ? Math.max(replicas, settlementReplicas) : replicas },
      (_, index) => replicaName(service, index),
    );
  /** Process name → its service and ports. */
  const processes = new Map<string, { service: string; grpc: number; http: number }>();
  for (const service of Object.keys(ENTRIES))
    for (const name of names(service))
      processes.set(name, { service, grpc: await freePort(), http: await freePort() });
  const grpcAddress = (name: string): string => `127.0.0.1:${processes.get(name)?.grpc ?? 0}`;
  /** The gRPC target of a service: its one address, or every replica's as one ipv4: target. */
  const target = (service: string): string =>
    replicas === 1
      ? grpcAddress(service)
      : `ipv4:${names(service)
          .map((name) => grpcAddress(name))
          .join(',')}`;
  const endpointsFile = path.join(runDir, 'endpoints.json');
  writeFileSync(
    endpointsFile,
    JSON.stringify(Object.fromEntries(Object.keys(ENTRIES).map((service) => [service, target(service)]))),
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
    const p = processes.get(name);
    if (!p) throw new Error(`no ports for ${name}`);
    return {
      SERVICE_NAME: p.service,
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
      RECON_RESUME_AFTER_MS: '600000',
      // A killed reconciliation's run lease ends 5 s after its last renewal (the restarted process's replay waits for it).
      RECON_RUN_LEASE_MS: '5000',
      // The merchants' webhooks of these tests listen on 127.0.0.1.
      CASHIER_NOTIFY_ALLOW_PRIVATE_URLS: 'true',
      ...commonEnv,
      ...(extraEnv[p.service] ?? {}),
    };
  };
  const credentialsKey = randomBytes(32).toString('base64');
  const start = async (name: string): Promise<void> => {
    const service = processes.get(name)?.service ?? '';
    const entry = ENTRIES[service];
    if (!entry) throw new Error(`unknown service ${name}`);
    const env = envFor(name);
    if (service === 'channel-router') env['CHANNEL_CREDENTIALS_KEY'] = credentialsKey;
    const child = spawnNode(path.join(ROOT, entry), { name, cwd: ROOT, env });
    children.set(name, child);
    await waitServing(name, grpcAddress(name), child);
  };
  // Order: account first (others open accounts in it), then the rest in parallel; the
  // first replicas migrate the schemas, the others start together once they are up.
  try {
    await start('account');
    await Promise.all([start('ledger'), start('channel-router')]);
    await start('cashier');
    await start('reconciliation');
    await start('settlement');
    await Promise.all([...processes.keys()].filter((name) => !(name in ENTRIES)).map((name) => start(name)));
  } catch (err) {
    // A platform that fails to start leaves nothing behind: no process, no database.
    for (const child of children.values()) if (!child.hasExited()) child.kill('SIGKILL');
    await Promise.all([...children.values()].map((child) => child.exited));
    rotating = false;
    clearInterval(tokenRotation);
    await database.drop();
    throw err;
  }

  const notifications: ReceivedNotification[] = [];
  const failures = { left: 0 };
  const webhook = await startWebhook(notifications, failures);
  const options = { token: () => token, defaultDeadlineMs: 30_000 };
  const address = target;
  const perReplica = <C>(service: string, make: (address: string) => C): C[] =>
    names(service).map((name) => make(grpcAddress(name)));
  const replicaClients: ReplicaClients = {
    cashier: perReplica('cashier', (a) => createClient(CashierServiceClient, { address: a, ...options })),
    account: perReplica('account', (a) => createClient(AccountServiceClient, { address: a, ...options })),
    ledger: perReplica('ledger', (a) => createClient(LedgerServiceClient, { address: a, ...options })),
    channel: perReplica('channel-router', (a) =>
      createClient(ChannelServiceClient, { address: a, ...options }),
    ),
    recon: perReplica('reconciliation', (a) =>
      createClient(ReconciliationServiceClient, { address: a, ...options }),
    ),
    settlement: perReplica('settlement', (a) =>
      createClient(SettlementServiceClient, { address: a, ...options }),
    ),
  };
  const pg = new PgClient({ connectionString: database.url });
  await pg.connect();
  const paycore = createPaycoreClient({
    endpoints: loadEndpointsFile(endpointsFile),
    token: tokenFromFile(tokenFile),
    defaultDeadlineMs: 30_000,
    propagate: (metadata: Metadata) =>
      propagation.inject(otelContext.active(), metadata, { set: (m, key, value) => m.set(key, value) }),
  });

  return {
    sandboxUrl,
    endpointsFile,
    privateKeyFile,
    tokenIssuer: minter.issuer,
    paycore,
    cashier: createClient(CashierServiceClient, { address: address('cashier'), ...options }),
    account: createClient(AccountServiceClient, { address: address('account'), ...options }),
    storedValue: createClient(StoredValueServiceClient, { address: address('account'), ...options }),
    ledger: createClient(LedgerServiceClient, { address: address('ledger'), ...options }),
    channel: createClient(ChannelServiceClient, { address: address('channel-router'), ...options }),
    recon: createClient(ReconciliationServiceClient, { address: address('reconciliation'), ...options }),
    reconHttpUrl: `http://127.0.0.1:${processes.get('reconciliation')?.http ?? 0}`,
    settlement: createClient(SettlementServiceClient, { address: address('settlement'), ...options }),
    replicaClients,
    replicaNames: (service: string) => names(service),
    settlementReplica: (name: string) =>
      createClient(SettlementServiceClient, { address: grpcAddress(name), ...options }),
    notifyUrl: webhook.url,
    databaseName: database.name,
    natsPrefix: prefix,
    httpAddress(name: string): string {
      const p = processes.get(name);
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
      rotating = false;
      clearInterval(tokenRotation);
      paycore.close();
      await pg.end();
      webhook.server.close();
      for (const name of [
        ...names('reconciliation'),
        ...names('settlement'),
        ...names('cashier'),
        ...names('channel-router'),
        ...names('ledger'),
        ...names('account'),
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
