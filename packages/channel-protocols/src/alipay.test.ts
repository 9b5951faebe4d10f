/**
 * Proves Alipay RSA2 signing with a key pair generated here: the canonical
 * string (sorted, empty values and `sign` dropped; `sign_type` dropped only
 * for notifications), a sign/verify round trip, rejection of every single
 * changed parameter (a loop over every key), of a dropped and an added
 * parameter, of the other party's key, and the notify rule that `sign_type`
 * is outside the signed string. Response signing is checked on the raw body
 * text: a re-ordered or tampered body fails.
 */
import { generateKeyPairSync } from 'node:crypto';
import { expect } from 'chai';
import {
  alipaySign,
  alipaySignContent,
  alipayVerify,
  signResponse,
  topLevelValueText,
  verifyResponse,
} from './index';

function pem(): { privateKey: string; publicKey: string } {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

const merchant = pem();
const other = pem();

const REQUEST = {
  app_id: '2021000000000001',
  method: 'alipay.trade.precreate',
  format: 'JSON',
  charset: 'utf-8',
  sign_type: 'RSA2',
  timestamp: '2024-01-02 03:04:05',
  version: '1.0',
  notify_url: 'http://127.0.0.1:1/notify?a=1&b=2',
  biz_content: '{"out_trade_no":"T1","total_amount":"12.34","subject":"书 & 笔"}',
};

describe('alipay RSA2', () => {
  it('builds the canonical string: sorted, empty dropped, sign dropped, sign_type kept for requests', () => {
    const content = alipaySignContent({
      b: '2',
      a: '1',
      empty: '',
      sign: 'x',
      sign_type: 'RSA2',
      Z: 'upper',
    });
    expect(content).to.equal('Z=upper&a=1&b=2&sign_type=RSA2');
    expect(alipaySignContent({ b: '2', a: '1', sign_type: 'RSA2' }, { forNotify: true })).to.equal('a=1&b=2');
  });

  it('round-trips and rejects any single changed, dropped or added parameter', () => {
    const signed = { ...REQUEST, sign: alipaySign(REQUEST, merchant.privateKey) };
    expect(alipayVerify(signed, merchant.publicKey)).to.equal(true);
    for (const key of Object.keys(REQUEST) as (keyof typeof REQUEST)[]) {
      expect(
        alipayVerify({ ...signed, [key]: `${REQUEST[key]}0` }, merchant.publicKey),
        `changed ${key}`,
      ).to.equal(false);
      const dropped = Object.fromEntries(Object.entries(signed).filter(([name]) => name !== key));
      expect(alipayVerify(dropped, merchant.publicKey), `dropped ${key}`).to.equal(false);
    }
    expect(alipayVerify({ ...signed, extra: 'x' }, merchant.publicKey)).to.equal(false);
    expect(alipayVerify(signed, other.publicKey)).to.equal(false);
    expect(alipayVerify({ ...signed, sign: '' }, merchant.publicKey)).to.equal(false);
    expect(alipayVerify({ ...signed, sign: 'not base64!' }, merchant.publicKey)).to.equal(false);
    expect(alipayVerify(REQUEST, merchant.publicKey)).to.equal(false);
  });

  it('notifications: sign_type is not signed, so changing it does not matter but everything else does', () => {
    const notify = {
      notify_id: 'n1',
      notify_time: '2024-01-02 03:04:06',
      trade_status: 'TRADE_SUCCESS',
      out_trade_no: 'T1',
      total_amount: '12.34',
      sign_type: 'RSA2',
    };
    const sign = alipaySign(notify, merchant.privateKey, { forNotify: true });
    expect(alipayVerify({ ...notify, sign }, merchant.publicKey, { forNotify: true })).to.equal(true);
    expect(
      alipayVerify({ ...notify, sign, sign_type: 'RSA' }, merchant.publicKey, { forNotify: true }),
    ).to.equal(true);
    // A request-style verification includes sign_type and therefore fails on the same message.
    expect(alipayVerify({ ...notify, sign }, merchant.publicKey)).to.equal(false);
    expect(
      alipayVerify({ ...notify, sign, trade_status: 'TRADE_CLOSED' }, merchant.publicKey, {
        forNotify: true,
      }),
    ).to.equal(false);
  });

  it('signs responses over the raw response text and verifies them from the body', () => {
    const body = signResponse(
      'alipay.trade.query',
      {
        code: '10000',
        msg: 'Success',
        out_trade_no: 'T1',
        total_amount: '12.34',
        note: 'a "quoted" }, brace',
      },
      merchant.privateKey,
    );
    expect(body.startsWith('{"alipay_trade_query_response":{"code":"10000"')).to.equal(true);
    const verified = verifyResponse(body, 'alipay.trade.query', merchant.publicKey);
    expect(verified.ok).to.equal(true);
    if (verified.ok) expect(verified.response.total_amount).to.equal('12.34');
    expect(
      verifyResponse(body.replace('12.34', '12.35'), 'alipay.trade.query', merchant.publicKey),
    ).to.deep.equal({
      ok: false,
      reason: 'BAD_SIGNATURE',
    });
    // Whitespace inside the signed object changes the text and therefore the signature.
    expect(
      verifyResponse(body.replace('"code":', '"code": '), 'alipay.trade.query', merchant.publicKey).ok,
    ).to.equal(false);
    expect(verifyResponse(body, 'alipay.trade.query', other.publicKey).ok).to.equal(false);
    expect(verifyResponse(body, 'alipay.trade.close', merchant.publicKey)).to.deep.equal({
      ok: false,
      reason: 'MISSING_RESPONSE',
    });
  });

  it('cuts top-level values out of JSON text without re-serialising', () => {
    const json = '{ "a" : {"x":"}\\"{"} , "b":[1,{"c":2}], "sign":"s" }';
    expect(topLevelValueText(json, 'a')).to.equal('{"x":"}\\"{"}');
    expect(topLevelValueText(json, 'b')).to.equal('[1,{"c":2}]');
    expect(topLevelValueText(json, 'c')).to.equal(undefined);
  });
});
