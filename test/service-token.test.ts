/**
 * Proves scripts/issue-service-token.ts issues what the runbook says
 * (docs/runbooks/kubernetes.md, "Service tokens"): a token the services'
 * own verifier (createTokenVerifier, as every service builds it from
 * AUTH_JWT_*) accepts, naming the calling service, carrying exactly the
 * scopes asked for and expiring after the days asked for; and a token signed
 * by another key is refused (what a rotated-away key looks like).
 */
import { generateKeyPairSync } from 'node:crypto';
import { expect } from 'chai';
import { createTokenVerifier } from '@paycore/platform';
import { issueServiceToken } from '../scripts/issue-service-token';

function keyPair(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

describe('service tokens for Kubernetes (scripts/issue-service-token.ts)', () => {
  it('are accepted by the services verifier with exactly the scopes asked for', async () => {
    const issuer = keyPair();
    const token = await issueServiceToken({
      privateKeyPem: issuer.privateKeyPem,
      subject: 'cashier',
      scopes: ['account:read', 'account:write', 'channel:write', 'account:read'],
      lifetimeDays: 30,
      issuer: 'paycore',
      audience: 'paycore',
    });
    const verifier = createTokenVerifier({
      publicKeyPem: issuer.publicKeyPem,
      issuer: 'paycore',
      audience: 'paycore',
    });
    const caller = await verifier.verify(`Bearer ${token}`);
    expect(caller.subject).to.equal('cashier');
    expect([...caller.scopes].sort()).to.deep.equal(['account:read', 'account:write', 'channel:write']);
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      iat: number;
      exp: number;
    };
    expect(payload.exp - payload.iat).to.equal(30 * 86_400);
  });

  it('signed by another key are refused, and bad requests are refused before signing', async () => {
    const old = keyPair();
    const current = keyPair();
    const token = await issueServiceToken({
      privateKeyPem: old.privateKeyPem,
      subject: 'ledger',
      scopes: ['account:read'],
      lifetimeDays: 1,
      issuer: 'paycore',
      audience: 'paycore',
    });
    const verifier = createTokenVerifier({
      publicKeyPem: current.publicKeyPem,
      issuer: 'paycore',
      audience: 'paycore',
    });
    let refused = false;
    await verifier.verify(`Bearer ${token}`).catch(() => (refused = true));
    expect(refused).to.equal(true);
    const base = { privateKeyPem: current.privateKeyPem, issuer: 'paycore', audience: 'paycore' };
    for (const bad of [
      { ...base, subject: 'ledger', scopes: [], lifetimeDays: 1 },
      { ...base, subject: 'ledger', scopes: ['account:read'], lifetimeDays: 91 },
      { ...base, subject: 'Bad Name', scopes: ['account:read'], lifetimeDays: 1 },
    ]) {
      let failed = false;
      await issueServiceToken(bad).catch(() => (failed = true));
      expect(failed, JSON.stringify({ ...bad, privateKeyPem: '…' })).to.equal(true);
    }
  });
});
