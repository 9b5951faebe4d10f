/**
 * The Alipay openapi gateway (`POST /alipay/gateway.do`, form-encoded; common
 * parameters may also come in the query string, as the official SDKs send
 * them). Requests are verified with the merchant app's public key; every
 * answer is `{"<method>_response":{…},"sign":"…"}` signed with the "Alipay"
 * private key. Error shapes follow Alipay's: 40001 missing arguments, 40002
 * invalid arguments (`isv.invalid-signature` for a bad sign), 40004 business
 * failures with `ACQ.*` sub codes, 20000 for an unknown outcome.
 *
 * Simplification, on purpose: a precreated trade exists (WAIT_BUYER_PAY) from
 * creation; real Alipay answers ACQ.TRADE_NOT_EXIST until the buyer scans.
 */
import { createHmac } from 'node:crypto';
import {
  alipayVerify,
  fenToYuan,
  parseForm,
  ProtocolError,
  signResponse,
  yuanToFen,
} from '@paycore/channel-protocols';
import type { HttpRequest, HttpResponse } from '@paycore/platform';
import { buildAlipayBillFile } from './bills';
import { operationFaults, type SandboxContext } from './context';
import type { Operation } from './faults';
import { MERCHANT } from './keys';
import { alipayTradeStatus, sendAlipayNotification } from './notifications';
import { payOrder, scheduleAutoPay } from './payments';
import { refundedFen, REFUNDS_PER_ORDER_MAX, type Order } from './store';
import { chinaDate, chinaDateTime } from './timers';

type Answer = Record<string, unknown>;

const SUCCESS = { code: '10000', msg: 'Success' } as const;
const AMOUNT_MAX_FEN = 10_000_000_000n;
const OUT_NO_PATTERN = /^[A-Za-z0-9_\-.]{1,64}$/;

const METHOD_OPERATION: Readonly<Record<string, Operation>> = {
  'alipay.trade.precreate': 'create',
  'alipay.trade.pay': 'pay',
  'alipay.trade.query': 'query',
  'alipay.trade.refund': 'refund',
  'alipay.trade.close': 'close',
  'alipay.trade.fastpay.refund.query': 'refund_query',
  'alipay.data.dataservice.bill.downloadurl.query': 'bill',
};

function business(subCode: string, subMsg: string): Answer {
  return { code: '40004', msg: 'Business Failed', sub_code: subCode, sub_msg: subMsg };
}

function invalid(subCode: string, subMsg: string): Answer {
  return { code: '40002', msg: 'Invalid Arguments', sub_code: subCode, sub_msg: subMsg };
}

const SYSTEM_ERROR: Answer = {
  code: '20000',
  msg: 'Service Currently Unavailable',
  sub_code: 'ACQ.SYSTEM_ERROR',
  sub_msg: '系统错误',
};

function reply(ctx: SandboxContext, method: string, answer: Answer): HttpResponse {
  return {
    status: 200,
    headers: { 'content-type': 'application/json;charset=utf-8' },
    body: signResponse(method, answer, ctx.keys.alipay.privateKeyPem),
  };
}

class BadArgument extends Error {}

function readParams(req: HttpRequest): Record<string, string> {
  const fromBody = parseForm(req.body.toString('utf8'));
  const fromQuery = parseForm(req.query.toString());
  for (const key of Object.keys(fromQuery)) {
    if (key in fromBody)
      throw new ProtocolError('INVALID_FORM', `"${key}" is in both the query and the body`);
  }
  return { ...fromQuery, ...fromBody };
}

function bizContent(params: Record<string, string>): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(params.biz_content ?? '');
  } catch {
    throw new BadArgument('biz_content is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new BadArgument('biz_content is not an object');
  return value as Record<string, unknown>;
}

function str(biz: Record<string, unknown>, name: string, required: boolean, lengthMax = 256): string {
  const value = biz[name];
  if (value === undefined || value === '') {
    if (required) throw new BadArgument(`${name} is required`);
    return '';
  }
  if (typeof value !== 'string' || value.length > lengthMax)
    throw new BadArgument(`${name} must be a string of at most ${lengthMax}`);
  return value;
}

function amount(biz: Record<string, unknown>, name: string): bigint {
  const text = str(biz, name, true, 20);
  let fen: bigint;
  try {
    fen = yuanToFen(text);
  } catch {
    throw new BadArgument(`${name} is not an amount in yuan with at most 2 decimals`);
  }
  if (fen <= 0n || fen > AMOUNT_MAX_FEN) throw new BadArgument(`${name} must be within 0.01 .. 100000000.00`);
  return fen;
}

function outNo(biz: Record<string, unknown>, name: string, required: boolean): string {
  const value = str(biz, name, required, 64);
  if (value !== '' && !OUT_NO_PATTERN.test(value))
    throw new BadArgument(`${name} has characters outside [A-Za-z0-9_-.]`);
  return value;
}

function findOrder(ctx: SandboxContext, biz: Record<string, unknown>): Order | undefined {
  const outTradeNo = outNo(biz, 'out_trade_no', false);
  const tradeNo = str(biz, 'trade_no', false, 64);
  if (outTradeNo === '' && tradeNo === '') throw new BadArgument('out_trade_no or trade_no is required');
  return tradeNo !== '' ? ctx.store.orderByTradeNo('alipay', tradeNo) : ctx.store.order('alipay', outTradeNo);
}

function buyerLogonId(order: Order): string {
  return `${order.buyerId.slice(-4)}***@sandbox.example`;
}

function createOrder(
  ctx: SandboxContext,
  biz: Record<string, unknown>,
  notifyUrl: string,
  tradeType: string,
): Order | Answer {
  const outTradeNo = outNo(biz, 'out_trade_no', true);
  const amountFen = amount(biz, 'total_amount');
  const subject = str(biz, 'subject', true);
  const fingerprint = `${amountFen}|${subject}|${tradeType}`;
  const existing = ctx.store.order('alipay', outTradeNo);
  if (existing) {
    if (existing.fingerprint !== fingerprint) return business('ACQ.CONTEXT_INCONSISTENT', '交易信息被篡改');
    return existing;
  }
  const now = ctx.nowMs();
  const order: Order = {
    channel: 'alipay',
    outTradeNo,
    tradeNo: ctx.store.nextId(`${chinaDate(now).replace(/-/g, '')}22001`),
    amountFen,
    subject,
    attach: '',
    notifyUrl,
    tradeType,
    signType: 'MD5',
    createdAtMs: now,
    fingerprint,
    buyerId: `2088${String(ctx.store.orderCount + 1).padStart(12, '0')}`,
    state: 'CREATED',
    refunds: [],
    history: [{ state: 'CREATED', refundedFen: 0n }],
  };
  if (!ctx.store.addOrder(order)) return SYSTEM_ERROR;
  return order;
}

function isOrder(value: Order | Answer): value is Order {
  return 'tradeNo' in value && 'history' in value;
}

function precreate(ctx: SandboxContext, biz: Record<string, unknown>, notifyUrl: string): Answer {
  const created = createOrder(ctx, biz, notifyUrl, 'FACE_TO_FACE_PAYMENT');
  if (!isOrder(created)) return created;
  if (created.state !== 'CREATED') return business('ACQ.TRADE_HAS_SUCCESS', '交易已被支付');
  if (created.history.length === 1) scheduleAutoPay(ctx, created);
  return {
    ...SUCCESS,
    out_trade_no: created.outTradeNo,
    qr_code: `https://qr.alipay.com/bax${created.tradeNo.slice(-20)}`,
  };
}

function barcodePay(ctx: SandboxContext, biz: Record<string, unknown>, notifyUrl: string): Answer {
  str(biz, 'auth_code', true, 64);
  const created = createOrder(ctx, biz, notifyUrl, 'BAR_CODE');
  if (!isOrder(created)) return created;
  if (created.state === 'CREATED') payOrder(ctx, created, 'success');
  if (created.state !== 'PAID') return business('ACQ.TRADE_HAS_CLOSE', '交易已经关闭');
  return {
    ...SUCCESS,
    trade_no: created.tradeNo,
    out_trade_no: created.outTradeNo,
    buyer_logon_id: buyerLogonId(created),
    buyer_user_id: created.buyerId,
    total_amount: fenToYuan(created.amountFen),
    receipt_amount: fenToYuan(created.amountFen),
    gmt_payment: chinaDateTime(created.paidAtMs ?? ctx.nowMs()),
  };
}

function query(ctx: SandboxContext, order: Order, stale: boolean): Answer {
  const snapshot = ctx.store.snapshot(order, stale);
  const answer: Answer = {
    ...SUCCESS,
    trade_no: order.tradeNo,
    out_trade_no: order.outTradeNo,
    buyer_logon_id: buyerLogonId(order),
    trade_status: alipayTradeStatus(snapshot.state, snapshot.refundedFen, order.amountFen),
    total_amount: fenToYuan(order.amountFen),
  };
  if (snapshot.state === 'PAID' && order.paidAtMs !== undefined) {
    answer.receipt_amount = fenToYuan(order.amountFen);
    answer.buyer_pay_amount = fenToYuan(order.amountFen);
    answer.send_pay_date = chinaDateTime(order.paidAtMs);
    answer.buyer_user_id = order.buyerId;
  }
  return answer;
}

function refund(ctx: SandboxContext, order: Order, biz: Record<string, unknown>): Answer {
  const refundFen = amount(biz, 'refund_amount');
  const outRequestNo = outNo(biz, 'out_request_no', false) || order.outTradeNo;
  const base = {
    trade_no: order.tradeNo,
    out_trade_no: order.outTradeNo,
    buyer_logon_id: buyerLogonId(order),
  };
  const existing = order.refunds.find((candidate) => candidate.outRefundNo === outRequestNo);
  if (existing) {
    if (existing.amountFen !== refundFen)
      return business('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额与同一请求号的原请求不一致');
    return {
      ...SUCCESS,
      ...base,
      fund_change: 'N',
      refund_fee: fenToYuan(refundedFen(order)),
      gmt_refund_pay: chinaDateTime(existing.succeededAtMs),
    };
  }
  if (order.state !== 'PAID') return business('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
  if (refundedFen(order) + refundFen > order.amountFen)
    return business('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额超限');
  if (order.refunds.length >= REFUNDS_PER_ORDER_MAX)
    return business('ACQ.REFUND_CHARGE_ERROR', '退款次数超限');
  const now = ctx.nowMs();
  const created = {
    outRefundNo: outRequestNo,
    refundId: outRequestNo,
    amountFen: refundFen,
    reason: str(biz, 'refund_reason', false),
    createdAtMs: now,
    succeededAtMs: now,
  };
  ctx.store.addRefund(order, created);
  sendAlipayNotification(ctx, order, created);
  return {
    ...SUCCESS,
    ...base,
    fund_change: 'Y',
    refund_fee: fenToYuan(refundedFen(order)),
    gmt_refund_pay: chinaDateTime(now),
  };
}

function refundQuery(order: Order, biz: Record<string, unknown>): Answer {
  const outRequestNo = outNo(biz, 'out_request_no', true);
  const found = order.refunds.find((candidate) => candidate.outRefundNo === outRequestNo);
  // Alipay answers 10000 without refund_amount when there is no such refund; callers must read it that way.
  if (!found)
    return {
      ...SUCCESS,
      trade_no: order.tradeNo,
      out_trade_no: order.outTradeNo,
      out_request_no: outRequestNo,
    };
  return {
    ...SUCCESS,
    trade_no: order.tradeNo,
    out_trade_no: order.outTradeNo,
    out_request_no: outRequestNo,
    total_amount: fenToYuan(order.amountFen),
    refund_amount: fenToYuan(found.amountFen),
    refund_status: 'REFUND_SUCCESS',
    gmt_refund_pay: chinaDateTime(found.succeededAtMs),
  };
}

function close(ctx: SandboxContext, order: Order): Answer {
  if (order.state === 'PAID') return business('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
  if (order.state !== 'CLOSED') ctx.store.transition(order, 'CLOSED', ctx.nowMs());
  return { ...SUCCESS, trade_no: order.tradeNo, out_trade_no: order.outTradeNo };
}

export function billToken(ctx: SandboxContext, channel: string, billDate: string): string {
  return createHmac('sha256', ctx.keys.urlSecret).update(`${channel}|${billDate}`).digest('hex').slice(0, 32);
}

function billUrl(ctx: SandboxContext, biz: Record<string, unknown>): Answer {
  const billType = str(biz, 'bill_type', true, 16);
  const billDate = str(biz, 'bill_date', true, 10);
  if (billType !== 'trade') return invalid('isv.invalid-arguments', '仅支持 bill_type=trade');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(billDate))
    return invalid('isv.invalid-arguments', 'bill_date 格式为 yyyy-MM-dd');
  const query = new URLSearchParams({ bill_date: billDate, token: billToken(ctx, 'alipay', billDate) });
  return { ...SUCCESS, bill_download_url: `${ctx.baseUrl()}/alipay/bill/download?${query.toString()}` };
}

function decline(operation: Operation, code: string | undefined, message: string | undefined): Answer {
  const defaults: Partial<Record<Operation, [string, string]>> = {
    create: ['ACQ.ACCESS_FORBIDDEN', '无权限使用接口'],
    pay: ['ACQ.BUYER_BALANCE_NOT_ENOUGH', '买家余额不足'],
    refund: ['ACQ.SELLER_BALANCE_NOT_ENOUGH', '卖家余额不足'],
    close: ['ACQ.TRADE_STATUS_ERROR', '交易状态不合法'],
    query: ['ACQ.TRADE_NOT_EXIST', '交易不存在'],
  };
  const [subCode, subMsg] = defaults[operation] ?? ['ACQ.INVALID_PARAMETER', '参数无效'];
  return business(code ?? subCode, message ?? subMsg);
}

async function dispatch(
  ctx: SandboxContext,
  method: string,
  params: Record<string, string>,
): Promise<Answer> {
  const operation = METHOD_OPERATION[method];
  if (operation === undefined) return invalid('isv.invalid-method', '不存在的方法名');
  const biz = bizContent(params);
  const outTradeNo = typeof biz.out_trade_no === 'string' ? biz.out_trade_no : undefined;
  const outRequestNo = typeof biz.out_request_no === 'string' ? biz.out_request_no : '';
  ctx.calls.record(
    'alipay',
    operation,
    operation === 'refund' || operation === 'refund_query'
      ? `${outTradeNo ?? ''}/${outRequestNo}`
      : outTradeNo,
  );
  const faults = await operationFaults(ctx, 'alipay', operation, outTradeNo);
  if (faults.decline) return decline(operation, faults.decline.code, faults.decline.message);
  // An unknown outcome usually means the channel did act and only the answer was lost.
  if (faults.unknown?.applied === false) return SYSTEM_ERROR;
  const answer = perform(ctx, operation, biz, params.notify_url ?? '');
  return faults.unknown ? SYSTEM_ERROR : answer;
}

function perform(
  ctx: SandboxContext,
  operation: Operation,
  biz: Record<string, unknown>,
  notifyUrl: string,
): Answer {
  switch (operation) {
    case 'create':
      return precreate(ctx, biz, notifyUrl);
    case 'pay':
      return barcodePay(ctx, biz, notifyUrl);
    case 'bill':
      return billUrl(ctx, biz);
    default: {
      const order = findOrder(ctx, biz);
      if (!order) return business('ACQ.TRADE_NOT_EXIST', '交易不存在');
      if (operation === 'query') {
        const stale = ctx.faults.take('query_stale', 'alipay', 'query', order.outTradeNo) !== undefined;
        return query(ctx, order, stale);
      }
      if (operation === 'refund') return refund(ctx, order, biz);
      if (operation === 'refund_query') return refundQuery(order, biz);
      return close(ctx, order);
    }
  }
}

export async function handleAlipayGateway(ctx: SandboxContext, req: HttpRequest): Promise<HttpResponse> {
  let params: Record<string, string>;
  try {
    params = readParams(req);
  } catch (err: unknown) {
    return reply(
      ctx,
      'error',
      invalid('isv.invalid-arguments', err instanceof Error ? err.message : 'bad form'),
    );
  }
  const method = params.method ?? '';
  const responseMethod = method in METHOD_OPERATION ? method : 'error';
  for (const name of ['app_id', 'method', 'charset', 'sign_type', 'sign', 'timestamp', 'version']) {
    if (!params[name]) {
      return reply(ctx, responseMethod, {
        code: '40001',
        msg: 'Missing Required Arguments',
        sub_code: `isv.missing-${name.replace('_', '-')}`,
        sub_msg: `缺少${name}参数`,
      });
    }
  }
  if (params.app_id !== MERCHANT.alipayAppId)
    return reply(ctx, responseMethod, invalid('isv.invalid-app-id', '无效的AppID参数'));
  if (params.sign_type !== 'RSA2')
    return reply(ctx, responseMethod, invalid('isv.invalid-signature-type', '无效的签名类型'));
  if (params.charset?.toLowerCase() !== 'utf-8')
    return reply(ctx, responseMethod, invalid('isv.invalid-charset', '字符集错误'));
  if (!alipayVerify(params, ctx.keys.merchantApp.publicKeyPem)) {
    ctx.logger.info({ method }, 'alipay request with a bad signature refused');
    return reply(ctx, responseMethod, invalid('isv.invalid-signature', '验签出错'));
  }
  try {
    return reply(ctx, responseMethod, await dispatch(ctx, method, params));
  } catch (err: unknown) {
    if (err instanceof BadArgument)
      return reply(ctx, responseMethod, invalid('isv.invalid-arguments', err.message));
    throw err;
  }
}

export function handleAlipayBillDownload(ctx: SandboxContext, req: HttpRequest): HttpResponse {
  const billDate = req.query.get('bill_date') ?? '';
  const token = req.query.get('token') ?? '';
  if (!/^\d{4}-\d{2}-\d{2}$/.test(billDate) || token !== billToken(ctx, 'alipay', billDate)) {
    return { status: 403, body: 'invalid or expired download link' };
  }
  const file = buildAlipayBillFile(ctx, billDate);
  return {
    status: 200,
    headers: {
      'content-type': 'application/zip',
      'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(file.fileName)}`,
    },
    body: file.zip,
  };
}
