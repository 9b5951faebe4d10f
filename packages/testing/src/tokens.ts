/**
 * Mints caller tokens for tests, in the exact format services verify
 * (EdDSA JWT: iss, aud, sub, scope, iat, exp). Also mints the wrong kinds —
 * expired, wrongly signed — so auth tests exercise real verification.
 */
import { generateKeyPair, exportPKCS8, exportSPKI, SignJWT, type CryptoKey } from 'jose';

export interface MintClaims {
  readonly sub?: string;
  readonly scopes?: readonly string[];
  readonly expiresInSeconds?: number;
  /** Shifts iat (and so exp) into the past or future, seconds. */
  readonly issuedAtOffsetSeconds?: number;
  /** Overrides the minter's issuer / audience, to mint tokens a service must refuse. */
  readonly issuer?: string;
  readonly audience?: string;
}

export interface TokenMinter {
  /** SPKI PEM to give services as AUTH_JWT_PUBLIC_KEY. */
  readonly publicKeyPem: string;
  /** PKCS#8 PEM of the signing key, for clients that mint their own tokens (@paycore/client, the CLI). */
  readonly privateKeyPem: string;
  readonly issuer: string;
  readonly audience: string;
  mint(claims: MintClaims): Promise<string>;
}

export async function createTokenMinter(issuer = 'paycore-test', audience = 'paycore'): Promise<TokenMinter> {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const publicKeyPem = await exportSPKI(publicKey);
  return {
    publicKeyPem,
    privateKeyPem: await exportPKCS8(privateKey),
    issuer,
    audience,
    mint: (claims) => sign(privateKey, issuer, audience, claims),
  };
}

async function sign(key: CryptoKey, issuer: string, audience: string, claims: MintClaims): Promise<string> {
  const now = Math.floor(Date.now() / 1000) + (claims.issuedAtOffsetSeconds ?? 0);
  return new SignJWT({ scope: (claims.scopes ?? []).join(' ') })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
    .setIssuer(claims.issuer ?? issuer)
    .setAudience(claims.audience ?? audience)
    .setSubject(claims.sub ?? 'test')
    .setIssuedAt(now)
    .setExpirationTime(now + (claims.expiresInSeconds ?? 300))
    .sign(key);
}
