/**
 * Proves that the default chart shipped as migrations 0002 and 0004 is exactly
 * DEFAULT_CHART of the domain (codes, names, categories, normal sides,
 * account-kept flags), by migrating a fresh database and reading it back, so
 * the two can never drift apart unnoticed.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { createDataSource, runMigrations } from '@paycore/platform';
import { createTestDatabase } from '@paycore/testing';
import { DEFAULT_CHART } from '../src/domain/subjects';

describe('default chart migration', function () {
  this.timeout(20_000);

  it('inserts DEFAULT_CHART, row for row', async () => {
    const db = await createTestDatabase();
    const dataSource = createDataSource({
      url: db.url,
      schema: 'ledger',
      applicationName: 'ledger-test',
      poolSizeMax: 2,
    });
    try {
      await dataSource.initialize();
      await runMigrations(dataSource, {
        schema: 'ledger',
        migrationsDir: join(__dirname, '..', 'migrations'),
      });
      const rows = await dataSource.query<
        { code: string; name: string; category: string; normal_side: string; account_kept: boolean }[]
      >('SELECT code, name, category, normal_side, account_kept FROM subjects ORDER BY code');
      const expected = [...DEFAULT_CHART]
        .sort((a, b) => (a.code < b.code ? -1 : 1))
        .map((s) => ({
          code: s.code,
          name: s.name,
          category: s.category,
          normal_side: s.normalSide,
          account_kept: s.accountKept,
        }));
      expect(rows).to.deep.equal(expected);
    } finally {
      if (dataSource.isInitialized) await dataSource.destroy();
      await db.drop();
    }
  });
});
