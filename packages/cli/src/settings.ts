/**
 * The CLI's settings, from three layers with the precedence
 * flag > environment > config-file profile (the Temporal CLI's model).
 *
 * Config file: TOML at PAYCORE_CONFIG_FILE (or --config), default
 * ~/.config/paycore/config.toml; one table per profile:
 *
 *   [profile.default]
 *   run_dir = "/home/me/paycore/.run"     # where `make up` keeps endpoints, keys, spans, logs
 *   output = "text"                       # text | json | jsonl
 *   deadline_ms = 10000
 *   subject = "team-checkout"             # sub of minted tokens
 *   [profile.default.address]             # per-service gRPC addresses (override the endpoints file)
 *   cashier = "127.0.0.1:50054"
 *
 * Token: the highest layer that names a token source wins — `token`, else
 * `token_file`, else `private_key_file` (mint per command, only the scopes
 * it needs); with none anywhere, the local platform's key pair
 * `<run_dir>/jwt/private.pem` is used to mint, else `<run_dir>/dev-token`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';

export const OUTPUT_FORMATS = ['text', 'json', 'jsonl'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** One layer's raw values; every field optional. */
export interface Layer {
  runDir?: string;
  endpointsFile?: string;
  output?: string;
  deadlineMs?: string;
  token?: string;
  tokenFile?: string;
  privateKeyFile?: string;
  subject?: string;
  issuer?: string;
  audience?: string;
  addresses?: Record<string, string>;
}

export type TokenSource =
  | { readonly kind: 'static'; readonly token: string }
  | { readonly kind: 'file'; readonly file: string }
  | { readonly kind: 'mint'; readonly privateKeyFile: string };

export interface Settings {
  readonly profile: string;
  readonly runDir: string;
  readonly endpointsFile: string;
  readonly output: OutputFormat;
  readonly deadlineMs: number;
  readonly subject: string;
  readonly issuer: string;
  readonly audience: string;
  readonly addresses: Readonly<Record<string, string>>;
  readonly tokenSource: TokenSource | undefined;
}

const DEADLINE_MS_MIN = 100;
const DEADLINE_MS_MAX = 600_000;
const CONFIG_BYTES_MAX = 256 * 1024;
const ADDRESSES_MAX = 100;
const KEYS: readonly (keyof Omit<Layer, 'addresses'>)[] = [
  'runDir',
  'endpointsFile',
  'output',
  'deadlineMs',
  'token',
  'tokenFile',
  'privateKeyFile',
  'subject',
  'issuer',
  'audience',
];
const ENV_NAMES: Readonly<Record<(typeof KEYS)[number], string>> = {
  runDir: 'PAYCORE_RUN_DIR',
  endpointsFile: 'PAYCORE_ENDPOINTS_FILE',
  output: 'PAYCORE_OUTPUT',
  deadlineMs: 'PAYCORE_DEADLINE_MS',
  token: 'PAYCORE_TOKEN',
  tokenFile: 'PAYCORE_TOKEN_FILE',
  privateKeyFile: 'PAYCORE_PRIVATE_KEY_FILE',
  subject: 'PAYCORE_SUBJECT',
  issuer: 'PAYCORE_ISSUER',
  audience: 'PAYCORE_AUDIENCE',
};
const TOML_NAMES: Readonly<Record<(typeof KEYS)[number], string>> = {
  runDir: 'run_dir',
  endpointsFile: 'endpoints_file',
  output: 'output',
  deadlineMs: 'deadline_ms',
  token: 'token',
  tokenFile: 'token_file',
  privateKeyFile: 'private_key_file',
  subject: 'subject',
  issuer: 'issuer',
  audience: 'audience',
};
const ADDRESS_ENV_PREFIX = 'PAYCORE_ADDRESS_';

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

export function defaultConfigFile(env: NodeJS.ProcessEnv): string {
  return env['PAYCORE_CONFIG_FILE'] || path.join(homedir(), '.config', 'paycore', 'config.toml');
}

/** The environment layer: PAYCORE_* variables, addresses as PAYCORE_ADDRESS_CHANNEL_ROUTER=host:port. */
export function environmentLayer(env: NodeJS.ProcessEnv): Layer {
  const layer: Layer = {};
  for (const key of KEYS) {
    const value = env[ENV_NAMES[key]];
    if (value !== undefined && value !== '') layer[key] = value;
  }
  const addresses: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ADDRESS_ENV_PREFIX) || value === undefined || value === '') continue;
    addresses[name.slice(ADDRESS_ENV_PREFIX.length).toLowerCase().replace(/_/g, '-')] = value;
  }
  if (Object.keys(addresses).length > 0) layer.addresses = addresses;
  return layer;
}

/** The profile's table of a TOML config file; an absent file is an empty layer, a missing profile is an error. */
export function fileLayer(file: string, profile: string, explicit: boolean): Layer {
  if (!existsSync(file)) {
    if (explicit) throw new SettingsError(`config file ${file} does not exist`);
    return {};
  }
  const text = readFileSync(file, 'utf8');
  if (text.length > CONFIG_BYTES_MAX)
    throw new SettingsError(`config file ${file} is larger than ${CONFIG_BYTES_MAX} bytes`);
  let parsed: Record<string, unknown>;
  try {
    parsed = parseToml(text);
  } catch (err) {
    throw new SettingsError(`config file ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const profiles = (parsed['profile'] ?? {}) as Record<string, unknown>;
  const table = profiles[profile];
  if (table === undefined) {
    if (profile === 'default') return {};
    throw new SettingsError(`config file ${file} has no [profile.${profile}]`);
  }
  if (typeof table !== 'object' || table === null)
    throw new SettingsError(`${file}: [profile.${profile}] must be a table`);
  const values = table as Record<string, unknown>;
  const layer: Layer = {};
  const known = new Set<string>([...Object.values(TOML_NAMES), 'address']);
  for (const name of Object.keys(values)) {
    if (!known.has(name)) throw new SettingsError(`${file}: [profile.${profile}] has unknown key "${name}"`);
  }
  for (const key of KEYS) {
    const value = values[TOML_NAMES[key]];
    if (value === undefined) continue;
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new SettingsError(`${file}: profile.${profile}.${TOML_NAMES[key]} must be a string or number`);
    }
    layer[key] = String(value);
  }
  const addresses = values['address'];
  if (addresses !== undefined) {
    if (typeof addresses !== 'object' || addresses === null) {
      throw new SettingsError(`${file}: profile.${profile}.address must be a table`);
    }
    layer.addresses = {};
    for (const [name, value] of Object.entries(addresses)) {
      if (typeof value !== 'string')
        throw new SettingsError(`${file}: profile.${profile}.address.${name} must be a string`);
      layer.addresses[name] = value;
    }
  }
  return layer;
}

/** The first layer (in precedence order) that has the value. */
function pick<K extends keyof Layer>(layers: readonly Layer[], key: K): Layer[K] | undefined {
  for (const layer of layers) if (layer[key] !== undefined) return layer[key];
  return undefined;
}

function tokenSourceOf(layer: Layer): TokenSource | undefined {
  if (layer.token !== undefined) return { kind: 'static', token: layer.token };
  if (layer.tokenFile !== undefined) return { kind: 'file', file: layer.tokenFile };
  if (layer.privateKeyFile !== undefined) return { kind: 'mint', privateKeyFile: layer.privateKeyFile };
  return undefined;
}

/** Looks upwards from `start` for a `.run/endpoints.json` (a checkout that ran `make up`). */
export function findRunDir(start: string): string | undefined {
  let dir = path.resolve(start);
  for (let depth = 0; depth < 30; depth += 1) {
    if (existsSync(path.join(dir, '.run', 'endpoints.json'))) return path.join(dir, '.run');
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
  return undefined;
}

/** Merges the layers, highest precedence first: [flags, environment, file]. */
export function resolveSettings(profile: string, layers: readonly Layer[], cwd: string): Settings {
  const runDir = path.resolve(cwd, pick(layers, 'runDir') ?? findRunDir(cwd) ?? '.run');
  const output = pick(layers, 'output') ?? 'text';
  if (!(OUTPUT_FORMATS as readonly string[]).includes(output)) {
    throw new SettingsError(`output must be one of ${OUTPUT_FORMATS.join(', ')}, got "${output}"`);
  }
  const deadlineText = pick(layers, 'deadlineMs') ?? '10000';
  const deadlineMs = Number(deadlineText);
  if (!Number.isInteger(deadlineMs) || deadlineMs < DEADLINE_MS_MIN || deadlineMs > DEADLINE_MS_MAX) {
    throw new SettingsError(`deadline_ms must be an integer in ${DEADLINE_MS_MIN}..${DEADLINE_MS_MAX}`);
  }
  const addresses: Record<string, string> = {};
  for (const layer of [...layers].reverse()) Object.assign(addresses, layer.addresses ?? {});
  if (Object.keys(addresses).length > ADDRESSES_MAX)
    throw new SettingsError(`more than ${ADDRESSES_MAX} addresses`);
  let tokenSource: TokenSource | undefined;
  for (const layer of layers) {
    tokenSource = tokenSourceOf(layer);
    if (tokenSource) break;
  }
  return {
    profile,
    runDir,
    endpointsFile: path.resolve(cwd, pick(layers, 'endpointsFile') ?? path.join(runDir, 'endpoints.json')),
    output: output as OutputFormat,
    deadlineMs,
    subject: pick(layers, 'subject') ?? 'paycore-cli',
    issuer: pick(layers, 'issuer') ?? 'paycore-dev',
    audience: pick(layers, 'audience') ?? 'paycore',
    addresses,
    tokenSource,
  };
}
