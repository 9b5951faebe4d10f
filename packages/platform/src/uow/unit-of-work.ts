/**
 * The unit of work every service's store is built on.
 *
 * `transaction(name, isolation, fn)` runs `fn` inside one Postgres
 * transaction on one pooled connection and gives it an `SqlTx`: plain SQL,
 * the platform's idempotency claim, the outbox write and the guarded,
 * table-driven state change — all in that one transaction, so a state change,
 * the events that report it and the remembered answer to its request commit
 * together or not at all.
 *
 * The transaction opens with a single `START TRANSACTION ISOLATION LEVEL …`
 * statement (the platform query runner, db/query-runner.ts) and commits with
 * one COMMIT; callbacks queued with `afterCommit` run after it.
 * Serialization failures and deadlocks (40001 / 40P01) run `fn` again from
 * the start, a bounded number of times, so `fn` must have no effect outside
 * the transaction (no gRPC calls, no publishes: the outbox is the way out).
 *
 * Application code sees `TxPort` (no SQL); pg adapters see `SqlTx`.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { context as otelContext, SpanKind, trace, type Context } from '@opentelemetry/api';
import type { PoolClient } from 'pg';
import type { DataSource, EntityManager } from 'typeorm';
import { fromStatesOf, type TransitionTable } from '../domain/transitions';
import { isRetryableTransactionError, retryDelayMs, sqlState, type IsolationLevel } from '../db/transaction';
import { writeOutbox, type OutboxEvent } from '../events/outbox';
import { ApiError } from '../errors';
import {
  canonicalRequestHash,
  fieldHashes,
  firstDifferingField,
  fromStoredJson,
  toStoredJson,
} from './canonical';

/** An idempotent request: what makes "the same request". */
export interface IdempotentRequest {
  /** The caller's idempotency key: 1 to 128 printable ASCII characters. */
  readonly requestId: string;
  /** The RPC or step, e.g. 'cashier.Refund'; the same id under another operation is a reuse. */
  readonly operation: string;
  /** The request's business fields, derived from the request or the flow's stored fields (never the clock). */
  readonly payload: unknown;
}

export type Claim<R> = { readonly kind: 'fresh' } | { readonly kind: 'replay'; readonly response: R };

/** What application code may do inside a transaction. */
export interface TxPort {
  /**
   * Claims the request id for this request, before any state check. Fresh:
   * the caller does the work and must `remember` an answer before the
   * transaction ends. Replay: the first answer. A different payload under the
   * same id: ApiError ALREADY_EXISTS / IDEMPOTENCY_KEY_REUSED naming the first
   * differing field in metadata.field.
   */
  claim<R>(request: IdempotentRequest): Promise<Claim<R>>;
  /** Stores the answer to a fresh claim (plain data; bigint, bytes and dates survive). */
  remember(request: IdempotentRequest, response: unknown): Promise<void>;
  /** Writes an event to the outbox in this transaction. */
  publish(event: OutboxEvent): Promise<void>;
}

/** How an entity's state is stored, and the domain table that governs it. */
export interface EntityStates<S extends string> {
  /** For messages, e.g. 'payment'. */
  readonly name: string;
  /** The table in the service schema, e.g. 'payments'. */
  readonly table: string;
  readonly idColumn: string;
  readonly stateColumn: string;
  readonly transitions: TransitionTable<S>;
  /**
   * The flow attribute naming the entity on its state-change span, e.g.
   * `channel_txn_id` (span attribute `paycore.channel_txn_id`, which `paycore
   * trace` follows). Default `<idColumn>`.
   */
  readonly flowKey?: string;
  /** A bigint minor-units column reported as `paycore.amount` with each state change. */
  readonly amountColumn?: string;
  /** A currency column reported as `paycore.currency` with each state change. */
  readonly currencyColumn?: string;
}

export type TransitionResult<S extends string> =
  { readonly changed: true; readonly from: S } | { readonly changed: false; readonly current: S | null };

/** Renders as `now()` (the transaction's timestamp) in a transition's `set`. */
export const SQL_NOW: unique symbol = Symbol('SQL_NOW');

/** What pg adapters see: the port plus SQL. */
export interface SqlTx extends TxPort {
  /** One statement in this transaction; bigint parameters are sent as decimal text. */
  query<R extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** The TypeORM manager bound to this transaction, for code that still uses it. */
  readonly manager: EntityManager;
  /**
   * Moves one entity to `to` if its current state is one the domain table
   * allows to move there (read from the table, never written by hand), and
   * sets the extra columns in the same statement.
   */
  transition<S extends string>(
    entity: EntityStates<S>,
    id: string,
    to: S,
    set?: Readonly<Record<string, unknown>>,
  ): Promise<TransitionResult<S>>;
}

export interface UnitOfWork {
  transaction<T>(name: string, isolation: IsolationLevel, fn: (tx: SqlTx) => Promise<T>): Promise<T>;
}

export interface UnitOfWorkOptions {
  /** Runs of `fn` after the first for 40001 / 40P01. Default 3, at most 10. */
  readonly retriesMax?: number;
}

const REQUEST_ID_LENGTH_MAX = 128;
const REQUEST_ID_PATTERN = /^[\x21-\x7e]+$/;
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const ISOLATION_LEVELS: ReadonlySet<string> = new Set(['READ COMMITTED', 'REPEATABLE READ', 'SERIALIZABLE']);

/** A malformed idempotency key is the caller's error: INVALID_ARGUMENT, field request_id. */
export function assertRequestId(requestId: string): void {
  if (
    requestId.length >= 1 &&
    requestId.length <= REQUEST_ID_LENGTH_MAX &&
    REQUEST_ID_PATTERN.test(requestId)
  ) {
    return;
  }
  const description = `request_id must be 1 to ${REQUEST_ID_LENGTH_MAX} printable ASCII characters (got ${requestId.length})`;
  throw new ApiError('INVALID_ARGUMENT', 'INVALID_FIELD', description, {
    fieldViolations: [{ field: 'request_id', description, reason: 'INVALID_FIELD' }],
  });
}

function assertIdentifier(name: string): void {
  assert.match(name, IDENTIFIER, `${name} is not a plain SQL identifier`);
}

function toParam(value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

interface IdempotencyRow {
  readonly operation: string;
  readonly request_hash: string;
  readonly field_hashes: Record<string, string>;
  readonly response: string | null;
}

/** One committed-or-not state change, reported as a span once the transaction commits. */
interface StateChange {
  readonly entity: string;
  readonly flowKey: string;
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly amountMinor: string | undefined;
  readonly currency: string | undefined;
  readonly context: Context;
  readonly atMs: number;
}

/** Bound on the state-change spans one transaction reports (a batch moving more reports the first ones). */
const STATE_CHANGES_REPORTED_MAX = 50;
const tracer = trace.getTracer('@paycore/platform/uow');

/**
 * Reports each state change of a committed transaction as a short INTERNAL
 * span, child of the span that was active when the change was made (the RPC,
 * the event handler or the worker tick): `payment PROCESSING → SUCCEEDED` with
 * `paycore.state`, `paycore.from_state`, the entity's id and, when the entity
 * declares them, `paycore.amount` and `paycore.currency`. A rolled-back
 * attempt reports nothing, so a trace shows only states that happened.
 */
function reportStateChanges(changes: readonly StateChange[]): void {
  for (const change of changes.slice(0, STATE_CHANGES_REPORTED_MAX)) {
    const attributes: Record<string, string> = {
      'paycore.entity': change.entity,
      'paycore.state': change.to,
      'paycore.from_state': change.from,
      [`paycore.${change.flowKey}`]: change.id,
    };
    if (change.amountMinor !== undefined) attributes['paycore.amount'] = change.amountMinor;
    if (change.currency !== undefined) attributes['paycore.currency'] = change.currency;
    tracer
      .startSpan(
        `${change.entity} ${change.from} → ${change.to}`,
        { kind: SpanKind.INTERNAL, attributes, startTime: change.atMs },
        change.context,
      )
      .end(change.atMs);
  }
}

class PgSqlTx implements SqlTx {
  /** Fresh claims not yet remembered: the transaction may not commit with any left. */
  readonly unremembered = new Set<string>();
  /** State changes made in this attempt, reported after COMMIT. */
  readonly stateChanges: StateChange[] = [];

  constructor(
    private readonly client: PoolClient,
    readonly manager: EntityManager,
  ) {}

  async query<R extends object = Record<string, unknown>>(
    sql: string,
    params: readonly unknown[] = [],
  ): Promise<R[]> {
    const result = await this.client.query<R>(sql, params.map(toParam));
    return result.rows;
  }

  async claim<R>(request: IdempotentRequest): Promise<Claim<R>> {
    assertRequestId(request.requestId);
    assert.ok(!this.unremembered.has(request.requestId), `request ${request.requestId} claimed twice`);
    const hash = canonicalRequestHash(request.operation, request.payload);
    const fields = fieldHashes(request.payload);
    // One statement on the fresh path. A concurrent claim of the same id waits
    // here for the first transaction to end, then sees its row (a replay) or,
    // if it rolled back, inserts its own (fresh).
    const inserted = await this.query(
      `INSERT INTO idempotency_claims (request_id, operation, request_hash, field_hashes)
       VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (request_id) DO NOTHING RETURNING 1 AS claimed`,
      [request.requestId, request.operation, hash, JSON.stringify(fields)],
    );
    if (inserted.length === 1) {
      this.unremembered.add(request.requestId);
      return { kind: 'fresh' };
    }
    const [first] = await this.query<IdempotencyRow>(
      'SELECT operation, request_hash, field_hashes, response FROM idempotency_claims WHERE request_id = $1',
      [request.requestId],
    );
    assert.ok(first, `idempotency row ${request.requestId} vanished between insert and select`);
    if (first.operation !== request.operation || first.request_hash !== hash) {
      const field =
        first.operation !== request.operation ? 'operation' : firstDifferingField(first.field_hashes, fields);
      throw new ApiError(
        'ALREADY_EXISTS',
        'IDEMPOTENCY_KEY_REUSED',
        `request_id ${request.requestId} was first used for a different request` +
          (field === '' ? '' : ` (${field} differs)`),
        {
          metadata: { request_id: request.requestId, operation: first.operation, field },
          fieldViolations: [
            {
              field: 'request_id',
              description: 'reused for a different request',
              reason: 'IDEMPOTENCY_KEY_REUSED',
            },
          ],
        },
      );
    }
    // A committed claim always carries its answer (commit asserts it).
    assert.ok(first.response !== null, `request ${request.requestId} was claimed but never answered`);
    return { kind: 'replay', response: fromStoredJson(first.response) as R };
  }

  async remember(request: IdempotentRequest, response: unknown): Promise<void> {
    assert.ok(
      this.unremembered.has(request.requestId),
      `remember without a fresh claim of ${request.requestId}`,
    );
    const rows = await this.query(
      `UPDATE idempotency_claims SET response = $2, completed_at = now()
       WHERE request_id = $1 AND response IS NULL RETURNING 1 AS remembered`,
      [request.requestId, toStoredJson(response)],
    );
    assert.equal(rows.length, 1, `claim row of ${request.requestId} not found to remember`);
    this.unremembered.delete(request.requestId);
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
    const optional = [entity.amountColumn, entity.currencyColumn].filter((c) => c !== undefined);
    for (const name of [
      entity.table,
      entity.idColumn,
      entity.stateColumn,
      ...optional,
      ...Object.keys(set),
    ]) {
      assertIdentifier(name);
    }
    assert.ok(!(entity.stateColumn in set), `set the state of a ${entity.name} through \`to\`, not \`set\``);
    const from = fromStatesOf(entity.transitions, to);
    const params: unknown[] = [id, to, from];
    const assignments = [`${entity.stateColumn} = $2`];
    for (const [column, value] of Object.entries(set)) {
      if (value === SQL_NOW) {
        assignments.push(`${column} = now()`);
      } else {
        params.push(value);
        assignments.push(`${column} = $${params.length}`);
      }
    }
    // The CTE locks the row and reads its state before the change (READ
    // COMMITTED re-reads the newest version after waiting for a rival), so the
    // answer names the state we moved from.
    const reported = [
      'before.from_state',
      ...(entity.amountColumn === undefined ? [] : [`t.${entity.amountColumn}::text AS amount_minor`]),
      ...(entity.currencyColumn === undefined ? [] : [`t.${entity.currencyColumn} AS currency`]),
    ];
    const moved = await this.query<{ from_state: S; amount_minor?: string; currency?: string }>(
      `WITH before AS (
         SELECT ${entity.idColumn} AS id, ${entity.stateColumn} AS from_state
         FROM ${entity.table} WHERE ${entity.idColumn} = $1 FOR UPDATE
       )
       UPDATE ${entity.table} AS t SET ${assignments.join(', ')}
       FROM before WHERE t.${entity.idColumn} = before.id AND before.from_state = ANY($3::text[])
       RETURNING ${reported.join(', ')}`,
      params,
    );
    const row = moved[0];
    if (row) {
      this.stateChanges.push({
        entity: entity.name,
        flowKey: entity.flowKey ?? entity.idColumn,
        id,
        from: row.from_state,
        to,
        amountMinor: row.amount_minor ?? undefined,
        currency: row.currency ?? undefined,
        context: otelContext.active(),
        atMs: Date.now(),
      });
      return { changed: true, from: row.from_state };
    }
    const current = await this.query<{ state: S }>(
      `SELECT ${entity.stateColumn} AS state FROM ${entity.table} WHERE ${entity.idColumn} = $1`,
      [id],
    );
    return { changed: false, current: current[0]?.state ?? null };
  }
}

const RETRIES_MAX_DEFAULT = 3;
const RETRIES_MAX_LIMIT = 10;

export function createUnitOfWork(dataSource: DataSource, options: UnitOfWorkOptions = {}): UnitOfWork {
  const retriesMax = options.retriesMax ?? RETRIES_MAX_DEFAULT;
  assert.ok(
    Number.isInteger(retriesMax) && retriesMax >= 0 && retriesMax <= RETRIES_MAX_LIMIT,
    'retriesMax out of range',
  );

  async function attempt<T>(isolation: IsolationLevel, fn: (tx: SqlTx) => Promise<T>): Promise<T> {
    const runner = dataSource.createQueryRunner('master');
    let committed: readonly StateChange[] = [];
    try {
      // The platform's query runner (createDataSource) opens with one statement,
      // `START TRANSACTION ISOLATION LEVEL …`, and runs after-commit callbacks
      // (the outbox relay's wake-up) once COMMIT succeeded.
      await runner.startTransaction(isolation);
      const client = (await runner.connect()) as PoolClient;
      const tx = new PgSqlTx(client, runner.manager);
      const result = await fn(tx);
      assert.equal(tx.unremembered.size, 0, `claimed but not remembered: ${[...tx.unremembered].join(', ')}`);
      await runner.commitTransaction();
      committed = tx.stateChanges;
      return result;
    } catch (error) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw error;
    } finally {
      await runner.release();
      // After COMMIT and outside the try: telemetry can never turn a committed transaction into an error.
      try {
        reportStateChanges(committed);
      } catch {
        // A span that cannot be made is lost; the state change stands.
      }
    }
  }

  return {
    async transaction<T>(name: string, isolation: IsolationLevel, fn: (tx: SqlTx) => Promise<T>): Promise<T> {
      assert.ok(ISOLATION_LEVELS.has(isolation), `unknown isolation level ${isolation}`);
      for (let run = 0; ; run++) {
        try {
          return await attempt(isolation, fn);
        } catch (error) {
          if (run >= retriesMax || !isRetryableTransactionError(error)) throw error;
          trace.getActiveSpan()?.addEvent('db.transaction.retry', {
            'db.transaction.name': name,
            'db.transaction.attempt': run + 1,
            'db.response.status_code': sqlState(error) ?? '',
          });
          await sleep(retryDelayMs(run));
        }
      }
    },
  };
}
