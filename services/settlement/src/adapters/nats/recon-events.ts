/**
 * The reconciliation consumer: reconciliation's day_reconciled,
 * difference_opened and difference_resolved, through the platform's inbox
 * (one transaction per message: the inbox row, the confirmed items, the
 * recorded channel day and its queued deposit move commit together). One
 * durable consumer over the three subjects, so facts arrive in the order
 * reconciliation wrote them; a DayReconciled that overtakes one of its
 * day's differences anyway is retried (ChannelDays.dayReconciled).
 */
import type { DataSource, EntityManager } from 'typeorm';
import type {
  EventNaming,
  InboxConsumer,
  InboxMessage,
  NatsConnections,
  PlatformLogSink,
} from '@paycore/platform';
import {
  DayReconciled,
  DifferenceOpened,
  DifferenceResolved,
} from '@paycore/proto/paycore/reconciliation/v1/events';
import type { ChannelDays, DayReconciledFact } from '../../application/channel-days';
import type { Difference } from '../../application/ports';
import type { PgSettlementStore } from '../pg/store';
import { settlementInbox } from './cashier-events';

export const RECON_CONTEXT = 'reconciliation';

export function dayReconciledFact(event: DayReconciled): DayReconciledFact {
  return {
    channelNo: event.channelNo,
    billDate: event.billDate,
    runId: event.runId,
    payChannel: event.payChannel,
    currency: event.currency !== '' ? event.currency : 'CNY',
    netSettlementMinor: event.netSettlementAmount,
    channelFeeMinor: event.channelFeeTotal,
    differenceCount: event.differenceCount,
  };
}

export function openedDifference(event: DifferenceOpened): Difference {
  return {
    differenceId: event.differenceId,
    channelNo: event.channelNo,
    billDate: event.billDate,
    channelTxnNo: event.channelTxnNo,
    merchantOrderNo: event.merchantOrderNo,
    platformTxnId: event.platformTxnId,
    open: true,
  };
}

export function resolvedDifference(event: DifferenceResolved): Difference {
  return {
    differenceId: event.differenceId,
    channelNo: event.channelNo,
    billDate: event.billDate,
    channelTxnNo: event.channelTxnNo,
    merchantOrderNo: event.merchantOrderNo,
    // DifferenceResolved does not carry it; the merchant order number is the same id for paycore's items.
    platformTxnId: '',
    open: false,
  };
}

export interface ReconEventsOptions {
  readonly dataSource: DataSource;
  readonly nats: NatsConnections;
  readonly naming: EventNaming;
  readonly channelDays: ChannelDays;
  readonly store: PgSettlementStore;
  readonly logger?: PlatformLogSink;
  readonly backoffMs?: readonly number[];
}

export function reconEventsConsumer(options: ReconEventsOptions): InboxConsumer {
  const { naming, channelDays, store } = options;
  const reconciled = naming.subject(RECON_CONTEXT, 'day_reconciled');
  const opened = naming.subject(RECON_CONTEXT, 'difference_opened');
  const resolved = naming.subject(RECON_CONTEXT, 'difference_resolved');
  const handler = async (message: InboxMessage, manager: EntityManager): Promise<void> => {
    const tx = store.inManager(manager);
    if (message.subject === reconciled) {
      await channelDays.dayReconciled(tx, dayReconciledFact(DayReconciled.decode(message.data)));
    } else if (message.subject === opened) {
      await channelDays.differenceOpened(tx, openedDifference(DifferenceOpened.decode(message.data)));
    } else if (message.subject === resolved) {
      await channelDays.differenceResolved(tx, resolvedDifference(DifferenceResolved.decode(message.data)));
    }
  };
  return settlementInbox(options, {
    stream: naming.stream(RECON_CONTEXT),
    durable: naming.durable('settlement', 'reconciliation'),
    filterSubjects: [reconciled, opened, resolved],
    handler,
    // A DayReconciled waiting for its differences is retried for a few minutes before it is dead-lettered.
    maxDeliver: 30,
  });
}
