/**
 * Where the bearer token of a call comes from.
 *
 * - `staticToken(jwt)`: a token you already hold;
 * - `tokenFile(path)`: a file that some other process keeps fresh (a
 *   Kubernetes projected token, `.run/dev-token`); re-read when it changes;
 * - `mintedToken({ privateKeyPem, scopes, ... })`: signs its own short-lived
 *   token with only the scopes asked for, and signs a new one before the old
 *   one expires. This is what the `paycore` CLI uses against the local
 *   platform (the development key pair under `.run/jwt/`): each command asks
 *   for exactly the scopes it needs.
 *
 * Claims follow the services' verifier: iss, aud, sub, `scope`
 * (space-separated), iat, exp. The algorithm comes from the key (Ed25519 →
 * EdDSA, P-256 → ES256, RSA → RS256).
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { SignJWT } from 'jose';

export interface TokenProvider {
  /** The token to send now; resolves quickly from a cache in the common case. */
  token(): Promise<string>;
}

const SCOPE_PATTERN = /^[a-z][a-z0-9-]{0,40}:[a-z][a-z0-9-]{0,40}$/;
const SCOPES_MAX = 100;
const TOKEN_BYTES_MAX = 16 * 1024;
const LIFETIME_SECONDS_MIN = 30;
const LIFETIME_SECONDS_MAX = 24 * 60 * 60;

export function staticToken(token: string): TokenProvider {
  const trimmed = token.trim();
  if (trimmed === '') throw new TypeError('static token is empty');
  return { token: () => Promise.resolve(trimmed) };
}

/** Reads the token from a file, again whenever the file's mtime or size changes. */
export function tokenFile(file: string): TokenProvider {
  let cached: { mtimeMs: number; size: number; token: string } | undefined;
  return {
    token() {
      const stat = statSync(file);
      if (stat.size > TOKEN_BYTES_MAX)
        throw new Error(`token file ${file} is larger than ${TOKEN_BYTES_MAX} bytes`);
      if (!cached || cached.mtimeMs !== stat.mtimeMs || cached.size !== stat.size) {
        const token = readFileSync(file, 'utf8').trim();
        if (token === '') throw new Error(`token file ${file} is empty`);
        cached = { mtimeMs: stat.mtimeMs, size: stat.size, token };
      }
      return Promise.resolve(cached.token);
    },
  };
}

export interface MintOptions {
  /** PKCS#8 PEM of the issuer's private key. */
  readonly privateKeyPem: string;
  /** Scopes the token grants, e.g. `['cashier:read']`; only what the caller needs. */
  readonly scopes: readonly string[];
  readonly issuer: string;
  readonly audience: string;
  /** Who is calling (`sub`): a team or service name. */
  readonly subject: string;
  /** Token lifetime, seconds (30 s .. 24 h; default 300). */
  readonly lifetimeSeconds?: number;
  /** Clock for tests, ms since the epoch. */
  readonly nowMs?: () => number;
}

function algorithmFor(key: KeyObject): string {
  switch (key.asymmetricKeyType) {
    case 'ed25519':
      return 'EdDSA';
    case 'ec':
      return 'ES256';
    case 'rsa':
      return 'RS256';
    default:
      throw new Error(`unsupported private key type ${String(key.asymmetricKeyType)}`);
  }
}

export function checkScopes(scopes: readonly string[]): string[] {
  const unique = [...new Set(scopes)];
  if (unique.length > SCOPES_MAX) throw new RangeError(`more than ${SCOPES_MAX} scopes`);
  for (const scope of unique) {
    if (!SCOPE_PATTERN.test(scope)) throw new TypeError(`scope "${scope}" must look like "cashier:read"`);
  }
  return unique;
}

/** Mints tokens itself; a new one when less than a fifth of the lifetime is left. */
export function mintedToken(options: MintOptions): TokenProvider {
  const lifetimeSeconds = options.lifetimeSeconds ?? 300;
  if (
    !Number.isInteger(lifetimeSeconds) ||
    lifetimeSeconds < LIFETIME_SECONDS_MIN ||
    lifetimeSeconds > LIFETIME_SECONDS_MAX
  ) {
    throw new RangeError(
      `lifetimeSeconds must be an integer in ${LIFETIME_SECONDS_MIN}..${LIFETIME_SECONDS_MAX}`,
    );
  }
  const scopes = checkScopes(options.scopes);
  const key = createPrivateKey(options.privateKeyPem);
  const algorithm = algorithmFor(key);
  const now = options.nowMs ?? Date.now;
  let cached: { token: string; renewAtMs: number } | undefined;
  return {
    async token() {
      if (cached && now() < cached.renewAtMs) return cached.token;
      const issuedAtSeconds = Math.floor(now() / 1000);
      const token = await new SignJWT({ scope: scopes.join(' ') })
        .setProtectedHeader({ alg: algorithm, typ: 'JWT' })
        .setIssuer(options.issuer)
        .setAudience(options.audience)
        .setSubject(options.subject)
        .setIssuedAt(issuedAtSeconds)
        .setExpirationTime(issuedAtSeconds + lifetimeSeconds)
        .sign(key);
      cached = { token, renewAtMs: (issuedAtSeconds + Math.floor((lifetimeSeconds * 4) / 5)) * 1000 };
      return token;
    },
  };
}
