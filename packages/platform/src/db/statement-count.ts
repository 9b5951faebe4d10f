/**
 * A count of the SQL statements this process sent to Postgres, for the
 * benchmarks (statements per payment, per transfer, per idle second) and
 * for operators (`paycore_db_statements_total` on /metrics).
 *
 * It counts at the pg driver: every DataSource built by createDataSource
 * gives its pool this Client class, so TypeORM's queries, raw `manager.query`
 * calls and transaction boundaries (BEGIN / COMMIT / ROLLBACK) are all
 * counted, one per `Client.query` call. Commits are counted the way
 * Postgres counts them (pg_stat_database.xact_commit), per connection: a
 * COMMIT ends a transaction block, and a statement outside a block is a
 * transaction of its own. The cost is an integer increment and a look at the
 * statement's first characters; there is no per-statement label or timing.
 */
import { Client, type ClientConfig } from 'pg';

let statementsSent = 0;
let commitsSent = 0;

/** Statements sent by this process since it started. */
export function dbStatementsSent(): number {
  return statementsSent;
}

/** Transactions this process committed (or asked to: a failing COMMIT counts too). */
export function dbCommitsSent(): number {
  return commitsSent;
}

const BLOCK_START = /^\s*(BEGIN|START\s+TRANSACTION)\b/i;
const BLOCK_COMMIT = /^\s*(COMMIT|END)\b/i;
const BLOCK_ROLLBACK = /^\s*ROLLBACK\b(?!\s+TO)/i;

function statementText(first: unknown): string {
  if (typeof first === 'string') return first;
  if (typeof first === 'object' && first !== null && 'text' in first && typeof first.text === 'string') {
    return first.text;
  }
  return '';
}

export class CountingPgClient extends Client {
  constructor(config?: string | ClientConfig) {
    super(config);
    // The prototype's query (patched by instrumentation, when any, before this runs).
    const send = this.query.bind(this);
    let inBlock = false;
    const counted = (...args: unknown[]): unknown => {
      statementsSent += 1;
      const text = statementText(args[0]).slice(0, 32);
      if (BLOCK_START.test(text)) inBlock = true;
      else if (BLOCK_COMMIT.test(text)) {
        inBlock = false;
        commitsSent += 1;
      } else if (BLOCK_ROLLBACK.test(text)) inBlock = false;
      else if (!inBlock) commitsSent += 1;
      return Reflect.apply(send, undefined, args);
    };
    this.query = counted as Client['query'];
  }
}
