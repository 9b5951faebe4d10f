/**
 * The Postgres implementation of the account store port: the unit of work of
 * the platform, with one narrow repository per aggregate (accounts.ts,
 * postings.ts, pending.ts, freezes.ts, days.ts) and the events port, plus
 * single-statement reads on the pool (reads.ts). No rule lives here: the use
 * cases in application/ decide, these files read and write.
 */
import type { DataSource } from 'typeorm';
import { createUnitOfWork, type IsolationLevel, type UnitOfWork } from '@paycore/platform';
import type { AccountReads, AccountStore, AccountTx } from '../../application/ports';
import { PgAccountRepo } from './accounts';
import { PgDayRepo } from './days';
import { PgAccountEvents, type AccountEvents } from './events';
import { PgFreezeRepo } from './freezes';
import { PgPendingRepo } from './pending';
import { PgPostingRepo } from './postings';
import { PgAccountReads } from './reads';
import { poolReader } from './sql';

export interface PgAccountStoreOptions {
  readonly dataSource: DataSource;
  readonly events: AccountEvents;
}

export class PgAccountStore implements AccountStore {
  private readonly uow: UnitOfWork;
  private readonly events: AccountEvents;
  readonly reads: AccountReads;

  constructor(options: PgAccountStoreOptions) {
    this.uow = createUnitOfWork(options.dataSource);
    this.events = options.events;
    this.reads = new PgAccountReads(poolReader(options.dataSource));
  }

  transaction<T>(name: string, isolation: IsolationLevel, fn: (tx: AccountTx) => Promise<T>): Promise<T> {
    return this.uow.transaction(name, isolation, (sql) =>
      fn(
        Object.assign(sql, {
          accounts: new PgAccountRepo(sql),
          postings: new PgPostingRepo(sql, this.events),
          pending: new PgPendingRepo(sql),
          freezes: new PgFreezeRepo(sql),
          days: new PgDayRepo(sql),
          events: new PgAccountEvents(sql, this.events),
        }),
      ),
    );
  }
}
