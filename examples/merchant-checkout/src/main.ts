/**
 * A merchant's checkout, end to end, against a running paycore (`make up` /
 * `make demo`), through @paycore/client only:
 *
 *   register the merchant → start a webhook that verifies notifications →
 *   create an order → list pay methods → pay through Alipay QR (1001) → pay
 *   at the channel sandbox as the payer would → wait until the order is PAID
 *   and the signed notification has arrived → refund part of it → wait for
 *   the refund to succeed.
 *
 * Prints one JSON line with the ids (order, payment, refund, trace ids) and
 * exits non-zero if any step fails.
 *
 * Environment:
 *   PAYCORE_RUN_DIR           the platform's run directory (default ../../.run)
 *   PAYCORE_ENDPOINTS_FILE    default <run dir>/endpoints.json
 *   PAYCORE_PRIVATE_KEY_FILE  mint tokens with cashier:read + cashier:write only
 *                             (default <run dir>/jwt/private.pem when it exists)
 *   PAYCORE_TOKEN_FILE        or send this token (default <run dir>/dev-token)
 *   PAYCORE_SANDBOX_URL       the channel sandbox (default from <run dir>/http-endpoints.json)
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import path from 'node:path';
import {
  cny,
  createPaycoreClient,
  loadEndpointsFile,
  mintedToken,
  NOTIFY_ACK_BODY,
  PaycoreError,
  proto,
  showMoney,
  tokenFile,
  verifyNotification,
  type PaymentNotification,
  type TokenProvider,
} from '@paycore/client';

const RUN_DIR = path.resolve(
  process.env['PAYCORE_RUN_DIR'] ?? path.join(__dirname, '..', '..', '..', '.run'),
);
const WAIT_MS_MAX = 60_000;
const POLL_MS = 200;
const BODY_BYTES_MAX = 64 * 1024;

function tokens(): TokenProvider {
  const keyFile = process.env['PAYCORE_PRIVATE_KEY_FILE'] ?? path.join(RUN_DIR, 'jwt', 'private.pem');
  if (existsSync(keyFile)) {
    return mintedToken({
      privateKeyPem: readFileSync(keyFile, 'utf8'),
      scopes: ['cashier:read', 'cashier:write'],
      issuer: process.env['PAYCORE_ISSUER'] ?? 'paycore-dev',
      audience: 'paycore',
      subject: 'merchant-checkout-example',
    });
  }
  return tokenFile(process.env['PAYCORE_TOKEN_FILE'] ?? path.join(RUN_DIR, 'dev-token'));
}

function sandboxUrl(): string {
  const given = process.env['PAYCORE_SANDBOX_URL'];
  if (given) return given;
  const file = path.join(RUN_DIR, 'http-endpoints.json');
  const address = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>)['channel-sandbox']
    : undefined;
  if (!address) throw new Error(`no channel sandbox: set PAYCORE_SANDBOX_URL or run make up (${file})`);
  return `http://${address}`;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + WAIT_MS_MAX;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${WAIT_MS_MAX} ms`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > BODY_BYTES_MAX) req.destroy(new Error('body too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The merchant's notify endpoint: verify, store, answer `success`. */
async function startWebhook(
  notifyKey: string,
  received: PaymentNotification[],
): Promise<{ url: string; close(): void }> {
  const server = createServer((req, res) => {
    readBody(req).then(
      (body) => {
        const verdict = verifyNotification({ notifyKey, headers: req.headers, body });
        if (!verdict.ok) {
          res.writeHead(401).end(verdict.reason);
          return;
        }
        received.push(verdict.notification);
        res.writeHead(200, { 'content-type': 'text/plain' }).end(NOTIFY_ACK_BODY);
      },
      () => res.writeHead(400).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { url: `http://127.0.0.1:${port}/paycore/notify`, close: () => server.close() };
}

async function main(): Promise<void> {
  const endpointsFile = process.env['PAYCORE_ENDPOINTS_FILE'] ?? path.join(RUN_DIR, 'endpoints.json');
  const paycore = createPaycoreClient({ endpoints: loadEndpointsFile(endpointsFile), token: tokens() });
  const run = randomBytes(4).toString('hex');
  const merchantId = `example-shop-${run}`;
  const notifyKey = randomBytes(24).toString('hex');
  const notifications: PaymentNotification[] = [];
  const webhook = await startWebhook(notifyKey, notifications);
  const traces: Record<string, string> = {};
  const keep = (step: string) => (traceparent: string) => (traces[step] = traceparent.split('-')[1] ?? '');
  try {
    await paycore.cashier.registerMerchant({
      merchantId,
      name: 'Example shop',
      notifyKey,
      riskLimits: {
        perTransactionMaxMinor: 0n,
        merchantDailyMaxMinor: 0n,
        payerDailyMaxMinor: 0n,
        payerPaymentsPerMinuteMax: 0,
      },
    });
    const created = await paycore.cashier.createPaymentOrder(
      {
        merchantId,
        merchantOrderNo: `no-${run}`,
        amount: cny(1999n),
        product: '100101',
        bizMode: proto.cashier.BizMode.BIZ_MODE_INSTANT,
        subject: 'one example item',
        notifyUrl: webhook.url,
      },
      { onTraceparent: keep('order') },
    );
    const orderId = created.order?.orderId ?? '';
    const payerId = `payer-${run}`;
    const methods = await paycore.cashier.listPayMethods({ orderId, payerId });
    if (!methods.payChannels.some((c) => c.payChannel === '1001')) {
      throw new Error(
        `Alipay QR (1001) is not offered: ${methods.payChannels.map((c) => c.payChannel).join(', ')}`,
      );
    }
    const paid = await paycore.cashier.pay(
      {
        orderId,
        payerId,
        parts: [
          {
            kind: proto.cashier.PartKind.PART_KIND_CHANNEL,
            amount: cny(1999n),
            payChannel: '1001',
          },
        ],
      },
      { onTraceparent: keep('pay') },
    );
    const paymentId = paid.payment?.paymentId ?? '';
    const channelTxnId = paid.payment?.parts.find((p) => p.channelTxnId !== '')?.channelTxnId ?? '';
    // The payer scans the QR code and pays: the sandbox plays Alipay.
    const answer = await fetch(`${sandboxUrl()}/sandbox/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'alipay', out_trade_no: channelTxnId, outcome: 'success' }),
    });
    if (answer.status !== 200)
      throw new Error(`sandbox pay answered ${answer.status}: ${await answer.text()}`);
    await waitFor('the order to be PAID', async () => {
      const view = await paycore.cashier.getPaymentOrder({ orderId });
      return view.order?.state === proto.cashier.OrderState.ORDER_STATE_PAID ? true : undefined;
    });
    const notification = await waitFor('the signed notification', () =>
      Promise.resolve(notifications.find((n) => n.order_id === orderId)),
    );
    const refunded = await paycore.cashier.refund(
      { orderId, merchantRefundNo: `refund-${run}`, amount: cny(500n), reason: 'one item returned' },
      { onTraceparent: keep('refund') },
    );
    const refundId = refunded.refund?.refundId ?? '';
    const refund = await waitFor('the refund to succeed', async () => {
      const got = await paycore.cashier.getRefund({ refundId });
      const state = got.refund?.state;
      if (state === proto.cashier.RefundState.REFUND_STATE_FAILED)
        throw new Error(`refund ${refundId} failed`);
      return state === proto.cashier.RefundState.REFUND_STATE_SUCCEEDED ? got.refund : undefined;
    });
    process.stdout.write(
      `${JSON.stringify({
        merchant_id: merchantId,
        order_id: orderId,
        payment_id: paymentId,
        channel_txn_id: channelTxnId,
        notified_amount_minor: notification.amount_minor,
        refund_id: refundId,
        refunded: showMoney(refund?.amount),
        trace_ids: traces,
      })}\n`,
    );
  } finally {
    webhook.close();
    paycore.close();
  }
}

main().catch((err: unknown) => {
  if (err instanceof PaycoreError)
    process.stderr.write(`example: ${err.codeName} ${err.reason}: ${err.message}\n`);
  else process.stderr.write(`example: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
