/**
 * Child Node processes for tests that need to kill something for real
 * (SIGKILL a relay mid-batch, SIGTERM a service to test graceful shutdown).
 *
 * The child runs TypeScript through tsx like every paycore process. Its
 * stdout and stderr are split into lines and kept in memory (bounded), so a
 * test can wait for a line and print the tail when it fails; set
 * PAYCORE_TEST_VERBOSE=1 to echo them live.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

export interface SpawnNodeOptions {
  /** Added to (and overriding) the parent's environment. */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Prefix of echoed lines and of error messages. */
  readonly name: string;
}

export interface ChildHandle {
  readonly name: string;
  readonly pid: number;
  /** Lines seen so far (the most recent LINES_KEPT_MAX). */
  readonly lines: readonly string[];
  /** Resolves with the first line (already seen or future) matching `pattern`; rejects on timeout or exit. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  kill(signal: NodeJS.Signals): void;
  /** Exit code, or null when a signal ended the process. */
  readonly exited: Promise<number | null>;
  /** True once the process has exited. */
  hasExited(): boolean;
}

const LINES_KEPT_MAX = 5_000;

interface Waiter {
  readonly pattern: RegExp;
  readonly resolve: (line: string) => void;
}

// eslint-disable-next-line max-lines-per-function -- spawn, wire output, and return the handle: one linear setup
export function spawnNode(entryTs: string, options: SpawnNodeOptions): ChildHandle {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', entryTs], {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`${options.name}: spawn of ${entryTs} failed`);
  const lines: string[] = [];
  const waiters = new Set<Waiter>();
  const verbose = process.env['PAYCORE_TEST_VERBOSE'] === '1';
  let exitedFlag = false;

  const onLine = (line: string): void => {
    lines.push(line);
    if (lines.length > LINES_KEPT_MAX) lines.shift();
    if (verbose) process.stderr.write(`[${options.name}] ${line}\n`);
    for (const waiter of waiters) {
      if (waiter.pattern.test(line)) {
        waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  };
  if (child.stdout) createInterface({ input: child.stdout }).on('line', onLine);
  if (child.stderr) createInterface({ input: child.stderr }).on('line', onLine);

  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      exitedFlag = true;
      resolve(code);
    });
  });

  return {
    name: options.name,
    pid: child.pid,
    lines,
    exited,
    hasExited: () => exitedFlag,
    kill: (signal) => {
      if (!exitedFlag) child.kill(signal);
    },
    waitForLine(pattern: RegExp, timeoutMs: number): Promise<string> {
      const seen = lines.find((line) => pattern.test(line));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const tail = (): string => lines.slice(-20).join('\n');
        const waiter: Waiter = {
          pattern,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(
            new Error(
              `${options.name}: no line matching ${pattern} within ${timeoutMs} ms; last lines:\n${tail()}`,
            ),
          );
        }, timeoutMs);
        waiters.add(waiter);
        void exited.then((code) => {
          if (!waiters.delete(waiter)) return;
          clearTimeout(timer);
          reject(
            new Error(
              `${options.name}: exited (${code}) before a line matching ${pattern}; last lines:\n${tail()}`,
            ),
          );
        });
      });
    },
  };
}

/** A TCP port that was free a moment ago (the OS picked it); good enough for tests. */
/**
 * Ports for test servers come from below Linux's ephemeral range (32768-60999
 * by default): a port the kernel hands out for ephemeral use could be taken by
 * any outgoing connection (a pg client socket, say) between our check and the
 * server's bind. Each port is handed out once per process and checked free on
 * all interfaces.
 */
const TEST_PORT_MIN = 20_000;
const TEST_PORT_MAX = 32_000;
const FREE_PORT_ATTEMPTS_MAX = 200;
const handedOut = new Set<number>();

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < FREE_PORT_ATTEMPTS_MAX; attempt++) {
    const port = TEST_PORT_MIN + Math.floor(Math.random() * (TEST_PORT_MAX - TEST_PORT_MIN));
    if (handedOut.has(port)) continue;
    if (await canBind(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(
    `no free port in ${TEST_PORT_MIN}..${TEST_PORT_MAX} after ${FREE_PORT_ATTEMPTS_MAX} attempts`,
  );
}
