/**
 * Builds and sends the channels' asynchronous notifications for an order:
 * Alipay's signed form POST (`trade_status_sync`) and WeChat's signed XML,
 * with the fault switches for the order applied.
 */
import { randomUUID } from 'node:crypto';
import { alipaySign, fenToYuan, toForm, toXml, wechatSign, fromXml } from '@paycore/channel-protocols';
import type { SandboxContext } from './context';
import { MERCHANT } from './keys';
import {
  ALIPAY_RETRY_SCHEDULE_MS,
  Notifier,
  WECHAT_RETRY_SCHEDULE_MS,
  type NotificationFaults,
} from './notifier';
import { refundedFen, type Order, type Refund } from './store';
import { chinaCompactDateTime, chinaDateTime } from './timers';

export function alipayTradeStatus(state: Order['state'], refunded: bigint, amountFen: bigint): string {
  switch (state) {
    case 'PAID':
      return refunded >= amountFen ? 'TRADE_CLOSED' : 'TRADE_SUCCESS';
    case 'CLOSED':
    case 'REVOKED':
    case 'PAY_ERROR':
      return 'TRADE_CLOSED';
    case 'CREATED':
    case 'PAYING':
      return 'WAIT_BUYER_PAY';
  }
}

function notificationFaults(ctx: SandboxContext, order: Order): NotificationFaults {
  const channel = order.channel;
  const drop = ctx.faults.take('notify_drop', channel, undefined, order.outTradeNo);
  const duplicate = ctx.faults.take('notify_duplicate', channel, undefined, order.outTradeNo);
  const delay = ctx.faults.take('notify_delay', channel, undefined, order.outTradeNo);
  const reorder = ctx.faults.take('notify_reorder', channel, undefined, order.outTradeNo);
  return {
    drop: drop !== undefined,
    copies: duplicate ? (duplicate.copies ?? 2) : 1,
    extraDelayMs: delay?.ms ?? 0,
    ...(reorder ? { reorderHoldMs: Notifier.reorderHoldMs(reorder.ms) } : {}),
  };
}

/** The Alipay notification for the order's current state; `refund` adds the refund fields. */
export function sendAlipayNotification(ctx: SandboxContext, order: Order, refund?: Refund): void {
  if (order.notifyUrl === '') return;
  const now = ctx.nowMs();
  const refunded = refundedFen(order);
  const params: Record<string, string> = {
    notify_time: chinaDateTime(now),
    notify_type: 'trade_status_sync',
    notify_id: randomUUID().replace(/-/g, ''),
    app_id: MERCHANT.alipayAppId,
    charset: 'utf-8',
    version: '1.0',
    sign_type: 'RSA2',
    trade_no: order.tradeNo,
    out_trade_no: order.outTradeNo,
    buyer_id: order.buyerId,
    seller_id: MERCHANT.alipayPid,
    trade_status: alipayTradeStatus(order.state, refunded, order.amountFen),
    total_amount: fenToYuan(order.amountFen),
    subject: order.subject,
    gmt_create: chinaDateTime(order.createdAtMs),
  };
  if (order.paidAtMs !== undefined) {
    params.receipt_amount = fenToYuan(order.amountFen);
    params.gmt_payment = chinaDateTime(order.paidAtMs);
  }
  if (refund) {
    params.refund_fee = fenToYuan(refunded);
    params.out_biz_no = refund.outRefundNo;
    params.gmt_refund = `${chinaDateTime(refund.succeededAtMs)}.000`;
  }
  if (order.closedAtMs !== undefined || params.trade_status === 'TRADE_CLOSED') {
    params.gmt_close = chinaDateTime(order.closedAtMs ?? now);
  }
  params.sign = alipaySign(params, ctx.keys.alipay.privateKeyPem, { forNotify: true });
  ctx.notifier.send(
    {
      key: params.notify_id ?? '',
      outTradeNo: order.outTradeNo,
      url: order.notifyUrl,
      body: toForm(params),
      contentType: 'application/x-www-form-urlencoded; charset=utf-8',
      scheduleMs: ALIPAY_RETRY_SCHEDULE_MS,
      // Alipay stops only on the exact seven characters `success`.
      acknowledged: (_status, body) => body === 'success',
    },
    notificationFaults(ctx, order),
  );
}

export function sendWechatNotification(ctx: SandboxContext, order: Order): void {
  if (order.notifyUrl === '' || order.paidAtMs === undefined) return;
  const params: Record<string, string> = {
    return_code: 'SUCCESS',
    return_msg: 'OK',
    appid: MERCHANT.wechatAppId,
    mch_id: MERCHANT.wechatMchId,
    nonce_str: randomUUID().replace(/-/g, ''),
    result_code: 'SUCCESS',
    openid: order.buyerId,
    is_subscribe: 'N',
    trade_type: order.tradeType,
    bank_type: 'OTHERS',
    total_fee: order.amountFen.toString(),
    cash_fee: order.amountFen.toString(),
    fee_type: 'CNY',
    transaction_id: order.tradeNo,
    out_trade_no: order.outTradeNo,
    time_end: chinaCompactDateTime(order.paidAtMs),
  };
  if (order.attach !== '') params.attach = order.attach;
  params.sign = wechatSign(params, ctx.keys.wechatApiKey, order.signType);
  ctx.notifier.send(
    {
      key: params.nonce_str ?? '',
      outTradeNo: order.outTradeNo,
      url: order.notifyUrl,
      body: toXml(params),
      contentType: 'text/xml; charset=utf-8',
      scheduleMs: WECHAT_RETRY_SCHEDULE_MS,
      acknowledged: (_status, body) => {
        try {
          return fromXml(body).return_code === 'SUCCESS';
        } catch {
          return false;
        }
      },
    },
    notificationFaults(ctx, order),
  );
}
