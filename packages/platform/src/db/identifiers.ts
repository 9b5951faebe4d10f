/**
 * SQL identifiers that paycore builds from configuration (schema names) are
 * checked against a conservative pattern and then quoted. Values never go into
 * SQL text; they are always bind parameters. Schema names are the one thing
 * that cannot be bound, so they get this narrow gate instead.
 */
import { createHash } from 'node:crypto';

const SCHEMA_NAME_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

export class InvalidSchemaNameError extends Error {
  override readonly name = 'InvalidSchemaNameError';
  constructor(readonly schema: string) {
    super(`schema name ${JSON.stringify(schema)} must match ${SCHEMA_NAME_PATTERN.source}`);
  }
}

/** Returns the schema name double-quoted for SQL text, after checking it. */
export function quoteSchema(schema: string): string {
  if (!SCHEMA_NAME_PATTERN.test(schema)) throw new InvalidSchemaNameError(schema);
  return `"${schema}"`;
}

/**
 * A stable signed 64-bit key for pg_advisory_lock, derived from a text label.
 * Returned as a decimal string because it goes to Postgres as `$1::bigint`
 * and a JS number cannot hold 64 bits.
 */
export function advisoryLockKey(label: string): string {
  const digest = createHash('sha256').update(label, 'utf8').digest();
  return BigInt.asIntN(64, digest.readBigUInt64BE(0)).toString();
}
