/** A stable digest of a request's payload, for "same request id, different payload" checks. */
import { createHash } from 'node:crypto';

export function requestHash(payload: unknown): string {
  const json = JSON.stringify(payload, (_key, value: unknown) =>
    typeof value === 'bigint' ? `${value}n` : value,
  );
  return createHash('sha256').update(json, 'utf8').digest('hex');
}
