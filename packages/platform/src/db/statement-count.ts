/**
 * A count of the SQL statements this process sent to Postgres, for the
 * benchmarks (statements per payment, per transfer, per idle second) and
 * for operators (`paycore_db_statements_total` on /metrics).
 *
 * It counts at the pg driver: every DataSource built by createDataSource
 * gives its pool this Client class, so TypeORM's queries, raw `manager.query`
 * calls and transaction boundaries (BEGIN / COMMIT / ROLLBACK) are all
 * counted, one per `Client.query` call. The cost is one integer increment
 * per statement; there is no per-statement label or timing.
 */
import { Client, type ClientConfig } from 'pg';

let statementsSent = 0;

/** Statements sent by this process since it started. */
export function dbStatementsSent(): number {
  return statementsSent;
}

export class CountingPgClient extends Client {
  constructor(config?: string | ClientConfig) {
    super(config);
    // The prototype's query (patched by instrumentation, when any, before this runs).
    const send = this.query.bind(this);
    const counted = (...args: unknown[]): unknown => {
      statementsSent += 1;
      return Reflect.apply(send, undefined, args);
    };
    this.query = counted as Client['query'];
  }
}
