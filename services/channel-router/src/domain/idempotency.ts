/**
 * Request fingerprints for idempotency by `request_id`: a replay with the
 * same payload gets the first answer, the same key with another payload is
 * refused. The hash covers a canonical form (keys sorted, bigints as text).
 */
import { createHash } from 'node:crypto';

/** Idempotency keys are 1 to 128 printable ASCII characters. */
export const REQUEST_ID_PATTERN = /^[\x21-\x7e]{1,128}$/;

export type Canonical =
  string | number | boolean | bigint | null | readonly Canonical[] | { readonly [key: string]: Canonical };

function canonicalText(value: Canonical): string {
  if (typeof value === 'bigint') return `"${value.toString()}n"`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item: Canonical) => canonicalText(item)).join(',')}]`;
  const record = value as { readonly [key: string]: Canonical };
  const keys = Object.keys(record).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalText(record[key] ?? null)}`).join(',')}}`;
}

/** SHA-256 hex of the canonical payload, prefixed with the operation so keys never collide across RPCs. */
export function requestHash(operation: string, payload: Canonical): string {
  return createHash('sha256').update(operation).update('\n').update(canonicalText(payload)).digest('hex');
}
