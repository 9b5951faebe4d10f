/**
 * Configuration is read once, from the environment, at start-up. A missing or
 * malformed setting stops the process with a message that names the variable,
 * so an operator never has to guess which of twenty settings is wrong.
 */

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`configuration: ${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

interface Base<T> {
  /** Value used when the variable is unset or empty. Without it the variable is required. */
  readonly default?: T;
  readonly description?: string;
}

export interface StringSpec extends Base<string> {
  readonly kind: 'string';
  readonly pattern?: RegExp;
}
export interface IntSpec extends Base<number> {
  readonly kind: 'int';
  readonly min?: number;
  readonly max?: number;
}
export interface BoolSpec extends Base<boolean> {
  readonly kind: 'bool';
}
export interface UrlSpec extends Base<string> {
  readonly kind: 'url';
  readonly protocols: readonly string[];
}
export interface EnumSpec<E extends string> extends Base<E> {
  readonly kind: 'enum';
  readonly values: readonly E[];
}
export interface OptionalStringSpec {
  readonly kind: 'optional';
  readonly description?: string;
}

export type Spec = StringSpec | IntSpec | BoolSpec | UrlSpec | EnumSpec<string> | OptionalStringSpec;

type ValueOf<S> = S extends IntSpec
  ? number
  : S extends BoolSpec
    ? boolean
    : S extends EnumSpec<infer E>
      ? E
      : S extends OptionalStringSpec
        ? string | undefined
        : string;

export type ConfigOf<T extends Record<string, Spec>> = { readonly [K in keyof T]: ValueOf<T[K]> };

export const str = (opts: Omit<StringSpec, 'kind'> = {}): StringSpec => ({ kind: 'string', ...opts });
export const int = (opts: Omit<IntSpec, 'kind'> = {}): IntSpec => ({ kind: 'int', ...opts });
export const bool = (opts: Omit<BoolSpec, 'kind'> = {}): BoolSpec => ({ kind: 'bool', ...opts });
export const url = (opts: Omit<UrlSpec, 'kind'>): UrlSpec => ({ kind: 'url', ...opts });
export const oneOf = <E extends string>(
  values: readonly E[],
  opts: Omit<Base<E>, never> = {},
): EnumSpec<E> => ({
  kind: 'enum',
  values,
  ...opts,
});
export const optional = (description?: string): OptionalStringSpec =>
  description === undefined ? { kind: 'optional' } : { kind: 'optional', description };

function parseOne(name: string, raw: string | undefined, spec: Spec): unknown {
  const value = raw === undefined || raw.trim() === '' ? undefined : raw.trim();
  if (spec.kind === 'optional') return value;
  if (value === undefined) {
    if (spec.default !== undefined) return spec.default;
    throw new ConfigError(
      name,
      'is required but not set' + (spec.description ? ` (${spec.description})` : ''),
    );
  }
  switch (spec.kind) {
    case 'string':
      if (spec.pattern && !spec.pattern.test(value)) {
        throw new ConfigError(name, `must match ${String(spec.pattern)}, got "${value}"`);
      }
      return value;
    case 'int': {
      if (!/^-?\d+$/.test(value)) throw new ConfigError(name, `must be an integer, got "${value}"`);
      const n = Number(value);
      if (!Number.isSafeInteger(n)) throw new ConfigError(name, `is out of range: "${value}"`);
      if (spec.min !== undefined && n < spec.min)
        throw new ConfigError(name, `must be >= ${spec.min}, got ${n}`);
      if (spec.max !== undefined && n > spec.max)
        throw new ConfigError(name, `must be <= ${spec.max}, got ${n}`);
      return n;
    }
    case 'bool':
      if (['1', 'true', 'yes', 'on'].includes(value.toLowerCase())) return true;
      if (['0', 'false', 'no', 'off'].includes(value.toLowerCase())) return false;
      throw new ConfigError(name, `must be true or false, got "${value}"`);
    case 'url': {
      let parsed: URL;
      try {
        parsed = new URL(value);
      } catch {
        throw new ConfigError(name, `must be a URL, got "${redactUrl(value)}"`);
      }
      const protocol = parsed.protocol.replace(/:$/, '');
      if (!spec.protocols.includes(protocol)) {
        throw new ConfigError(name, `must use ${spec.protocols.join(' or ')}, got "${protocol}"`);
      }
      return value;
    }
    case 'enum':
      if (!spec.values.includes(value)) {
        throw new ConfigError(name, `must be one of ${spec.values.join(', ')}, got "${value}"`);
      }
      return value;
  }
}

/** Never print a password embedded in a URL. */
export function redactUrl(value: string): string {
  return value.replace(/\/\/([^:/@]+):([^@]+)@/, '//$1:***@');
}

/**
 * Reads every variable of `schema` from `env` and returns a frozen object.
 * All problems are collected and reported together, one variable per line.
 */
export function loadConfig<T extends Record<string, Spec>>(schema: T, env: Env = process.env): ConfigOf<T> {
  const out: Record<string, unknown> = {};
  const problems: ConfigError[] = [];
  for (const [name, spec] of Object.entries(schema)) {
    try {
      out[name] = parseOne(name, env[name], spec);
    } catch (err) {
      if (err instanceof ConfigError) problems.push(err);
      else throw err;
    }
  }
  if (problems.length === 1 && problems[0]) throw problems[0];
  if (problems.length > 1) {
    throw new ConfigError(
      problems.map((p) => p.variable).join(', '),
      problems.map((p) => p.message).join('; '),
    );
  }
  return Object.freeze(out) as ConfigOf<T>;
}

/** Settings every paycore service reads; services extend this with their own. */
export const serviceConfigSchema = {
  SERVICE_NAME: str({ pattern: /^[a-z][a-z0-9-]{1,40}$/, description: 'service name, e.g. account' }),
  GRPC_HOST: str({ default: '0.0.0.0' }),
  GRPC_PORT: int({ min: 0, max: 65535, default: 50051 }),
  HTTP_PORT: int({ min: 0, max: 65535, default: 9464, description: 'metrics, health and callbacks' }),
  /** Required by services that own a schema; runService checks it (ConfigError naming the variable). */
  DATABASE_URL: optional('Postgres connection URL, postgres://user@host:port/db'),
  DATABASE_POOL_SIZE_MAX: int({ min: 1, max: 200, default: 10 }),
  NATS_URL: str({ default: 'nats://127.0.0.1:4222', pattern: /^(nats|tls|wss?):\/\/\S+$/ }),
  NATS_PREFIX: str({ default: '', pattern: /^[A-Za-z0-9_]*$/ }),
  AUTH_JWT_PUBLIC_KEY_FILE: optional('PEM (SPKI) public key that verifies caller tokens'),
  AUTH_JWT_PUBLIC_KEY: optional('PEM (SPKI) public key, inline'),
  AUTH_JWT_ISSUER: str({ default: 'paycore-dev' }),
  AUTH_JWT_AUDIENCE: str({ default: 'paycore' }),
  AUTH_JWT_ALGORITHMS: str({ default: 'EdDSA,ES256,RS256', pattern: /^[A-Za-z0-9,]+$/ }),
  AUTH_DISABLED: bool({ default: false, description: 'local experiments only; never in production' }),
  GRPC_TLS_CERT_FILE: optional(),
  GRPC_TLS_KEY_FILE: optional(),
  BIZ_CATALOGUE_FILE: optional('path of the context-code catalogue; defaults to config/biz-catalogue.json'),
  ENDPOINTS_FILE: optional('JSON map of service name to host:port, written by make up'),
  SERVICE_TOKEN_FILE: optional(
    'bearer token (a file) this service sends when it calls other paycore services',
  ),
  LOG_LEVEL: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const, {
    default: 'info',
  }),
  SHUTDOWN_GRACE_MS: int({ min: 0, max: 120_000, default: 10_000 }),
  OUTBOX_RELAY_BACKSTOP_MS: int({
    min: 10,
    max: 60_000,
    default: 2_000,
    description: 'longest wait of an idle outbox relay without a wake-up (the slow poll)',
  }),
  WAKEUP_NOTIFY_PEERS: bool({
    default: true,
    description: 'send local wake-ups (new outbox rows, …) to peer processes as Postgres NOTIFY',
  }),
  READINESS_INTERVAL_MS: int({
    min: 100,
    max: 60_000,
    default: 5_000,
    description: 'how often the health status re-checks Postgres and NATS',
  }),
  METRICS_EVENT_LOOP_RESOLUTION_MS: int({
    min: 1,
    max: 10_000,
    default: 100,
    description:
      'sampling interval of the event-loop delay histogram (nodejs_eventloop_lag_*_seconds read this interval plus the delay); each sample wakes the process',
  }),
} as const;

export type ServiceConfig = ConfigOf<typeof serviceConfigSchema>;
