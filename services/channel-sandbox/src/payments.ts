/**
 * The simulated payer: moves a created order to its outcome and lets the
 * channel notify the merchant, as a buyer scanning the QR code would.
 */
import type { SandboxContext } from './context';
import { sendAlipayNotification, sendWechatNotification } from './notifications';
import type { Order } from './store';

export type PayOutcome = 'success' | 'paying' | 'failed' | 'revoked';

export type PayResult =
  { readonly ok: true; readonly order: Order } | { readonly ok: false; readonly reason: string };

export function payOrder(ctx: SandboxContext, order: Order, outcome: PayOutcome): PayResult {
  if (order.state !== 'CREATED' && order.state !== 'PAYING') {
    return { ok: false, reason: `order is ${order.state}, not payable` };
  }
  const now = ctx.nowMs();
  const state = { success: 'PAID', paying: 'PAYING', failed: 'PAY_ERROR', revoked: 'REVOKED' } as const;
  ctx.store.transition(order, state[outcome], now);
  if (outcome === 'success') notify(ctx, order);
  return { ok: true, order };
}

export function notify(ctx: SandboxContext, order: Order): void {
  if (order.channel === 'alipay') sendAlipayNotification(ctx, order);
  else sendWechatNotification(ctx, order);
}

/** Schedules the simulated payer for a new order when auto-pay is configured. */
export function scheduleAutoPay(ctx: SandboxContext, order: Order): void {
  if (ctx.autoPayAfterMs === undefined) return;
  ctx.timers.after(ctx.autoPayAfterMs, () => {
    if (order.state === 'CREATED') payOrder(ctx, order, 'success');
  });
}
