/**
 * Proves the kit's error mapping and caller authentication end to end: a real
 * grpc-js client calls the echo fixture over the network and reads the status
 * code, the ErrorInfo reason and the BadRequest field violations out of
 * `grpc-status-details-bin`; tokens that are missing, malformed, expired, or
 * signed by another key are refused as UNAUTHENTICATED, and a valid token
 * without the RPC's scope as PERMISSION_DENIED.
 */
import { expect } from 'chai';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { decodeStatusDetails, unary } from '../../src';
import { createTokenMinter } from '@paycore/testing';
import { startEchoHarness, type Harness } from './harness';
import type { EchoServiceClient } from '../gen/paycore/testing/v1/echo_service';

async function expectFailure(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('expected the call to fail');
}

function withAuth(value: string): Metadata {
  const md = new Metadata();
  md.set('authorization', value);
  return md;
}

describe('platform kit: errors and auth over real gRPC', function () {
  this.timeout(60_000);
  let h: Harness;
  let client: EchoServiceClient;

  before(async () => {
    h = await startEchoHarness();
    client = await h.client();
  });
  after(async () => h.close());

  describe('errors', () => {
    it('maps a typed domain error to its status with a readable ErrorInfo', async () => {
      const err = await expectFailure(
        unary(client.check.bind(client), {
          amount: { amountMinor: 500n, currency: 'CNY' },
          raise: 'INSUFFICIENT_BALANCE',
        }),
      );
      expect(err.code).to.equal(status.FAILED_PRECONDITION);
      const details = decodeStatusDetails(err);
      expect(details.errorInfo?.reason).to.equal('INSUFFICIENT_BALANCE');
      expect(details.errorInfo?.domain).to.equal('echo.paycore');
      expect(details.errorInfo?.metadata).to.deep.equal({ shortfall_minor: '500' });
    });

    it('answers invalid input with INVALID_ARGUMENT and one field violation per field', async () => {
      const err = await expectFailure(
        unary(client.check.bind(client), { amount: { amountMinor: -1n, currency: 'CNY' }, raise: '' }),
      );
      expect(err.code).to.equal(status.INVALID_ARGUMENT);
      const details = decodeStatusDetails(err);
      expect(details.errorInfo?.reason).to.equal('INVALID_FIELD');
      expect(details.badRequest?.fieldViolations.map((v) => v.field)).to.deep.equal(['amount.amount_minor']);
      expect(details.badRequest?.fieldViolations[0]?.description).to.equal('must be positive');
    });

    it('hides a programmer error behind INTERNAL without leaking its message', async () => {
      const err = await expectFailure(
        unary(client.check.bind(client), { amount: { amountMinor: 1n, currency: 'CNY' }, raise: 'BUG' }),
      );
      expect(err.code).to.equal(status.INTERNAL);
      expect(err.details).not.to.contain('programmer error');
      expect(decodeStatusDetails(err).errorInfo?.reason).to.equal('INTERNAL');
    });

    it('answers a database that cannot be reached (no connection slot) UNAVAILABLE, so callers retry', async () => {
      const err = await expectFailure(
        unary(client.check.bind(client), { amount: { amountMinor: 1n, currency: 'CNY' }, raise: 'DB_FULL' }),
      );
      expect(err.code).to.equal(status.UNAVAILABLE);
      expect(decodeStatusDetails(err).errorInfo?.reason).to.equal('DEPENDENCY_UNAVAILABLE');
      expect(err.details).not.to.contain('too many clients');
    });

    it('refuses a call without a deadline', async () => {
      const raw = h.rawClient();
      const token = await h.minter.mint({ scopes: ['echo:read'] });
      const err = await expectFailure(
        new Promise((resolve, reject) => {
          raw.echo({ text: 'x' }, withAuth(`Bearer ${token}`), {}, (e, r) => (e ? reject(e) : resolve(r)));
        }),
      );
      expect(err.code).to.equal(status.INVALID_ARGUMENT);
      expect(decodeStatusDetails(err).errorInfo?.reason).to.equal('DEADLINE_REQUIRED');
    });

    it('rejects a context code that is not in the catalogue', async () => {
      const md = new Metadata();
      md.set('x-biz-context', '99999999999999999999');
      const err = await expectFailure(unary(client.echo.bind(client), { text: 'x' }, { metadata: md }));
      expect(err.code).to.equal(status.INVALID_ARGUMENT);
      expect(decodeStatusDetails(err).errorInfo?.reason).to.equal('UNKNOWN_BIZ_CODE');
    });
  });

  describe('auth', () => {
    const call = (md: Metadata): Promise<unknown> => {
      const raw = h.rawClient();
      return new Promise((resolve, reject) => {
        raw.echo({ text: 'x' }, md, { deadline: Date.now() + 5000 }, (e, r) => (e ? reject(e) : resolve(r)));
      });
    };
    const expectUnauthenticated = async (md: Metadata, cause: string): Promise<void> => {
      const err = await expectFailure(call(md));
      expect(err.code, err.details).to.equal(status.UNAUTHENTICATED);
      const info = decodeStatusDetails(err).errorInfo;
      expect(info?.reason).to.equal('UNAUTHENTICATED');
      expect(info?.metadata['cause']).to.equal(cause);
    };

    it('accepts a valid token with the scope and tells the server who called', async () => {
      const token = await h.minter.mint({ sub: 'team-checkout', scopes: ['echo:read'] });
      const res = (await call(withAuth(`Bearer ${token}`))) as { caller: string };
      expect(res.caller).to.equal('team-checkout');
    });

    it('refuses a missing token', async () => expectUnauthenticated(new Metadata(), 'missing'));

    it('refuses a malformed token', async () => {
      await expectUnauthenticated(withAuth('Bearer not-a-jwt'), 'malformed');
      await expectUnauthenticated(withAuth('Basic dXNlcjpwYXNz'), 'malformed');
    });

    it('refuses an expired token', async () => {
      const token = await h.minter.mint({
        scopes: ['echo:read'],
        issuedAtOffsetSeconds: -7200,
        expiresInSeconds: 3600,
      });
      await expectUnauthenticated(withAuth(`Bearer ${token}`), 'expired');
    });

    it('refuses a token signed by another key', async () => {
      const stranger = await createTokenMinter(h.minter.issuer, h.minter.audience);
      const token = await stranger.mint({ scopes: ['echo:read'] });
      await expectUnauthenticated(withAuth(`Bearer ${token}`), 'bad_signature');
    });

    it('refuses a token of another issuer or audience', async () => {
      const wrongIssuer = await h.minter.mint({ scopes: ['echo:read'], issuer: 'someone-else' });
      await expectUnauthenticated(withAuth(`Bearer ${wrongIssuer}`), 'bad_claim');
      const wrongAudience = await h.minter.mint({ scopes: ['echo:read'], audience: 'not-paycore' });
      await expectUnauthenticated(withAuth(`Bearer ${wrongAudience}`), 'bad_claim');
    });

    it('answers PERMISSION_DENIED for a valid token without the scope', async () => {
      const token = await h.minter.mint({ scopes: ['echo:read'] });
      const raw = h.rawClient();
      const err = await expectFailure(
        new Promise((resolve, reject) => {
          raw.recordNote(
            { requestId: 'r1', note: 'n', bizContext: undefined },
            withAuth(`Bearer ${token}`),
            { deadline: Date.now() + 5000 },
            (e, r) => (e ? reject(e) : resolve(r)),
          );
        }),
      );
      expect(err.code).to.equal(status.PERMISSION_DENIED);
      const info = decodeStatusDetails(err).errorInfo;
      expect(info?.reason).to.equal('MISSING_SCOPE');
      expect(info?.metadata['scope']).to.equal('echo:write');
      const rows: unknown[] = await queryNotes(h);
      expect(rows).to.have.length(0);
    });
  });
});

async function queryNotes(h: Harness): Promise<unknown[]> {
  const { Client } = await import('pg');
  const c = new Client({ connectionString: h.database.url });
  await c.connect();
  try {
    const result = await c.query<Record<string, unknown>>('SELECT * FROM echo_fixture.notes');
    return result.rows;
  } finally {
    await c.end();
  }
}
