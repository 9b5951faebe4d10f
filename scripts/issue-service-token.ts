/**
 * Issues the bearer token one paycore service sends to the others (its
 * SERVICE_TOKEN_FILE), with only the scopes it needs, signed by the issuer's
 * private key (Ed25519, PKCS#8 PEM) whose public half the services verify
 * with (ConfigMap paycore-jwt). Prints the token on stdout, nothing else, so
 * it pipes into a Secret (docs/runbooks/kubernetes.md, "Service tokens"):
 *
 *   tsx scripts/issue-service-token.ts --key issuer.pem --sub cashier \
 *     --scopes account:read,account:write,channel:read,channel:write --days 30 \
 *   | kubectl -n paycore create secret generic paycore-service-token-cashier \
 *       --from-file=token=/dev/stdin --dry-run=client -o yaml | kubectl apply -f -
 *
 * Options: --key FILE (required), --sub NAME (required: the calling service),
 * --scopes a,b (required), --days N (1..90, default 30), --issuer (default
 * paycore), --audience (default paycore).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SignJWT, importPKCS8 } from 'jose';
import { normaliseScopes } from './dev-token';

const LIFETIME_DAYS_MAX = 90;
const SUBJECT_PATTERN = /^[a-z][a-z0-9-]{1,40}$/;

export async function issueServiceToken(options: {
  readonly privateKeyPem: string;
  readonly subject: string;
  readonly scopes: readonly string[];
  readonly lifetimeDays: number;
  readonly issuer: string;
  readonly audience: string;
  readonly nowSeconds?: number;
}): Promise<string> {
  if (!SUBJECT_PATTERN.test(options.subject))
    throw new Error(`--sub "${options.subject}" is not a service name`);
  if (
    !Number.isInteger(options.lifetimeDays) ||
    options.lifetimeDays < 1 ||
    options.lifetimeDays > LIFETIME_DAYS_MAX
  )
    throw new Error(`--days must be an integer in 1..${LIFETIME_DAYS_MAX}`);
  const scopes = normaliseScopes(options.scopes);
  if (scopes.length === 0) throw new Error('--scopes: a service token needs at least one scope');
  const key = await importPKCS8(options.privateKeyPem, 'EdDSA');
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  return new SignJWT({ scope: scopes.join(' ') })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setSubject(options.subject)
    .setIssuedAt(now)
    .setExpirationTime(now + options.lifetimeDays * 86_400)
    .sign(key);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      key: { type: 'string' },
      sub: { type: 'string' },
      scopes: { type: 'string' },
      days: { type: 'string', default: '30' },
      issuer: { type: 'string', default: 'paycore' },
      audience: { type: 'string', default: 'paycore' },
    },
  });
  if (values.key === undefined || values.sub === undefined || values.scopes === undefined)
    throw new Error('usage: issue-service-token.ts --key FILE --sub NAME --scopes a,b [--days N]');
  const token = await issueServiceToken({
    privateKeyPem: readFileSync(values.key, 'utf8'),
    subject: values.sub,
    scopes: values.scopes.split(',').map((scope) => scope.trim()),
    lifetimeDays: Number(values.days),
    issuer: values.issuer,
    audience: values.audience,
  });
  process.stdout.write(`${token}\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`issue-service-token: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
