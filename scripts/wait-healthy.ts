/**
 * Waits until every service in `<run dir>/endpoints.json` answers
 * `grpc.health.v1.Health/Check` with SERVING, and every service that is only
 * in `<run dir>/http-endpoints.json` (one without gRPC, such as the channel
 * sandbox) answers `GET /healthz` with 200, polling each with a per-call
 * deadline, within one overall bound (default 60 s). A service whose process has
 * died fails at once instead of after the timeout. On failure it prints the tail
 * of that service's log and exits 1, so `make up` never reports a half-started
 * platform as ready.
 *
 * Usage: tsx scripts/wait-healthy.ts
 * Environment: PAYCORE_RUN_DIR (default <repo>/.run), PAYCORE_HEALTH_TIMEOUT_MS
 * (default 60000).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, credentials, type ServiceError } from '@grpc/grpc-js';
import {
  HealthCheckResponse_ServingStatus,
  HealthService,
  healthCheckResponse_ServingStatusToJSON,
  type HealthCheckRequest,
  type HealthCheckResponse,
} from '@paycore/proto/grpc/health/v1/health';

const CALL_DEADLINE_MS = 2_000;
const POLL_INTERVAL_MS = 250;
const TIMEOUT_MS_DEFAULT = 60_000;
const TIMEOUT_MS_MAX = 600_000;
const LOG_TAIL_LINES = 40;
const SERVICES_MAX = 100;

export type Endpoints = Readonly<Record<string, string>>;

export function readEndpoints(file: string): Endpoints {
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${file}: expected {"<service>": "<host>:<port>", ...}`);
  }
  const endpoints: Record<string, string> = {};
  for (const [name, address] of Object.entries(parsed)) {
    if (typeof address !== 'string' || !/^[^\s:]+:\d{1,5}$/.test(address)) {
      throw new Error(`${file}: "${name}" must map to "host:port"`);
    }
    endpoints[name] = address;
  }
  if (Object.keys(endpoints).length > SERVICES_MAX)
    throw new Error(`${file}: more than ${SERVICES_MAX} services`);
  return endpoints;
}

/** One Health/Check call; resolves with the status or the gRPC error's text. */
export function checkHealth(client: Client, deadlineMs: number = CALL_DEADLINE_MS): Promise<string> {
  const request: HealthCheckRequest = { service: '' };
  return new Promise((resolve) => {
    client.makeUnaryRequest<HealthCheckRequest, HealthCheckResponse>(
      HealthService.check.path,
      HealthService.check.requestSerialize,
      HealthService.check.responseDeserialize,
      request,
      { deadline: Date.now() + deadlineMs },
      (error: ServiceError | null, response?: HealthCheckResponse) => {
        if (error) resolve(`error: ${error.details || error.message}`);
        else if (response === undefined) resolve('error: empty response');
        else resolve(healthCheckResponse_ServingStatusToJSON(response.status));
      },
    );
  });
}

/** One `GET http://<address>/healthz`; resolves "SERVING" on 200, else what went wrong. */
export async function checkHttpHealth(
  address: string,
  deadlineMs: number = CALL_DEADLINE_MS,
): Promise<string> {
  try {
    const response = await fetch(`http://${address}/healthz`, { signal: AbortSignal.timeout(deadlineMs) });
    await response.arrayBuffer();
    return response.status === 200 ? SERVING : `error: /healthz answered ${response.status}`;
  } catch (error) {
    return `error: ${error instanceof Error ? error.message : String(error)}`;
  }
}

const SERVING = healthCheckResponse_ServingStatusToJSON(HealthCheckResponse_ServingStatus.SERVING);

/** True while the pid recorded by up.sh names a live process; true when nothing is recorded. */
function processAlive(pidFile: string): boolean {
  if (!existsSync(pidFile)) return true;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isSafeInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still accepts signal 0; its state letter in /proc says it has exited.
  // Without /proc (not Linux) signal 0 is all there is to go on.
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return !existsSync('/proc/self/stat');
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  return state !== 'Z';
}

function logTail(logFile: string): string {
  if (!existsSync(logFile)) return `(no log at ${logFile})`;
  const lines = readFileSync(logFile, 'utf8').trimEnd().split('\n');
  return lines.slice(-LOG_TAIL_LINES).join('\n');
}

interface WaitResult {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

type Probe = 'grpc' | 'http';

async function waitForOne(
  name: string,
  address: string,
  probe: Probe,
  runDirectory: string,
  deadline: number,
): Promise<WaitResult> {
  const client = probe === 'grpc' ? new Client(address, credentials.createInsecure()) : undefined;
  const started = Date.now();
  const pidFile = path.join(runDirectory, 'pids', `${name}.pid`);
  let last = 'not called yet';
  try {
    while (Date.now() < deadline) {
      if (!processAlive(pidFile)) return { name, ok: false, detail: `process exited (last check: ${last})` };
      const callDeadlineMs = Math.min(CALL_DEADLINE_MS, Math.max(1, deadline - Date.now()));
      last =
        client !== undefined
          ? await checkHealth(client, callDeadlineMs)
          : await checkHttpHealth(address, callDeadlineMs);
      if (last === SERVING) {
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        process.stdout.write(
          `  ${name} ${probe === 'http' ? 'http://' : ''}${address} SERVING after ${seconds}s\n`,
        );
        return { name, ok: true, detail: last };
      }
      await sleep(POLL_INTERVAL_MS);
    }
    return { name, ok: false, detail: `not SERVING in time (last check: ${last})` };
  } finally {
    client?.close();
  }
}

export async function waitHealthy(runDirectory: string, timeoutMs: number): Promise<boolean> {
  const endpointsFile = path.join(runDirectory, 'endpoints.json');
  const endpoints = readEndpoints(endpointsFile);
  const httpEndpointsFile = path.join(runDirectory, 'http-endpoints.json');
  const httpEndpoints = existsSync(httpEndpointsFile) ? readEndpoints(httpEndpointsFile) : {};
  const probes: [string, string, Probe][] = [
    ...Object.entries(endpoints).map(([name, address]): [string, string, Probe] => [name, address, 'grpc']),
    ...Object.entries(httpEndpoints)
      .filter(([name]) => endpoints[name] === undefined)
      .map(([name, address]): [string, string, Probe] => [name, address, 'http']),
  ];
  const names = probes.map(([name]) => name);
  if (names.length === 0) {
    process.stdout.write('health: no services in the manifest; nothing to wait for\n');
    return true;
  }
  process.stdout.write(`health: waiting up to ${timeoutMs / 1000}s for ${names.join(', ')}\n`);
  const deadline = Date.now() + timeoutMs;
  const results = await Promise.all(
    probes.map(([name, address, probe]) => waitForOne(name, address, probe, runDirectory, deadline)),
  );
  const failed = results.filter((result) => !result.ok);
  for (const failure of failed) {
    const logFile = path.join(runDirectory, 'logs', `${failure.name}.log`);
    process.stderr.write(`\n${failure.name}: ${failure.detail}\n--- last lines of ${logFile} ---\n`);
    process.stderr.write(`${logTail(logFile)}\n---\n`);
  }
  return failed.length === 0;
}

function timeoutFromEnvironment(): number {
  const raw = process.env['PAYCORE_HEALTH_TIMEOUT_MS'];
  if (raw === undefined || raw === '') return TIMEOUT_MS_DEFAULT;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1 || value > TIMEOUT_MS_MAX) {
    throw new Error(`PAYCORE_HEALTH_TIMEOUT_MS must be an integer in 1..${TIMEOUT_MS_MAX}, got "${raw}"`);
  }
  return value;
}

if (require.main === module) {
  const root = path.resolve(__dirname, '..');
  const runDirectory = path.resolve(process.env['PAYCORE_RUN_DIR'] || path.join(root, '.run'));
  Promise.resolve()
    .then(() => waitHealthy(runDirectory, timeoutFromEnvironment()))
    .then((healthy) => process.exit(healthy ? 0 : 1))
    .catch((error: unknown) => {
      process.stderr.write(`wait-healthy: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    });
}
