/**
 * A NATS server with JetStream that belongs to one test: its own port and its
 * own store directory, so the test may stop, kill and restart it without
 * touching the machine's shared server. restart() reuses port and store, so
 * streams, consumers and their acknowledged state survive as they would in
 * production.
 */
import { rememberTestPrefix } from './nats-cleanup';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './process';

export interface NatsServerHandle {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** SIGTERM and wait for exit (JetStream flushes its store). */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  /** Starts again on the same port with the same store directory. */
  restart(): Promise<void>;
  /** Stops if running and removes the store directory. */
  cleanup(): Promise<void>;
  /** Last lines the server wrote, for failure messages. */
  logTail(): string;
}

export interface StartNatsServerOptions {
  readonly port?: number;
  /** Bound on the wait for the server to accept connections. Default 10000. */
  readonly startTimeoutMs?: number;
}

const STOP_TIMEOUT_MS = 10_000;
const LOG_LINES_MAX = 200;

function natsServerBinary(): string {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    if (dir !== '' && existsSync(join(dir, 'nats-server'))) return join(dir, 'nats-server');
  }
  return '/usr/sbin/nats-server';
}

/** A per-run prefix for stream names and subjects, e.g. `T3F9A1C` (see EventNaming). */
export function testPrefix(): string {
  const prefix = `T${randomBytes(4).toString('hex').toUpperCase()}`;
  rememberTestPrefix(prefix);
  return prefix;
}

/** Resolves when the port answers with the NATS INFO banner. */
async function waitUntilAccepting(port: number, timeoutMs: number, isAlive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error('nats-server exited during start');
    const ok = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect({ host: '127.0.0.1', port });
      const done = (value: boolean): void => {
        socket.destroy();
        resolve(value);
      };
      socket.setTimeout(1_000, () => done(false));
      socket.once('error', () => done(false));
      socket.once('data', (chunk: Buffer) => done(chunk.toString('utf8').startsWith('INFO')));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nats-server did not accept connections on ${port} within ${timeoutMs} ms`);
}

export async function startNatsServer(options: StartNatsServerOptions = {}): Promise<NatsServerHandle> {
  const port = options.port ?? (await freePort());
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const storeDir = await mkdtemp(join(tmpdir(), 'paycore-nats-'));
  const binary = natsServerBinary();
  const log: string[] = [];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const launch = async (): Promise<void> => {
    const proc = spawn(binary, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let alive = true;
    exited = new Promise<void>((resolve) => {
      proc.once('exit', () => {
        alive = false;
        resolve();
      });
    });
    const keep = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        log.push(line);
        if (log.length > LOG_LINES_MAX) log.shift();
      }
    };
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    child = proc;
    try {
      await waitUntilAccepting(port, startTimeoutMs, () => alive);
    } catch (error) {
      proc.kill('SIGKILL');
      throw new Error(
        `${error instanceof Error ? error.message : String(error)}\n${log.slice(-20).join('\n')}`,
      );
    }
  };

  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill(signal);
    const timedOut = await Promise.race([exited.then(() => false), sleep(STOP_TIMEOUT_MS).then(() => true)]);
    if (timedOut) {
      proc.kill('SIGKILL');
      await exited;
    }
  };

  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    stop: () => terminate('SIGTERM'),
    kill: () => terminate('SIGKILL'),
    restart: async () => {
      await terminate('SIGTERM');
      await launch();
    },
    cleanup: async () => {
      await terminate('SIGTERM');
      await rm(storeDir, { recursive: true, force: true });
    },
    logTail: () => log.slice(-40).join('\n'),
  };
}
