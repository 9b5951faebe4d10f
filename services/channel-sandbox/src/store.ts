/**
 * The sandbox's memory: orders, refunds and payouts as the channels would hold
 * them. Money is bigint fen. Everything is bounded; past the bound a create is
 * refused (the gateways answer with a system error), because a sandbox that
 * grows without limit under a benchmark is a sandbox that falls over.
 */
import { type WechatSignType } from '@paycore/channel-protocols';

export const ORDERS_MAX = 200_000;
export const PAYOUTS_MAX = 200_000;
export const REFUNDS_PER_ORDER_MAX = 50;

export type PaymentChannel = 'alipay' | 'wechat';
/** One internal life cycle; each gateway maps it to its channel's status words. */
export type OrderState = 'CREATED' | 'PAYING' | 'PAID' | 'PAY_ERROR' | 'CLOSED' | 'REVOKED';

export interface Refund {
  readonly outRefundNo: string;
  readonly refundId: string;
  readonly amountFen: bigint;
  readonly reason: string;
  readonly createdAtMs: number;
  readonly succeededAtMs: number;
}

export interface StateSnapshot {
  readonly state: OrderState;
  readonly refundedFen: bigint;
}

export interface Order {
  readonly channel: PaymentChannel;
  readonly outTradeNo: string;
  /** Alipay `trade_no` / WeChat `transaction_id`. */
  readonly tradeNo: string;
  readonly amountFen: bigint;
  readonly subject: string;
  readonly attach: string;
  readonly notifyUrl: string;
  readonly tradeType: string;
  readonly signType: WechatSignType;
  readonly createdAtMs: number;
  /** What the creating request asked for; a repeat with different terms is refused. */
  readonly fingerprint: string;
  readonly buyerId: string;
  state: OrderState;
  paidAtMs?: number;
  closedAtMs?: number;
  refunds: Refund[];
  /** Every state the order has been in, oldest first; `query_stale` answers the one before the last. */
  history: StateSnapshot[];
}

export type PayoutStatus = 'PROCESSING' | 'SUCCESS' | 'FAILED';

export interface Payout {
  readonly outPayoutNo: string;
  readonly bankSerialNo: string;
  readonly amountFen: bigint;
  readonly currency: string;
  readonly accountNo: string;
  readonly accountName: string;
  readonly bankCode: string;
  readonly fingerprint: string;
  readonly createdAtMs: number;
  /** POST /bank/payout requests that named this payout number (the first included). */
  requests: number;
  status: PayoutStatus;
  failReason?: string;
  finishedAtMs?: number;
}

export function refundedFen(order: Order): bigint {
  return order.refunds.reduce((total, refund) => total + refund.amountFen, 0n);
}

export class Store {
  private readonly orders = new Map<string, Order>();
  private readonly byTradeNo = new Map<string, Order>();
  private readonly payouts = new Map<string, Payout>();
  private sequence = 0;

  /** A channel-shaped id: `head` (date and channel marker) + a zero-padded counter, 28 digits like the real ones. */
  nextId(head: string): string {
    this.sequence += 1;
    return head + String(this.sequence).padStart(28 - head.length, '0');
  }

  get orderCount(): number {
    return this.orders.size;
  }

  order(channel: PaymentChannel, outTradeNo: string): Order | undefined {
    return this.orders.get(`${channel}:${outTradeNo}`);
  }

  orderByTradeNo(channel: PaymentChannel, tradeNo: string): Order | undefined {
    const order = this.byTradeNo.get(tradeNo);
    return order?.channel === channel ? order : undefined;
  }

  /** Returns false when the store is full. */
  addOrder(order: Order): boolean {
    if (this.orders.size >= ORDERS_MAX) return false;
    this.orders.set(`${order.channel}:${order.outTradeNo}`, order);
    this.byTradeNo.set(order.tradeNo, order);
    return true;
  }

  /** Moves an order to `state` and records the snapshot. */
  transition(order: Order, state: OrderState, nowMs: number): void {
    order.state = state;
    if (state === 'PAID' && order.paidAtMs === undefined) order.paidAtMs = nowMs;
    if (state === 'CLOSED' || state === 'REVOKED') order.closedAtMs = nowMs;
    order.history.push({ state, refundedFen: refundedFen(order) });
  }

  addRefund(order: Order, refund: Refund): void {
    order.refunds.push(refund);
    order.history.push({ state: order.state, refundedFen: refundedFen(order) });
  }

  /** What a query shows: the latest snapshot, or with `stale` the one before it. */
  snapshot(order: Order, stale: boolean): StateSnapshot {
    const history = order.history;
    const latest = history[history.length - 1] ?? { state: order.state, refundedFen: refundedFen(order) };
    return stale ? (history[history.length - 2] ?? latest) : latest;
  }

  allOrders(channel: PaymentChannel): Order[] {
    return [...this.orders.values()].filter((order) => order.channel === channel);
  }

  payout(outPayoutNo: string): Payout | undefined {
    return this.payouts.get(outPayoutNo);
  }

  /** Every payout held, oldest first (read-only view for /sandbox/payouts). */
  allPayouts(): readonly Payout[] {
    return [...this.payouts.values()];
  }

  addPayout(payout: Payout): boolean {
    if (this.payouts.size >= PAYOUTS_MAX) return false;
    this.payouts.set(payout.outPayoutNo, payout);
    return true;
  }
}
