/**
 * Caller authentication: a bearer JWT in the `authorization` metadata entry.
 *
 * The token names the calling service or team in `sub`, is issued by a known
 * issuer for the `paycore` audience, and grants scopes (`scope`, a
 * space-separated string as in RFC 8693, or `scp`, an array). Every RPC
 * declares the one scope it needs. Services hold only the issuer's public key
 * (EdDSA, ES256 or RS256), so a compromised service cannot mint tokens.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { jwtVerify, errors as joseErrors } from 'jose';
import { ApiError } from './errors';

export interface Caller {
  readonly subject: string;
  readonly issuer: string;
  readonly scopes: ReadonlySet<string>;
}

export interface VerifierOptions {
  readonly publicKeyPem: string;
  readonly issuer: string;
  readonly audience: string;
  readonly algorithms?: readonly string[];
  /** Allowed clock skew, seconds. */
  readonly clockToleranceSeconds?: number;
}

export interface TokenVerifier {
  verify(authorization: string | undefined): Promise<Caller>;
}

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

function algorithmFor(key: KeyObject): string {
  switch (key.asymmetricKeyType) {
    case 'ed25519':
      return 'EdDSA';
    case 'ec':
      return 'ES256';
    case 'rsa':
      return 'RS256';
    default:
      throw new Error(`unsupported JWT public key type ${String(key.asymmetricKeyType)}`);
  }
}

function unauthenticated(message: string, cause: string): ApiError {
  return new ApiError('UNAUTHENTICATED', 'UNAUTHENTICATED', message, { metadata: { cause } });
}

/** Verified tokens are remembered (bounded) until shortly before they expire: callers reuse one token for many calls. */
const VERIFIED_CACHE_ENTRIES_MAX = 1024;

export function createTokenVerifier(options: VerifierOptions): TokenVerifier {
  const inner = createUncachedVerifier(options);
  const cache = new Map<string, { caller: Caller; expiresAtMs: number }>();
  return {
    async verify(authorization) {
      if (authorization !== undefined) {
        const hit = cache.get(authorization);
        if (hit && hit.expiresAtMs > Date.now()) return hit.caller;
        if (hit) cache.delete(authorization);
      }
      const { caller, expiresAtMs } = await inner(authorization);
      if (authorization !== undefined) {
        if (cache.size >= VERIFIED_CACHE_ENTRIES_MAX) {
          const oldest = cache.keys().next();
          if (oldest.done !== true) cache.delete(oldest.value);
        }
        cache.set(authorization, { caller, expiresAtMs });
      }
      return caller;
    },
  };
}

function createUncachedVerifier(
  options: VerifierOptions,
): (authorization: string | undefined) => Promise<{ caller: Caller; expiresAtMs: number }> {
  const key = createPublicKey(options.publicKeyPem);
  const keyAlgorithm = algorithmFor(key);
  const algorithms = (options.algorithms ?? [keyAlgorithm]).filter((a) => a === keyAlgorithm);
  if (algorithms.length === 0)
    throw new Error(`the public key is ${keyAlgorithm}, which is not an allowed algorithm`);
  return async (authorization) => {
    if (authorization === undefined || authorization === '') {
      throw unauthenticated('missing bearer token in "authorization" metadata', 'missing');
    }
    const match = BEARER.exec(authorization);
    if (!match?.[1]) throw unauthenticated('malformed authorization: expected "Bearer <jwt>"', 'malformed');
    try {
      const { payload } = await jwtVerify(match[1], key, {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: [...algorithms],
        clockTolerance: options.clockToleranceSeconds ?? 30,
        requiredClaims: ['sub', 'exp', 'iat'],
      });
      const raw: unknown = payload['scope'] ?? payload['scp'];
      const scopes = typeof raw === 'string' ? raw.split(' ').filter(Boolean) : Array.isArray(raw) ? raw : [];
      const caller: Caller = {
        subject: String(payload.sub),
        issuer: String(payload.iss),
        scopes: new Set(scopes.filter((s): s is string => typeof s === 'string')),
      };
      // exp is required; a token stays cached no longer than its life, nor than 60 s.
      const expiresAtMs = Math.min((payload.exp ?? 0) * 1000, Date.now() + 60_000);
      return { caller, expiresAtMs };
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw unauthenticated('token expired', 'expired');
      if (err instanceof joseErrors.JWSSignatureVerificationFailed) {
        throw unauthenticated('token signature is not valid', 'bad_signature');
      }
      if (err instanceof joseErrors.JWTClaimValidationFailed) {
        throw unauthenticated(`token claim "${err.claim}" is not valid`, 'bad_claim');
      }
      if (err instanceof joseErrors.JOSEError) throw unauthenticated('token is not valid', err.code);
      throw err;
    }
  };
}

/** Builds the verifier from service configuration, or fails start-up naming the variable. */
export function verifierFromConfig(config: {
  readonly AUTH_JWT_PUBLIC_KEY_FILE: string | undefined;
  readonly AUTH_JWT_PUBLIC_KEY: string | undefined;
  readonly AUTH_JWT_ISSUER: string;
  readonly AUTH_JWT_AUDIENCE: string;
  readonly AUTH_JWT_ALGORITHMS: string;
}): TokenVerifier {
  const pem =
    config.AUTH_JWT_PUBLIC_KEY ??
    (config.AUTH_JWT_PUBLIC_KEY_FILE !== undefined
      ? readFileSync(config.AUTH_JWT_PUBLIC_KEY_FILE, 'utf8')
      : undefined);
  if (pem === undefined) {
    throw new Error(
      'configuration: AUTH_JWT_PUBLIC_KEY_FILE: is required (or AUTH_JWT_PUBLIC_KEY, or AUTH_DISABLED=true)',
    );
  }
  return createTokenVerifier({
    publicKeyPem: pem,
    issuer: config.AUTH_JWT_ISSUER,
    audience: config.AUTH_JWT_AUDIENCE,
    algorithms: config.AUTH_JWT_ALGORITHMS.split(','),
  });
}

export function requireScope(caller: Caller, scope: string): void {
  if (!caller.scopes.has(scope)) {
    throw new ApiError(
      'PERMISSION_DENIED',
      'MISSING_SCOPE',
      `the caller "${caller.subject}" lacks scope "${scope}"`,
      {
        metadata: { scope },
      },
    );
  }
}

/**
 * The token a service sends to other paycore services, read from
 * SERVICE_TOKEN_FILE. The file is re-read when it changes (a rotated secret
 * mounted by Kubernetes), at most once a second.
 */
export function serviceTokenFromFile(file: string | undefined): () => string | undefined {
  if (file === undefined) return () => undefined;
  let cached: string | undefined;
  let readAtMs = 0;
  return () => {
    const now = Date.now();
    if (now - readAtMs >= 1000) {
      readAtMs = now;
      try {
        cached = readFileSync(file, 'utf8').trim() || undefined;
      } catch {
        cached = undefined;
      }
    }
    return cached;
  };
}
