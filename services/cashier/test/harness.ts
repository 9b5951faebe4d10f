/**
 * The cashier's use cases and drivers in-process against a real Postgres
 * (its own database per run, the cashier's real migrations), with the two
 * other services replaced by in-memory fakes that keep their contracts:
 * FakeAccount is a TCC ledger (holds with expiry, frozen accounts, overdraft
 * only for internal accounts, replays answered by request id and refused
 * with IDEMPOTENCY_KEY_REUSED when the payload differs — as account does);
 * FakeChannel answers from a script. The e2e tests run the real services.
 * `statements()` counts the SQL statements and commits the cashier sent.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import pino from 'pino';
import type { DataSource } from 'typeorm';
import {
  createDataSource,
  dbCommitsSent,
  dbStatementsSent,
  EventNaming,
  runMigrations,
} from '@paycore/platform';
import { defaultCataloguePath, loadCatalogue } from '@paycore/context';
import { createTestDatabase, type TestDatabase } from '@paycore/testing';
import { PgCashierStore } from '../src/adapters/pg/store';
import { AccountDirectory } from '../src/application/accounts';
import { Cashier } from '../src/application/cashier';
import { Drivers } from '../src/application/drivers';
import {
  DependencyRefusal,
  type AccountPort,
  type ChannelPort,
  type ChannelTxn,
  type Leg,
  type RouteChoice,
} from '../src/application/ports';
import type { AccountRef } from '../src/domain/accounts';
import { CashierError } from '../src/domain/errors';

interface Hold {
  readonly legs: readonly Leg[];
  readonly expiresAtMs: number;
  state: 'HELD' | 'CONFIRMED' | 'CANCELLED';
}

export class FakeAccount implements AccountPort {
  readonly balances = new Map<string, bigint>();
  readonly overdraft = new Set<string>();
  readonly frozen = new Set<string>();
  readonly holds = new Map<string, Hold>();
  readonly answered = new Map<string, string>();
  readonly calls: string[] = [];
  /** Calls that fail once as if the answer was lost (after the work for a try, before it for a transfer). */
  readonly loseNext = new Set<string>();
  constructor(readonly nowMs: () => number) {}

  private lost(kind: string): boolean {
    return this.loseNext.delete(kind);
  }

  private replay(requestId: string, payload: unknown): boolean {
    const text = JSON.stringify(payload, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
    const first = this.answered.get(requestId);
    if (first === undefined) {
      this.answered.set(requestId, text);
      return false;
    }
    if (first !== text)
      throw new DependencyRefusal('account', 'IDEMPOTENCY_KEY_REUSED', `${requestId} reused`);
    return true;
  }

  available(id: string): bigint {
    let held = 0n;
    for (const h of this.holds.values()) {
      if (h.state !== 'HELD' || h.expiresAtMs <= this.nowMs()) continue;
      for (const l of h.legs) if (l.accountId === id && l.side === 'DEBIT') held += l.amountMinor;
    }
    return (this.balances.get(id) ?? 0n) - held;
  }

  private check(legs: readonly Leg[]): void {
    for (const l of legs) {
      if (this.frozen.has(l.accountId))
        throw new DependencyRefusal('account', 'ACCOUNT_FROZEN', `${l.accountId} frozen`);
      if (
        l.side === 'DEBIT' &&
        !this.overdraft.has(l.accountId) &&
        this.available(l.accountId) < l.amountMinor
      ) {
        throw new DependencyRefusal('account', 'INSUFFICIENT_BALANCE', `${l.accountId} short`);
      }
    }
  }

  private post(legs: readonly Leg[]): void {
    for (const l of legs) {
      const delta = l.side === 'DEBIT' ? -l.amountMinor : l.amountMinor;
      this.balances.set(l.accountId, (this.balances.get(l.accountId) ?? 0n) + delta);
    }
  }

  openAccount(requestId: string, _code: string, ref: AccountRef): Promise<string> {
    const id = `acct:${requestId}`;
    if (ref.allowOverdraft) this.overdraft.add(id);
    return Promise.resolve(id);
  }

  tryTransfer(pendingId: string, _code: string, legs: readonly Leg[], timeoutMs: number): Promise<void> {
    this.calls.push(`try:${pendingId}`);
    if (this.replay(`try:${pendingId}`, { legs, timeoutS: Math.ceil(timeoutMs / 1000) }))
      return Promise.resolve();
    if (this.holds.get(pendingId)?.state === 'CANCELLED')
      throw new DependencyRefusal('account', 'TRY_AFTER_CANCEL', 'cancelled');
    try {
      this.check(legs.filter((l) => l.side === 'DEBIT'));
    } catch (err) {
      this.answered.delete(`try:${pendingId}`);
      throw err;
    }
    this.holds.set(pendingId, { legs, expiresAtMs: this.nowMs() + timeoutMs, state: 'HELD' });
    if (this.lost('try')) return Promise.reject(new CashierError('DEPENDENCY_UNAVAILABLE', 'answer lost'));
    return Promise.resolve();
  }

  confirmTransfer(pendingId: string): Promise<void> {
    this.calls.push(`confirm:${pendingId}`);
    const hold = this.holds.get(pendingId);
    if (hold?.state === 'CONFIRMED') return Promise.resolve();
    if (!hold || hold.state !== 'HELD' || hold.expiresAtMs <= this.nowMs()) {
      throw new DependencyRefusal('account', 'PENDING_EXPIRED', `${pendingId} is not held`);
    }
    for (const l of hold.legs)
      if (this.frozen.has(l.accountId)) throw new DependencyRefusal('account', 'ACCOUNT_FROZEN', 'frozen');
    hold.state = 'CONFIRMED';
    this.post(hold.legs);
    return Promise.resolve();
  }

  cancelTransfer(pendingId: string): Promise<void> {
    this.calls.push(`cancel:${pendingId}`);
    const hold = this.holds.get(pendingId);
    if (hold?.state === 'CONFIRMED') throw new DependencyRefusal('account', 'ALREADY_CONFIRMED', 'confirmed');
    if (hold) hold.state = 'CANCELLED';
    else this.holds.set(pendingId, { legs: [], expiresAtMs: 0, state: 'CANCELLED' });
    return Promise.resolve();
  }

  transfer(requestId: string, _code: string, legs: readonly Leg[]): Promise<void> {
    this.calls.push(`transfer:${requestId}`);
    if (this.lost(requestId.split(':')[0] ?? ''))
      return Promise.reject(new CashierError('DEPENDENCY_UNAVAILABLE', 'unreachable'));
    if (this.replay(requestId, { legs })) return Promise.resolve();
    try {
      this.check(legs);
    } catch (err) {
      this.answered.delete(requestId);
      throw err;
    }
    this.post(legs);
    return Promise.resolve();
  }

  balance(accountId: string): Promise<{ availableMinor: bigint; totalMinor: bigint }> {
    return Promise.resolve({
      availableMinor: this.available(accountId),
      totalMinor: this.balances.get(accountId) ?? 0n,
    });
  }
}

export class FakeChannel implements ChannelPort {
  routeRefusal: string | undefined;
  createRefusal: string | undefined;
  /** State the next create answers with, and what queries answer. */
  state: ChannelTxn['state'] = 'PROCESSING';
  closeAnswer: ChannelTxn['state'] | 'ALREADY_PAID' = 'CLOSED';
  readonly requests: string[] = [];

  private txn(txnId: string, state = this.state): ChannelTxn {
    return {
      txnId,
      state,
      payUrl: `https://pay.example/${txnId}`,
      failureCode: '',
      failureMessage: '',
      channelNo: '100001',
    };
  }
  listPayChannels(): Promise<{ payChannel: string; label: string }[]> {
    return Promise.resolve([{ payChannel: '1001', label: 'Alipay' }]);
  }
  route(bizCode: string, _amount: bigint, _merchant: string, payChannel: string): Promise<RouteChoice> {
    if (this.routeRefusal)
      return Promise.reject(new DependencyRefusal('channel-router', this.routeRefusal, 'refused'));
    return Promise.resolve({
      payChannel,
      channelNo: '100001',
      bizCode: `${bizCode.slice(0, 10)}${payChannel}100001`,
    });
  }
  createPayment(requestId: string): Promise<ChannelTxn> {
    this.requests.push(requestId);
    if (this.createRefusal)
      return Promise.reject(
        new DependencyRefusal('channel-router', this.createRefusal, 'no usable credentials'),
      );
    return Promise.resolve(this.txn(`T${requestId}`));
  }
  query(txnId: string): Promise<ChannelTxn> {
    return Promise.resolve(this.txn(txnId));
  }
  close(requestId: string, txnId: string): Promise<ChannelTxn | 'ALREADY_PAID'> {
    this.requests.push(requestId);
    return Promise.resolve(
      this.closeAnswer === 'ALREADY_PAID' ? 'ALREADY_PAID' : this.txn(txnId, this.closeAnswer),
    );
  }
  refund(requestId: string): Promise<ChannelTxn> {
    return Promise.resolve(this.txn(`R${requestId}`, 'SUCCESS'));
  }
  createPayout(requestId: string): Promise<ChannelTxn> {
    return Promise.resolve(this.txn(`P${requestId}`));
  }
  queryPayout(txnId: string): Promise<ChannelTxn> {
    return Promise.resolve(this.txn(txnId));
  }
}

/**
 * Counts the statements and commits this process sends, between install and
 * uninstall, from the platform's counter at the pg driver (CountingPgClient:
 * every pooled connection of createDataSource). Commits are counted as
 * Postgres counts them: a COMMIT, or a statement outside a transaction block.
 * (Patching pg.Client.prototype.query counted nothing: each pooled client
 * binds its query when it is created.)
 */
export class StatementCounter {
  private baseline: { statements: number; commits: number } | undefined;
  private final: { statements: number; commits: number } | undefined;
  install(): void {
    this.baseline = { statements: dbStatementsSent(), commits: dbCommitsSent() };
    this.final = undefined;
  }
  uninstall(): void {
    this.final = { statements: dbStatementsSent(), commits: dbCommitsSent() };
  }
  private now(): { statements: number; commits: number } {
    return this.final ?? { statements: dbStatementsSent(), commits: dbCommitsSent() };
  }
  get statements(): number {
    return this.now().statements - (this.baseline?.statements ?? 0);
  }
  get commits(): number {
    return this.now().commits - (this.baseline?.commits ?? 0);
  }
}

export interface Harness {
  readonly cashier: Cashier;
  readonly drivers: Drivers;
  readonly store: PgCashierStore;
  readonly account: FakeAccount;
  readonly channel: FakeChannel;
  readonly accounts: AccountDirectory;
  readonly dataSource: DataSource;
  readonly clock: { nowMs: number };
  sql<R extends object>(text: string, params?: readonly unknown[]): Promise<R[]>;
  close(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const database: TestDatabase = await createTestDatabase();
  const dataSource = createDataSource({
    url: database.url,
    schema: 'cashier',
    applicationName: 'cashier-test',
    poolSizeMax: 10,
  });
  await dataSource.initialize();
  await runMigrations(dataSource, { schema: 'cashier', migrationsDir: join(__dirname, '..', 'migrations') });
  const clock = { nowMs: Date.now() };
  const nowMs = (): number => clock.nowMs;
  const logger = pino({ level: 'silent' });
  const store = new PgCashierStore(dataSource, new EventNaming('t'));
  const account = new FakeAccount(nowMs);
  const channel = new FakeChannel();
  const accounts = new AccountDirectory(store, account, 'CNY');
  const drivers = new Drivers({
    store,
    accounts,
    account,
    channel,
    logger,
    options: { tryMarginMs: 60_000, exceptionWindowMs: 3_600_000, withdrawalHoldMs: 60_000, nowMs },
  });
  const catalogue = loadCatalogue(defaultCataloguePath());
  const cashier = new Cashier(store, accounts, account, channel, drivers, catalogue, logger, {
    orderTtlMs: 600_000,
    nowMs,
    allowPrivateNotifyUrls: false,
  });
  return {
    cashier,
    drivers,
    store,
    account,
    channel,
    accounts,
    dataSource,
    clock,
    sql: async <R extends object>(text: string, params: readonly unknown[] = []) =>
      await dataSource.query<R[]>(text, [...params]),
    close: async () => {
      await dataSource.destroy();
      await database.drop();
    },
  };
}

/** Registers a merchant named `shop` with no risk limits; returns its id. */
export async function registerUnlimitedMerchant(h: Harness): Promise<string> {
  const merchantId = `m-${randomUUID().slice(0, 8)}`;
  await h.cashier.registerMerchant({
    requestId: `rm-${randomUUID().slice(0, 8)}`,
    merchantId,
    name: 'shop',
    notifyKey: 'k'.repeat(20),
    limits: {
      perTransactionMaxMinor: 0n,
      merchantDailyMaxMinor: 0n,
      payerDailyMaxMinor: 0n,
      payerPaymentsPerMinuteMax: 0,
    },
  });
  return merchantId;
}
