/**
 * SealDay: under the exclusive posting lock, drain every queue, write the
 * daily balances of the date, record the seal and publish day_sealed. The
 * claim remembers the date; a replay (or a second seal of a sealed date)
 * answers the recorded seal.
 */
import { accountingDateFor } from '@paycore/calendar';
import { DayNotSealableError, DayNotSealedError } from '../domain/errors';
import { sealableProblem } from '../domain/sealing';
import { drainQueue } from './accounts';
import type { UseCaseDeps } from './common';
import type { SealResult } from './model';
import type { Idempotent } from './ports';

export async function sealDay(
  deps: UseCaseDeps,
  command: Idempotent & { readonly accountingDate: string },
): Promise<SealResult> {
  const request = {
    requestId: command.requestId,
    operation: 'account.SealDay',
    payload: { bizCode: command.bizCode, accountingDate: command.accountingDate },
  };
  const outcome = await deps.store.transaction(
    'account.seal_day',
    'READ COMMITTED',
    async (tx): Promise<SealResult | { readonly replayOf: string }> => {
      const claim = await tx.claim<{ accountingDate: string }>(request);
      if (claim.kind === 'replay') return { replayOf: claim.response.accountingDate };
      await tx.postings.lockExclusive();
      const sealed = await tx.days.sealed(command.accountingDate);
      if (sealed !== undefined) {
        await tx.remember(request, { accountingDate: command.accountingDate });
        return sealed;
      }
      const lastSealed = await tx.postings.lastSealedDate();
      const current = accountingDateFor(deps.now(), deps.calendar, lastSealed);
      const problem = sealableProblem(command.accountingDate, current, lastSealed);
      if (problem !== null) throw new DayNotSealableError(problem, { field: 'accounting_date' });
      for (const accountId of await tx.postings.queuedAccounts()) await drainQueue(tx, accountId);
      const result = await tx.days.writeDailyBalances(command.accountingDate);
      await tx.days.recordSealed(result);
      await tx.events.daySealed(result, command.bizCode);
      await tx.remember(request, { accountingDate: command.accountingDate });
      return result;
    },
  );
  if (!('replayOf' in outcome)) return outcome;
  const recorded = await deps.store.reads.sealed(outcome.replayOf);
  if (recorded === undefined)
    throw new DayNotSealedError(`${outcome.replayOf} is not sealed`, { field: 'accounting_date' });
  return recorded;
}
