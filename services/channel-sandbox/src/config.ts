/**
 * The sandbox's settings, from the environment. Durations in the channels'
 * retry schedules are real-world values divided by `timeScale`, so a test can
 * watch a 24-hour Alipay schedule play out in a second.
 */
export interface SandboxConfig {
  readonly httpPort: number;
  readonly host: string;
  /** Divides every channel-side duration (retry schedules, payout settling). 1 = real time. */
  readonly timeScale: number;
  readonly logLevel: string;
  /** Where key material is loaded from or written to; absent = generate in memory. */
  readonly keysDir?: string;
  /** When set, every created order is paid by a simulated payer after this many (unscaled) ms. */
  readonly autoPayAfterMs?: number;
  /** The URL other processes reach this sandbox at (used in bill download URLs); defaults to http://127.0.0.1:<port>. */
  readonly publicUrl?: string;
}

const TIME_SCALE_MAX = 1_000_000;

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer in [${min}, ${max}], got "${raw}"`);
  }
  return value;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): SandboxConfig {
  const autoPay = env.SANDBOX_AUTO_PAY_MS;
  return {
    httpPort: integer(env, 'HTTP_PORT', 8090, 0, 65535),
    host: env.HTTP_HOST ?? '0.0.0.0',
    timeScale: integer(env, 'SANDBOX_TIME_SCALE', 1, 1, TIME_SCALE_MAX),
    logLevel: env.LOG_LEVEL ?? 'info',
    ...(env.SANDBOX_KEYS_DIR ? { keysDir: env.SANDBOX_KEYS_DIR } : {}),
    ...(autoPay !== undefined && autoPay !== ''
      ? { autoPayAfterMs: integer(env, 'SANDBOX_AUTO_PAY_MS', 0, 0, 86_400_000) }
      : {}),
    ...(env.SANDBOX_PUBLIC_URL ? { publicUrl: env.SANDBOX_PUBLIC_URL } : {}),
  };
}
