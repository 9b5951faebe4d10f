/**
 * A unit of work over TypeORM with the template's TxPort (idempotency
 * claim / remember, outbox publish) and a guarded `transition`. Stands in
 * for the platform's `createUnitOfWork` until it is on main, with the same
 * signatures, so swapping it is an import change.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { inTransaction, writeOutbox, type IsolationLevel } from '@paycore/platform';
import { SettlementError } from '../../domain/errors';
import { fromStatesOf, type TransitionTable } from '../../domain/batch';
import type { Claim, IdempotentRequest, OutboxMessage } from '../../application/ports';

const REQUEST_ID_PATTERN = /^[\x21-\x7e]{1,128}$/;

/** Canonical JSON: sorted keys, bigint tagged, so the same request always hashes the same. */
function canonical(value: unknown): unknown {
  if (typeof value === 'bigint') return { $big: value.toString() };
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([k, v]) => [k, canonical(v)]));
  }
  return value;
}

function encode(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? { $big: v.toString() } : v));
}

function decode(text: string): unknown {
  return JSON.parse(text, (_k, v: unknown) => {
    if (v !== null && typeof v === 'object' && '$big' in v && typeof v.$big === 'string') {
      return BigInt((v as { $big: string }).$big);
    }
    return v;
  });
}

export class SqlTx {
  private readonly pendingClaims = new Set<string>();

  constructor(readonly manager: EntityManager) {}

  async query<R extends object = Record<string, unknown>>(
    sql: string,
    params: readonly unknown[] = [],
  ): Promise<R[]> {
    const result: unknown = await this.manager.query(sql, [...params]);
    // TypeORM answers UPDATE / DELETE with [rows, affected count]; every caller wants the rows.
    if (
      Array.isArray(result) &&
      result.length === 2 &&
      Array.isArray(result[0]) &&
      typeof result[1] === 'number'
    ) {
      return result[0] as R[];
    }
    return result as R[];
  }

  async claim<R>(request: IdempotentRequest): Promise<Claim<R>> {
    if (!REQUEST_ID_PATTERN.test(request.requestId)) {
      throw new SettlementError('INVALID_FIELD', 'request_id: 1 to 128 printable ASCII characters', {
        field: 'request_id',
      });
    }
    const hash = createHash('sha256')
      .update(`${request.operation}\n${JSON.stringify(canonical(request.payload))}`)
      .digest('hex');
    const inserted = await this.query(
      `INSERT INTO idempotency (request_id, operation, request_hash) VALUES ($1, $2, $3)
       ON CONFLICT (request_id) DO NOTHING RETURNING request_id`,
      [request.requestId, request.operation, hash],
    );
    if (inserted.length === 1) {
      this.pendingClaims.add(request.requestId);
      return { kind: 'fresh' };
    }
    const rows = await this.query<{ operation: string; request_hash: string; response: string | null }>(
      'SELECT operation, request_hash, response FROM idempotency WHERE request_id = $1',
      [request.requestId],
    );
    const row = rows[0];
    assert.ok(row !== undefined && row.response !== null, 'a committed claim has its response');
    if (row.operation !== request.operation || row.request_hash !== hash) {
      throw new SettlementError(
        'IDEMPOTENCY_KEY_REUSED',
        `request_id ${request.requestId} was used with another request`,
        {
          field: 'request_id',
          metadata: { request_id: request.requestId, operation: row.operation },
        },
      );
    }
    return { kind: 'replay', response: decode(row.response) as R };
  }

  async remember(request: IdempotentRequest, response: unknown): Promise<void> {
    await this.query('UPDATE idempotency SET response = $2 WHERE request_id = $1', [
      request.requestId,
      encode(response),
    ]);
    this.pendingClaims.delete(request.requestId);
  }

  async publish(event: OutboxMessage): Promise<void> {
    await writeOutbox(this.manager, { subject: event.subject, payload: event.payload });
  }

  /** UPDATE … SET state = to WHERE id AND state = ANY(from states of the table). */
  async transition<S extends string>(
    entity: { table: string; idColumn: string; stateColumn: string; transitions: TransitionTable<S> },
    id: string,
    to: S,
    set: Readonly<Record<string, unknown>> = {},
  ): Promise<boolean> {
    const columns = Object.keys(set);
    const assignments = columns.map((c, i) => `${c} = $${i + 4}`);
    const rows = await this.query(
      `UPDATE ${entity.table} SET ${entity.stateColumn} = $2${assignments.map((a) => `, ${a}`).join('')}
       WHERE ${entity.idColumn} = $1 AND ${entity.stateColumn} = ANY($3::text[]) RETURNING ${entity.stateColumn}`,
      [id, to, fromStatesOf(entity.transitions, to), ...columns.map((c) => set[c])],
    );
    return rows.length === 1;
  }

  assertClaimsRemembered(): void {
    assert.equal(this.pendingClaims.size, 0, 'every fresh claim is remembered before commit');
  }
}

export interface UnitOfWork {
  transaction<T>(name: string, isolation: IsolationLevel, fn: (tx: SqlTx) => Promise<T>): Promise<T>;
}

export function createUnitOfWork(dataSource: DataSource): UnitOfWork {
  return {
    transaction: (name, isolation, fn) =>
      inTransaction(
        dataSource,
        async (manager) => {
          const tx = new SqlTx(manager);
          const result = await fn(tx);
          tx.assertClaimsRemembered();
          return result;
        },
        { name, isolation },
      ),
  };
}
