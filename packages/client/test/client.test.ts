/**
 * What @paycore/client promises its callers, proved over real gRPC (a grpc-js
 * server on a loopback port implementing the cashier's service definition,
 * whose handlers fail on purpose and record what each attempt carried):
 *
 * - an idempotent call (a mutation with request_id, or a read) is retried on
 *   UNAVAILABLE and DEADLINE_EXCEEDED, a bounded number of times, and every
 *   attempt carries the same generated request_id and traceparent, a bearer
 *   token, the context code and a deadline;
 * - a call that is not idempotent is never retried;
 * - a failure's ErrorInfo reason, domain, metadata and BadRequest violations,
 *   encoded by the platform's own error mapper, come back on PaycoreError;
 * - a minted token passes the platform's verifier with exactly the scopes asked
 *   for; a notification signed by the cashier's signer verifies, and a tampered
 *   body, a wrong key or a stale timestamp does not.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import {
  Server,
  ServerCredentials,
  status as GrpcStatus,
  type ServerUnaryCall,
  type sendUnaryData,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { exportPKCS8, exportSPKI, generateKeyPair } from 'jose';
import { ApiError, createTokenVerifier, toServiceError } from '@paycore/platform';
import { signNotification } from '@paycore/cashier';
import {
  CashierServiceService,
  PartKind,
  type PayRequest,
} from '@paycore/proto/paycore/cashier/v1/cashier_service';
import { ChannelServiceService } from '@paycore/proto/paycore/channel/v1/channel_service';
import {
  CommonErrorReason,
  createPaycoreClient,
  loadEndpointsFile,
  mintedToken,
  parseTraceparent,
  PaycoreError,
  RPCS,
  SERVICES,
  staticToken,
  verifyNotification,
  type PaycoreClient,
} from '../src';

interface Seen {
  readonly method: string;
  readonly requestId: string;
  readonly traceparent: string;
  readonly authorization: string;
  readonly bizContext: string;
  readonly deadlineMs: number;
  /** The request as the server decoded it. */
  readonly request: unknown;
}

const BIZ_CODE = '10010101000000000000';

describe('@paycore/client over real gRPC', function () {
  this.timeout(30_000);
  let server: Server;
  let paycore: PaycoreClient;
  const seen: Seen[] = [];
  /** Per method: the statuses to fail with before answering, in order. */
  const failures = new Map<string, GrpcStatus[]>();
  const sleeps: number[] = [];

  function record(method: string, call: ServerUnaryCall<{ requestId?: string }, unknown>): void {
    const first = (key: string): string => String(call.metadata.get(key)[0] ?? '');
    const deadline = call.getDeadline();
    seen.push({
      method,
      requestId: call.request.requestId ?? '',
      traceparent: first('traceparent'),
      authorization: first('authorization'),
      bizContext: first('x-biz-context'),
      deadlineMs: deadline instanceof Date ? deadline.getTime() - Date.now() : deadline - Date.now(),
      request: call.request,
    });
  }

  function handler(method: string, answer: () => unknown) {
    return (
      call: ServerUnaryCall<{ requestId?: string }, unknown>,
      callback: sendUnaryData<unknown>,
    ): void => {
      record(method, call);
      const next = failures.get(method)?.shift();
      if (next === GrpcStatus.DEADLINE_EXCEEDED) return; // never answers: the client's deadline fires
      if (next !== undefined) {
        callback({ code: next, details: 'injected' });
        return;
      }
      try {
        callback(null, answer());
      } catch (err) {
        callback(toServiceError(err, 'cashier.paycore').serviceError);
      }
    };
  }

  before(async () => {
    server = new Server();
    const impl: UntypedServiceImplementation = {};
    for (const [name, method] of Object.entries(CashierServiceService)) {
      // The proto-default response: decoding zero bytes.
      impl[name] = handler(name, () => method.responseDeserialize(Buffer.alloc(0)));
    }
    impl['refund'] = handler('refund', () => {
      throw new ApiError('FAILED_PRECONDITION', 'REFUND_EXCEEDS_PAID', 'refund exceeds what is refundable', {
        metadata: { refundable_minor: '100' },
        fieldViolations: [{ field: 'amount', description: 'more than paid', reason: 'REFUND_EXCEEDS_PAID' }],
      });
    });
    server.addService(CashierServiceService, impl);
    const channelImpl: UntypedServiceImplementation = {};
    for (const [name, method] of Object.entries(ChannelServiceService)) {
      channelImpl[name] = handler(name, () => method.responseDeserialize(Buffer.alloc(0)));
    }
    server.addService(ChannelServiceService, channelImpl);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, bound) =>
        err ? reject(err) : resolve(bound),
      ),
    );
    paycore = createPaycoreClient({
      endpoints: { cashier: `127.0.0.1:${port}`, 'channel-router': `127.0.0.1:${port}` },
      token: staticToken('header.payload.signature'),
      defaultDeadlineMs: 400,
      bizCode: () => BIZ_CODE,
      sleep: (ms) => {
        sleeps.push(ms);
        return Promise.resolve();
      },
    });
  });

  after(() => {
    paycore.close();
    server.forceShutdown();
  });

  beforeEach(() => {
    seen.length = 0;
    sleeps.length = 0;
    failures.clear();
  });

  it('retries a payment after UNAVAILABLE with the same generated request id, trace, token, code and a deadline', async () => {
    failures.set('pay', [GrpcStatus.UNAVAILABLE, GrpcStatus.UNAVAILABLE]);
    let announced = '';
    await paycore.cashier.pay({ orderId: 'o-1', payerId: 'p-1' }, { onTraceparent: (t) => (announced = t) });
    expect(seen).to.have.length(3);
    const [first] = seen;
    expect(first?.requestId).to.match(/^[0-9a-f-]{36}$/);
    expect(parseTraceparent(first?.traceparent ?? '')).to.not.equal(undefined);
    expect(first?.traceparent).to.equal(announced);
    for (const attempt of seen) {
      expect(attempt.requestId).to.equal(first?.requestId);
      expect(attempt.traceparent).to.equal(first?.traceparent);
      expect(attempt.authorization).to.equal('Bearer header.payload.signature');
      expect(attempt.bizContext).to.equal(BIZ_CODE);
      expect(attempt.deadlineMs).to.be.greaterThan(0).and.at.most(400);
    }
    expect(sleeps).to.have.length(2);
  });

  it('accepts a partial request, nested parts included, and sends the omitted fields as their defaults', async () => {
    // Compiles only because requests are DeepPartial: the part names two of its many fields.
    await paycore.cashier.pay({
      orderId: 'o-1',
      parts: [{ kind: PartKind.PART_KIND_CHANNEL, amount: { amountMinor: 100n } }],
    });
    const request = seen[0]?.request as PayRequest;
    expect(request.payerId).to.equal('');
    expect(request.parts).to.have.length(1);
    const [part] = request.parts;
    expect(part?.kind).to.equal(PartKind.PART_KIND_CHANNEL);
    expect(part?.amount).to.deep.equal({ amountMinor: 100n, currency: '' });
    expect(part?.payChannel).to.equal('');
    expect(part?.refunded).to.equal(undefined);
  });

  it('keeps a request id the caller chose, and two logical calls get two different generated ids', async () => {
    await paycore.cashier.pay({ orderId: 'o-1', requestId: 'mine-1' });
    await paycore.cashier.pay({ orderId: 'o-1' });
    await paycore.cashier.pay({ orderId: 'o-1' });
    expect(seen.map((s) => s.requestId)[0]).to.equal('mine-1');
    expect(seen[1]?.requestId).to.not.equal(seen[2]?.requestId);
  });

  it('retries a read whose attempt ran out of its deadline', async () => {
    failures.set('getPaymentOrder', [GrpcStatus.DEADLINE_EXCEEDED]);
    await paycore.cashier.getPaymentOrder({ orderId: 'o-1' });
    expect(seen.filter((s) => s.method === 'getPaymentOrder')).to.have.length(2);
  });

  it('gives up after the bounded number of attempts, saying how many were made', async () => {
    failures.set(
      'getMerchant',
      Array.from({ length: 10 }, () => GrpcStatus.UNAVAILABLE),
    );
    const err = await paycore.cashier.getMerchant({ merchantId: 'm' }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(PaycoreError);
    expect((err as PaycoreError).codeName).to.equal('UNAVAILABLE');
    expect((err as PaycoreError).attempts).to.equal(4);
    expect(seen).to.have.length(4);
  });

  it('does not retry a call that is neither a read nor keyed by a request id (channel Route)', async () => {
    failures.set('route', [GrpcStatus.UNAVAILABLE]);
    const err = await paycore.channel
      .route({ amount: { amountMinor: 1n, currency: 'CNY' } })
      .catch((e: unknown) => e);
    expect((err as PaycoreError).attempts).to.equal(1);
    expect(seen).to.have.length(1);
  });

  it('does not retry when the caller opts out, nor on codes other than UNAVAILABLE and DEADLINE_EXCEEDED', async () => {
    failures.set('pay', [GrpcStatus.UNAVAILABLE]);
    const optedOut = await paycore.cashier.pay({ orderId: 'o' }, { retry: false }).catch((e: unknown) => e);
    expect((optedOut as PaycoreError).attempts).to.equal(1);
    failures.set('pay', [GrpcStatus.INTERNAL]);
    const internal = await paycore.cashier.pay({ orderId: 'o' }).catch((e: unknown) => e);
    expect((internal as PaycoreError).codeName).to.equal('INTERNAL');
    expect(seen).to.have.length(2);
  });

  it('decodes the ErrorInfo reason, domain, metadata and field violations of a refused refund', async () => {
    const err = await paycore.cashier.refund({ orderId: 'o' }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(PaycoreError);
    const e = err as PaycoreError;
    expect(e.codeName).to.equal('FAILED_PRECONDITION');
    expect(e.reason).to.equal('REFUND_EXCEEDS_PAID');
    expect(e.domain).to.equal('cashier.paycore');
    expect(e.metadata).to.deep.equal({ refundable_minor: '100' });
    expect(e.fieldViolations[0]?.field).to.equal('amount');
    expect(e.method).to.equal('/paycore.cashier.v1.CashierService/Refund');
    expect(seen).to.have.length(1);
  });
});

describe('@paycore/client tokens, notifications and the generated catalogue', () => {
  it('reads an endpoints file of host:port and replica targets, and refuses anything else', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'paycore-endpoints-'));
    try {
      const file = path.join(dir, 'endpoints.json');
      const good = { cashier: '127.0.0.1:50054', account: 'ipv4:127.0.0.1:50051,127.0.0.1:50061' };
      writeFileSync(file, JSON.stringify(good));
      expect(loadEndpointsFile(file)).to.deep.equal(good);
      for (const bad of ['127.0.0.1', 'ipv4:127.0.0.1:1,', 'http://127.0.0.1:1', 'a b:1']) {
        writeFileSync(file, JSON.stringify({ cashier: bad }));
        expect(() => loadEndpointsFile(file), bad).to.throw(/endpoint cashier must be/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('mints a token that the services verifier accepts with exactly the scopes asked for', async () => {
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const provider = mintedToken({
      privateKeyPem: await exportPKCS8(privateKey),
      scopes: ['cashier:read'],
      issuer: 'paycore-dev',
      audience: 'paycore',
      subject: 'team-checkout',
    });
    const verifier = createTokenVerifier({
      publicKeyPem: await exportSPKI(publicKey),
      issuer: 'paycore-dev',
      audience: 'paycore',
    });
    const token = await provider.token();
    const caller = await verifier.verify(`Bearer ${token}`);
    expect(caller.subject).to.equal('team-checkout');
    expect([...caller.scopes]).to.deep.equal(['cashier:read']);
    expect(await provider.token()).to.equal(token);
  });

  it('verifies a notification signed by the cashier and refuses tampering, a wrong key and replays', () => {
    const key = 'notify-key-0123456789';
    const nowMs = 1_800_000_000_000;
    const timestamp = Math.floor(nowMs / 1000);
    const body = JSON.stringify({
      event: 'payment_succeeded',
      order_id: 'o-1',
      merchant_id: 'm-1',
      merchant_order_no: 'no-1',
      payment_id: 'p-1',
      amount_minor: '1999',
      currency: 'CNY',
      state: 'PAID',
      biz_code: BIZ_CODE,
      paid_at: new Date(nowMs).toISOString(),
    });
    const headers = {
      'x-paycore-timestamp': String(timestamp),
      'x-paycore-signature': `v1=${signNotification(key, timestamp, body)}`,
      'x-paycore-notify-id': 'n-1',
    };
    const good = verifyNotification({ notifyKey: key, headers, body, nowMs });
    expect(good.ok && good.notification.amount_minor).to.equal('1999');
    expect(good.ok && good.notifyId).to.equal('n-1');
    const tampered = verifyNotification({
      notifyKey: key,
      headers,
      body: body.replace('1999', '9999'),
      nowMs,
    });
    expect(tampered).to.deep.equal({ ok: false, reason: 'BAD_SIGNATURE' });
    expect(verifyNotification({ notifyKey: 'other-key', headers, body, nowMs })).to.deep.equal({
      ok: false,
      reason: 'BAD_SIGNATURE',
    });
    const late = verifyNotification({ notifyKey: key, headers, body, nowMs: nowMs + 301_000 });
    expect(late).to.deep.equal({ ok: false, reason: 'STALE_TIMESTAMP' });
    const within = verifyNotification({ notifyKey: key, headers, body, nowMs: nowMs + 299_000 });
    expect(within.ok).to.equal(true);
  });

  it('exports the common reasons and every RPC with the scope its proto comment declares', () => {
    expect(CommonErrorReason.INSUFFICIENT_BALANCE).to.equal('INSUFFICIENT_BALANCE');
    expect(RPCS['/paycore.cashier.v1.CashierService/Pay']?.scope).to.equal('cashier:write');
    const refund = RPCS['/paycore.cashier.v1.CashierService/Refund'];
    expect(refund?.errors).to.deep.include({ code: 'FAILED_PRECONDITION', reason: 'REFUND_EXCEEDS_PAID' });
    for (const [path, rpc] of Object.entries(RPCS)) expect(rpc.scope, path).to.match(/^[a-z-]+:[a-z-]+$/);
  });

  it('has a client for every RPC of the catalogue (every paycore service is reachable)', () => {
    const served = new Set(
      Object.values(SERVICES).flatMap((entry) =>
        Object.values(entry.definition).map((method: { path: string }) => method.path),
      ),
    );
    const unserved = Object.keys(RPCS).filter((path) => !served.has(path));
    expect(unserved).to.deep.equal([]);
    // Stored value is served by the account process.
    expect(SERVICES.storedValue.endpoint).to.equal(SERVICES.account.endpoint);
  });
});
