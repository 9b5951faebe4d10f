/**
 * The pool reader against a real Postgres: one statement per call (counted at
 * the driver), bigint parameters beyond 2^53 sent as decimal text and read
 * back exactly, and rows returned for a data-modifying statement as well as
 * a SELECT, on the schema's search path.
 */
import { expect } from 'chai';
import type { DataSource } from 'typeorm';
import { createTestDatabase, type TestDatabase } from '@paycore/testing';
import { createDataSource, dbStatementsSent, poolReader, runMigrations } from '../../src/db';

const SCHEMA = 'pool_reader_test';

describe('pool reader', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let dataSource: DataSource;

  before(async () => {
    database = await createTestDatabase();
    dataSource = createDataSource({
      url: database.url,
      schema: SCHEMA,
      applicationName: 'pool-reader',
      poolSizeMax: 2,
    });
    await dataSource.initialize();
    await runMigrations(dataSource, { schema: SCHEMA });
    await dataSource.query(`CREATE TABLE ${SCHEMA}.amounts (id text PRIMARY KEY, amount bigint NOT NULL)`);
  });
  after(async () => {
    await dataSource?.destroy();
    await database?.drop();
  });

  it('sends one statement per call, bigints exact, rows for writes and reads', async () => {
    const reader = poolReader(dataSource);
    const big = 9_007_199_254_740_993n;
    const before = dbStatementsSent();
    const inserted = await reader.query<{ id: string }>(
      'INSERT INTO amounts (id, amount) VALUES ($1, $2) RETURNING id',
      ['a', big],
    );
    const [row] = await reader.query<{ amount: string }>('SELECT amount::text FROM amounts WHERE id = $1', [
      'a',
    ]);
    expect(dbStatementsSent() - before).to.equal(2);
    expect(inserted).to.deep.equal([{ id: 'a' }]);
    expect(BigInt(row?.amount ?? '0')).to.equal(big);
  });
});
