/**
 * Batch claims of the unit of work against a real Postgres: a batch of
 * requests handled in one transaction claims them with one statement and
 * answers them with one statement, with the single claim's rules per request.
 *
 * - fresh ids are fresh; an id repeated in the batch with the same payload is
 *   a `repeat` of the first; with another payload, or malformed, it is refused
 *   (IDEMPOTENCY_KEY_REUSED naming the field / INVALID_ARGUMENT) without
 *   failing the others;
 * - after rememberMany a second batch replays the answers (bigint intact) and
 *   refuses a changed payload; claims dropped as refused leave no row, so a
 *   retry is fresh;
 * - statement counts: claimMany of 200 fresh ids is one statement, with
 *   earlier ids two; rememberMany is one;
 * - 20 rounds of two concurrent batches sharing 50 ids in opposite orders:
 *   no deadlock reaches the caller, every id's work is done exactly once.
 */
import { expect } from 'chai';
import type { DataSource } from 'typeorm';
import { createTestDatabase, type TestDatabase } from '@paycore/testing';
import { createDataSource, dbStatementsSent, runMigrations } from '../../src/db';
import { createUnitOfWork, type BatchClaim, type IdempotentRequest, type UnitOfWork } from '../../src/uow';
import { ApiError } from '../../src/errors';

const SCHEMA = 'uow_batch_test';

const pay = (requestId: string, amount: bigint): IdempotentRequest => ({
  requestId,
  operation: 'test.Pay',
  payload: { amount, memo: 'm' },
});

function refusal(claim: BatchClaim<unknown> | undefined): { reason: string; field: string | undefined } {
  expect(claim?.kind).to.equal('refused');
  const error = (claim as { error: ApiError }).error;
  expect(error).to.be.instanceOf(ApiError);
  return { reason: error.reason, field: error.metadata['field'] };
}

describe('unit of work: batch claims', function () {
  this.timeout(120_000);
  let database: TestDatabase;
  let dataSource: DataSource;
  let uow: UnitOfWork;

  before(async () => {
    database = await createTestDatabase();
    dataSource = createDataSource({
      url: database.url,
      schema: SCHEMA,
      applicationName: 'uow-batch',
      poolSizeMax: 8,
    });
    await dataSource.initialize();
    await runMigrations(dataSource, { schema: SCHEMA });
    await dataSource.query(
      `CREATE TABLE ${SCHEMA}.work (request_id text PRIMARY KEY, amount bigint NOT NULL)`,
    );
    uow = createUnitOfWork(dataSource);
  });
  after(async () => {
    await dataSource?.destroy();
    await database?.drop();
  });

  /** Claims the batch, does the fresh work (amounts above 100 are refused after their claim), answers. */
  function runBatch(requests: readonly IdempotentRequest[]): Promise<BatchClaim<{ amount: bigint }>[]> {
    return uow.transaction('test.batch', 'READ COMMITTED', async (tx) => {
      const claims = await tx.claimMany<{ amount: bigint }>(requests);
      const answers = [];
      const refused = [];
      for (const [index, claim] of claims.entries()) {
        if (claim.kind !== 'fresh') continue;
        const request = requests[index]!;
        const amount = (request.payload as { amount: bigint }).amount;
        if (amount > 100n) {
          refused.push(request);
          continue;
        }
        await tx.query('INSERT INTO work (request_id, amount) VALUES ($1, $2)', [request.requestId, amount]);
        answers.push({ request, response: { amount } });
      }
      await tx.rememberMany(answers, refused);
      return claims;
    });
  }

  it('claims a batch with the single claim rules per request, and replays it', async () => {
    const claims = await runBatch([pay('a1', 1n), pay('a2', 2n), pay('a1', 1n), pay('a2', 3n), pay('', 4n)]);
    expect(claims.map((c) => c.kind)).to.deep.equal(['fresh', 'fresh', 'repeat', 'refused', 'refused']);
    expect(claims[2]).to.deep.equal({ kind: 'repeat', of: 0 });
    expect(refusal(claims[3])).to.deep.equal({ reason: 'IDEMPOTENCY_KEY_REUSED', field: 'amount' });
    expect(refusal(claims[4]).reason).to.equal('INVALID_FIELD');
    expect((claims[4] as { error: ApiError }).error.grpcCode).to.equal('INVALID_ARGUMENT');

    const again = await runBatch([pay('a2', 2n), pay('a1', 9n), pay('a3', 3n)]);
    expect(again[0]).to.deep.equal({ kind: 'replay', response: { amount: 2n } });
    expect(refusal(again[1])).to.deep.equal({ reason: 'IDEMPOTENCY_KEY_REUSED', field: 'amount' });
    expect(again[2]).to.deep.equal({ kind: 'fresh' });
    const work = await dataSource.query<{ request_id: string }[]>(
      `SELECT request_id FROM ${SCHEMA}.work WHERE request_id LIKE 'a%' ORDER BY request_id`,
    );
    expect(work.map((w) => w.request_id)).to.deep.equal(['a1', 'a2', 'a3']);
  });

  it('drops the claims of requests refused after their claim, so a retry is fresh', async () => {
    const claims = await runBatch([pay('b1', 1n), pay('b2', 500n)]);
    expect(claims.map((c) => c.kind)).to.deep.equal(['fresh', 'fresh']);
    const rows = await dataSource.query<{ request_id: string }[]>(
      `SELECT request_id FROM ${SCHEMA}.idempotency_claims WHERE request_id LIKE 'b%' ORDER BY request_id`,
    );
    expect(rows.map((r) => r.request_id)).to.deep.equal(['b1']);
    expect((await runBatch([pay('b2', 5n)]))[0]).to.deep.equal({ kind: 'fresh' });
  });

  it('claims with one statement (two when some ids were seen) and answers with one', async () => {
    const ids = Array.from({ length: 200 }, (_, i) => pay(`c${i}`, 1n));
    const counts = await uow.transaction('test.count', 'READ COMMITTED', async (tx) => {
      const start = dbStatementsSent();
      await tx.claimMany(ids);
      const claimed = dbStatementsSent();
      await tx.rememberMany(ids.map((request) => ({ request, response: { ok: true } })));
      return { claim: claimed - start, remember: dbStatementsSent() - claimed };
    });
    expect(counts).to.deep.equal({ claim: 1, remember: 1 });
    const replayed = await uow.transaction('test.count', 'READ COMMITTED', async (tx) => {
      const start = dbStatementsSent();
      const claims = await tx.claimMany([...ids.slice(0, 10), pay('c-new', 1n)]);
      const statements = dbStatementsSent() - start;
      await tx.rememberMany([{ request: pay('c-new', 1n), response: { ok: true } }]);
      return { statements, kinds: claims.map((c) => c.kind) };
    });
    expect(replayed.statements).to.equal(2);
    expect(replayed.kinds).to.deep.equal([...Array<string>(10).fill('replay'), 'fresh']);
  });

  it('two concurrent batches sharing ids in opposite orders do each id once, without deadlock', async () => {
    for (let round = 0; round < 20; round++) {
      const ids = Array.from({ length: 50 }, (_, i) => pay(`d${round}-${i}`, BigInt(i)));
      const [forward, backward] = await Promise.all([runBatch(ids), runBatch([...ids].reverse())]);
      const fresh = [...forward, ...backward].filter((c) => c.kind === 'fresh').length;
      const replays = [...forward, ...backward].filter((c) => c.kind === 'replay').length;
      expect({ fresh, replays }).to.deep.equal({ fresh: 50, replays: 50 });
    }
    const done = await dataSource.query<{ n: string }[]>(
      `SELECT count(*)::text n FROM ${SCHEMA}.work WHERE request_id LIKE 'd%'`,
    );
    expect(done[0]?.n).to.equal('1000');
  });
});
