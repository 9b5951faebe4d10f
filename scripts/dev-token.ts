/**
 * Development credentials for `make up`: an Ed25519 key pair under
 * `<run dir>/jwt/` (created once, kept across runs) and `<run dir>/dev-token`, a
 * JWT that carries every scope of every service in the services manifest, so a
 * developer (or `make demo`) can call any RPC of the local platform.
 *
 * The claims are the contract with the services' verifier:
 * iss = paycore-dev, aud = paycore, sub = dev, scope = space-separated scopes,
 * iat, exp = 30 days later; signed EdDSA (Ed25519). Services verify with
 * `AUTH_JWT_PUBLIC_KEY_FILE` = `<run dir>/jwt/public.pem`.
 *
 * Usage: tsx scripts/dev-token.ts [extra-scope ...]
 * Environment: PAYCORE_RUN_DIR (default <repo>/.run), PAYCORE_SERVICES_MANIFEST
 * (default deploy/services.json).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SignJWT, exportPKCS8, exportSPKI, generateKeyPair, importPKCS8 } from 'jose';

export const DEV_TOKEN_ISSUER = 'paycore-dev';
export const DEV_TOKEN_AUDIENCE = 'paycore';
export const DEV_TOKEN_SUBJECT = 'dev';
export const DEV_TOKEN_LIFETIME_SECONDS = 30 * 24 * 60 * 60;
const ALGORITHM = 'EdDSA';
/** Scope names look like `account:read`; a bound keeps a broken manifest from minting a huge token. */
const SCOPE_PATTERN = /^[a-z][a-z0-9-]{0,40}:[a-z][a-z0-9-]{0,40}$/;
const SCOPES_MAX = 500;
const SERVICES_MAX = 100;

export interface DevTokenFiles {
  readonly privateKeyFile: string;
  readonly publicKeyFile: string;
  readonly tokenFile: string;
}

export function devTokenFiles(runDirectory: string): DevTokenFiles {
  return {
    privateKeyFile: path.join(runDirectory, 'jwt', 'private.pem'),
    publicKeyFile: path.join(runDirectory, 'jwt', 'public.pem'),
    tokenFile: path.join(runDirectory, 'dev-token'),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The scopes declared by every service of the manifest, in manifest order, without repeats. */
export function manifestScopes(manifestText: string, manifestFile: string): string[] {
  const parsed: unknown = JSON.parse(manifestText);
  if (!isRecord(parsed) || !Array.isArray(parsed['services'])) {
    throw new Error(`${manifestFile}: expected {"services": [...]}`);
  }
  const services: unknown[] = parsed['services'];
  if (services.length > SERVICES_MAX) throw new Error(`${manifestFile}: more than ${SERVICES_MAX} services`);
  const scopes: string[] = [];
  for (const service of services) {
    if (!isRecord(service)) throw new Error(`${manifestFile}: every service must be an object`);
    const declared = service['scopes'] ?? [];
    if (!Array.isArray(declared)) throw new Error(`${manifestFile}: "scopes" must be a list of strings`);
    for (const scope of declared) {
      if (typeof scope !== 'string') throw new Error(`${manifestFile}: "scopes" must be a list of strings`);
      scopes.push(scope);
    }
  }
  return scopes;
}

/** Validates and de-duplicates scopes, keeping the first occurrence's order. */
export function normaliseScopes(scopes: readonly string[]): string[] {
  const unique = [...new Set(scopes)];
  for (const scope of unique) {
    if (!SCOPE_PATTERN.test(scope)) throw new Error(`scope "${scope}" must look like "account:read"`);
  }
  if (unique.length > SCOPES_MAX) throw new Error(`more than ${SCOPES_MAX} scopes`);
  return unique;
}

/** Creates the key pair when either half is missing; otherwise keeps the existing one. */
async function ensureKeyPair(files: DevTokenFiles): Promise<void> {
  if (existsSync(files.privateKeyFile) && existsSync(files.publicKeyFile)) return;
  const { privateKey, publicKey } = await generateKeyPair(ALGORITHM, { crv: 'Ed25519', extractable: true });
  mkdirSync(path.dirname(files.privateKeyFile), { recursive: true, mode: 0o700 });
  writeFileSync(files.privateKeyFile, await exportPKCS8(privateKey), { mode: 0o600 });
  writeFileSync(files.publicKeyFile, await exportSPKI(publicKey), { mode: 0o644 });
}

/** Writes a fresh token carrying `scopes`; returns the token. */
export async function issueDevToken(
  files: DevTokenFiles,
  scopes: readonly string[],
  nowSeconds: number = Math.floor(Date.now() / 1000),
): Promise<string> {
  await ensureKeyPair(files);
  const privateKey = await importPKCS8(readFileSync(files.privateKeyFile, 'utf8'), ALGORITHM);
  const token = await new SignJWT({ scope: normaliseScopes(scopes).join(' ') })
    .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
    .setIssuer(DEV_TOKEN_ISSUER)
    .setAudience(DEV_TOKEN_AUDIENCE)
    .setSubject(DEV_TOKEN_SUBJECT)
    .setIssuedAt(nowSeconds)
    .setExpirationTime(nowSeconds + DEV_TOKEN_LIFETIME_SECONDS)
    .sign(privateKey);
  writeFileSync(files.tokenFile, `${token}\n`, { mode: 0o600 });
  return token;
}

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..');
  const runDirectory = path.resolve(process.env['PAYCORE_RUN_DIR'] || path.join(root, '.run'));
  const manifestFile = path.resolve(
    process.env['PAYCORE_SERVICES_MANIFEST'] || path.join(root, 'deploy', 'services.json'),
  );
  const scopes = [
    ...manifestScopes(readFileSync(manifestFile, 'utf8'), manifestFile),
    ...process.argv.slice(2),
  ];
  const files = devTokenFiles(runDirectory);
  await issueDevToken(files, scopes);
  const shown = normaliseScopes(scopes);
  process.stdout.write(
    `dev token: ${files.tokenFile} (sub=${DEV_TOKEN_SUBJECT}, ${shown.length} scopes${shown.length > 0 ? `: ${shown.join(' ')}` : ''})\n`,
  );
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`dev-token: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
