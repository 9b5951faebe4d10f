/**
 * Proves, against the real sandbox, Postgres and NATS, with gRPC over the
 * network and a real keep-alive HTTP client, that channel-router:
 * - gives a failed payout's daily-cap usage back (a second payout that only
 *   fits if the first was released goes through; the counter ends at the
 *   live payout's amount);
 * - answers its definite refusals (no route, route not available, no usable
 *   credentials) with FAILED_PRECONDITION and a reason declared in the
 *   channel proto's ChannelErrorReason or the common ErrorReason, never
 *   NOT_FOUND or INTERNAL, so the cashier can pass them on;
 * - treats request_id the same way on every mutating RPC: same id and same
 *   payload → the first answer; another payload → ALREADY_EXISTS
 *   IDEMPOTENCY_KEY_REUSED naming the differing field; an empty or a
 *   129-character id → INVALID_ARGUMENT, and nothing is created;
 * - counts unverified (forged) callbacks in a metric and stores only a
 *   bounded sample of them (the bound is set to 5 here; 20 are sent);
 * - answers an oversized callback body with 413 and `Connection: close`,
 *   closes that connection without a reset, and the same client's next
 *   request succeeds;
 * - measures channel calls (count by channel number and outcome, latency
 *   histogram) and exposes each breaker's state as a gauge.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { alipaySign, fenToYuan, toForm } from '@paycore/channel-protocols';
import { decodeStatusDetails, unary } from '@paycore/platform';
import { TxnState } from '@paycore/proto/paycore/channel/v1/types';
import { expect } from 'chai';
import { startRouterHarness, type RouterHarness } from './harness';

const ALIPAY_QR = '10010101011001100001';
const PAYOUT = '10050101064001300001';
/** Pay channel 3001 on bank B: in the catalogue, but bank B is not registered (no route). */
const NO_ROUTE_CODE = '10010101013001300002';
/** Pay channel 3001 on bank A: registered, but the route supports no PAY. */
const PAY_UNSUPPORTED_CODE = '10010101013001300001';
const UNVERIFIED_SAMPLE_MAX = 5;

const PROTO_ROOT = path.resolve(__dirname, '..', '..', '..', 'proto', 'paycore');

/** Reason names declared in the channel proto's ChannelErrorReason and the common ErrorReason. */
function declaredReasons(): Set<string> {
  const names = new Set<string>();
  const read = (dir: string, prefix: string): void => {
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.proto'))) {
      const text = readFileSync(path.join(dir, file), 'utf8');
      for (const match of text.matchAll(new RegExp(`\\b${prefix}([A-Z0-9_]+)\\s*=\\s*\\d+`, 'g'))) {
        if (match[1] !== undefined && match[1] !== 'UNSPECIFIED') names.add(match[1]);
      }
    }
  };
  read(path.join(PROTO_ROOT, 'channel', 'v1'), 'CHANNEL_ERROR_REASON_');
  read(path.join(PROTO_ROOT, 'common', 'v1'), 'ERROR_REASON_');
  return names;
}

interface Refusal {
  readonly code: number;
  readonly reason: string | undefined;
  readonly metadata: Record<string, string>;
  readonly message: string;
}

async function refusal(call: Promise<unknown>): Promise<Refusal> {
  try {
    await call;
  } catch (err) {
    const e = err as { code?: number };
    const decoded = decodeStatusDetails(err as Parameters<typeof decodeStatusDetails>[0]);
    return {
      code: e.code ?? -1,
      reason: decoded.errorInfo?.reason,
      metadata: decoded.errorInfo?.metadata ?? {},
      message: decoded.message,
    };
  }
  throw new Error('the call was accepted');
}

const FAILED_PRECONDITION = 9;
const INVALID_ARGUMENT = 3;
const ALREADY_EXISTS = 6;

interface RawAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** Resolves with whether the connection closed with an error (a reset), once it closes. */
  readonly socketClosed: Promise<boolean> | undefined;
}

function rawRequest(agent: http.Agent, url: string, method: string, body?: Buffer): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers: { 'content-type': 'text/plain' } });
    let socketClosed: Promise<boolean> | undefined;
    req.on('socket', (socket) => {
      socketClosed ??= new Promise((done) => socket.once('close', (hadError: boolean) => done(hadError)));
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          socketClosed,
        }),
      );
      res.on('error', reject);
    });
    req.end(body);
  });
}

describe('channel-router refusals, idempotency, callback and body limits', function () {
  this.timeout(60_000);
  let h: RouterHarness;
  let seq = 0;
  const rid = (): string => `lim-${Date.now()}-${(seq += 1)}`;

  before(async () => {
    h = await startRouterHarness({ CHANNEL_UNVERIFIED_SAMPLE_MAX: String(UNVERIFIED_SAMPLE_MAX) });
  });
  after(async () => {
    await h?.close();
  });
  afterEach(async () => {
    await fetch(`${h.sandbox.url}/sandbox/faults`, { method: 'DELETE' });
  });

  const payout = (requestId: string, amountMinor: bigint) =>
    unary(h.client.createPayout.bind(h.client), {
      requestId,
      bizContext: { code: PAYOUT },
      amount: { amountMinor, currency: 'CNY' },
      accountNo: '6222020200001234567',
      accountName: '张三',
      bankCode: 'ICBC',
      remark: '结算',
    });

  const pay = (requestId: string, code: string, amountMinor: bigint, subject = '测试商品') =>
    unary(h.client.createChannelPayment.bind(h.client), {
      requestId,
      bizContext: { code },
      amount: { amountMinor, currency: 'CNY' },
      subject,
    });

  it('a declined payout gives its daily-cap usage back, so the next payout fits under the cap', async () => {
    const registry = await unary(h.client.listRegistry.bind(h.client), {});
    const route = registry.routes.find((r) => r.payChannel === '4001' && r.channelNo === '300001');
    if (route === undefined) throw new Error('payout route not seeded');
    await unary(h.client.upsertPayChannelRoute.bind(h.client), {
      route: { ...route, dailyCap: { amountMinor: 100_000n, currency: 'CNY' } },
    });
    await fetch(`${h.sandbox.url}/sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'decline', channel: 'bank', operation: 'payout', times: 1 }),
    });
    const declined = await payout(rid(), 60_000n);
    expect(declined.transaction?.state).to.equal(TxnState.TXN_STATE_FAIL);
    const usage = async (): Promise<bigint> => {
      const rows = await h.query<{ used: string }>(
        `SELECT COALESCE(SUM(used_amount), 0)::text AS used FROM daily_usage
         WHERE pay_channel = '4001' AND channel_no = '300001'`,
      );
      return BigInt(rows[0]?.used ?? '0');
    };
    expect(await usage(), 'the declined payout holds nothing').to.equal(0n);
    const second = await payout(rid(), 60_000n);
    expect(second.transaction?.state).to.equal(TxnState.TXN_STATE_PROCESSING);
    expect(await usage()).to.equal(60_000n);
    await unary(h.client.upsertPayChannelRoute.bind(h.client), { route });
  });

  it('no route, route not available and unusable credentials are FAILED_PRECONDITION with declared reasons', async () => {
    const declared = declaredReasons();
    const noRoute = await refusal(pay(rid(), NO_ROUTE_CODE, 100n));
    expect(noRoute.code, noRoute.message).to.equal(FAILED_PRECONDITION);
    expect(noRoute.reason).to.equal('NO_ROUTE');
    const unsupported = await refusal(pay(rid(), PAY_UNSUPPORTED_CODE, 100n));
    expect(unsupported.code, unsupported.message).to.equal(FAILED_PRECONDITION);
    expect(unsupported.reason).to.equal('ROUTE_NOT_AVAILABLE');
    const [saved] = await h.query<{ credentials_sealed: Buffer }>(
      `SELECT credentials_sealed FROM channel_numbers WHERE channel_no = '100001'`,
    );
    // As after a key rotation: the stored blob no longer opens under the service's key.
    await h.query(`UPDATE channel_numbers SET credentials_sealed = $1 WHERE channel_no = '100001'`, [
      Buffer.alloc(64, 7),
    ]);
    try {
      const noCredentials = await refusal(pay(rid(), ALIPAY_QR, 100n));
      expect(noCredentials.code, noCredentials.message).to.equal(FAILED_PRECONDITION);
      expect(noCredentials.reason).to.equal('ROUTE_NOT_AVAILABLE');
      expect(noCredentials.metadata).to.include({ channel_no: '100001', cause: 'NO_USABLE_CREDENTIALS' });
    } finally {
      await h.query(`UPDATE channel_numbers SET credentials_sealed = $1 WHERE channel_no = '100001'`, [
        saved?.credentials_sealed,
      ]);
    }
    const routeRpc = await refusal(
      unary(h.client.route.bind(h.client), {
        bizContext: { code: '10010101010000000000' },
        amount: { amountMinor: 999_999_999n, currency: 'CNY' },
        merchantId: 'm1',
        payChannel: '',
        strategy: 0,
      }),
    );
    expect(routeRpc.code).to.equal(FAILED_PRECONDITION);
    expect(routeRpc.reason).to.equal('NO_ROUTE');
    for (const r of [noRoute, unsupported, routeRpc])
      expect(declared.has(r.reason ?? ''), `${r.reason} declared`).to.equal(true);
    const created = await h.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM transactions WHERE biz_code IN ($1, $2)`,
      [NO_ROUTE_CODE, PAY_UNSUPPORTED_CODE],
    );
    expect(created[0]?.n, 'a refusal creates nothing').to.equal('0');
  });

  it('every mutating RPC: same id and payload replays, another payload is IDEMPOTENCY_KEY_REUSED naming the field', async () => {
    const payId = rid();
    const first = await pay(payId, ALIPAY_QR, 501n);
    const again = await pay(payId, ALIPAY_QR, 501n);
    expect(again.transaction?.txnId).to.equal(first.transaction?.txnId);
    const reusedPay = await refusal(pay(payId, ALIPAY_QR, 502n));
    expect([reusedPay.code, reusedPay.reason]).to.deep.equal([ALREADY_EXISTS, 'IDEMPOTENCY_KEY_REUSED']);
    expect(reusedPay.metadata.field).to.equal('amount.amount_minor');

    const paymentTxnId = first.transaction?.txnId ?? '';
    const closeId = rid();
    const closed = await unary(h.client.closeChannelPayment.bind(h.client), {
      requestId: closeId,
      txnId: paymentTxnId,
    });
    const closedAgain = await unary(h.client.closeChannelPayment.bind(h.client), {
      requestId: closeId,
      txnId: paymentTxnId,
    });
    expect(closedAgain.transaction?.txnId).to.equal(closed.transaction?.txnId);
    const other = await pay(rid(), ALIPAY_QR, 503n);
    const reusedClose = await refusal(
      unary(h.client.closeChannelPayment.bind(h.client), {
        requestId: closeId,
        txnId: other.transaction?.txnId ?? '',
      }),
    );
    expect([reusedClose.code, reusedClose.reason]).to.deep.equal([ALREADY_EXISTS, 'IDEMPOTENCY_KEY_REUSED']);
    expect(reusedClose.metadata.field).to.equal('txn_id');

    // A refund needs a paid payment: pay one at the sandbox.
    const paid = await pay(rid(), ALIPAY_QR, 1_000n);
    const paidId = paid.transaction?.txnId ?? '';
    await fetch(`${h.sandbox.url}/sandbox/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'alipay', out_trade_no: paidId }),
    });
    await unary(h.client.queryChannelPayment.bind(h.client), { txnId: paidId });
    const refundId = rid();
    const refund = (amountMinor: bigint) =>
      unary(h.client.refundChannelPayment.bind(h.client), {
        requestId: refundId,
        paymentTxnId: paidId,
        amount: { amountMinor, currency: 'CNY' },
        reason: '退货',
        bizContext: undefined,
      });
    const refunded = await refund(100n);
    expect((await refund(100n)).transaction?.txnId).to.equal(refunded.transaction?.txnId);
    const reusedRefund = await refusal(refund(200n));
    expect([reusedRefund.code, reusedRefund.reason]).to.deep.equal([
      ALREADY_EXISTS,
      'IDEMPOTENCY_KEY_REUSED',
    ]);
    expect(reusedRefund.metadata.field).to.equal('amount.amount_minor');
    const refunds = await h.query<{ n: string }>(
      'SELECT count(*)::text AS n FROM transactions WHERE original_txn_id = $1',
      [paidId],
    );
    expect(refunds[0]?.n, 'one refund for one request_id').to.equal('1');

    const payoutId = rid();
    const paidOut = await payout(payoutId, 700n);
    expect((await payout(payoutId, 700n)).transaction?.txnId).to.equal(paidOut.transaction?.txnId);
    const reusedPayout = await refusal(payout(payoutId, 701n));
    expect([reusedPayout.code, reusedPayout.reason]).to.deep.equal([
      ALREADY_EXISTS,
      'IDEMPOTENCY_KEY_REUSED',
    ]);
    expect(reusedPayout.metadata.field).to.equal('amount.amount_minor');

    for (const bad of ['', 'x'.repeat(129)]) {
      const before = await h.query<{ n: string }>('SELECT count(*)::text AS n FROM transactions');
      for (const call of [
        pay(bad, ALIPAY_QR, 100n),
        payout(bad, 100n),
        unary(h.client.closeChannelPayment.bind(h.client), { requestId: bad, txnId: paymentTxnId }),
        unary(h.client.refundChannelPayment.bind(h.client), {
          requestId: bad,
          paymentTxnId: paidId,
          amount: { amountMinor: 1n, currency: 'CNY' },
          reason: '',
          bizContext: undefined,
        }),
      ]) {
        const refused = await refusal(call);
        expect([refused.code, refused.reason], `request_id of ${bad.length}`).to.deep.equal([
          INVALID_ARGUMENT,
          'INVALID_FIELD',
        ]);
      }
      const after = await h.query<{ n: string }>('SELECT count(*)::text AS n FROM transactions');
      expect(after[0]?.n, 'nothing created').to.equal(before[0]?.n);
    }
  });

  it('unverified callbacks are all counted but only a bounded sample of them is stored', async () => {
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const forgeries = 20;
    for (let i = 0; i < forgeries; i += 1) {
      const params: Record<string, string> = {
        notify_id: `unverified-${i}`,
        notify_type: 'trade_status_sync',
        notify_time: '2024-01-01 00:00:00',
        app_id: '2021000000000001',
        charset: 'utf-8',
        version: '1.0',
        sign_type: 'RSA2',
        trade_no: `20240101220010000000000${String(i).padStart(5, '0')}`,
        out_trade_no: `P20240101FORGED${i}`,
        trade_status: 'TRADE_SUCCESS',
        total_amount: fenToYuan(999n),
        gmt_payment: '2024-01-01 00:00:00',
      };
      const answer = await fetch(`${h.httpUrl}/callbacks/alipay/100001`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: toForm({ ...params, sign: alipaySign(params, privateKey, { forNotify: true }) }),
      });
      expect(answer.status).to.equal(400);
    }
    const metrics = await (await fetch(`${h.httpUrl}/metrics`)).text();
    expect(metrics).to.match(
      new RegExp(`channel_callback_unverified_total\\{[^}]*reason="BAD_SIGNATURE"[^}]*\\} ${forgeries}\\b`),
    );
    const stored = await h.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM notifications WHERE NOT verified AND body LIKE '%unverified-%'`,
    );
    expect(Number(stored[0]?.n)).to.be.greaterThan(0).and.at.most(UNVERIFIED_SAMPLE_MAX);
  });

  it('an oversized callback body gets 413 with Connection: close, a clean close, and the next request works', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const warm = await rawRequest(agent, `${h.httpUrl}/healthz`, 'GET');
      expect(warm.status).to.equal(200);
      const big = await rawRequest(
        agent,
        `${h.httpUrl}/callbacks/alipay/100001`,
        'POST',
        Buffer.alloc(3 * 1024 * 1024, 0x61),
      );
      expect(big.status).to.equal(413);
      expect(big.headers.connection).to.equal('close');
      expect(await big.socketClosed, 'the refused connection closes without a reset').to.equal(false);
      for (let i = 0; i < 3; i += 1) {
        const next = await rawRequest(agent, `${h.httpUrl}/healthz`, 'GET');
        expect(next.status).to.equal(200);
      }
    } finally {
      agent.destroy();
    }
  });

  it('channel calls are counted by channel number and outcome, timed, and breaker states are exposed', async () => {
    await pay(rid(), ALIPAY_QR, 321n);
    const metrics = await (await fetch(`${h.httpUrl}/metrics`)).text();
    expect(metrics).to.match(
      /channel_calls_total\{[^}]*channel_no="100001"[^}]*operation="createPayment"[^}]*outcome="PROCESSING"[^}]*\} \d+/,
    );
    expect(metrics).to.match(
      /channel_call_duration_seconds_count\{[^}]*channel_no="100001"[^}]*operation="createPayment"[^}]*\} \d+/,
    );
    expect(metrics).to.match(/channel_breaker_state\{[^}]*channel_no="100001"[^}]*\} 0/);
  });
});
