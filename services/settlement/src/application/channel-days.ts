/**
 * What settlement does with reconciliation's facts (ADR 0031, ADR 0046).
 *
 * Confirmation runs inside the inbox transaction of each event, so a fact is
 * applied exactly once: a DifferenceOpened marks an item as disputed, a
 * DifferenceResolved lifts that (confirming the item if its day is already
 * reconciled), and a DayReconciled confirms every item of the channel day
 * that no open difference names, records the day with its deposit route and
 * queues the deposit move through the outbox. Redelivered or republished
 * facts change nothing: the day is recorded once per (channel no, bill date)
 * and only its first record queues the move.
 *
 * The move itself (Deposits.drive) runs from the work queue: account
 * Transfer calls keyed by (channel no, bill date), each followed by a
 * guarded transition, so a replica that dies mid-move leaves a state the
 * next one resumes from and nothing is posted twice.
 */
import assert from 'node:assert/strict';
import { nextDepositStep, type DepositRoute } from '../domain/deposit';
import type { AccountDirectory } from './accounts';
import type { DriveOutcome } from './batches';
import type {
  AccountPort,
  ChannelDay,
  Difference,
  OutboxEvent,
  SettlementStore,
  SettlementTx,
} from './ports';

/**
 * The deposit move is a platform operation on the channel's own accounts:
 * 900101 platform operations · 01 · 08 adjust · the channel's pay channel ·
 * its channel no (e.g. 90010101081001100001). Reconciliation's balance proof
 * of the channel day leaves 900101 postings out (ADR 0029), so moving the
 * confirmed money out of pending clearing keeps the proof about what the
 * bill and paycore's bookings say.
 */
export const DEPOSIT_CODE_PREFIX = '9001010108';
/** A pay channel each channel number serves, for the code when the bill covers several. */
const PAY_CHANNEL_OF: Readonly<Record<string, string>> = {
  '100001': '1001',
  '200001': '2001',
  '300001': '3001',
  '300002': '3001',
};

export function depositCode(channelNo: string, payChannel: string): string {
  const pay = /^\d{4}$/.test(payChannel) ? payChannel : PAY_CHANNEL_OF[channelNo];
  assert.ok(pay !== undefined, `a pay channel of ${channelNo} for the deposit move's code`);
  return `${DEPOSIT_CODE_PREFIX}${pay}${channelNo}`;
}
const STEPS_MAX = 4;

export type DayReconciledFact = Omit<ChannelDay, 'confirmedItems'>;

export interface ChannelDayEvents {
  depositDue(channelNo: string, billDate: string): OutboxEvent;
}

/** A DayReconciled that overtook some of its day's DifferenceOpened: thrown so the inbox retries it later. */
export class DifferencesPendingError extends Error {
  override readonly name = 'DifferencesPendingError';
}

export class ChannelDays {
  constructor(
    /** The deposit route of a channel, or null when settlement has no pending-clearing subject for it. */
    private readonly routeOf: (channelNo: string) => DepositRoute | null,
    private readonly events: ChannelDayEvents,
  ) {}

  async dayReconciled(
    tx: SettlementTx,
    fact: DayReconciledFact,
  ): Promise<{ confirmed: bigint; recorded: boolean }> {
    const known = await tx.differencesKnown(fact.channelNo, fact.billDate);
    if (known < fact.differenceCount) {
      // Confirming now could confirm an item whose difference is still on its way.
      throw new DifferencesPendingError(
        `${fact.channelNo} ${fact.billDate}: ${fact.differenceCount - known} of ${fact.differenceCount} differences not received yet`,
      );
    }
    const confirmed = await tx.confirmChannelDay(fact.channelNo, fact.billDate);
    const route = this.routeOf(fact.channelNo);
    const recorded = await tx.recordChannelDay({ ...fact, confirmedItems: confirmed }, route);
    if (recorded && route !== null) await tx.publish(this.events.depositDue(fact.channelNo, fact.billDate));
    return { confirmed, recorded };
  }

  async differenceOpened(tx: SettlementTx, difference: Difference): Promise<void> {
    assert.ok(difference.open, 'an opened difference is open');
    await tx.openDifference(difference);
  }

  async differenceResolved(tx: SettlementTx, difference: Difference): Promise<bigint> {
    assert.ok(!difference.open, 'a resolved difference is closed');
    await tx.closeDifference(difference);
    return tx.confirmNamedBy(difference.differenceId);
  }
}

export class Deposits {
  constructor(
    private readonly store: SettlementStore,
    private readonly accounts: AccountDirectory,
    private readonly account: AccountPort,
  ) {}

  /** Posts what is left of the day's move; FINAL once DEPOSITED (or when there is nothing to move). */
  async drive(channelNo: string, billDate: string): Promise<DriveOutcome> {
    for (let step = 0; step < STEPS_MAX; step++) {
      const day = await this.store.transaction('settlement.channel_day', 'READ COMMITTED', (tx) =>
        tx.channelDay(channelNo, billDate),
      );
      // The work item is written in the transaction that records the day.
      assert.ok(day !== null, `queued channel day ${channelNo} ${billDate} is recorded`);
      const next = nextDepositStep(day);
      if (next === null) return 'FINAL';
      if (next.legs.length > 0) {
        await this.account.transfer(
          next.requestId,
          depositCode(channelNo, day.payChannel),
          await this.accounts.legs(next.legs, day.currency),
          day.currency,
          `deposit move ${channelNo} ${billDate} (${next.to.toLowerCase()})`,
        );
      }
      await this.store.transaction('settlement.deposit_moved', 'READ COMMITTED', (tx) =>
        tx.moveChannelDay(channelNo, billDate, next.to),
      );
    }
    return 'WAITING';
  }
}
