/**
 * WeChat Pay API v2 signing: the canonical string (every non-empty parameter
 * except `sign`, ASCII-sorted `k=v&…`) followed by `&key=<API key>`, hashed
 * with MD5 or keyed with HMAC-SHA256 (the API key is also the HMAC key), as
 * uppercase hex. `sign_type` is an ordinary parameter and is signed when sent.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalContent, type ChannelParams } from './canonical';

export type WechatSignType = 'MD5' | 'HMAC-SHA256';

const EXCLUDED = new Set(['sign']);

export function isWechatSignType(value: string): value is WechatSignType {
  return value === 'MD5' || value === 'HMAC-SHA256';
}

export function wechatSignContent(params: ChannelParams, apiKey: string): string {
  return `${canonicalContent(params, EXCLUDED)}&key=${apiKey}`;
}

export function wechatSign(params: ChannelParams, apiKey: string, signType: WechatSignType): string {
  const content = wechatSignContent(params, apiKey);
  const digest =
    signType === 'MD5'
      ? createHash('md5').update(content, 'utf8').digest('hex')
      : createHmac('sha256', apiKey).update(content, 'utf8').digest('hex');
  return digest.toUpperCase();
}

/** Constant-time comparison of the expected and given `sign`; case matters, as WeChat's does. */
export function wechatVerify(params: ChannelParams, apiKey: string, signType: WechatSignType): boolean {
  const given = params.sign;
  if (given === undefined) return false;
  const expected = Buffer.from(wechatSign(params, apiKey, signType), 'utf8');
  const actual = Buffer.from(given, 'utf8');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
