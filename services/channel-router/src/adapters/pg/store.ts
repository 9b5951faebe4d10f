/**
 * The Postgres side of channel-router (schema `channel`): ChannelStore over
 * the platform's unit of work. Each transaction gets one repository per
 * aggregate over the same SqlTx, so a state change, its outbox event and the
 * remembered answer to its request commit together or not at all. Reads
 * outside a transaction run one statement each on the pool.
 */
import {
  createUnitOfWork,
  signalAfterCommit,
  wakeupChannel,
  type IsolationLevel,
  type SqlTx,
  type UnitOfWork,
} from '@paycore/platform';
import type { DataSource } from 'typeorm';
import type { ChannelStore, ChannelTx } from '../../application/ports';
import { PgCallbacks } from './callbacks';
import { PgCaps } from './caps';
import { PgTxnEvents } from './events';
import { PgRegistry } from './registry';
import type { Sql } from './rows';
import { PgStatements } from './statements';
import { PgExceptions, PgSync } from './sync';
import { PgTransactions } from './transactions';

export { REGISTRY_ROWS_MAX } from './rows';

/** Status sync's wake-up: signalled after a transaction is created (a new row has a first sync slot). */
export const STATUS_SYNC_WAKEUP = wakeupChannel('channel', 'status_sync');

class PgChannelTx implements ChannelTx {
  readonly registry: PgRegistry;
  readonly caps: PgCaps;
  readonly transactions: PgTransactions;
  readonly sync: PgSync;
  readonly exceptions: PgExceptions;
  readonly statements: PgStatements;
  readonly callbacks: PgCallbacks;
  readonly events: PgTxnEvents;

  constructor(
    private readonly sql: SqlTx,
    subject: string,
  ) {
    this.registry = new PgRegistry(sql);
    this.caps = new PgCaps(sql);
    this.transactions = new PgTransactions(sql, () => signalAfterCommit(sql.manager, STATUS_SYNC_WAKEUP));
    this.sync = new PgSync(sql);
    this.exceptions = new PgExceptions(sql);
    this.statements = new PgStatements(sql);
    this.callbacks = new PgCallbacks(sql);
    this.events = new PgTxnEvents(sql, subject);
  }

  claim: SqlTx['claim'] = (request) => this.sql.claim(request);
  remember: SqlTx['remember'] = (request, response) => this.sql.remember(request, response);
  publish: SqlTx['publish'] = (event) => this.sql.publish(event);
}

/** One statement on the pool (bigint parameters as decimal text, as the unit of work sends them). */
function poolSql(dataSource: DataSource): Sql {
  return {
    async query<R extends object>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
      const values = params.map((value) => (typeof value === 'bigint' ? value.toString() : value));
      return dataSource.query<R[]>(sql, values);
    },
  };
}

export class PgChannelStore implements ChannelStore {
  private readonly uow: UnitOfWork;
  readonly reads: ChannelStore['reads'];

  constructor(
    dataSource: DataSource,
    private readonly subject: string,
  ) {
    this.uow = createUnitOfWork(dataSource);
    const sql = poolSql(dataSource);
    this.reads = {
      registry: new PgRegistry(sql),
      caps: new PgCaps(sql),
      transactions: new PgTransactions(sql),
      sync: new PgSync(sql),
      exceptions: new PgExceptions(sql),
      statements: new PgStatements(sql),
    };
  }

  transaction<T>(name: string, isolation: IsolationLevel, fn: (tx: ChannelTx) => Promise<T>): Promise<T> {
    return this.uow.transaction(name, isolation, (sql) => fn(new PgChannelTx(sql, this.subject)));
  }
}
