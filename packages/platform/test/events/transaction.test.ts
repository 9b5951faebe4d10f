/**
 * inTransaction and pingDatabase against a real Postgres.
 *
 * - A forced serialization failure (SQLSTATE 40001 raised on the first
 *   attempt) is retried and the second attempt commits; a real write-skew
 *   conflict between two SERIALIZABLE transactions resolves with both
 *   committed after a retry; any other error (a unique violation) is thrown
 *   after exactly one attempt; retries are bounded.
 * - pingDatabase answers false when Postgres is unreachable (a TCP proxy in
 *   front of it is cut, the real server is untouched) and true again after.
 */
import { expect } from 'chai';
import type { DataSource } from 'typeorm';
import { createTestDatabase, startTcpProxy, type TcpProxy, type TestDatabase } from '@paycore/testing';
import { createDataSource, inTransaction, pingDatabase, runMigrations, sqlState } from '../../src/db';
import { countRows, until } from './helpers';

const SCHEMA = 'tx_test';

describe('inTransaction and pingDatabase', function () {
  this.timeout(30_000);
  let database: TestDatabase;
  let dataSource: DataSource;

  before(async () => {
    database = await createTestDatabase();
    dataSource = createDataSource({
      url: database.url,
      schema: SCHEMA,
      applicationName: 'tx-test',
      poolSizeMax: 4,
    });
    await dataSource.initialize();
    await runMigrations(dataSource, { schema: SCHEMA });
    await dataSource.query(`CREATE TABLE ${SCHEMA}.doctor (name text PRIMARY KEY, on_call boolean NOT NULL)`);
    await dataSource.query(`CREATE TABLE ${SCHEMA}.note (id int PRIMARY KEY)`);
  });
  after(async () => {
    await dataSource?.destroy();
    await database?.drop();
  });

  it('retries a serialization failure and commits the second attempt', async () => {
    let attempts = 0;
    const result = await inTransaction(
      dataSource,
      async (manager) => {
        attempts++;
        await manager.query('INSERT INTO note (id) VALUES ($1)', [100 + attempts]);
        if (attempts === 1)
          await manager.query("DO $$ BEGIN RAISE EXCEPTION 'forced' USING ERRCODE = '40001'; END $$");
        return attempts;
      },
      { isolation: 'SERIALIZABLE', name: 'test.forced' },
    );
    expect(result).to.equal(2);
    // The first attempt's insert was rolled back with it.
    expect(await countRows(dataSource, 'SELECT count(*) AS n FROM note WHERE id IN (101, 102)')).to.equal(1);
    expect(await countRows(dataSource, 'SELECT count(*) AS n FROM note WHERE id = 102')).to.equal(1);
  });

  it('resolves a real write-skew conflict between two SERIALIZABLE transactions by retrying one', async () => {
    await dataSource.query("INSERT INTO doctor VALUES ('alice', true), ('bob', true)");
    let attempts = 0;
    let readsDone = 0;
    // Each transaction takes one doctor off call if the other is still on call.
    const takeOff = (name: string): Promise<void> =>
      inTransaction(
        dataSource,
        async (manager) => {
          attempts++;
          const rows = await manager.query<{ n: number }[]>(
            'SELECT count(*)::int AS n FROM doctor WHERE on_call',
          );
          readsDone++;
          // Both first attempts read before either writes: the classic write skew.
          await until('both transactions read', () => readsDone >= 2, 5_000, 5);
          if ((rows[0]?.n ?? 0) >= 2)
            await manager.query('UPDATE doctor SET on_call = false WHERE name = $1', [name]);
        },
        { isolation: 'SERIALIZABLE', name: 'test.write_skew' },
      );
    await Promise.all([takeOff('alice'), takeOff('bob')]);
    expect(attempts, 'one transaction ran twice').to.equal(3);
    expect(await countRows(dataSource, 'SELECT count(*) AS n FROM doctor WHERE on_call')).to.equal(1);
  });

  it('does not retry other errors', async () => {
    await dataSource.query('INSERT INTO note (id) VALUES (1)');
    let attempts = 0;
    const error = await inTransaction(
      dataSource,
      async (manager) => {
        attempts++;
        await manager.query('INSERT INTO note (id) VALUES (1)');
      },
      { isolation: 'READ COMMITTED' },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(sqlState(error)).to.equal('23505');
    expect(attempts).to.equal(1);
  });

  it('gives up after retriesMax retries and throws the serialization failure', async () => {
    let attempts = 0;
    const error = await inTransaction(
      dataSource,
      async (manager) => {
        attempts++;
        await manager.query("DO $$ BEGIN RAISE EXCEPTION 'always' USING ERRCODE = '40P01'; END $$");
      },
      { isolation: 'REPEATABLE READ', retriesMax: 2 },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(sqlState(error)).to.equal('40P01');
    expect(attempts).to.equal(3);
  });

  describe('pingDatabase', () => {
    let proxy: TcpProxy;
    let proxied: DataSource;

    before(async () => {
      const target = new URL(database.url);
      proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || '5432') });
      proxied = createDataSource({
        url: proxy.urlFor(database.url),
        schema: SCHEMA,
        applicationName: 'tx-test-ping',
        poolSizeMax: 2,
        connectTimeoutMs: 1_000,
      });
      await proxied.initialize();
    });
    after(async () => {
      await proxied?.destroy().catch(() => undefined);
      await proxy?.close();
    });

    it('is true when Postgres answers, false when it is unreachable, and true again after', async () => {
      expect(await pingDatabase(proxied, 1_000)).to.equal(true);
      proxy.cut();
      expect(await pingDatabase(proxied, 1_000)).to.equal(false);
      expect(await pingDatabase(proxied, 1_000)).to.equal(false);
      proxy.restore();
      await until('ping succeeds again', () => pingDatabase(proxied, 1_000), 10_000, 100);
    });

    it('is false for a DataSource that is not initialized', async () => {
      const never = createDataSource({ url: database.url, schema: SCHEMA, applicationName: 'never' });
      expect(await pingDatabase(never, 100)).to.equal(false);
    });
  });
});
