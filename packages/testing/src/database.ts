/**
 * A fresh Postgres database per test run, so parallel runs and leftovers from
 * crashed runs never meet. The server comes from PAYCORE_TEST_PG_URL, then
 * DATABASE_URL, then the local default; the database is created next to the
 * one named in that URL and dropped (after its sessions are ended) by drop().
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

export interface TestDatabase {
  /** Connection URL of the new database. */
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

const DEFAULT_SERVER_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const CONNECT_TIMEOUT_MS = 5_000;

export function testServerUrl(): string {
  return process.env['PAYCORE_TEST_PG_URL'] ?? process.env['DATABASE_URL'] ?? DEFAULT_SERVER_URL;
}

async function withAdminClient<T>(serverUrl: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: serverUrl, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = testServerUrl();
  // Lower-case hex only: the name is used unquoted-safe and needs no escaping.
  const name = `paycore_t_${randomBytes(6).toString('hex')}`;
  await withAdminClient(serverUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    name,
    async drop(): Promise<void> {
      if (dropped) return;
      dropped = true;
      await withAdminClient(serverUrl, async (client) => {
        // A pool the test forgot to close would block DROP DATABASE forever.
        await client.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
          [name],
        );
        await client.query(`DROP DATABASE IF EXISTS ${name}`);
      });
    },
  };
}
