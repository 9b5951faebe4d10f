/**
 * Resolves AccountRefs to account ids, opening each account in the account
 * service once. Opening is idempotent by the account key (its request id),
 * so two replicas or a crash between opening and recording open one account.
 */
import { accountKey, type AccountRef } from '../domain/accounts';
import type { AccountPort, CashierStore } from './ports';

/** Account ids never change once known; a bound keeps a long-lived process's cache small. */
const CACHE_ENTRIES_MAX = 50_000;

export class AccountDirectory {
  private readonly cache = new Map<string, string>();

  constructor(
    private readonly store: CashierStore,
    private readonly account: AccountPort,
    private readonly currency: string,
  ) {}

  /** The id when the account exists, without opening it. */
  async find(ref: AccountRef): Promise<string | undefined> {
    const key = accountKey(ref, this.currency);
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const stored = await this.store.accountId(key);
    if (stored !== undefined) this.remember(key, stored);
    return stored;
  }

  async resolve(ref: AccountRef, bizCode: string): Promise<string> {
    const found = await this.find(ref);
    if (found !== undefined) return found;
    const key = accountKey(ref, this.currency);
    const id = await this.account.openAccount(`cashier-open:${key}`, bizCode, ref, this.currency);
    await this.store.saveAccountId(key, id);
    this.remember(key, id);
    return id;
  }

  private remember(key: string, id: string): void {
    if (this.cache.size >= CACHE_ENTRIES_MAX) this.cache.clear();
    this.cache.set(key, id);
  }
}
