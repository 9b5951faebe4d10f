/**
 * Drives a platform that `make up` (scripts/up.sh) started, through its public
 * doors only: the addresses in `<run dir>/endpoints.json` and
 * `http-endpoints.json`, the development token in `<run dir>/dev-token`, and
 * the channel sandbox's simulated payer. No private setup: what works here
 * works for a developer after `make up`.
 *
 * `channelPaymentAndRefund` is the round trip a developer tries first: a
 * merchant, an order, an Alipay channel payment paid at the sandbox (so the
 * channel's signed callback has to reach channel-router and decrypt with the
 * stored credentials), then a refund through the same channel, both waited
 * for until final. Every call goes through @paycore/client, as a developer's
 * code would: its deadlines, idempotency keys and retries.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { cny, createPaycoreClient, proto, staticToken } from '@paycore/client';

const { BizMode, OrderState, PartKind, RefundState } = proto.cashier;
type GetPaymentOrderResponse = proto.cashier.GetPaymentOrderResponse;

const CALL_DEADLINE_MS = 15_000;
const WAIT_MS_MAX = 60_000;
const POLL_MS = 200;

export interface RunningPlatform {
  readonly endpoints: Readonly<Record<string, string>>;
  readonly httpEndpoints: Readonly<Record<string, string>>;
  readonly token: string;
  readonly sandboxUrl: string;
}

function readJson(file: string): Record<string, string> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
}

export function runningPlatform(runDirectory: string): RunningPlatform {
  const endpoints = readJson(path.join(runDirectory, 'endpoints.json'));
  const httpEndpoints = readJson(path.join(runDirectory, 'http-endpoints.json'));
  const sandbox = httpEndpoints['channel-sandbox'];
  if (sandbox === undefined) throw new Error(`${runDirectory}: make up started no channel-sandbox`);
  return {
    endpoints,
    httpEndpoints,
    token: readFileSync(path.join(runDirectory, 'dev-token'), 'utf8').trim(),
    sandboxUrl: `http://${sandbox}`,
  };
}

const uid = (prefix: string): string => `${prefix}-${randomBytes(6).toString('hex')}`;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + WAIT_MS_MAX;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${WAIT_MS_MAX} ms`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

export interface RoundTrip {
  readonly orderId: string;
  readonly paymentId: string;
  readonly refundId: string;
  readonly channelTxnId: string;
}

/** Pays `amountMinor` through Alipay (pay channel 1001) at the sandbox and refunds `refundMinor` of it. */
export async function channelPaymentAndRefund(
  platform: RunningPlatform,
  amountMinor = 2_500n,
  refundMinor = 1_000n,
): Promise<RoundTrip> {
  if (platform.endpoints['cashier'] === undefined) throw new Error('make up started no cashier');
  const paycore = createPaycoreClient({
    endpoints: platform.endpoints,
    token: staticToken(platform.token),
    defaultDeadlineMs: CALL_DEADLINE_MS,
  });
  const { cashier } = paycore;
  try {
    const merchantId = uid('m');
    await cashier.registerMerchant({
      requestId: uid('reg'),
      merchantId,
      name: `round trip ${merchantId}`,
      notifyKey: `notify-${randomBytes(12).toString('hex')}`,
      riskLimits: {
        perTransactionMaxMinor: 0n,
        merchantDailyMaxMinor: 0n,
        payerDailyMaxMinor: 0n,
        payerPaymentsPerMinuteMax: 0,
      },
    });
    const created = await cashier.createPaymentOrder({
      requestId: uid('ord'),
      merchantId,
      merchantOrderNo: uid('no'),
      amount: cny(amountMinor),
      product: '100101',
      bizMode: BizMode.BIZ_MODE_INSTANT,
      subject: 'round trip',
      expireTime: undefined,
      notifyUrl: '',
    });
    const orderId = created.order?.orderId ?? '';
    const paid = await cashier.pay({
      requestId: uid('pay'),
      orderId,
      payerId: uid('payer'),
      parts: [
        {
          kind: PartKind.PART_KIND_CHANNEL,
          amount: cny(amountMinor),
          payChannel: '1001',
          couponId: '',
          bizCode: '',
          refunded: undefined,
          channelTxnId: '',
          channelNo: '',
          asset: '',
          quantity: 0n,
          consumptionType: '',
        },
      ],
    });
    const channelTxnId = paid.payment?.parts[0]?.channelTxnId ?? '';
    if (channelTxnId === '') throw new Error(`pay of ${orderId} started no channel transaction`);
    const atSandbox = await fetch(`${platform.sandboxUrl}/sandbox/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'alipay', out_trade_no: channelTxnId, outcome: 'success' }),
      signal: AbortSignal.timeout(CALL_DEADLINE_MS),
    });
    if (atSandbox.status !== 200)
      throw new Error(`sandbox pay ${channelTxnId}: ${atSandbox.status} ${await atSandbox.text()}`);
    const view = await waitFor<GetPaymentOrderResponse>(`order ${orderId} PAID`, async () => {
      const got = await cashier.getPaymentOrder({ orderId });
      return got.order?.state === OrderState.ORDER_STATE_PAID ? got : undefined;
    });
    const refund = await cashier.refund({
      requestId: uid('rf'),
      orderId,
      merchantRefundNo: uid('rn'),
      amount: cny(refundMinor),
      reason: 'round trip',
    });
    const refundId = refund.refund?.refundId ?? '';
    await waitFor(`refund ${refundId} SUCCEEDED`, async () => {
      const got = await cashier.getRefund({ refundId });
      if (got.refund?.state === RefundState.REFUND_STATE_FAILED) throw new Error(`refund ${refundId} FAILED`);
      return got.refund?.state === RefundState.REFUND_STATE_SUCCEEDED ? true : undefined;
    });
    return { orderId, paymentId: view.payments[0]?.paymentId ?? '', refundId, channelTxnId };
  } finally {
    paycore.close();
  }
}
