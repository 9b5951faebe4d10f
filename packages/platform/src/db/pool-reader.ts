/**
 * Statements outside a transaction, straight on the data source's pg pool:
 * one round trip each (TypeORM's `query` adds none, but goes through a query
 * runner per call), bigint parameters sent as decimal text, rows returned for
 * every statement kind. For single-statement reads of a store port; anything
 * that writes runs in a unit of work.
 */
import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';

/** One statement's rows; bigint parameters travel as decimal text. */
export interface Queryable {
  query<R extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
}

export function poolReader(dataSource: DataSource): Queryable {
  const pool = (dataSource.driver as unknown as { master: Pool }).master;
  return {
    async query<R extends object>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
      const values = params.map((v) => (typeof v === 'bigint' ? v.toString() : v));
      return (await pool.query<R>(sql, values)).rows;
    },
  };
}
