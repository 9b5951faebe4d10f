/**
 * Alipay openapi (v2 gateway, `alipay.trade.*`) signing with RSA2:
 * SHA256withRSA over the canonical parameter string, base64.
 *
 * - Requests: the string to sign is every parameter except `sign` (so
 *   `sign_type` is signed).
 * - Async notifications: verification drops `sign` and `sign_type`.
 * - JSON responses: the signature covers the exact text of the
 *   `<method with dots as underscores>_response` object as it appears in the
 *   body, so a verifier must cut that text out of the raw body rather than
 *   re-serialise a parsed object (key order and escapes would differ).
 */
import { createSign, createVerify } from 'node:crypto';
import { canonicalContent, type ChannelParams } from './canonical';
import { ProtocolError, ProtocolErrorReason } from './errors';

const REQUEST_EXCLUDED = new Set(['sign']);
const NOTIFY_EXCLUDED = new Set(['sign', 'sign_type']);
/** Responses larger than this are refused before parsing; no Alipay answer comes close. */
export const ALIPAY_RESPONSE_BYTES_MAX = 1024 * 1024;

export interface AlipayVerifyOptions {
  /** Notifications leave `sign_type` out of the signed string; requests keep it. */
  readonly forNotify?: boolean;
}

export function alipaySignContent(params: ChannelParams, options: AlipayVerifyOptions = {}): string {
  return canonicalContent(params, options.forNotify === true ? NOTIFY_EXCLUDED : REQUEST_EXCLUDED);
}

export function rsa2Sign(content: string, privateKeyPem: string): string {
  return createSign('RSA-SHA256').update(content, 'utf8').sign(privateKeyPem, 'base64');
}

export function rsa2Verify(content: string, signatureBase64: string, publicKeyPem: string): boolean {
  if (signatureBase64 === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(signatureBase64)) return false;
  try {
    return createVerify('RSA-SHA256').update(content, 'utf8').verify(publicKeyPem, signatureBase64, 'base64');
  } catch {
    // A key that cannot be read is a configuration fault, but to the caller it
    // means the same as a bad signature: the message is not trusted.
    return false;
  }
}

/** The `sign` value for a request or notification; `params.sign` itself is ignored. */
export function alipaySign(
  params: ChannelParams,
  privateKeyPem: string,
  options: AlipayVerifyOptions = {},
): string {
  return rsa2Sign(alipaySignContent(params, options), privateKeyPem);
}

export function alipayVerify(
  params: ChannelParams,
  publicKeyPem: string,
  options: AlipayVerifyOptions = {},
): boolean {
  const signature = params.sign;
  if (signature === undefined) return false;
  return rsa2Verify(alipaySignContent(params, options), signature, publicKeyPem);
}

/** `alipay.trade.query` → `alipay_trade_query_response`. */
export function alipayResponseKey(method: string): string {
  return `${method.replace(/\./g, '_')}_response`;
}

/**
 * Builds the response body Alipay sends: `{"<key>":<object>,"sign":"…"}`,
 * signing the object's JSON text exactly as written into the body.
 */
export function signResponse(
  method: string,
  response: Readonly<Record<string, unknown>>,
  privateKeyPem: string,
): string {
  const responseText = JSON.stringify(response);
  const sign = rsa2Sign(responseText, privateKeyPem);
  return `{${JSON.stringify(alipayResponseKey(method))}:${responseText},"sign":${JSON.stringify(sign)}}`;
}

export type VerifiedResponse =
  | { readonly ok: true; readonly response: Record<string, unknown> }
  | { readonly ok: false; readonly reason: 'MISSING_RESPONSE' | 'MISSING_SIGN' | 'BAD_SIGNATURE' };

/**
 * Verifies a response body. Throws INVALID_ENVELOPE only for text that is not
 * a JSON object at all; a missing or wrong signature is a result.
 */
export function verifyResponse(body: string, method: string, publicKeyPem: string): VerifiedResponse {
  if (body.length > ALIPAY_RESPONSE_BYTES_MAX) {
    throw new ProtocolError(ProtocolErrorReason.INVALID_ENVELOPE, 'response body too large');
  }
  const parsed = parseJsonObject(body);
  const key = alipayResponseKey(method);
  const responseText = topLevelValueText(body, key);
  const response = parsed[key];
  if (responseText === undefined || !isPlainObject(response))
    return { ok: false, reason: 'MISSING_RESPONSE' };
  const sign = parsed.sign;
  if (typeof sign !== 'string') return { ok: false, reason: 'MISSING_SIGN' };
  if (!rsa2Verify(responseText, sign, publicKeyPem)) return { ok: false, reason: 'BAD_SIGNATURE' };
  return { ok: true, response };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolError(ProtocolErrorReason.INVALID_ENVELOPE, 'response is not JSON');
  }
  if (!isPlainObject(value))
    throw new ProtocolError(ProtocolErrorReason.INVALID_ENVELOPE, 'response is not a JSON object');
  return value;
}

/**
 * The raw text of the value of `key` in a JSON object that has already been
 * parsed successfully (so the text is known to be valid JSON). Scans at
 * nesting depth 1 only, honouring strings and escapes.
 */
export function topLevelValueText(json: string, key: string): string | undefined {
  let depth = 0;
  let index = 0;
  const length = json.length;
  while (index < length) {
    const char = json[index];
    if (char === '"') {
      const end = stringEnd(json, index);
      if (depth === 1) {
        const name = JSON.parse(json.slice(index, end + 1)) as string;
        let cursor = end + 1;
        while (cursor < length && /\s/.test(json[cursor] ?? '')) cursor += 1;
        if (json[cursor] === ':') {
          const valueStart = skipSpace(json, cursor + 1);
          const valueEnd = valueEndIndex(json, valueStart);
          if (name === key) return json.slice(valueStart, valueEnd);
          index = valueEnd;
          continue;
        }
      }
      index = end + 1;
      continue;
    }
    if (char === '{' || char === '[') depth += 1;
    else if (char === '}' || char === ']') depth -= 1;
    index += 1;
  }
  return undefined;
}

function skipSpace(json: string, from: number): number {
  let cursor = from;
  while (cursor < json.length && /\s/.test(json[cursor] ?? '')) cursor += 1;
  return cursor;
}

/** Index of the closing quote of the string that opens at `start`. */
function stringEnd(json: string, start: number): number {
  let cursor = start + 1;
  while (cursor < json.length) {
    const char = json[cursor];
    if (char === '\\') cursor += 2;
    else if (char === '"') return cursor;
    else cursor += 1;
  }
  return json.length - 1;
}

/** Index just past the JSON value that starts at `start`. */
function valueEndIndex(json: string, start: number): number {
  let depth = 0;
  let cursor = start;
  while (cursor < json.length) {
    const char = json[cursor];
    if (char === '"') {
      cursor = stringEnd(json, cursor) + 1;
      if (depth === 0) return cursor;
      continue;
    }
    if (char === '{' || char === '[') depth += 1;
    else if (char === '}' || char === ']') {
      if (depth === 0) return cursor;
      depth -= 1;
      if (depth === 0) return cursor + 1;
    } else if (char === ',' && depth === 0) return cursor;
    cursor += 1;
  }
  return cursor;
}
