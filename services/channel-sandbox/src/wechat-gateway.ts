/**
 * WeChat Pay API v2 (`/wechat/pay/unifiedorder`, `/wechat/pay/orderquery`,
 * `/wechat/pay/closeorder`, `/wechat/secapi/pay/refund`,
 * `/wechat/pay/refundquery`, `/wechat/pay/downloadbill`): XML in, XML out,
 * signed MD5 or HMAC-SHA256 as the request's `sign_type` says (MD5 when
 * absent), answered with the same sign type. Errors follow WeChat's two
 * levels: `return_code` FAIL for a request that could not be read or verified
 * (unsigned, e.g. `签名错误`), `result_code` FAIL with `err_code` for business
 * failures (signed).
 *
 * Simplifications, on purpose: `secapi` refunds need no client certificate
 * here; refunds succeed at once (no refund notification is sent — WeChat's
 * refund notifications are AES-encrypted `req_info`, not modelled); `body`
 * and `attach` may not hold a comma, backtick or line break, because the
 * bill format has no way to write them.
 */
import { gzipSync } from 'node:zlib';
import {
  fromXml,
  isWechatSignType,
  parseFen,
  toXml,
  wechatSign,
  wechatVerify,
  type WechatBillType,
  type WechatSignType,
} from '@paycore/channel-protocols';
import type { HttpRequest, HttpResponse } from '@paycore/platform';
import { randomUUID } from 'node:crypto';
import { buildWechatBillFile } from './bills';
import { operationFaults, type SandboxContext } from './context';
import type { Operation } from './faults';
import { MERCHANT } from './keys';
import { scheduleAutoPay } from './payments';
import { refundedFen, REFUNDS_PER_ORDER_MAX, type Order, type OrderState } from './store';
import { chinaCompactDateTime, chinaDate, chinaDateTime } from './timers';

type Fields = Record<string, string>;

const AMOUNT_MAX_FEN = 10_000_000_000n;
const OUT_NO_PATTERN = /^[A-Za-z0-9_\-|*@]{1,32}$/;
const TRADE_TYPES = new Set(['NATIVE', 'JSAPI', 'APP', 'MWEB']);

export const WECHAT_PATHS: Readonly<Record<string, Operation>> = {
  '/wechat/pay/unifiedorder': 'create',
  '/wechat/pay/orderquery': 'query',
  '/wechat/pay/closeorder': 'close',
  '/wechat/secapi/pay/refund': 'refund',
  '/wechat/pay/refundquery': 'refund_query',
  '/wechat/pay/downloadbill': 'bill',
};

function xml(body: string): HttpResponse {
  return { status: 200, headers: { 'content-type': 'text/xml; charset=utf-8' }, body };
}

function returnFail(message: string): HttpResponse {
  return xml(toXml({ return_code: 'FAIL', return_msg: message }));
}

class ParamError extends Error {}

function signed(ctx: SandboxContext, signType: WechatSignType, fields: Fields): HttpResponse {
  const out: Fields = {
    return_code: 'SUCCESS',
    return_msg: 'OK',
    appid: MERCHANT.wechatAppId,
    mch_id: MERCHANT.wechatMchId,
    nonce_str: randomUUID().replace(/-/g, ''),
    ...fields,
  };
  out.sign = wechatSign(out, ctx.keys.wechatApiKey, signType);
  return xml(toXml(out));
}

function fail(errCode: string, description: string): Fields {
  return { result_code: 'FAIL', err_code: errCode, err_code_des: description };
}

const SYSTEM_ERROR = fail('SYSTEMERROR', '系统错误');

function required(request: Fields, name: string, lengthMax: number): string {
  const value = request[name] ?? '';
  if (value === '' || value.length > lengthMax) throw new ParamError(`${name} 参数缺失或过长`);
  return value;
}

function outNo(request: Fields, name: string): string {
  const value = required(request, name, 32);
  if (!OUT_NO_PATTERN.test(value)) throw new ParamError(`${name} 格式错误`);
  return value;
}

function fen(request: Fields, name: string): bigint {
  let value: bigint;
  try {
    value = parseFen(required(request, name, 12));
  } catch {
    throw new ParamError(`${name} 必须为整数分`);
  }
  if (value <= 0n || value > AMOUNT_MAX_FEN) throw new ParamError(`${name} 超出范围`);
  return value;
}

function billSafe(request: Fields, name: string, lengthMax: number, isRequired: boolean): string {
  const value = isRequired ? required(request, name, lengthMax) : (request[name] ?? '');
  if (value.length > lengthMax || /[,`\r\n]/.test(value))
    throw new ParamError(`${name} 含有不支持的字符或过长`);
  return value;
}

export function wechatTradeState(state: OrderState, refunded: bigint): string {
  switch (state) {
    case 'CREATED':
      return 'NOTPAY';
    case 'PAYING':
      return 'USERPAYING';
    case 'PAID':
      return refunded > 0n ? 'REFUND' : 'SUCCESS';
    case 'PAY_ERROR':
      return 'PAYERROR';
    case 'CLOSED':
      return 'CLOSED';
    case 'REVOKED':
      return 'REVOKED';
  }
}

const TRADE_STATE_DESC: Readonly<Record<string, string>> = {
  NOTPAY: '订单未支付',
  USERPAYING: '用户支付中',
  SUCCESS: '支付成功',
  REFUND: '转入退款',
  PAYERROR: '支付失败',
  CLOSED: '订单已关闭',
  REVOKED: '已撤销',
};

function unifiedOrder(ctx: SandboxContext, request: Fields): Fields {
  const outTradeNo = outNo(request, 'out_trade_no');
  const totalFen = fen(request, 'total_fee');
  const body = billSafe(request, 'body', 128, true);
  const attach = billSafe(request, 'attach', 127, false);
  const notifyUrl = required(request, 'notify_url', 256);
  const tradeType = required(request, 'trade_type', 16);
  if (!TRADE_TYPES.has(tradeType)) throw new ParamError('trade_type 不支持');
  if (tradeType === 'JSAPI') required(request, 'openid', 128);
  const fingerprint = `${totalFen}|${body}|${attach}|${tradeType}`;
  const existing = ctx.store.order('wechat', outTradeNo);
  let order = existing;
  if (existing) {
    if (existing.state === 'PAID') return fail('ORDERPAID', '该订单已支付');
    if (existing.state === 'CLOSED') return fail('ORDERCLOSED', '订单已关闭');
    if (existing.fingerprint !== fingerprint) return fail('INVALID_REQUEST', '201 商户订单号重复');
  } else {
    const now = ctx.nowMs();
    const signType =
      request.sign_type !== undefined && isWechatSignType(request.sign_type) ? request.sign_type : 'MD5';
    const created: Order = {
      channel: 'wechat',
      outTradeNo,
      tradeNo: ctx.store.nextId(`4200${chinaDate(now).replace(/-/g, '')}`),
      amountFen: totalFen,
      subject: body,
      attach,
      notifyUrl,
      tradeType,
      signType,
      createdAtMs: now,
      fingerprint,
      buyerId: request.openid ?? `oSandbox${String(ctx.store.orderCount + 1).padStart(20, '0')}`,
      state: 'CREATED',
      refunds: [],
      history: [{ state: 'CREATED', refundedFen: 0n }],
    };
    if (!ctx.store.addOrder(created)) return SYSTEM_ERROR;
    scheduleAutoPay(ctx, created);
    order = created;
  }
  const prepayId = `wx${order?.tradeNo.slice(-26) ?? ''}`;
  return {
    result_code: 'SUCCESS',
    trade_type: tradeType,
    prepay_id: prepayId,
    ...(tradeType === 'NATIVE' ? { code_url: `weixin://wxpay/bizpayurl?pr=${prepayId.slice(-7)}` } : {}),
  };
}

function findOrder(ctx: SandboxContext, request: Fields): Order | undefined {
  const transactionId = request.transaction_id ?? '';
  if (transactionId !== '') return ctx.store.orderByTradeNo('wechat', transactionId);
  return ctx.store.order('wechat', outNo(request, 'out_trade_no'));
}

function orderQuery(ctx: SandboxContext, order: Order): Fields {
  const stale = ctx.faults.take('query_stale', 'wechat', 'query', order.outTradeNo) !== undefined;
  const snapshot = ctx.store.snapshot(order, stale);
  const tradeState = wechatTradeState(snapshot.state, snapshot.refundedFen);
  const out: Fields = {
    result_code: 'SUCCESS',
    out_trade_no: order.outTradeNo,
    trade_state: tradeState,
    trade_state_desc: TRADE_STATE_DESC[tradeState] ?? '',
    total_fee: order.amountFen.toString(),
  };
  if ((tradeState === 'SUCCESS' || tradeState === 'REFUND') && order.paidAtMs !== undefined) {
    Object.assign(out, {
      transaction_id: order.tradeNo,
      openid: order.buyerId,
      is_subscribe: 'N',
      trade_type: order.tradeType,
      bank_type: 'OTHERS',
      cash_fee: order.amountFen.toString(),
      fee_type: 'CNY',
      time_end: chinaCompactDateTime(order.paidAtMs),
    });
    if (order.attach !== '') out.attach = order.attach;
  }
  return out;
}

function closeOrder(ctx: SandboxContext, order: Order): Fields {
  if (order.state === 'PAID') return fail('ORDERPAID', '订单已支付，不能发起关单');
  if (order.state === 'CLOSED') return fail('ORDERCLOSED', '订单已关闭');
  ctx.store.transition(order, 'CLOSED', ctx.nowMs());
  return { result_code: 'SUCCESS' };
}

function refund(ctx: SandboxContext, order: Order, request: Fields): Fields {
  const outRefundNo = outNo(request, 'out_refund_no');
  const totalFen = fen(request, 'total_fee');
  const refundFen = fen(request, 'refund_fee');
  if (totalFen !== order.amountFen) return fail('INVALID_REQUEST', '订单金额与原订单不一致');
  const answer = (refundId: string): Fields => ({
    result_code: 'SUCCESS',
    transaction_id: order.tradeNo,
    out_trade_no: order.outTradeNo,
    out_refund_no: outRefundNo,
    refund_id: refundId,
    refund_fee: refundFen.toString(),
    total_fee: order.amountFen.toString(),
    cash_fee: order.amountFen.toString(),
  });
  const existing = order.refunds.find((candidate) => candidate.outRefundNo === outRefundNo);
  if (existing) {
    if (existing.amountFen !== refundFen) return fail('INVALID_REQUEST', '同一退款单号的退款金额不一致');
    return answer(existing.refundId);
  }
  if (order.state !== 'PAID') return fail('TRADE_STATE_ERROR', '订单状态错误');
  if (refundedFen(order) + refundFen > order.amountFen)
    return fail('INVALID_REQUEST', '退款金额超过订单可退金额');
  if (order.refunds.length >= REFUNDS_PER_ORDER_MAX) return fail('FREQUENCY_LIMITED', '退款次数超限');
  const now = ctx.nowMs();
  const refundId = ctx.store.nextId(`5030${chinaDate(now).replace(/-/g, '')}`);
  ctx.store.addRefund(order, {
    outRefundNo,
    refundId,
    amountFen: refundFen,
    reason: request.refund_desc ?? '',
    createdAtMs: now,
    succeededAtMs: now,
  });
  return answer(refundId);
}

function refundQuery(ctx: SandboxContext, request: Fields): Fields {
  let order: Order | undefined;
  const byRefund = request.out_refund_no ?? request.refund_id;
  if (request.transaction_id || request.out_trade_no) order = findOrder(ctx, request);
  else if (byRefund) {
    order = ctx.store
      .allOrders('wechat')
      .find((candidate) =>
        candidate.refunds.some((r) => r.outRefundNo === byRefund || r.refundId === byRefund),
      );
  } else throw new ParamError('需要 transaction_id、out_trade_no、out_refund_no 或 refund_id');
  const refunds = (order?.refunds ?? []).filter(
    (r) => byRefund === undefined || r.outRefundNo === byRefund || r.refundId === byRefund,
  );
  if (!order || refunds.length === 0) return fail('REFUNDNOTEXIST', '退款订单查询失败');
  const out: Fields = {
    result_code: 'SUCCESS',
    transaction_id: order.tradeNo,
    out_trade_no: order.outTradeNo,
    total_fee: order.amountFen.toString(),
    cash_fee: order.amountFen.toString(),
    refund_fee: refunds.reduce((total, r) => total + r.amountFen, 0n).toString(),
    refund_count: String(refunds.length),
  };
  refunds.forEach((r, index) => {
    out[`out_refund_no_${index}`] = r.outRefundNo;
    out[`refund_id_${index}`] = r.refundId;
    out[`refund_fee_${index}`] = r.amountFen.toString();
    out[`refund_status_${index}`] = 'SUCCESS';
    out[`refund_success_time_${index}`] = chinaDateTime(r.succeededAtMs);
    out[`refund_recv_accout_${index}`] = '支付用户零钱';
  });
  return out;
}

function downloadBill(ctx: SandboxContext, request: Fields): HttpResponse {
  const billDateCompact = required(request, 'bill_date', 8);
  if (!/^\d{8}$/.test(billDateCompact)) return returnFail('invalid bill_date');
  const billType = (request.bill_type ?? 'ALL') as WechatBillType;
  if (!['ALL', 'SUCCESS', 'REFUND'].includes(billType)) return returnFail('invalid bill_type');
  const billDate = `${billDateCompact.slice(0, 4)}-${billDateCompact.slice(4, 6)}-${billDateCompact.slice(6)}`;
  const text = buildWechatBillFile(ctx, billDate, billType);
  if (text === undefined) {
    return xml(toXml({ return_code: 'FAIL', return_msg: 'No Bill Exist', error_code: '20002' }));
  }
  if (request.tar_type === 'GZIP') {
    return {
      status: 200,
      headers: { 'content-type': 'application/octet-stream' },
      body: gzipSync(Buffer.from(text, 'utf8')),
    };
  }
  return { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: text };
}

export async function handleWechat(ctx: SandboxContext, req: HttpRequest): Promise<HttpResponse> {
  const operation = WECHAT_PATHS[req.path];
  if (operation === undefined) return returnFail('not found');
  let request: Fields;
  try {
    request = fromXml(req.body.toString('utf8'));
  } catch {
    return returnFail('XML格式错误');
  }
  const signTypeText = request.sign_type ?? 'MD5';
  if (!isWechatSignType(signTypeText)) return returnFail('sign_type 参数错误');
  const signType: WechatSignType = signTypeText;
  if (!request.sign || !wechatVerify(request, ctx.keys.wechatApiKey, signType)) {
    ctx.logger.info({ path: req.path }, 'wechat request with a bad signature refused');
    return returnFail('签名错误');
  }
  if (request.appid !== MERCHANT.wechatAppId || request.mch_id !== MERCHANT.wechatMchId) {
    return signed(ctx, signType, fail('APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配'));
  }
  if (!request.nonce_str || request.nonce_str.length > 32) return returnFail('nonce_str 参数错误');
  ctx.calls.record(
    'wechat',
    operation,
    operation === 'refund' || operation === 'refund_query'
      ? `${request.out_trade_no ?? ''}/${request.out_refund_no ?? ''}`
      : request.out_trade_no,
  );
  try {
    const faults = await operationFaults(ctx, 'wechat', operation, request.out_trade_no);
    if (operation === 'bill') return downloadBill(ctx, request);
    if (faults.decline) {
      const code = faults.decline.code ?? (operation === 'refund' ? 'NOTENOUGH' : 'ORDERNOTEXIST');
      return signed(ctx, signType, fail(code, faults.decline.message ?? '交易被拒绝'));
    }
    if (faults.unknown?.applied === false) return signed(ctx, signType, SYSTEM_ERROR);
    const answer = perform(ctx, operation, request);
    return signed(ctx, signType, faults.unknown ? SYSTEM_ERROR : answer);
  } catch (err: unknown) {
    if (err instanceof ParamError) return signed(ctx, signType, fail('PARAM_ERROR', err.message));
    throw err;
  }
}

function perform(ctx: SandboxContext, operation: Operation, request: Fields): Fields {
  if (operation === 'create') return unifiedOrder(ctx, request);
  if (operation === 'refund_query') return refundQuery(ctx, request);
  const order = findOrder(ctx, request);
  if (!order) return fail('ORDERNOTEXIST', '此交易订单号不存在');
  if (operation === 'query') return orderQuery(ctx, order);
  if (operation === 'close') return closeOrder(ctx, order);
  return refund(ctx, order, request);
}
