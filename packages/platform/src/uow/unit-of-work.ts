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
  protoFieldPath,
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

/**
 * The claim of one request of a batch. Besides fresh and replay: `repeat`, the
 * same id with the same payload as the earlier request `of` of this batch
 * (its answer is that one's); `refused`, a malformed id or an id reused for a
 * different request (the ApiError `claim` would have thrown), which fails
 * that request only.
 */
export type BatchClaim<R> =
  | Claim<R>
  | { readonly kind: 'repeat'; readonly of: number }
  | { readonly kind: 'refused'; readonly error: ApiError };

/** The answer to one fresh claim of a batch. */
export interface Remembered {
  readonly request: IdempotentRequest;
  readonly response: unknown;
}

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

/**
 * Claims for a batch of requests handled in one transaction (for example
 * transfers grouped by a batcher): one statement claims them all, one
 * statement answers them all.
 */
export interface BatchTxPort extends TxPort {
  /**
   * Claims every request, before any state check, with one multi-row insert
   * (plus one read when some ids were claimed before). One answer per
   * request, in order; a refusal fails that request only. Ids are inserted in
   * sorted order, so two batches that share ids cannot deadlock on them.
   */
  claimMany<R>(requests: readonly IdempotentRequest[]): Promise<BatchClaim<R>[]>;
  /**
   * Answers fresh claims of this transaction and drops the claims of requests
   * that were refused after their claim (a business refusal inside a batch
   * that commits for the others), in one statement. A dropped claim leaves no
   * row, as a rolled-back single claim does, so a retry is evaluated again.
   */
  rememberMany(answers: readonly Remembered[], refused?: readonly IdempotentRequest[]): Promise<void>;
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
  /**
   * `claim` for a use case whose answer is known before its work (an id it
   * chooses itself): a fresh claim stores `response` in the same statement,
   * so no `remember` is needed (one statement instead of two; a rollback
   * drops claim and answer together). `remember` may still replace the
   * answer in this transaction (the work found another answer). Replays and
   * refusals are exactly `claim`'s.
   */
  claimAnswered<R>(request: IdempotentRequest, response: R): Promise<Claim<R>>;
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

/** What the unit of work hands to `fn`: SQL, single and batch claims. */
export interface UnitOfWorkTx extends SqlTx, BatchTxPort {}

export interface UnitOfWork {
  transaction<T>(name: string, isolation: IsolationLevel, fn: (tx: UnitOfWorkTx) => Promise<T>): Promise<T>;
}

export interface UnitOfWorkOptions {
  /** Runs of `fn` after the first for 40001 / 40P01. Default 3, at most 10. */
  readonly retriesMax?: number;
}

const REQUEST_ID_LENGTH_MAX = 128;
/** Most requests one claimMany / rememberMany statement carries. */
export const BATCH_CLAIMS_MAX = 10_000;
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

interface PreparedRequest {
  readonly request: IdempotentRequest;
  readonly hash: string;
  readonly fields: Record<string, string>;
}

function prepare(request: IdempotentRequest): PreparedRequest {
  return {
    request,
    hash: canonicalRequestHash(request.operation, request.payload),
    fields: fieldHashes(request.payload),
  };
}

/** The refusal of an id first used for another request (operation or payload). */
function reusedError(
  requestId: string,
  first: Pick<IdempotencyRow, 'operation' | 'field_hashes'>,
  prepared: PreparedRequest,
): ApiError {
  const field =
    first.operation !== prepared.request.operation
      ? 'operation'
      : protoFieldPath(firstDifferingField(first.field_hashes, prepared.fields));
  return new ApiError(
    'ALREADY_EXISTS',
    'IDEMPOTENCY_KEY_REUSED',
    `request_id ${requestId} was first used for a different request` +
      (field === '' ? '' : ` (${field} differs)`),
    {
      metadata: { request_id: requestId, operation: first.operation, field },
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

/** A stored claim seen again: the first answer, or the refusal of a reuse. */
function answerOf<R>(row: IdempotencyRow, prepared: PreparedRequest): Claim<R> {
  const requestId = prepared.request.requestId;
  if (row.operation !== prepared.request.operation || row.request_hash !== prepared.hash) {
    throw reusedError(requestId, row, prepared);
  }
  // A committed claim always carries its answer (commit asserts it).
  assert.ok(row.response !== null, `request ${requestId} was claimed but never answered`);
  return { kind: 'replay', response: fromStoredJson(row.response) as R };
}

/** Runs `step`; an ApiError it throws becomes a refused claim, anything else propagates. */
function settledAnswer<T>(step: () => T): T | { readonly kind: 'refused'; readonly error: ApiError } {
  try {
    return step();
  } catch (error) {
    if (error instanceof ApiError) return { kind: 'refused', error };
    throw error;
  }
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

class PgSqlTx implements UnitOfWorkTx {
  /** Fresh claims not yet remembered: the transaction may not commit with any left. */
  readonly unremembered = new Set<string>();
  /** Fresh claims of this transaction stored with their answer (claimAnswered). */
  readonly answered = new Set<string>();
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

  private prepareClaim(request: IdempotentRequest) {
    assertRequestId(request.requestId);
    assert.ok(
      !this.unremembered.has(request.requestId) && !this.answered.has(request.requestId),
      `request ${request.requestId} claimed twice`,
    );
    return prepare(request);
  }

  /** The answer of a claim some transaction made first (a replay, or a refused reuse of the id). */
  private async claimedBefore<R>(requestId: string, prepared: ReturnType<typeof prepare>): Promise<Claim<R>> {
    const [first] = await this.query<IdempotencyRow>(
      'SELECT operation, request_hash, field_hashes, response FROM idempotency_claims WHERE request_id = $1',
      [requestId],
    );
    assert.ok(first, `idempotency row ${requestId} vanished between insert and select`);
    return answerOf<R>(first, prepared);
  }

  async claim<R>(request: IdempotentRequest): Promise<Claim<R>> {
    const prepared = this.prepareClaim(request);
    // One statement on the fresh path. A concurrent claim of the same id waits
    // here for the first transaction to end, then sees its row (a replay) or,
    // if it rolled back, inserts its own (fresh).
    const inserted = await this.query(
      `INSERT INTO idempotency_claims (request_id, operation, request_hash, field_hashes)
       VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (request_id) DO NOTHING RETURNING 1 AS claimed`,
      [request.requestId, request.operation, prepared.hash, JSON.stringify(prepared.fields)],
    );
    if (inserted.length === 1) {
      this.unremembered.add(request.requestId);
      return { kind: 'fresh' };
    }
    return this.claimedBefore<R>(request.requestId, prepared);
  }

  async claimAnswered<R>(request: IdempotentRequest, response: R): Promise<Claim<R>> {
    const prepared = this.prepareClaim(request);
    // As claim, with the answer in the row: one statement on the fresh path.
    const inserted = await this.query(
      `INSERT INTO idempotency_claims (request_id, operation, request_hash, field_hashes, response, completed_at)
       VALUES ($1, $2, $3, $4::jsonb, $5, now()) ON CONFLICT (request_id) DO NOTHING RETURNING 1 AS claimed`,
      [
        request.requestId,
        request.operation,
        prepared.hash,
        JSON.stringify(prepared.fields),
        toStoredJson(response),
      ],
    );
    if (inserted.length === 1) {
      this.answered.add(request.requestId);
      return { kind: 'fresh' };
    }
    return this.claimedBefore<R>(request.requestId, prepared);
  }

  async claimMany<R>(requests: readonly IdempotentRequest[]): Promise<BatchClaim<R>[]> {
    assert.ok(requests.length <= BATCH_CLAIMS_MAX, `more than ${BATCH_CLAIMS_MAX} claims in one statement`);
    const answers: (BatchClaim<R> | undefined)[] = new Array<BatchClaim<R> | undefined>(requests.length);
    const claiming = this.dedupe(requests.map(prepare), answers);
    if (claiming.length === 0) return answers as BatchClaim<R>[];
    // One statement for the batch, in id order; a rival transaction holding
    // one of these ids makes it wait, exactly like a single claim.
    const inserted = await this.query<{ request_id: string }>(
      `INSERT INTO idempotency_claims (request_id, operation, request_hash, field_hashes)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[])
       ON CONFLICT (request_id) DO NOTHING RETURNING request_id`,
      [
        claiming.map((c) => c.prepared.request.requestId),
        claiming.map((c) => c.prepared.request.operation),
        claiming.map((c) => c.prepared.hash),
        claiming.map((c) => JSON.stringify(c.prepared.fields)),
      ],
    );
    const fresh = new Set(inserted.map((row) => row.request_id));
    const seen = claiming.filter((c) => !fresh.has(c.prepared.request.requestId));
    const stored = new Map<string, IdempotencyRow>();
    if (seen.length > 0) {
      const found = await this.query<IdempotencyRow & { request_id: string }>(
        `SELECT request_id, operation, request_hash, field_hashes, response
           FROM idempotency_claims WHERE request_id = ANY($1::text[])`,
        [seen.map((c) => c.prepared.request.requestId)],
      );
      for (const row of found) stored.set(row.request_id, row);
    }
    for (const { index, prepared } of claiming) {
      const requestId = prepared.request.requestId;
      if (fresh.has(requestId)) {
        this.unremembered.add(requestId);
        answers[index] = { kind: 'fresh' };
        continue;
      }
      const row = stored.get(requestId);
      assert.ok(row, `idempotency row ${requestId} vanished between insert and select`);
      answers[index] = settledAnswer(() => answerOf<R>(row, prepared));
    }
    return answers as BatchClaim<R>[];
  }

  /**
   * Answers what needs no database (malformed ids, repeats within the batch)
   * and returns the first request of each id, sorted by id.
   */
  private dedupe<R>(
    prepared: readonly PreparedRequest[],
    answers: (BatchClaim<R> | undefined)[],
  ): { index: number; prepared: PreparedRequest }[] {
    const first = new Map<string, { index: number; prepared: PreparedRequest }>();
    prepared.forEach((current, index) => {
      const requestId = current.request.requestId;
      const malformed = settledAnswer(() => assertRequestId(requestId));
      if (malformed !== undefined) {
        answers[index] = malformed;
        return;
      }
      assert.ok(!this.unremembered.has(requestId), `request ${requestId} claimed twice`);
      const earlier = first.get(requestId);
      if (earlier === undefined) {
        first.set(requestId, { index, prepared: current });
      } else if (
        earlier.prepared.request.operation === current.request.operation &&
        earlier.prepared.hash === current.hash
      ) {
        answers[index] = { kind: 'repeat', of: earlier.index };
      } else {
        const firstRow = {
          operation: earlier.prepared.request.operation,
          field_hashes: earlier.prepared.fields,
        };
        answers[index] = { kind: 'refused', error: reusedError(requestId, firstRow, current) };
      }
    });
    return [...first.values()].sort((a, b) =>
      a.prepared.request.requestId < b.prepared.request.requestId ? -1 : 1,
    );
  }

  async rememberMany(
    answers: readonly Remembered[],
    refused: readonly IdempotentRequest[] = [],
  ): Promise<void> {
    assert.ok(answers.length + refused.length <= BATCH_CLAIMS_MAX, 'too many claims in one statement');
    if (answers.length === 0 && refused.length === 0) return;
    for (const { requestId } of [...answers.map((a) => a.request), ...refused]) {
      assert.ok(this.unremembered.has(requestId), `remember without a fresh claim of ${requestId}`);
    }
    const [counts] = await this.query<{ answered: number; dropped: number }>(
      `WITH answered AS (
         UPDATE idempotency_claims c SET response = a.response, completed_at = now()
           FROM unnest($1::text[], $2::text[]) AS a(request_id, response)
          WHERE c.request_id = a.request_id AND c.response IS NULL
         RETURNING 1
       ), dropped AS (
         DELETE FROM idempotency_claims WHERE request_id = ANY($3::text[]) AND response IS NULL RETURNING 1
       )
       SELECT (SELECT count(*) FROM answered)::int AS answered, (SELECT count(*) FROM dropped)::int AS dropped`,
      [
        answers.map((a) => a.request.requestId),
        answers.map((a) => toStoredJson(a.response)),
        refused.map((r) => r.requestId),
      ],
    );
    assert.equal(counts?.answered, answers.length, 'a claim row to remember was not found');
    assert.equal(counts?.dropped, refused.length, 'a refused claim row to drop was not found');
    for (const { requestId } of [...answers.map((a) => a.request), ...refused])
      this.unremembered.delete(requestId);
  }

  async remember(request: IdempotentRequest, response: unknown): Promise<void> {
    if (this.answered.has(request.requestId)) {
      // Claimed with an answer in this transaction: the row is this transaction's own.
      const replaced = await this.query(
        `UPDATE idempotency_claims SET response = $2, completed_at = now()
         WHERE request_id = $1 RETURNING 1 AS remembered`,
        [request.requestId, toStoredJson(response)],
      );
      assert.equal(replaced.length, 1, `claim row of ${request.requestId} not found to answer again`);
      return;
    }
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

  async function attempt<T>(isolation: IsolationLevel, fn: (tx: UnitOfWorkTx) => Promise<T>): Promise<T> {
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
    async transaction<T>(
      name: string,
      isolation: IsolationLevel,
      fn: (tx: UnitOfWorkTx) => Promise<T>,
    ): Promise<T> {
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
