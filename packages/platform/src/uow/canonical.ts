/**
 * The one canonical form of a request, for idempotency.
 *
 * Two requests are "the same" when their canonical encodings are equal. The
 * encoding sorts object keys (so key order never matters), drops keys whose
 * value is undefined (so an absent optional field equals an omitted one),
 * and tags every value with its type (so the bigint 5, the number 5 and the
 * string "5" differ). The hash is SHA-256 over a version byte, the operation
 * name and the encoding: changing the encoding means bumping the version, and
 * rows hashed under the old version then compare as different, never as
 * equal by accident.
 *
 * Beside the whole-request hash, every field path (nested plain objects, down
 * to FIELD_DEPTH_MAX levels; arrays are one field) gets a short hash of its
 * own, so that a reused request id can name the field that differs.
 *
 * Responses are stored as tagged JSON: bigint, Uint8Array and Date survive a
 * round trip through a `text` column.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

export const CANONICAL_VERSION = 1;
const FIELD_DEPTH_MAX = 4;
const FIELD_HASH_HEX_CHARS = 16;
const FIELDS_MAX = 256;

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The canonical text of a value; throws (a programmer error) on values that have none. */
export function canonicalText(value: unknown): string {
  if (value === null) return 'N';
  switch (typeof value) {
    case 'boolean':
      return value ? 'T' : 'F';
    case 'number':
      assert.ok(Number.isFinite(value), 'a request value must be a finite number');
      return `n${Object.is(value, -0) ? 0 : value}`;
    case 'bigint':
      return `b${value.toString()}`;
    case 'string':
      return `s${JSON.stringify(value)}`;
    case 'object':
      break;
    default:
      assert.fail(`a request value of type ${typeof value} has no canonical form`);
  }
  if (value instanceof Uint8Array) return `x${Buffer.from(value).toString('hex')}`;
  if (value instanceof Date) return `d${value.toISOString()}`;
  if (Array.isArray(value)) {
    return `[${value.map((item: unknown) => (item === undefined ? 'N' : canonicalText(item))).join(',')}]`;
  }
  assert.ok(isPlainObject(value), 'a request value must be a plain object, array or scalar');
  const keys = Object.keys(value)
    .filter((key) => value[key] !== undefined)
    .sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalText(value[key])}`).join(',')}}`;
}

function sha256Hex(parts: readonly (string | Uint8Array)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

/** The request hash stored with a claimed request id. */
export function canonicalRequestHash(operation: string, payload: unknown): string {
  return sha256Hex([Uint8Array.of(CANONICAL_VERSION), operation, '\n', canonicalText(payload)]);
}

/** Short hashes of every field path of a payload (see the module comment). */
export function fieldHashes(payload: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (value: unknown, path: string, depth: number): void => {
    const nested =
      typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value) &&
      !(value instanceof Uint8Array) &&
      !(value instanceof Date) &&
      isPlainObject(value);
    if (nested && depth < FIELD_DEPTH_MAX) {
      for (const key of Object.keys(value).sort()) {
        if (value[key] === undefined) continue;
        walk(value[key], path === '' ? key : `${path}.${key}`, depth + 1);
      }
      return;
    }
    if (Object.keys(out).length >= FIELDS_MAX) return;
    out[path] = sha256Hex([canonicalText(value)]).slice(0, FIELD_HASH_HEX_CHARS);
  };
  walk(payload, '', 0);
  return out;
}

/**
 * The first field path (in sorted order) whose value differs between two
 * requests, or present in one only; '' when nothing field-level differs.
 */
export function firstDifferingField(
  first: Readonly<Record<string, string>>,
  second: Readonly<Record<string, string>>,
): string {
  const paths = [...new Set([...Object.keys(first), ...Object.keys(second)])].sort();
  return paths.find((path) => first[path] !== second[path]) ?? '';
}

/**
 * A payload field path as the proto names it: each camelCase segment in
 * snake_case (`amount.amountMinor` → `amount.amount_minor`), so a service
 * whose payload keys are TypeScript names reports the field the caller sent.
 */
export function protoFieldPath(path: string): string {
  return path.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

type Tagged = null | boolean | number | string | Tagged[] | { readonly [key: string]: Tagged };

function toTagged(value: unknown): Tagged {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'boolean':
    case 'number':
    case 'string':
      return value;
    case 'bigint':
      return { $bigint: value.toString() };
    case 'object':
      break;
    default:
      assert.fail(`a response value of type ${typeof value} cannot be stored`);
  }
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') };
  if (value instanceof Date) return { $date: value.toISOString() };
  if (Array.isArray(value)) return value.map(toTagged);
  assert.ok(isPlainObject(value), 'a stored response must be plain data');
  const out: Record<string, Tagged> = {};
  for (const [key, item] of Object.entries(value)) {
    assert.ok(!key.startsWith('$'), `response keys may not start with $ (${key})`);
    if (item !== undefined) out[key] = toTagged(item);
  }
  return out;
}

function fromTagged(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(fromTagged);
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length === 1) {
    const tag = record.$bigint ?? record.$bytes ?? record.$date;
    if (typeof tag === 'string') {
      if ('$bigint' in record) return BigInt(tag);
      if ('$bytes' in record) return new Uint8Array(Buffer.from(tag, 'base64'));
      return new Date(tag);
    }
  }
  const out: Record<string, unknown> = {};
  for (const key of keys) out[key] = fromTagged(record[key]);
  return out;
}

/** JSON text of a response, with bigint / bytes / dates tagged. */
export function toStoredJson(value: unknown): string {
  return JSON.stringify(toTagged(value));
}

export function fromStoredJson(text: string): unknown {
  return fromTagged(JSON.parse(text));
}
