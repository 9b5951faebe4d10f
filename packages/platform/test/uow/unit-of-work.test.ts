/**
 * The unit of work against a real Postgres.
 *
 * - claim → fresh → remember commits with the work; the same request again is
 *   a replay with the first answer (bigint intact); a different payload under
 *   the same id is ALREADY_EXISTS / IDEMPOTENCY_KEY_REUSED naming the field;
 *   a malformed id is INVALID_ARGUMENT; a rolled-back claim leaves no row.
 * - 16 concurrent claims of one id: exactly one does the work, all get its answer.
 * - A claim left unanswered makes the transaction fail and leaves nothing.
 * - claimAnswered stores the answer with the claim (no remember): a replay
 *   gets it, 16 concurrent claims do the work once, a failing work leaves no
 *   claim, a reused id is refused as with claim, and remember in the same
 *   transaction replaces the answer.
 * - transition() reads the from-states out of the domain table: allowed moves
 *   change the row and name the state moved from; a move the table forbids,
 *   or from a final state, changes nothing and reports the current state; of
 *   20 concurrent moves to two rival final states exactly one wins.
 * - each committed state change is reported as a span (state, from-state, id,
 *   amount and currency when the entity declares them) under the span that
 *   was active; a rolled-back change reports nothing.
 * - publish() writes the outbox row in the same transaction (gone on rollback).
 * - A serialization failure runs the function again.
 */
import { expect } from 'chai';
import type { DataSource } from 'typeorm';
import { trace } from '@opentelemetry/api';
import { createTestDatabase, testSpanExporter, type TestDatabase } from '@paycore/testing';
import { createDataSource, runMigrations } from '../../src/db';
import { createUnitOfWork, SQL_NOW, type EntityStates, type UnitOfWork } from '../../src/uow';
import type { TransitionTable } from '../../src/domain';

const SCHEMA = 'uow_test';
type DoorState = 'CLOSED' | 'OPEN' | 'LOCKED' | 'BROKEN';
const DOOR_TRANSITIONS: TransitionTable<DoorState> = {
  CLOSED: ['OPEN', 'LOCKED', 'BROKEN'],
  OPEN: ['CLOSED', 'BROKEN'],
  LOCKED: ['CLOSED', 'BROKEN'],
  BROKEN: [],
};
const DOORS: EntityStates<DoorState> = {
  name: 'door',
  table: 'doors',
  idColumn: 'door_id',
  stateColumn: 'state',
  transitions: DOOR_TRANSITIONS,
};

describe('unit of work: idempotency claim, guarded transitions, outbox', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let dataSource: DataSource;
  let uow: UnitOfWork;

  const count = async (sql: string): Promise<number> =>
    Number((await dataSource.query<{ n: string }[]>(sql))[0]!.n);

  before(async () => {
    database = await createTestDatabase();
    dataSource = createDataSource({
      url: database.url,
      schema: SCHEMA,
      applicationName: 'uow-test',
      poolSizeMax: 20,
    });
    await dataSource.initialize();
    await runMigrations(dataSource, { schema: SCHEMA });
    await dataSource.query(
      `CREATE TABLE ${SCHEMA}.doors (door_id text PRIMARY KEY, state text NOT NULL, note text, changed_at timestamptz,
         amount_minor bigint NOT NULL DEFAULT 0, currency text NOT NULL DEFAULT 'CNY')`,
    );
    await dataSource.query(
      `CREATE TABLE ${SCHEMA}.work (request_id text PRIMARY KEY, amount bigint NOT NULL)`,
    );
    uow = createUnitOfWork(dataSource);
  });
  after(async () => {
    await dataSource?.destroy();
    await database?.drop();
  });

  const refund = (requestId: string, amount: bigint) => ({
    requestId,
    operation: 'test.Refund',
    payload: { orderId: 'o1', amount: { units: amount, currency: 'CNY' } },
  });

  async function doWork(requestId: string, amount: bigint): Promise<{ amount: bigint; fresh: boolean }> {
    return uow.transaction('test.work', 'READ COMMITTED', async (tx) => {
      const request = refund(requestId, amount);
      const claim = await tx.claim<{ amount: bigint; fresh: boolean }>(request);
      if (claim.kind === 'replay') return { ...claim.response, fresh: false };
      await tx.query('INSERT INTO work (request_id, amount) VALUES ($1, $2)', [requestId, amount]);
      const answer = { amount, fresh: true };
      await tx.remember(request, answer);
      return answer;
    });
  }

  it('answers a replay with the first answer and does the work once', async () => {
    expect(await doWork('r-1', 9_007_199_254_740_993n)).to.deep.equal({
      amount: 9_007_199_254_740_993n,
      fresh: true,
    });
    expect(await doWork('r-1', 9_007_199_254_740_993n)).to.deep.equal({
      amount: 9_007_199_254_740_993n,
      fresh: false,
    });
    expect(await count("SELECT count(*) n FROM uow_test.work WHERE request_id = 'r-1'")).to.equal(1);
  });

  it('refuses a reused id with a different payload, naming the differing field', async () => {
    await doWork('r-2', 100n);
    const error = await doWork('r-2', 250n).then(
      () => null,
      (e: unknown) => e as { reason: string; grpcCode: string; metadata: Record<string, string> },
    );
    expect(error).to.deep.include({ reason: 'IDEMPOTENCY_KEY_REUSED', grpcCode: 'ALREADY_EXISTS' });
    expect(error!.metadata).to.deep.include({
      request_id: 'r-2',
      field: 'amount.units',
      operation: 'test.Refund',
    });
    expect(
      await count("SELECT count(*) n FROM uow_test.work WHERE request_id = 'r-2' AND amount = 100"),
    ).to.equal(1);
  });

  it('refuses a malformed id before anything is written', async () => {
    for (const bad of ['', 'x'.repeat(129), 'has space']) {
      const error = await doWork(bad, 1n).then(
        () => null,
        (e: unknown) => e as { reason: string; grpcCode: string },
      );
      expect(error, JSON.stringify(bad)).to.deep.include({
        grpcCode: 'INVALID_ARGUMENT',
        reason: 'INVALID_FIELD',
      });
    }
    expect(await doWork('x'.repeat(128), 1n)).to.deep.include({ fresh: true });
  });

  it('leaves no claim behind when the work fails, so a retry is fresh', async () => {
    const failing = uow.transaction('test.fail', 'READ COMMITTED', async (tx) => {
      await tx.claim(refund('r-3', 5n));
      throw new Error('business refusal');
    });
    await failing.then(
      () => expect.fail('should fail'),
      (e: unknown) => expect((e as Error).message).to.equal('business refusal'),
    );
    expect(
      await count("SELECT count(*) n FROM uow_test.idempotency_claims WHERE request_id = 'r-3'"),
    ).to.equal(0);
    expect(await doWork('r-3', 5n)).to.deep.include({ fresh: true });
  });

  it('does the work once for 16 concurrent claims of one id', async () => {
    const answers = await Promise.all(Array.from({ length: 16 }, () => doWork('r-4', 42n)));
    expect(answers.filter((a) => a.fresh)).to.have.length(1);
    expect(answers.every((a) => a.amount === 42n)).to.equal(true);
    expect(await count("SELECT count(*) n FROM uow_test.work WHERE request_id = 'r-4'")).to.equal(1);
  });

  /** Work whose answer is its id, known up front; `other` replaces the answer inside the transaction. */
  async function doAnswered(
    requestId: string,
    amount: bigint,
    opts: { fail?: boolean; other?: string } = {},
  ): Promise<{ id: string; fresh: boolean }> {
    return uow.transaction('test.answered', 'READ COMMITTED', async (tx) => {
      const request = refund(requestId, amount);
      const id = `id-${requestId}`;
      const claim = await tx.claimAnswered<{ id: string }>(request, { id });
      if (claim.kind === 'replay') return { id: claim.response.id, fresh: false };
      await tx.query('INSERT INTO work (request_id, amount) VALUES ($1, $2)', [requestId, amount]);
      if (opts.fail === true) throw new Error('work failed');
      if (opts.other !== undefined) {
        await tx.remember(request, { id: opts.other });
        return { id: opts.other, fresh: true };
      }
      return { id, fresh: true };
    });
  }

  it('claimAnswered: the answer is stored with the claim; replays, concurrency, failure and reuse as claim', async () => {
    expect(await doAnswered('a-1', 7n)).to.deep.equal({ id: 'id-a-1', fresh: true });
    expect(await doAnswered('a-1', 7n)).to.deep.equal({ id: 'id-a-1', fresh: false });
    const reused = await doAnswered('a-1', 8n).then(
      () => null,
      (e: unknown) => e as { reason: string },
    );
    expect(reused).to.deep.include({ reason: 'IDEMPOTENCY_KEY_REUSED' });

    const answers = await Promise.all(Array.from({ length: 16 }, () => doAnswered('a-2', 42n)));
    expect(answers.filter((a) => a.fresh)).to.have.length(1);
    expect(answers.every((a) => a.id === 'id-a-2')).to.equal(true);
    expect(await count("SELECT count(*) n FROM uow_test.work WHERE request_id = 'a-2'")).to.equal(1);

    await doAnswered('a-3', 5n, { fail: true }).then(
      () => expect.fail('should fail'),
      (e: unknown) => expect((e as Error).message).to.equal('work failed'),
    );
    expect(
      await count("SELECT count(*) n FROM uow_test.idempotency_claims WHERE request_id = 'a-3'"),
    ).to.equal(0);
    expect(await doAnswered('a-3', 5n)).to.deep.equal({ id: 'id-a-3', fresh: true });

    expect(await doAnswered('a-4', 5n, { other: 'elsewhere' })).to.deep.equal({
      id: 'elsewhere',
      fresh: true,
    });
    expect(await doAnswered('a-4', 5n)).to.deep.equal({ id: 'elsewhere', fresh: false });
  });

  it('refuses to commit a claim that was never answered', async () => {
    const unanswered = uow.transaction('test.unanswered', 'READ COMMITTED', async (tx) => {
      await tx.claim(refund('r-5', 5n));
      await tx.query("INSERT INTO work (request_id, amount) VALUES ('r-5', 5)");
    });
    await unanswered.then(
      () => expect.fail('should fail'),
      (e: unknown) => expect((e as Error).message).to.match(/claimed but not remembered/),
    );
    expect(await count("SELECT count(*) n FROM uow_test.work WHERE request_id = 'r-5'")).to.equal(0);
  });

  it('moves a state only along the domain table and reports where it stood', async () => {
    await dataSource.query("INSERT INTO uow_test.doors (door_id, state) VALUES ('d1', 'CLOSED')");
    const move = (to: DoorState) =>
      uow.transaction('test.door', 'READ COMMITTED', (tx) =>
        tx.transition(DOORS, 'd1', to, { note: `to ${to}`, changed_at: SQL_NOW }),
      );
    expect(await move('OPEN')).to.deep.equal({ changed: true, from: 'CLOSED' });
    expect(await move('LOCKED')).to.deep.equal({ changed: false, current: 'OPEN' });
    expect(await move('BROKEN')).to.deep.equal({ changed: true, from: 'OPEN' });
    expect(await move('CLOSED')).to.deep.equal({ changed: false, current: 'BROKEN' });
    const [row] = await dataSource.query<{ state: string; note: string; changed_at: Date | null }[]>(
      "SELECT state, note, changed_at FROM uow_test.doors WHERE door_id = 'd1'",
    );
    expect(row).to.deep.include({ state: 'BROKEN', note: 'to BROKEN' });
    expect(row!.changed_at).to.be.instanceOf(Date);
    const missing = await uow.transaction('test.door', 'READ COMMITTED', (tx) =>
      tx.transition(DOORS, 'nope', 'OPEN'),
    );
    expect(missing).to.deep.equal({ changed: false, current: null });
  });

  it('reports each committed state change as a span under the active one; a rolled-back change reports none', async () => {
    const exporter = testSpanExporter();
    const priced: EntityStates<DoorState> = {
      ...DOORS,
      flowKey: 'door_ref',
      amountColumn: 'amount_minor',
      currencyColumn: 'currency',
    };
    await dataSource.query(
      "INSERT INTO uow_test.doors (door_id, state, amount_minor, currency) VALUES ('d3', 'CLOSED', 1999, 'CNY')",
    );
    await trace.getTracer('uow-test').startActiveSpan('test: handler', async (handler) => {
      await uow.transaction('test.door', 'READ COMMITTED', (tx) => tx.transition(priced, 'd3', 'OPEN'));
      await uow
        .transaction('test.door', 'READ COMMITTED', async (tx) => {
          await tx.transition(priced, 'd3', 'BROKEN');
          throw new Error('rolled back');
        })
        .catch(() => undefined);
      handler.end();
    });
    const changes = exporter
      .getFinishedSpans()
      .filter((s) => s.attributes['paycore.entity'] === 'door' && s.attributes['paycore.door_ref'] === 'd3');
    expect(changes.map((s) => s.name)).to.deep.equal(['door CLOSED → OPEN']);
    expect(changes[0]?.attributes).to.deep.include({
      'paycore.state': 'OPEN',
      'paycore.from_state': 'CLOSED',
      'paycore.amount': '1999',
      'paycore.currency': 'CNY',
    });
    const handlerSpan = exporter.getFinishedSpans().find((s) => s.name === 'test: handler');
    expect(changes[0]?.parentSpanContext?.spanId).to.equal(handlerSpan?.spanContext().spanId);
  });

  it('lets exactly one of 20 concurrent rival moves win', async () => {
    await dataSource.query("INSERT INTO uow_test.doors (door_id, state) VALUES ('d2', 'OPEN')");
    // BROKEN is final: once one move there commits, every rival finds BROKEN and must not change it.
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        uow.transaction('test.race', 'READ COMMITTED', (tx) => tx.transition(DOORS, 'd2', 'BROKEN')),
      ),
    );
    expect(results.filter((r) => r.changed)).to.have.length(1);
    expect(results.filter((r) => !r.changed).every((r) => !r.changed && r.current === 'BROKEN')).to.equal(
      true,
    );
  });

  it('refuses a target the table does not know (a programmer error)', async () => {
    const bad = uow.transaction('test.bad', 'READ COMMITTED', (tx) =>
      tx.transition(DOORS, 'd1', 'AJAR' as DoorState),
    );
    await bad.then(
      () => expect.fail('should fail'),
      (e: unknown) => expect((e as Error).message).to.match(/not in the transition table/),
    );
  });

  it('writes outbox rows in the same transaction', async () => {
    const before = await count('SELECT count(*) n FROM uow_test.outbox');
    await uow.transaction('test.publish', 'READ COMMITTED', (tx) =>
      tx.publish({ subject: 'paycore.test.door_opened.v1', payload: Uint8Array.of(1) }),
    );
    await uow
      .transaction('test.publish', 'READ COMMITTED', async (tx) => {
        await tx.publish({ subject: 'paycore.test.door_opened.v1', payload: Uint8Array.of(2) });
        throw new Error('rolled back');
      })
      .catch(() => undefined);
    expect(await count('SELECT count(*) n FROM uow_test.outbox')).to.equal(before + 1);
  });

  it('runs the function again after a serialization failure', async () => {
    let runs = 0;
    const result = await uow.transaction('test.retry', 'SERIALIZABLE', async (tx) => {
      runs++;
      if (runs === 1) await tx.query("DO $$ BEGIN RAISE EXCEPTION 'forced' USING ERRCODE = '40001'; END $$");
      return runs;
    });
    expect(result).to.equal(2);
  });
});
