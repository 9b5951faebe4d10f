/**
 * Resolves the accounts a posting names to account ids. Accounts another
 * service opened (a merchant's pending settlement, channel pending clearing)
 * are found in the account service by owner, subject and currency; those
 * settlement owns (payables, fee income, channel fee cost per channel,
 * deposits, transit) are opened once, idempotent by their key.
 */
import type { AccountName, PostingLeg } from '../domain/batch';
import type { AccountPort, AccountRef, ResolvedLeg, SettlementStore } from './ports';

export const PLATFORM_OWNER = 'platform';
const OPENING_CODE = '10050101050001000000';
const CACHE_ENTRIES_MAX = 50_000;

export interface AccountsConfig {
  /** Channel number -> its pending-clearing leaf subject. */
  readonly clearingSubjects: Readonly<Record<string, string>>;
}

export const DEFAULT_CLEARING_SUBJECTS: Readonly<Record<string, string>> = {
  '100001': '30010101',
  '200001': '30010102',
  '300001': '30010103',
  '300002': '30010104',
};

export function refOf(name: AccountName, config: AccountsConfig): AccountRef {
  switch (name.kind) {
    case 'MERCHANT_PENDING':
      return {
        ownerType: 'MERCHANT',
        ownerId: name.ownerId,
        subject: '224102',
        normalSide: 'CREDIT',
        allowOverdraft: false,
      };
    case 'PAYABLE':
      // A negative net is carried as a debit on the payable (the merchant owes it to the next cycle).
      return {
        ownerType: 'MERCHANT',
        ownerId: name.ownerId,
        subject: '224103',
        normalSide: 'CREDIT',
        allowOverdraft: true,
      };
    case 'FEE_INCOME':
      return internal('605101', 'CREDIT');
    case 'CHANNEL_FEE_COST':
      // One cost account per channel number, so the platform's margin per channel is visible at account.
      return { ...internal('660301', 'DEBIT'), ownerId: channelFeeOwner(name.channelNo) };
    case 'CHANNEL_CLEARING': {
      const subject = config.clearingSubjects[name.channelNo];
      if (subject === undefined) throw new Error(`no pending-clearing subject for channel ${name.channelNo}`);
      return internal(subject, 'DEBIT');
    }
    case 'DEPOSIT':
    case 'TRANSIT':
      return internal(name.subject, 'DEBIT');
  }
}

/** Owner id of a channel's fee-cost account (owner type INTERNAL). */
export const channelFeeOwner = (channelNo: string): string => `channel-${channelNo}`;

function internal(subject: string, normalSide: 'DEBIT' | 'CREDIT'): AccountRef {
  return { ownerType: 'INTERNAL', ownerId: PLATFORM_OWNER, subject, normalSide, allowOverdraft: true };
}

export function accountKey(ref: AccountRef, currency: string): string {
  return `${ref.ownerType}:${ref.ownerId}:${ref.subject}:${currency}`;
}

export class AccountDirectory {
  private readonly cache = new Map<string, string>();

  constructor(
    private readonly store: SettlementStore,
    private readonly account: AccountPort,
    private readonly config: AccountsConfig,
  ) {}

  async resolve(name: AccountName, currency: string): Promise<string> {
    const ref = refOf(name, this.config);
    const key = accountKey(ref, currency);
    const cached = this.cache.get(key) ?? (await this.store.accountId(key));
    if (cached !== undefined) return this.remember(key, cached);
    const found =
      (await this.account.find(ref, currency)) ??
      (await this.account.open(`settlement-open:${key}`, OPENING_CODE, ref, currency));
    await this.store.saveAccountId(key, found);
    return this.remember(key, found);
  }

  async legs(legs: readonly PostingLeg[], currency: string): Promise<ResolvedLeg[]> {
    const resolved: ResolvedLeg[] = [];
    for (const leg of legs) {
      resolved.push({
        accountId: await this.resolve(leg.account, currency),
        side: leg.side,
        amountMinor: leg.amountMinor,
      });
    }
    return resolved;
  }

  private remember(key: string, id: string): string {
    if (this.cache.size >= CACHE_ENTRIES_MAX) this.cache.clear();
    this.cache.set(key, id);
    return id;
  }
}
