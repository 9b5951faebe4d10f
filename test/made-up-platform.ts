/**
 * The whole platform exactly as `make up` starts it (scripts/up.sh with the
 * real deploy/services.json), isolated for a test: its own run directory,
 * database, NATS prefix and port range. `stop()` runs scripts/down.sh, drops
 * the database and deletes the prefix's streams.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client as PgClient } from 'pg';
import { connectNats, streamName } from '@paycore/platform';

const ROOT = path.resolve(__dirname, '..');
const SCRIPT_TIMEOUT_MS = 240_000;
const SYSTEM_PG_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const SYSTEM_NATS_URL = 'nats://127.0.0.1:4222';
/** Bounded contexts whose streams the services of deploy/services.json declare. */
export const PLATFORM_CONTEXTS = ['account', 'ledger', 'channel', 'cashier'] as const;

export interface MadeUpPlatform {
  readonly runDir: string;
  readonly root: string;
  stop(): Promise<void>;
}

function runScript(
  script: string,
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv['DATABASE_URL'];
  delete childEnv['NATS_URL'];
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(ROOT, 'scripts', script), [], {
      cwd: ROOT,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not finish in ${SCRIPT_TIMEOUT_MS} ms\n${output}`));
    }, SCRIPT_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

export async function startMadeUpPlatform(label: string): Promise<MadeUpPlatform> {
  const root = path.join(tmpdir(), `paycore-${label}-${randomBytes(6).toString('hex')}`);
  mkdirSync(root);
  // The embedded Postgres fallback runs as the postgres user, which must reach the run directory.
  chmodSync(root, 0o755);
  const runDir = path.join(root, 'run');
  const database = `paycore_t_${randomBytes(6).toString('hex')}`;
  const natsPrefix = `t${randomBytes(6).toString('hex')}`;
  const grpcBase = 20_000 + Math.floor(Math.random() * 400) * 10;
  const env: Record<string, string> = {
    PAYCORE_RUN_DIR: runDir,
    PAYCORE_PG_DATABASE: database,
    NATS_PREFIX: natsPrefix,
    PAYCORE_GRPC_PORT_BASE: String(grpcBase),
    PAYCORE_HTTP_PORT_BASE: String(grpcBase + 5_000),
  };
  const stop = async (): Promise<void> => {
    await runScript('down.sh', env);
    const pg = new PgClient({ connectionString: SYSTEM_PG_ADMIN_URL, connectionTimeoutMillis: 5_000 });
    await pg.connect();
    try {
      await pg.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    } finally {
      await pg.end();
    }
    const nats = await connectNats({ servers: SYSTEM_NATS_URL, name: `${label}-cleanup`, reconnect: false });
    try {
      // The streams the platform's services declare (one per bounded context).
      for (const name of PLATFORM_CONTEXTS.map((context) => streamName(natsPrefix, context)))
        await nats.jsm.streams.delete(name).catch(() => false);
    } finally {
      await nats.nc.close();
    }
    rmSync(root, { recursive: true, force: true });
  };
  const up = await runScript('up.sh', env);
  if (up.code !== 0) {
    await stop().catch(() => undefined);
    throw new Error(`make up failed (exit ${up.code}):\n${up.output}`);
  }
  return { runDir, root, stop };
}
