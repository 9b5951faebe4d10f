/**
 * The unit of work reconciliation's store runs on: one Postgres transaction
 * with the idempotency claim, the outbox write and guarded, table-driven
 * state changes. Same contract as the platform's template API (claim →
 * fresh | replay, remember, publish, transition).
 */
import { createHash } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { inTransaction, writeOutbox, type IsolationLevel, type OutboxEvent } from '@paycore/platform';
import { ReconError } from '../../domain/errors';
import { fromStatesOf, type TransitionTable } from '../../domain/transitions';

export interface IdempotentRequest {
  readonly requestId: string;
  readonly operation: string;
  readonly payload: unknown;
}
export type Claim<R> = { readonly kind: 'fresh' } | { readonly kind: 'replay'; readonly response: R };

export interface EntityStates<S extends string> {
  readonly name: string;
  readonly table: string;
  readonly idColumn: string;
  readonly stateColumn: string;
  readonly transitions: TransitionTable<S>;
}
export type TransitionResult<S extends string> =
  { readonly changed: true; readonly from: S } | { readonly changed: false; readonly current: S | null };

export interface TxPort {
  claim<R>(request: IdempotentRequest): Promise<Claim<R>>;
  remember<R>(request: IdempotentRequest, response: R): Promise<void>;
  publish(event: OutboxEvent): Promise<void>;
}

export interface SqlTx extends TxPort {
  query<R extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  readonly manager: EntityManager;
  transition<S extends string>(
    entity: EntityStates<S>,
    id: string,
    to: S,
    set?: Readonly<Record<string, unknown>>,
  ): Promise<TransitionResult<S>>;
}

const REQUEST_ID_PATTERN = /^[\x21-\x7e]{1,128}$/;

/** Tagged JSON so bigint, Uint8Array and Date survive a replay. */
function encode(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return { $bigint: v.toString() };
    if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString('base64') };
    return v;
  });
}
function decode<R>(text: string): R {
  return JSON.parse(text, (_key, v: unknown) => {
    if (typeof v === 'object' && v !== null && '$bigint' in v) return BigInt(String(v.$bigint));
    if (typeof v === 'object' && v !== null && '$bytes' in v) return Buffer.from(String(v.$bytes), 'base64');
    return v;
  }) as R;
}

function fieldHashes(payload: unknown, path = '', out: Record<string, string> = {}): Record<string, string> {
  if (typeof payload === 'object' && payload !== null && !(payload instanceof Uint8Array)) {
    for (const key of Object.keys(payload).sort()) {
      const value = (payload as Record<string, unknown>)[key];
      if (value !== undefined) fieldHashes(value, path === '' ? key : `${path}.${key}`, out);
    }
    return out;
  }
  out[path] = createHash('sha256').update(encode(payload)).digest('hex');
  return out;
}

class PgSqlTx implements SqlTx {
  private readonly pending = new Set<string>();

  constructor(readonly manager: EntityManager) {}

  query<R extends object = Record<string, unknown>>(
    sql: string,
    params: readonly unknown[] = [],
  ): Promise<R[]> {
    return this.manager.query<R[]>(sql, [...params]);
  }

  async claim<R>(request: IdempotentRequest): Promise<Claim<R>> {
    if (!REQUEST_ID_PATTERN.test(request.requestId)) {
      throw new ReconError('INVALID_FIELD', 'request_id must be 1..128 printable ASCII', {
        field: 'request_id',
      });
    }
    const fields = fieldHashes({ operation: request.operation, payload: request.payload });
    const hash = createHash('sha256').update(JSON.stringify(fields)).digest('hex');
    const inserted = await this.query<{ request_id: string }>(
      `INSERT INTO idempotency (request_id, operation, request_hash, field_hashes)
       VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (request_id) DO NOTHING RETURNING request_id`,
      [request.requestId, request.operation, hash, JSON.stringify(fields)],
    );
    if (inserted.length === 1) {
      this.pending.add(request.requestId);
      return { kind: 'fresh' };
    }
    const rows = await this.query<{
      request_hash: string;
      field_hashes: Record<string, string>;
      response: string | null;
    }>('SELECT request_hash, field_hashes, response FROM idempotency WHERE request_id = $1', [
      request.requestId,
    ]);
    const row = rows[0];
    if (row === undefined) throw new Error('idempotency row vanished');
    if (row.request_hash !== hash) {
      const keys = [...new Set([...Object.keys(fields), ...Object.keys(row.field_hashes)])].sort();
      const field = keys.find((key) => fields[key] !== row.field_hashes[key]) ?? '';
      throw new ReconError(
        'IDEMPOTENCY_KEY_REUSED',
        `request_id ${request.requestId} was used for another request`,
        {
          metadata: {
            request_id: request.requestId,
            operation: request.operation,
            field: field.replace(/^payload\./, ''),
          },
        },
      );
    }
    if (row.response === null) throw new Error(`request ${request.requestId} claimed but never remembered`);
    return { kind: 'replay', response: decode<R>(row.response) };
  }

  async remember<R>(request: IdempotentRequest, response: R): Promise<void> {
    await this.query('UPDATE idempotency SET response = $2 WHERE request_id = $1', [
      request.requestId,
      encode(response),
    ]);
    this.pending.delete(request.requestId);
  }

  async publish(event: OutboxEvent): Promise<void> {
    await writeOutbox(this.manager, event);
  }

  async transition<S extends string>(
    entity: EntityStates<S>,
    id: string,
    to: S,
    set: Readonly<Record<string, unknown>> = {},
  ): Promise<TransitionResult<S>> {
    const from = fromStatesOf(entity.transitions, to);
    const columns = Object.keys(set);
    const assignments = columns.map((column, index) => `${column} = $${index + 4}`);
    const rows = await this.query<{ previous: S }>(
      `UPDATE ${entity.table} AS e SET ${[`${entity.stateColumn} = $2`, ...assignments].join(', ')}
       FROM (SELECT ${entity.idColumn}, ${entity.stateColumn} AS previous FROM ${entity.table}
             WHERE ${entity.idColumn} = $1 FOR UPDATE) AS old
       WHERE e.${entity.idColumn} = old.${entity.idColumn} AND old.previous = ANY($3::text[])
       RETURNING old.previous AS previous`,
      [id, to, from, ...columns.map((column) => set[column])],
    );
    const changed = rows[0];
    if (changed !== undefined) return { changed: true, from: changed.previous };
    const current = await this.query<{ state: S }>(
      `SELECT ${entity.stateColumn} AS state FROM ${entity.table} WHERE ${entity.idColumn} = $1`,
      [id],
    );
    return { changed: false, current: current[0]?.state ?? null };
  }

  assertRemembered(): void {
    if (this.pending.size > 0) throw new Error(`claimed but not remembered: ${[...this.pending].join(', ')}`);
  }
}

export interface UnitOfWork {
  transaction<T>(name: string, isolation: IsolationLevel, fn: (tx: SqlTx) => Promise<T>): Promise<T>;
}

export function createUnitOfWork(dataSource: DataSource): UnitOfWork {
  return {
    transaction: <T>(name: string, isolation: IsolationLevel, fn: (tx: SqlTx) => Promise<T>) =>
      inTransaction(
        dataSource,
        async (manager) => {
          const tx = new PgSqlTx(manager);
          const result = await fn(tx);
          tx.assertRemembered();
          return result;
        },
        { isolation, name },
      ),
  };
}
