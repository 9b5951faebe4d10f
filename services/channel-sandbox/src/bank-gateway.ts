/**
 * The bank payout (代付) API: `POST /bank/payout` and `POST /bank/payout/query`,
 * both taking and returning the signed JSON envelope of
 * @paycore/channel-protocols (HMAC-SHA256 with the key the bank issued).
 *
 * A payout is accepted as PROCESSING and becomes SUCCESS one (scaled) minute
 * later, as a real transfer clears; a `decline` fault makes it FAILED at once
 * with a bank reason. Result codes:
 *
 * | code | meaning |
 * |------|---------|
 * | 0000 | accepted / found (read `status`) |
 * | 1001 | signature invalid |
 * | 1002 | `out_payout_no` reused with different content |
 * | 1003 | request timestamp outside ±5 minutes (replay protection) |
 * | 1004 | no such payout |
 * | 1005 | bad parameter |
 * | 9999 | system error: outcome unknown, query later |
 */
import { randomUUID } from 'node:crypto';
import {
  bankPayload,
  bankSeal,
  bankVerify,
  parseBankEnvelope,
  type BankEnvelope,
  type BankPayoutResult,
} from '@paycore/channel-protocols';
import type { HttpRequest, HttpResponse } from '@paycore/platform';
import { operationFaults, type SandboxContext } from './context';
import { MERCHANT } from './keys';
import type { Payout } from './store';
import { chinaDateTime } from './timers';

const CLOCK_SKEW_MAX_MS = 5 * 60_000;
const SETTLE_REAL_MS = 60_000;
const AMOUNT_MAX_FEN = 10_000_000_000n;

function reply(ctx: SandboxContext, result: BankPayoutResult): HttpResponse {
  const envelope = bankSeal(result, {
    mchId: MERCHANT.bankMchId,
    key: ctx.keys.bankKey,
    timestampMs: ctx.nowMs(),
    nonce: randomUUID(),
  });
  return {
    status: 200,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(envelope),
  };
}

function describe(payout: Payout): BankPayoutResult {
  return {
    code: '0000',
    message: 'OK',
    out_payout_no: payout.outPayoutNo,
    bank_serial_no: payout.bankSerialNo,
    status: payout.status,
    amount: payout.amountFen.toString(),
    ...(payout.failReason !== undefined ? { fail_reason: payout.failReason } : {}),
    ...(payout.finishedAtMs !== undefined ? { finished_at: chinaDateTime(payout.finishedAtMs) } : {}),
  };
}

type Opened = { readonly payload: Record<string, unknown> } | { readonly refusal: BankPayoutResult };

function open(ctx: SandboxContext, req: HttpRequest): Opened {
  let envelope: BankEnvelope;
  try {
    envelope = parseBankEnvelope(req.body.toString('utf8'));
  } catch (err: unknown) {
    return { refusal: { code: '1005', message: err instanceof Error ? err.message : 'bad envelope' } };
  }
  if (envelope.mch_id !== MERCHANT.bankMchId || !bankVerify(envelope, ctx.keys.bankKey)) {
    ctx.logger.info({ mch_id: envelope.mch_id }, 'bank request with a bad signature refused');
    return { refusal: { code: '1001', message: '签名验证失败' } };
  }
  if (Math.abs(Number(envelope.timestamp) - ctx.nowMs()) > CLOCK_SKEW_MAX_MS) {
    return { refusal: { code: '1003', message: '请求已过期' } };
  }
  try {
    return { payload: bankPayload(envelope) };
  } catch {
    return { refusal: { code: '1005', message: 'body is not a JSON object' } };
  }
}

function field(payload: Record<string, unknown>, name: string, pattern: RegExp): string | undefined {
  const value = payload[name];
  return typeof value === 'string' && pattern.test(value) ? value : undefined;
}

export async function handlePayout(ctx: SandboxContext, req: HttpRequest): Promise<HttpResponse> {
  const opened = open(ctx, req);
  if ('refusal' in opened) return reply(ctx, opened.refusal);
  const payload = opened.payload;
  const outPayoutNo = field(payload, 'out_payout_no', /^[A-Za-z0-9_-]{1,64}$/);
  ctx.calls.record('bank', 'payout', outPayoutNo);
  const amountText = field(payload, 'amount', /^[1-9]\d{0,15}$/);
  const currency = field(payload, 'currency', /^CNY$/);
  const accountNo = field(payload, 'account_no', /^\d{8,32}$/);
  const accountName = field(payload, 'account_name', /^.{1,64}$/u);
  const bankCode = field(payload, 'bank_code', /^[A-Z0-9]{2,16}$/);
  if (!outPayoutNo || !amountText || !currency || !accountNo || !accountName || !bankCode) {
    return reply(ctx, {
      code: '1005',
      message: 'out_payout_no, amount (fen), currency CNY, account_no, account_name, bank_code required',
    });
  }
  const amountFen = BigInt(amountText);
  if (amountFen > AMOUNT_MAX_FEN) return reply(ctx, { code: '1005', message: 'amount too large' });
  const fingerprint = `${amountFen}|${currency}|${accountNo}|${accountName}|${bankCode}`;
  const existing = ctx.store.payout(outPayoutNo);
  if (existing) {
    existing.requests += 1;
    if (existing.fingerprint !== fingerprint) return reply(ctx, { code: '1002', message: '商户单号重复' });
    return reply(ctx, describe(existing));
  }
  const faults = await operationFaults(ctx, 'bank', 'payout', outPayoutNo);
  if (faults.unknown?.applied === false) return reply(ctx, { code: '9999', message: '系统繁忙' });
  const now = ctx.nowMs();
  const payout: Payout = {
    outPayoutNo,
    bankSerialNo: ctx.store.nextId('B'),
    amountFen,
    currency,
    accountNo,
    accountName,
    bankCode,
    fingerprint,
    createdAtMs: now,
    requests: 1,
    status: 'PROCESSING',
  };
  if (!ctx.store.addPayout(payout)) return reply(ctx, { code: '9999', message: '系统繁忙' });
  if (faults.decline) {
    payout.status = 'FAILED';
    payout.failReason = faults.decline.message ?? '收款账户户名不符';
    payout.finishedAtMs = now;
  } else {
    ctx.timers.after(ctx.timers.scaled(SETTLE_REAL_MS), () => {
      payout.status = 'SUCCESS';
      payout.finishedAtMs = ctx.nowMs();
    });
  }
  return reply(ctx, faults.unknown ? { code: '9999', message: '系统繁忙' } : describe(payout));
}

export async function handlePayoutQuery(ctx: SandboxContext, req: HttpRequest): Promise<HttpResponse> {
  const opened = open(ctx, req);
  if ('refusal' in opened) return reply(ctx, opened.refusal);
  const outPayoutNo = field(opened.payload, 'out_payout_no', /^[A-Za-z0-9_-]{1,64}$/);
  if (!outPayoutNo) return reply(ctx, { code: '1005', message: 'out_payout_no required' });
  ctx.calls.record('bank', 'payout_query', outPayoutNo);
  const faults = await operationFaults(ctx, 'bank', 'payout_query', outPayoutNo);
  if (faults.unknown) return reply(ctx, { code: '9999', message: '系统繁忙' });
  const payout = ctx.store.payout(outPayoutNo);
  if (!payout) return reply(ctx, { code: '1004', message: '交易不存在' });
  return reply(ctx, describe(payout));
}

/**
 * What `GET /sandbox/payouts[?account_no=]` shows: the payouts the bank
 * holds and how many requests named each payout number (read-only; tests
 * count payouts per payee with it).
 */
export function payoutsHeld(ctx: SandboxContext, accountNo: string | undefined): Record<string, unknown>[] {
  return ctx.store
    .allPayouts()
    .filter((p) => accountNo === undefined || p.accountNo === accountNo)
    .map((p) => ({ ...describe(p), account_no: p.accountNo, requests: p.requests }));
}
