/**
 * What the use cases share: their dependencies, the idempotency payload of a
 * list of legs, the read of the accounts a posting needs, and the refusals
 * several use cases raise.
 */
import type { AccountingDayRule } from '@paycore/calendar';
import { AccountNotFoundError } from '../domain/errors';
import { isQueuedLeg } from '../domain/posting';
import type { AccountState, Leg } from '../domain/types';
import type { AccountRepo, AccountStore } from './ports';

export interface UseCaseDeps {
  readonly store: AccountStore;
  readonly calendar: AccountingDayRule;
  /** The clock; tests pass a shifted one. */
  readonly now: () => Date;
}

/** Legs as they enter a request's idempotency payload (amounts stay bigint: 5n is not "5"). */
export function legsPayload(
  legs: readonly Leg[],
): { accountId: string; side: string; amountMinor: bigint; currency: string }[] {
  return legs.map((leg) => ({
    accountId: leg.accountId,
    side: leg.side,
    amountMinor: leg.amountMinor,
    currency: leg.currency,
  }));
}

export function notFound(accountId: string): AccountNotFoundError {
  return new AccountNotFoundError(`account ${accountId.slice(0, 64)} does not exist`, {
    field: 'account_id',
    metadata: { account_id: accountId.slice(0, 64) },
  });
}

/** Accounts the legs need, with the rows to lock: all but queued legs of BUFFERED accounts. */
export async function loadForLegs(
  accounts: AccountRepo,
  legs: readonly Pick<Leg, 'accountId' | 'side'>[],
): Promise<Map<string, AccountState>> {
  const unlocked = await accounts.states(
    legs.map((l) => l.accountId),
    false,
  );
  const lockIds = legs
    .filter((leg) => {
      const account = unlocked.get(leg.accountId);
      return account !== undefined && !isQueuedLeg(account, leg);
    })
    .map((leg) => leg.accountId);
  const locked = await accounts.states(lockIds, true);
  for (const [id, state] of locked) unlocked.set(id, state);
  return unlocked;
}
