/**
 * Wires the sandbox: one HTTP server carrying the channel APIs and the
 * sandbox-only control endpoints (`/sandbox/*`: simulated payer, faults, key
 * material, notification log, bill records, request tally, payouts held). State lives in memory and dies
 * with the process.
 */
import {
  createLogger,
  HttpServer,
  type HttpRequest,
  type HttpResponse,
  type Logger,
} from '@paycore/platform';
import { handleAlipayBillDownload, handleAlipayGateway } from './alipay-gateway';
import { handlePayout, handlePayoutQuery, payoutsHeld } from './bank-gateway';
import { alipayBillRecords, wechatBillRecords } from './bills';
import { CallTally } from './calls';
import type { SandboxConfig } from './config';
import type { SandboxContext } from './context';
import { FaultBook, FaultError } from './faults';
import { loadOrGenerateKeys, MERCHANT, type SandboxKeys } from './keys';
import { Notifier } from './notifier';
import { payOrder, type PayOutcome } from './payments';
import { Store } from './store';
import { Timers } from './timers';
import { handleWechat, WECHAT_PATHS } from './wechat-gateway';

export interface SandboxOptions extends Partial<SandboxConfig> {
  readonly logger?: Logger;
  /** Pre-made keys (tests that start many sandboxes skip RSA generation). */
  readonly keys?: SandboxKeys;
}

export interface RunningSandbox {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

const FAULTS_PER_REQUEST_MAX = 100;

function json(status: number, value: unknown): HttpResponse {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
  };
}

function readJson(req: HttpRequest): unknown {
  try {
    return JSON.parse(req.body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The public material and merchant test credentials; exists only in the sandbox. */
function keysDocument(ctx: SandboxContext): unknown {
  return {
    note: 'sandbox only: real channels never hand out merchant credentials',
    alipay: {
      gateway_url: `${ctx.baseUrl()}/alipay/gateway.do`,
      app_id: MERCHANT.alipayAppId,
      seller_id: MERCHANT.alipayPid,
      alipay_public_key: ctx.keys.alipay.publicKeyPem,
      merchant_private_key: ctx.keys.merchantApp.privateKeyPem,
      merchant_public_key: ctx.keys.merchantApp.publicKeyPem,
    },
    wechat: {
      base_url: `${ctx.baseUrl()}/wechat`,
      appid: MERCHANT.wechatAppId,
      mch_id: MERCHANT.wechatMchId,
      api_key: ctx.keys.wechatApiKey,
    },
    bank: { base_url: `${ctx.baseUrl()}/bank`, mch_id: MERCHANT.bankMchId, key: ctx.keys.bankKey },
  };
}

function handlePay(ctx: SandboxContext, req: HttpRequest): HttpResponse {
  const body = readJson(req);
  if (typeof body !== 'object' || body === null) return json(400, { error: 'JSON body required' });
  const { channel, out_trade_no: outTradeNo, outcome = 'success' } = body as Record<string, unknown>;
  if ((channel !== 'alipay' && channel !== 'wechat') || typeof outTradeNo !== 'string') {
    return json(400, { error: 'channel (alipay|wechat) and out_trade_no required' });
  }
  if (outcome !== 'success' && outcome !== 'paying' && outcome !== 'failed' && outcome !== 'revoked') {
    return json(400, { error: 'outcome must be success, paying, failed or revoked' });
  }
  const order = ctx.store.order(channel, outTradeNo);
  if (!order) return json(404, { error: 'no such order' });
  const result = payOrder(ctx, order, outcome satisfies PayOutcome);
  if (!result.ok) return json(409, { error: result.reason });
  return json(200, { out_trade_no: order.outTradeNo, trade_no: order.tradeNo, state: order.state });
}

function handleAddFaults(ctx: SandboxContext, req: HttpRequest): HttpResponse {
  const body = readJson(req);
  const list: unknown[] =
    typeof body === 'object' && body !== null && 'faults' in body && Array.isArray(body.faults)
      ? body.faults
      : [body];
  if (list.length > FAULTS_PER_REQUEST_MAX)
    return json(400, { error: `at most ${FAULTS_PER_REQUEST_MAX} faults per request` });
  try {
    return json(200, { ids: list.map((item) => ctx.faults.add(item).id) });
  } catch (err: unknown) {
    if (err instanceof FaultError) return json(400, { error: err.message });
    throw err;
  }
}

function handleBillRecords(ctx: SandboxContext, req: HttpRequest): HttpResponse {
  const date = req.query.get('date') ?? '';
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return json(400, { error: 'date=YYYY-MM-DD required' });
  const channel = req.query.get('channel');
  if (channel === 'alipay') return json(200, alipayBillRecords(ctx, date));
  const billType = req.query.get('bill_type') ?? 'ALL';
  if (channel === 'wechat' && (billType === 'ALL' || billType === 'SUCCESS' || billType === 'REFUND')) {
    return json(200, wechatBillRecords(ctx, date, billType));
  }
  return json(400, { error: 'channel=alipay|wechat (and bill_type=ALL|SUCCESS|REFUND) required' });
}

/** The request tally, optionally of one `channel` and/or `operation`. Read-only. */
function handleCalls(ctx: SandboxContext, req: HttpRequest): HttpResponse {
  const channel = req.query.get('channel') ?? undefined;
  const operation = req.query.get('operation') ?? undefined;
  return json(200, {
    calls: ctx.calls.list({
      ...(channel !== undefined ? { channel } : {}),
      ...(operation !== undefined ? { operation } : {}),
    }),
    overflow: ctx.calls.overflow,
  });
}

export async function startSandbox(options: SandboxOptions = {}): Promise<RunningSandbox> {
  const logger =
    options.logger ?? createLogger({ service: 'channel-sandbox', level: options.logLevel ?? 'info' });
  const timers = new Timers(options.timeScale ?? 1);
  let port = 0;
  const ctx: SandboxContext = {
    store: new Store(),
    faults: new FaultBook(),
    calls: new CallTally(),
    notifier: new Notifier(timers, logger),
    keys: options.keys ?? loadOrGenerateKeys(options.keysDir),
    timers,
    logger,
    baseUrl: () => options.publicUrl ?? `http://127.0.0.1:${port}`,
    autoPayAfterMs: options.autoPayAfterMs,
    nowMs: () => Date.now(),
  };
  const server = new HttpServer({ port: options.httpPort ?? 0, host: options.host ?? '127.0.0.1', logger });
  server
    .route('POST', '/alipay/gateway.do', (req) => handleAlipayGateway(ctx, req))
    .route('GET', '/alipay/bill/download', (req) => Promise.resolve(handleAlipayBillDownload(ctx, req)))
    .route('POST', '/bank/payout', (req) => handlePayout(ctx, req))
    .route('POST', '/bank/payout/query', (req) => handlePayoutQuery(ctx, req))
    .route('POST', '/sandbox/pay', (req) => Promise.resolve(handlePay(ctx, req)))
    .route('POST', '/sandbox/faults', (req) => Promise.resolve(handleAddFaults(ctx, req)))
    .route('GET', '/sandbox/faults', () => Promise.resolve(json(200, { faults: ctx.faults.list() })))
    .route('DELETE', '/sandbox/faults', () => {
      ctx.faults.reset();
      return Promise.resolve(json(200, { reset: true }));
    })
    .route('GET', '/sandbox/keys', () => Promise.resolve(json(200, keysDocument(ctx))))
    .route('GET', '/sandbox/notifications', (req) =>
      Promise.resolve(json(200, { attempts: ctx.notifier.log(req.query.get('out_trade_no') ?? undefined) })),
    )
    .route('GET', '/sandbox/payouts', (req) =>
      Promise.resolve(json(200, { payouts: payoutsHeld(ctx, req.query.get('account_no') ?? undefined) })),
    )
    .route('GET', '/sandbox/bill-records', (req) => Promise.resolve(handleBillRecords(ctx, req)))
    .route('GET', '/sandbox/calls', (req) => Promise.resolve(handleCalls(ctx, req)));
  for (const path of Object.keys(WECHAT_PATHS)) server.route('POST', path, (req) => handleWechat(ctx, req));
  port = await server.listen();
  const url = `http://127.0.0.1:${port}`;
  logger.info({ port, time_scale: timers.timeScale }, 'channel sandbox started');
  return {
    url,
    port,
    stop: async () => {
      timers.stop();
      await server.close();
    },
  };
}
