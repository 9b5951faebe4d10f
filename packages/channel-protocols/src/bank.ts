/**
 * The bank payout (代付) JSON API: every request and response is an envelope
 *
 *   {"mch_id":"…","timestamp":"1700000000000","nonce":"…","sign_type":"HMAC-SHA256",
 *    "body":"<the payload as a JSON string>","sign":"<hex>"}
 *
 * signed with HMAC-SHA256 over `mch_id \n timestamp \n nonce \n body` with the
 * key the bank issued to the merchant. The payload travels as a string so the
 * signature covers its exact bytes (no canonical JSON needed), and amounts in
 * the payload are integer-fen strings so they survive JSON without floats.
 * HMAC (shared key) rather than RSA because a bank payout line is a private,
 * bilateral link where both ends already hold a secret; ADR 0009 has the detail.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ProtocolError, ProtocolErrorReason } from './errors';

export const BANK_ENVELOPE_BYTES_MAX = 64 * 1024;
const FIELD_CHARS_MAX = 64;

export interface BankEnvelope {
  readonly mch_id: string;
  readonly timestamp: string;
  readonly nonce: string;
  readonly sign_type: 'HMAC-SHA256';
  readonly body: string;
  readonly sign: string;
}

export interface BankSealOptions {
  readonly mchId: string;
  readonly key: string;
  readonly timestampMs: number;
  readonly nonce: string;
}

export interface BankPayoutRequest {
  readonly out_payout_no: string;
  /** Integer fen as a decimal string. */
  readonly amount: string;
  readonly currency: string;
  readonly account_no: string;
  readonly account_name: string;
  readonly bank_code: string;
  readonly remark?: string;
}

export type BankPayoutStatus = 'PROCESSING' | 'SUCCESS' | 'FAILED';

export interface BankPayoutResult {
  /** `0000` accepted / found; other codes are errors (see the sandbox's table). */
  readonly code: string;
  readonly message: string;
  readonly out_payout_no?: string;
  readonly bank_serial_no?: string;
  readonly status?: BankPayoutStatus;
  readonly amount?: string;
  readonly fail_reason?: string;
  readonly finished_at?: string;
}

function signatureContent(mchId: string, timestamp: string, nonce: string, body: string): string {
  return `${mchId}\n${timestamp}\n${nonce}\n${body}`;
}

function hmacHex(key: string, content: string): string {
  return createHmac('sha256', key).update(content, 'utf8').digest('hex');
}

export function bankSeal(payload: object, options: BankSealOptions): BankEnvelope {
  const body = JSON.stringify(payload);
  const timestamp = String(options.timestampMs);
  return {
    mch_id: options.mchId,
    timestamp,
    nonce: options.nonce,
    sign_type: 'HMAC-SHA256',
    body,
    sign: hmacHex(options.key, signatureContent(options.mchId, timestamp, options.nonce, body)),
  };
}

export function bankVerify(envelope: BankEnvelope, key: string): boolean {
  const expected = Buffer.from(
    hmacHex(key, signatureContent(envelope.mch_id, envelope.timestamp, envelope.nonce, envelope.body)),
    'utf8',
  );
  const actual = Buffer.from(envelope.sign, 'utf8');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

function fail(message: string): never {
  throw new ProtocolError(ProtocolErrorReason.INVALID_ENVELOPE, message);
}

/** Reads an envelope's shape; the signature is checked separately with `bankVerify`. */
export function parseBankEnvelope(text: string): BankEnvelope {
  if (Buffer.byteLength(text, 'utf8') > BANK_ENVELOPE_BYTES_MAX) fail('envelope too large');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    fail('envelope is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail('envelope is not a JSON object');
  const record = value as Record<string, unknown>;
  const field = (name: string, charsMax: number): string => {
    const v = record[name];
    if (typeof v !== 'string' || v === '' || v.length > charsMax)
      fail(`envelope field "${name}" missing or malformed`);
    return v;
  };
  if (record.sign_type !== 'HMAC-SHA256') fail('envelope sign_type must be HMAC-SHA256');
  if (!/^\d{1,16}$/.test(field('timestamp', FIELD_CHARS_MAX)))
    fail('envelope timestamp must be epoch milliseconds');
  return {
    mch_id: field('mch_id', FIELD_CHARS_MAX),
    timestamp: field('timestamp', FIELD_CHARS_MAX),
    nonce: field('nonce', FIELD_CHARS_MAX),
    sign_type: 'HMAC-SHA256',
    body: field('body', BANK_ENVELOPE_BYTES_MAX),
    sign: field('sign', FIELD_CHARS_MAX * 2),
  };
}

/** The envelope's payload as a JSON object (trusted only after `bankVerify`). */
export function bankPayload(envelope: BankEnvelope): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(envelope.body);
  } catch {
    fail('envelope body is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail('envelope body is not a JSON object');
  return value as Record<string, unknown>;
}
