/**
 * Small helpers shared by the cashier end-to-end tests: unique ids, the
 * common calls (register, order, pay), error reasons — through
 * @paycore/client (`p.paycore`), as a merchant integrates: its deadlines,
 * idempotency keys (explicit here where a test replays one) and errors.
 */
import { cny, proto, reasonOf as clientReasonOf } from '@paycore/client';
import { NOTIFY_KEY, type Platform } from './platform';

const { BizMode, OrderState } = proto.cashier;
type BizMode = proto.cashier.BizMode;
type PartKind = proto.cashier.PartKind;
type PaymentOrder = proto.cashier.PaymentOrder;
type PaymentPart = proto.cashier.PaymentPart;
type PayResponse = proto.cashier.PayResponse;

let counter = 0;
export function uid(prefix: string): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 6)}`;
}

/** Today's accounting date (Asia/Shanghai, cut-over at midnight: the account service's default calendar). */
export function chinaToday(): string {
  return new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
}

export { cny };

export async function registerMerchant(
  p: Platform,
  limits?: { perTransactionMaxMinor?: bigint; merchantDailyMaxMinor?: bigint },
): Promise<string> {
  const merchantId = uid('m');
  await p.paycore.cashier.registerMerchant({
    requestId: uid('reg'),
    merchantId,
    name: `merchant ${merchantId}`,
    notifyKey: NOTIFY_KEY,
    riskLimits: {
      perTransactionMaxMinor: limits?.perTransactionMaxMinor ?? 0n,
      merchantDailyMaxMinor: limits?.merchantDailyMaxMinor ?? 0n,
      payerDailyMaxMinor: 0n,
      payerPaymentsPerMinuteMax: 0,
    },
  });
  return merchantId;
}

export async function createOrder(
  p: Platform,
  merchantId: string,
  amountMinor: bigint,
  options: { mode?: BizMode; expireTime?: Date; notify?: boolean } = {},
): Promise<PaymentOrder> {
  const res = await p.paycore.cashier.createPaymentOrder({
    requestId: uid('ord'),
    merchantId,
    merchantOrderNo: uid('no'),
    amount: cny(amountMinor),
    product: '100101',
    bizMode: options.mode ?? BizMode.BIZ_MODE_INSTANT,
    subject: 'e2e order',
    expireTime: options.expireTime,
    notifyUrl: options.notify === false ? '' : p.notifyUrl,
  });
  if (!res.order) throw new Error('no order');
  return res.order;
}

export function part(kind: PartKind, amountMinor: bigint, extra: Partial<PaymentPart> = {}): PaymentPart {
  return {
    kind,
    amount: cny(amountMinor),
    payChannel: '',
    couponId: '',
    bizCode: '',
    refunded: undefined,
    channelTxnId: '',
    channelNo: '',
    asset: '',
    quantity: 0n,
    consumptionType: '',
    ...extra,
  };
}

export async function pay(
  p: Platform,
  orderId: string,
  payerId: string,
  parts: PaymentPart[],
  requestId = uid('pay'),
): Promise<PayResponse> {
  return p.paycore.cashier.pay({ requestId, orderId, payerId, parts });
}

/** The ErrorInfo reason of a call expected to fail. */
export async function reasonOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (err) {
    return clientReasonOf(err) ?? `NO_REASON ${String(err)}`;
  }
  return 'SUCCEEDED';
}

/** Tops up a payer's balance through Alipay and pays it at the sandbox; waits until credited. */
export async function fundPayer(
  p: Platform,
  payerId: string,
  amountMinor: bigint,
  sandboxPay: (txnId: string) => Promise<void>,
): Promise<void> {
  const res = await p.paycore.cashier.topUp({
    requestId: uid('top'),
    payerId,
    amount: cny(amountMinor),
    payChannel: '1001',
    target: proto.cashier.TopUpTarget.TOP_UP_TARGET_BALANCE,
  });
  const txnId = res.payment?.parts[0]?.channelTxnId ?? '';
  await sandboxPay(txnId);
  const orderId = res.order?.orderId ?? '';
  const deadline = Date.now() + 20_000;
  for (;;) {
    const view = await p.paycore.cashier.getPaymentOrder({ orderId });
    if (view.order?.state === OrderState.ORDER_STATE_PAID) return;
    if (Date.now() > deadline)
      throw new Error(`top-up ${orderId} not credited: ${JSON.stringify(view.payments[0]?.state)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
