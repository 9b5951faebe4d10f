/**
 * Test clients for the sandbox, written against @paycore/channel-protocols the
 * way channel-router will use it: they sign requests as the merchant and
 * verify every answer as the merchant would, so a test that passes has also
 * checked the sandbox's signatures. Plus a local notification receiver that
 * records arrival times and answers as scripted.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import {
  alipaySign,
  bankPayload,
  bankSeal,
  bankVerify,
  fromXml,
  parseBankEnvelope,
  toForm,
  toXml,
  verifyResponse,
  wechatSign,
  wechatVerify,
  type WechatSignType,
} from '@paycore/channel-protocols';
import { expect } from 'chai';

export interface SandboxKeysDocument {
  alipay: { gateway_url: string; app_id: string; alipay_public_key: string; merchant_private_key: string };
  wechat: { base_url: string; appid: string; mch_id: string; api_key: string };
  bank: { base_url: string; mch_id: string; key: string };
}

export async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  expect(response.status, url).to.equal(200);
  return (await response.json()) as T;
}

export async function postJson(
  url: string,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

export function chinaNow(): { date: string; dateTime: string } {
  const text = new Date(Date.now() + 8 * 3_600_000).toISOString();
  return { date: text.slice(0, 10), dateTime: text.slice(0, 19).replace('T', ' ') };
}

export class AlipayClient {
  constructor(private readonly keys: SandboxKeysDocument['alipay']) {}

  /** The signed form parameters of a request (exposed so tests can tamper with them). */
  params(
    method: string,
    biz: Record<string, unknown>,
    extra: Record<string, string> = {},
  ): Record<string, string> {
    const params: Record<string, string> = {
      app_id: this.keys.app_id,
      method,
      format: 'JSON',
      charset: 'utf-8',
      sign_type: 'RSA2',
      timestamp: chinaNow().dateTime,
      version: '1.0',
      biz_content: JSON.stringify(biz),
      ...extra,
    };
    return { ...params, sign: alipaySign(params, this.keys.merchant_private_key) };
  }

  async send(method: string, params: Record<string, string>): Promise<Record<string, unknown>> {
    const response = await fetch(this.keys.gateway_url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8' },
      body: toForm(params),
    });
    const text = await response.text();
    const verified = verifyResponse(text, method, this.keys.alipay_public_key);
    if (!verified.ok) throw new Error(`response not verified (${verified.reason}): ${text.slice(0, 200)}`);
    return verified.response;
  }

  call(
    method: string,
    biz: Record<string, unknown>,
    extra: Record<string, string> = {},
  ): Promise<Record<string, unknown>> {
    return this.send(method, this.params(method, biz, extra));
  }
}

export class WechatClient {
  constructor(private readonly keys: SandboxKeysDocument['wechat']) {}

  fields(body: Record<string, string>, signType: WechatSignType = 'MD5'): Record<string, string> {
    const fields: Record<string, string> = {
      appid: this.keys.appid,
      mch_id: this.keys.mch_id,
      nonce_str: randomUUID().replace(/-/g, ''),
      ...(signType === 'HMAC-SHA256' ? { sign_type: signType } : {}),
      ...body,
    };
    return { ...fields, sign: wechatSign(fields, this.keys.api_key, signType) };
  }

  async raw(path: string, xml: string): Promise<string> {
    const response = await fetch(`${this.keys.base_url}${path}`, {
      method: 'POST',
      body: xml,
      headers: { 'content-type': 'text/xml' },
    });
    return response.text();
  }

  /** Posts a signed request; answers with return_code SUCCESS must carry a valid signature of the same type. */
  async call(
    path: string,
    body: Record<string, string>,
    signType: WechatSignType = 'MD5',
  ): Promise<Record<string, string>> {
    const answer = fromXml(await this.raw(path, toXml(this.fields(body, signType))));
    if (answer.return_code === 'SUCCESS') {
      expect(wechatVerify(answer, this.keys.api_key, signType), `signature of ${path} answer`).to.equal(true);
    }
    return answer;
  }
}

export class BankClient {
  constructor(private readonly keys: SandboxKeysDocument['bank']) {}

  async call(path: string, payload: object, key = this.keys.key): Promise<Record<string, unknown>> {
    const envelope = bankSeal(payload, {
      mchId: this.keys.mch_id,
      key,
      timestampMs: Date.now(),
      nonce: randomUUID(),
    });
    const response = await fetch(`${this.keys.base_url}${path}`, {
      method: 'POST',
      body: JSON.stringify(envelope),
    });
    const answer = parseBankEnvelope(await response.text());
    expect(bankVerify(answer, this.keys.key), 'bank answer signature').to.equal(true);
    return bankPayload(answer);
  }
}

export interface Received {
  readonly atMs: number;
  readonly body: string;
  readonly contentType: string;
}

/** A local HTTP endpoint standing in for channel-router's callback; `answer(n)` scripts the n-th reply (0-based). */
export class Receiver {
  readonly received: Received[] = [];
  private server?: http.Server;
  url = '';

  constructor(private readonly answer: (index: number, body: string) => string) {}

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const index = this.received.length;
        this.received.push({ atMs: Date.now(), body, contentType: req.headers['content-type'] ?? '' });
        res.end(this.answer(index, body));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/notify`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server?.close(() => resolve());
      this.server?.closeAllConnections();
    });
  }
}

export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface LoggedAttempt {
  readonly copy: number;
  readonly attempt: number;
  readonly outcome: string;
}

/**
 * Waits until the sandbox's attempt log for an order holds `count` attempts
 * with one of `outcomes`, and returns the order's log. A notification that
 * was acknowledged, dropped or given up is final: it is never sent again, so
 * what a receiver holds then is what it will hold.
 */
export async function waitForAttempts(
  sandboxUrl: string,
  outTradeNo: string,
  outcomes: readonly string[],
  count: number,
  timeoutMs = 5_000,
): Promise<LoggedAttempt[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { attempts } = await getJson<{ attempts: LoggedAttempt[] }>(
      `${sandboxUrl}/sandbox/notifications?out_trade_no=${encodeURIComponent(outTradeNo)}`,
    );
    if (attempts.filter((a) => outcomes.includes(a.outcome)).length >= count) return attempts;
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${count} × ${outcomes.join('/')} of ${outTradeNo}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Gaps between consecutive arrivals, in ms. */
export function gaps(received: readonly Received[]): number[] {
  return received.slice(1).map((item, index) => item.atMs - (received[index]?.atMs ?? item.atMs));
}

/** Each gap is at least the scheduled interval and not more than `slackMs` late. */
export function expectSchedule(
  actual: readonly number[],
  expected: readonly number[],
  slackMs: number,
): void {
  expect(actual).to.have.length(expected.length);
  actual.forEach((gap, index) => {
    const want = expected[index] ?? 0;
    expect(gap, `gap ${index}: ${actual.join(',')} vs ${expected.join(',')}`).to.be.within(
      want - 2,
      want + slackMs,
    );
  });
}
