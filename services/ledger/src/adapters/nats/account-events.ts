/**
 * The voucher consumer: account's `transfer_posted` and `day_sealed` events,
 * through the platform's inbox (one transaction per message: inbox row plus
 * the ledger's writes), decoded here from protobuf into application facts.
 */
import type { DataSource } from 'typeorm';
import {
  debitTotal,
  InboxConsumer,
  markFlowState,
  type EventNaming,
  type InboxMessage,
  type NatsConnections,
  type PlatformLogSink,
} from '@paycore/platform';
import { DaySealed, TransferPosted } from '@paycore/proto/paycore/account/v1/events';
import { Side } from '@paycore/proto/paycore/account/v1/account_service';
import type { EntityManager } from 'typeorm';
import type { Side as EntrySide } from '@paycore/money';
import type { DaySealedFact, LedgerApp, TransferPostedFact } from '../../application/ledger';
import type { PgLedgerStore } from '../pg/store';

export const LEDGER_SCHEMA = 'ledger';

function sideOf(side: Side): EntrySide {
  if (side === Side.SIDE_DEBIT) return 'DEBIT';
  if (side === Side.SIDE_CREDIT) return 'CREDIT';
  throw new Error(`leg side ${String(side)} is neither debit nor credit`);
}

export function transferPostedFact(event: TransferPosted): TransferPostedFact {
  return {
    transferId: event.transferId,
    bizCode: event.bizCode,
    accountingDate: event.accountingDate,
    legs: event.legs.map((leg) => ({
      accountId: leg.accountId,
      subjectCode: leg.subjectCode,
      side: sideOf(leg.side),
      amountMinor: leg.amount?.amountMinor ?? 0n,
      currency: leg.amount?.currency ?? '',
    })),
  };
}

export function daySealedFact(event: DaySealed): DaySealedFact {
  return {
    accountingDate: event.accountingDate,
    accountCount: event.accountCount,
    sealedAt: event.sealedAt ?? new Date(0),
    totals: event.totals.map((t) => ({
      subjectCode: t.subjectCode,
      currency: t.currency,
      entryCount: t.entryCount,
      debitMinor: t.debitTotal?.amountMinor ?? 0n,
      creditMinor: t.creditTotal?.amountMinor ?? 0n,
    })),
  };
}

export interface AccountEventsConsumerOptions {
  readonly dataSource: DataSource;
  readonly nats: NatsConnections;
  readonly naming: EventNaming;
  readonly app: LedgerApp;
  readonly store: PgLedgerStore;
  readonly logger?: PlatformLogSink;
  /** For tests: shorter nak backoff. */
  readonly backoffMs?: readonly number[];
}

/** One durable consumer on account's stream, for both event types, so a day's seal follows its transfers in order. */
export function accountEventsConsumer(options: AccountEventsConsumerOptions): InboxConsumer {
  const { naming, app, store } = options;
  const transferPosted = naming.subject('account', 'transfer_posted');
  const daySealed = naming.subject('account', 'day_sealed');
  const handler = async (message: InboxMessage, manager: EntityManager): Promise<void> => {
    const tx = store.txFor(manager);
    if (message.subject === transferPosted) {
      const fact = transferPostedFact(TransferPosted.decode(message.data));
      const outcome = await app.recordTransferPosted(tx, fact, message.data);
      // `paycore trace` shows the voucher step with its state and what it moved.
      markFlowState(
        outcome === 'RECORDED' ? 'VOUCHER_POSTED' : outcome === 'EXCEPTION' ? 'VOUCHER_EXCEPTION' : outcome,
        debitTotal(fact.legs, 'DEBIT'),
      );
      if (outcome === 'EXCEPTION')
        options.logger?.warn({ msgId: message.msgId }, 'transfer recorded as a voucher exception');
      return;
    }
    if (message.subject === daySealed) {
      await app.recordDaySealed(tx, daySealedFact(DaySealed.decode(message.data)));
      markFlowState('DAY_SEALED');
    }
  };
  return new InboxConsumer({
    dataSource: options.dataSource,
    schema: LEDGER_SCHEMA,
    js: options.nats.js,
    jsm: options.nats.jsm,
    stream: naming.stream('account'),
    durable: naming.durable('ledger', 'vouchers'),
    filterSubjects: [transferPosted, daySealed],
    handler,
    maxDeliver: 10,
    backoffMs: options.backoffMs ?? [1_000, 5_000, 30_000],
    ackWaitMs: 30_000,
    batchSizeMax: 100,
    fetchExpiresMs: 2_000,
    isolation: 'READ COMMITTED',
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
  });
}
