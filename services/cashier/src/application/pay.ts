/**
 * Starting a payment (Pay, and the top-up's Pay): one transaction that
 * claims the request id first (the payment id is chosen before, so the claim
 * stores its answer in the same statement), then locks the order (its
 * merchant's limits read in the same statement), checks it is payable
 * with nothing in flight, routes the channel part, counts the risk limits,
 * reserves the coupon and records the payment (TRYING) with its parts. A
 * replay answers with the payment as it is now. An in-flight channel payment
 * of the order is superseded (closed at the channel) outside the transaction,
 * then the start runs again, once.
 */
import { randomUUID } from 'node:crypto';
import { minuteBucket, checkRisk } from '../domain/risk';
import { chinaDayOf } from '@paycore/calendar';
import { runWithBizCode, type Catalogue } from '@paycore/context';
import { internalPartCode } from '../domain/codes';
import { couponRefusal } from '../domain/coupons';
import { CashierError } from '../domain/errors';
import { NO_RISK_LIMITS, type RequestedPart, type RiskLimits } from '../domain/model';
import { planPayment } from '../domain/plan';
import { canonicalRequestHash, type IdempotentRequest } from '@paycore/platform';
import {
  DependencyRefusal,
  type CashierStore,
  type CashierTx,
  type ChannelPort,
  type NewPayment,
  type RouteChoice,
} from './ports';
import type { OrderRecord, PaymentRecord } from './records';
import { orderNotFound } from './validate';

export interface PayInput {
  readonly requestId: string;
  readonly orderId: string;
  readonly payerId: string;
  readonly parts: readonly RequestedPart[];
}

export type Started =
  | { readonly kind: 'replay'; readonly paymentId: string }
  | { readonly kind: 'started'; readonly payment: PaymentRecord; readonly order: OrderRecord }
  | { readonly kind: 'in-flight'; readonly paymentId: string; readonly state: string };

/** Thrown inside the start transaction to roll the claim back when the order has a payment in flight. */
class InFlight extends Error {
  constructor(
    readonly paymentId: string,
    readonly state: string,
  ) {
    super(`payment ${paymentId} of the order is ${state}`);
  }
}

export function payRequest(input: PayInput): IdempotentRequest {
  return {
    requestId: input.requestId,
    operation: 'cashier.Pay',
    payload: { orderId: input.orderId, payerId: input.payerId, parts: input.parts.map((p) => ({ ...p })) },
  };
}

export class PaymentStarter {
  constructor(
    private readonly store: CashierStore,
    private readonly channel: ChannelPort,
    private readonly catalogue: Catalogue,
    private readonly nowMs: () => number,
  ) {}

  async start(input: PayInput): Promise<Started> {
    const request = payRequest(input);
    try {
      // The payment's id is chosen first, so the claim stores its answer in the same statement.
      const paymentId = randomUUID();
      return await this.store.transaction('cashier.pay', 'READ COMMITTED', async (tx) => {
        const claim = await tx.claimAnswered<{ paymentId: string }>(request, { paymentId });
        if (claim.kind === 'replay') return { kind: 'replay', paymentId: claim.response.paymentId } as const;
        return this.record(tx, input, paymentId);
      });
    } catch (err) {
      if (err instanceof InFlight) return { kind: 'in-flight', paymentId: err.paymentId, state: err.state };
      throw err;
    }
  }

  private async record(
    tx: CashierTx,
    input: PayInput,
    paymentId: string,
  ): Promise<{ kind: 'started'; payment: PaymentRecord; order: OrderRecord }> {
    const locked = await tx.orders.forPay(input.orderId);
    if (!locked) throw orderNotFound(input.orderId);
    const { order, limits } = locked;
    this.checkPayable(order);
    const inFlight = await tx.payments.inFlightOf(order.orderId);
    if (inFlight) throw new InFlight(inFlight.paymentId, inFlight.state);
    const planned = planPayment({
      orderKind: order.kind,
      orderAmountMinor: order.amountMinor,
      parts: input.parts,
      allowedPayChannels: this.catalogue.payChannelsFor(order.orderCode),
      isInternalPayChannel: (pc) => this.catalogue.isInternalPayChannel(pc),
    });
    const parts: NewPayment['parts'][number][] = [];
    for (const part of planned) {
      if (part.kind === 'CHANNEL') {
        // The order's code is current for the call, so its span and log lines carry it.
        const route = await runWithBizCode(order.orderCode, () =>
          routeOrRefuse(
            this.channel,
            order.orderCode,
            part.amountMinor,
            order.merchantId ?? input.payerId,
            part.payChannel,
          ),
        );
        parts.push({ ...part, channelNo: route.channelNo, bizCode: route.bizCode });
      } else {
        parts.push({ ...part, channelNo: null, bizCode: internalPartCode(order.orderCode, part.payChannel) });
      }
    }
    const nowMs = this.nowMs();
    const riskDay = await this.countRisk(tx, order, limits ?? NO_RISK_LIMITS, input.payerId, nowMs);
    for (const part of planned) {
      if (part.couponId === undefined) continue;
      const coupon = await tx.coupons.byId(part.couponId, 'FOR UPDATE');
      const refusal = couponRefusal(
        coupon,
        { payerId: input.payerId, amountMinor: part.amountMinor, index: part.index, couponId: part.couponId },
        nowMs,
      );
      if (refusal) throw refusal;
      await tx.coupons.moveTo(part.couponId, 'RESERVED', paymentId);
    }
    const payment = await tx.payments.insert({
      paymentId,
      orderId: order.orderId,
      requestId: input.requestId,
      requestHash: canonicalRequestHash('cashier.Pay', payRequest(input).payload),
      payerId: input.payerId,
      amountMinor: order.amountMinor,
      riskDay,
      riskMerchantId: order.merchantId,
      parts,
    });
    return { kind: 'started', payment, order };
  }

  /** Checks the merchant's limits against today's usage (locked) and counts this payment; returns the day. */
  private async countRisk(
    tx: CashierTx,
    order: OrderRecord,
    limits: RiskLimits,
    payerId: string,
    nowMs: number,
  ): Promise<string> {
    const limited =
      limits.perTransactionMaxMinor > 0n ||
      limits.merchantDailyMaxMinor > 0n ||
      limits.payerDailyMaxMinor > 0n ||
      limits.payerPaymentsPerMinuteMax > 0;
    // Nothing to count against: no counters are touched, and none are given back ('' day).
    if (!limited) return '';
    const keys = {
      merchantId: order.merchantId,
      payerId,
      day: chinaDayOf(nowMs),
      minute: minuteBucket(nowMs),
    };
    const refusal = checkRisk(limits, await tx.risk.lockUsage(keys), order.amountMinor);
    if (refusal) throw refusal;
    await tx.risk.add(keys, order.amountMinor, 1);
    return keys.day;
  }

  private checkPayable(order: OrderRecord): void {
    if (order.state !== 'WAIT_PAY') {
      throw new CashierError('ORDER_NOT_PAYABLE', `order is ${order.state}`, {
        metadata: { order_state: order.state },
      });
    }
    if (order.expireAt.getTime() <= this.nowMs()) {
      throw new CashierError('ORDER_EXPIRED', `order expired at ${order.expireAt.toISOString()}`);
    }
  }
}

/**
 * Routes a channel part; a definite refusal of channel-router keeps its meaning for the caller:
 * nothing routes (NO_ROUTE), a pay channel it does not know (UNKNOWN_PAY_CHANNEL), or a route that
 * exists but cannot carry it now (ROUTE_NOT_AVAILABLE) — all FAILED_PRECONDITION or INVALID_ARGUMENT,
 * never INTERNAL.
 */
export async function routeOrRefuse(
  channel: ChannelPort,
  bizCode: string,
  amountMinor: bigint,
  merchantId: string,
  payChannel: string,
): Promise<RouteChoice> {
  try {
    return await channel.route(bizCode, amountMinor, merchantId, payChannel);
  } catch (err) {
    if (!(err instanceof DependencyRefusal)) throw err;
    const reason =
      err.reason === 'NO_ROUTE'
        ? 'NO_ROUTE'
        : err.reason === 'UNKNOWN_PAY_CHANNEL' || err.reason === 'CHANNEL_NOT_FOUND'
          ? 'UNKNOWN_PAY_CHANNEL'
          : 'ROUTE_NOT_AVAILABLE';
    throw new CashierError(reason, `pay channel ${payChannel}: ${err.message}`, {
      field: 'pay_channel',
      metadata: { channel_router_reason: err.reason },
    });
  }
}
