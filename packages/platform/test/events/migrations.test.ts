/**
 * runMigrations against a real Postgres: platform tables come first, service
 * files follow in order, a second run applies nothing, three DataSources
 * migrating the same schema at once all succeed with each migration applied
 * once (the advisory lock serialises them), and an applied file whose text
 * changed is refused by name. Each case uses its own schema in a per-run
 * database and copies of the migration files in a temp directory.
 */
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { createTestDatabase, type TestDatabase } from '@paycore/testing';
import {
  createDataSource,
  InvalidMigrationFileError,
  MigrationChecksumError,
  MigrationFailedError,
  runMigrations,
} from '../../src/db';
import { countRows } from './helpers';

describe('runMigrations', function () {
  this.timeout(30_000);
  let database: TestDatabase;
  let dir: string;
  const sources: DataSource[] = [];

  async function open(schema: string): Promise<DataSource> {
    const ds = createDataSource({
      url: database.url,
      schema,
      applicationName: 'migrations-test',
      poolSizeMax: 2,
    });
    await ds.initialize();
    sources.push(ds);
    return ds;
  }

  before(async () => {
    database = await createTestDatabase();
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'paycore-migrations-'));
    await writeFile(
      join(dir, '0001_create_widget.sql'),
      'CREATE TABLE widget (id bigint PRIMARY KEY, name text NOT NULL);\n',
    );
    await writeFile(
      join(dir, '0002_add_widget_colour.sql'),
      "ALTER TABLE widget ADD COLUMN colour text NOT NULL DEFAULT 'red';\n",
    );
    await writeFile(join(dir, 'README.md'), 'not a migration');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  after(async () => {
    await Promise.all(sources.map((ds) => ds.destroy()));
    await database?.drop();
  });

  it('applies platform then service migrations in order, and nothing on a second run', async () => {
    const ds = await open('mig_order');
    const first = await runMigrations(ds, { schema: 'mig_order', migrationsDir: dir });
    expect(first.applied).to.deep.equal([
      'platform_0001_outbox',
      'platform_0002_inbox',
      'platform_0003_idempotency',
      '0001_create_widget',
      '0002_add_widget_colour',
    ]);
    // Tables landed in the schema, found through search_path.
    await ds.query("INSERT INTO widget (id, name) VALUES (1, 'a')");
    expect(await countRows(ds, "SELECT count(*) AS n FROM mig_order.widget WHERE colour = 'red'")).to.equal(
      1,
    );
    expect(await countRows(ds, 'SELECT count(*) AS n FROM mig_order.outbox')).to.equal(0);
    const second = await runMigrations(ds, { schema: 'mig_order', migrationsDir: dir });
    expect(second.applied).to.deep.equal([]);
    expect(await countRows(ds, 'SELECT count(*) AS n FROM mig_order.schema_migrations')).to.equal(5);
  });

  it('lets three starters migrate the same schema concurrently without error', async () => {
    // A slow migration widens the window in which the others would race without the lock.
    await writeFile(join(dir, '0003_slow.sql'), 'SELECT pg_sleep(0.3); CREATE TABLE slow_thing (id int);\n');
    const all = await Promise.all([open('mig_race'), open('mig_race'), open('mig_race')]);
    const results = await Promise.all(
      all.map((ds) => runMigrations(ds, { schema: 'mig_race', migrationsDir: dir })),
    );
    const appliedCounts = results.map((r) => r.applied.length).sort();
    expect(appliedCounts).to.deep.equal([0, 0, 6]);
    expect(await countRows(all[0], 'SELECT count(*) AS n FROM mig_race.schema_migrations')).to.equal(6);
    // The lock was released: a fourth run does not hang.
    expect((await runMigrations(all[1], { schema: 'mig_race', migrationsDir: dir })).applied).to.deep.equal(
      [],
    );
  });

  it('refuses an applied migration whose text changed, naming the file', async () => {
    const ds = await open('mig_changed');
    await runMigrations(ds, { schema: 'mig_changed', migrationsDir: dir });
    await writeFile(join(dir, '0001_create_widget.sql'), 'CREATE TABLE widget (id bigint PRIMARY KEY);\n');
    const error = await runMigrations(ds, { schema: 'mig_changed', migrationsDir: dir }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(MigrationChecksumError);
    expect((error as MigrationChecksumError).message).to.contain('0001_create_widget.sql');
  });

  it('rolls back a failing migration and records nothing for it', async () => {
    const ds = await open('mig_fail');
    await writeFile(
      join(dir, '0003_broken.sql'),
      'CREATE TABLE half_done (id int); SELECT no_such_function();\n',
    );
    const error = await runMigrations(ds, { schema: 'mig_fail', migrationsDir: dir }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(MigrationFailedError);
    expect((error as Error).message).to.contain('0003_broken.sql');
    expect(
      await countRows(
        ds,
        "SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'mig_fail' AND tablename = 'half_done'",
      ),
    ).to.equal(0);
    expect(await countRows(ds, 'SELECT count(*) AS n FROM mig_fail.schema_migrations')).to.equal(5);
  });

  it('rejects badly named and duplicate-numbered files before touching the database', async () => {
    const ds = await open('mig_names');
    await writeFile(join(dir, '3_oops.sql'), 'SELECT 1;');
    await runMigrations(ds, { schema: 'mig_names', migrationsDir: dir }).then(
      () => expect.fail('should reject'),
      (e: unknown) => expect(e).to.be.instanceOf(InvalidMigrationFileError),
    );
    await rm(join(dir, '3_oops.sql'));
    await writeFile(join(dir, '0002_again.sql'), 'SELECT 1;');
    await runMigrations(ds, { schema: 'mig_names', migrationsDir: dir }).then(
      () => expect.fail('should reject'),
      (e: unknown) => expect((e as Error).message).to.contain('used twice'),
    );
    expect(
      await countRows(ds, "SELECT count(*) AS n FROM pg_namespace WHERE nspname = 'mig_names'"),
    ).to.equal(0);
  });
});
