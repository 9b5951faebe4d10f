/**
 * The NATS side of reconciliation: the outbox events it publishes (subjects
 * `paycore.reconciliation.<event>.v1`, protobuf payloads of
 * proto/paycore/reconciliation/v1/events.proto, the Biz-Context header when
 * the flow has a code) and the consumer of channel-router's
 * `channel.txn_updated` that keeps paycore's own copy of channel
 * transactions in the recon schema (an inbox consumer: handled once per
 * message, in the same transaction as the copy).
 */
import type { DataSource } from 'typeorm';
import type { Logger } from 'pino';
import { InboxConsumer, type EventNaming, type NatsConnections, type OutboxEvent } from '@paycore/platform';
import { TxnUpdated } from '@paycore/proto/paycore/channel/v1/events';
import { TxnKind, type ChannelTransaction } from '@paycore/proto/paycore/channel/v1/types';
import {
  DayReconciled,
  DifferenceClass,
  DifferenceOpened,
  DifferenceResolved,
  Direction,
  ItemKind,
  Resolution,
} from '@paycore/proto/paycore/reconciliation/v1/events';
import type { DayReconciledFact, DifferenceRow, EventFactory } from '../../application/ports';
import type { ChannelTxn, ItemKind as ItemKindName } from '../../domain/model';
import { txnStateName } from '../grpc/clients';
import { PgTxns } from '../pg/store';

export const RECON_CONTEXT = 'reconciliation';
export const RECON_SCHEMA = 'recon';

const CLASS_VALUES: Readonly<Record<string, DifferenceClass>> = {
  MATCHED: DifferenceClass.DIFFERENCE_CLASS_MATCHED,
  PLATFORM_MISSING: DifferenceClass.DIFFERENCE_CLASS_PLATFORM_MISSING,
  CHANNEL_MISSING: DifferenceClass.DIFFERENCE_CLASS_CHANNEL_MISSING,
  STATUS_MISMATCH: DifferenceClass.DIFFERENCE_CLASS_STATUS_MISMATCH,
  AMOUNT_MISMATCH: DifferenceClass.DIFFERENCE_CLASS_AMOUNT_MISMATCH,
  FEE_MISMATCH: DifferenceClass.DIFFERENCE_CLASS_FEE_MISMATCH,
  DUPLICATE: DifferenceClass.DIFFERENCE_CLASS_DUPLICATE,
  CURRENCY_MISMATCH: DifferenceClass.DIFFERENCE_CLASS_CURRENCY_MISMATCH,
};
const DIRECTION_VALUES: Readonly<Record<string, Direction>> = {
  OVER: Direction.DIRECTION_OVER,
  UNDER: Direction.DIRECTION_UNDER,
  NONE: Direction.DIRECTION_NONE,
};
const KIND_VALUES: Readonly<Record<string, ItemKind>> = {
  PAY: ItemKind.ITEM_KIND_PAY,
  REFUND: ItemKind.ITEM_KIND_REFUND,
  PAYOUT: ItemKind.ITEM_KIND_PAYOUT,
};
const RESOLUTION_VALUES: Readonly<Record<string, Resolution>> = {
  CHANNEL_IS_RIGHT: Resolution.RESOLUTION_CHANNEL_IS_RIGHT,
  PLATFORM_IS_RIGHT: Resolution.RESOLUTION_PLATFORM_IS_RIGHT,
  AUTO_RULE: Resolution.RESOLUTION_AUTO_RULE,
  WRITTEN_OFF: Resolution.RESOLUTION_WRITTEN_OFF,
};

export const classValue = (name: string): DifferenceClass =>
  CLASS_VALUES[name] ?? DifferenceClass.DIFFERENCE_CLASS_UNSPECIFIED;
export const directionValue = (name: string): Direction =>
  DIRECTION_VALUES[name] ?? Direction.DIRECTION_UNSPECIFIED;
export const kindValue = (name: string): ItemKind => KIND_VALUES[name] ?? ItemKind.ITEM_KIND_UNSPECIFIED;
export const resolutionValue = (name: string | null): Resolution =>
  (name === null ? undefined : RESOLUTION_VALUES[name]) ?? Resolution.RESOLUTION_UNSPECIFIED;

function headers(bizCode: string): Record<string, string> {
  return /^\d{20}$/.test(bizCode) ? { 'Biz-Context': bizCode } : {};
}

export function reconEvents(naming: EventNaming): EventFactory<OutboxEvent> {
  return {
    dayReconciled(fact: DayReconciledFact): OutboxEvent {
      return {
        subject: naming.subject(RECON_CONTEXT, 'day_reconciled'),
        payload: DayReconciled.encode({
          channelNo: fact.run.channelNo,
          payChannel: fact.payChannel,
          billDate: fact.run.billDate,
          currency: fact.currency,
          runId: fact.run.runId,
          matchedCount: fact.figures.matchedCount,
          matchedAmount: fact.figures.matchedAmountMinor,
          channelFeeTotal: fact.figures.feeMinor,
          netSettlementAmount: fact.figures.grossMinor - fact.figures.feeMinor,
          openDifferenceCount: fact.figures.openCount,
          heldCount: fact.figures.heldCount,
          differenceCount: fact.figures.differenceCount,
          reconciledAt: fact.reconciledAt,
        }).finish(),
      };
    },
    differenceOpened(d: DifferenceRow): OutboxEvent {
      return {
        subject: naming.subject(RECON_CONTEXT, 'difference_opened'),
        payload: DifferenceOpened.encode({
          differenceId: d.differenceId,
          channelNo: d.channelNo,
          billDate: d.billDate,
          differenceClass: classValue(d.differenceClass),
          direction: directionValue(d.direction),
          channelTxnNo: d.channelTxnNo,
          merchantOrderNo: d.merchantOrderNo,
          platformTxnId: d.platformTxnId,
          kind: kindValue(d.kind),
          platformAmount: d.platformAmountMinor,
          channelAmount: d.channelAmountMinor,
          currency: d.currency,
          bizCode: d.bizCode,
        }).finish(),
        headers: headers(d.bizCode),
      };
    },
    differenceResolved(d: DifferenceRow, resolvedAt: Date): OutboxEvent {
      return {
        subject: naming.subject(RECON_CONTEXT, 'difference_resolved'),
        payload: DifferenceResolved.encode({
          differenceId: d.differenceId,
          channelNo: d.channelNo,
          billDate: d.billDate,
          resolution: resolutionValue(d.resolution),
          operator: d.operator ?? '',
          reason: d.reason ?? '',
          resolvedAt,
          channelTxnNo: d.channelTxnNo,
          merchantOrderNo: d.merchantOrderNo,
          bizCode: d.bizCode,
        }).finish(),
        headers: headers(d.bizCode),
      };
    },
  };
}

const KIND_NAMES: Readonly<Record<number, ItemKindName>> = {
  [TxnKind.TXN_KIND_PAYMENT]: 'PAY',
  [TxnKind.TXN_KIND_REFUND]: 'REFUND',
  [TxnKind.TXN_KIND_PAYOUT]: 'PAYOUT',
};

/** China date (UTC+8) of an instant. */
export function chinaDate(at: Date): string {
  return new Date(at.getTime() + 8 * 3_600_000).toISOString().slice(0, 10);
}

export function channelTxnOf(txn: ChannelTransaction): ChannelTxn {
  const kind = KIND_NAMES[txn.kind];
  if (kind === undefined) throw new Error(`channel transaction ${txn.txnId} has kind ${txn.kind}`);
  const dayOf = txn.finishTime ?? txn.updateTime ?? txn.createTime ?? new Date(0);
  return {
    txnId: txn.txnId,
    kind,
    state: txnStateName(txn.state),
    channelNo: txn.channelNo,
    payChannel: txn.payChannel,
    bizCode: txn.bizCode,
    amountMinor: txn.amount?.amountMinor ?? 0n,
    feeMinor: txn.fee?.amountMinor ?? 0n,
    currency: txn.amount?.currency ?? 'CNY',
    channelTxnNo: txn.channelTxnNo,
    originalTxnId: txn.originalTxnId,
    channelDay: chinaDate(dayOf),
    finishTime: txn.finishTime ?? null,
    version: txn.version,
  };
}

export function channelTxnConsumer(options: {
  dataSource: DataSource;
  nats: NatsConnections;
  naming: EventNaming;
  logger: Logger;
  backoffMs?: readonly number[];
}): InboxConsumer {
  return new InboxConsumer({
    dataSource: options.dataSource,
    schema: RECON_SCHEMA,
    js: options.nats.js,
    jsm: options.nats.jsm,
    stream: options.naming.stream('channel'),
    durable: options.naming.durable('reconciliation', 'channel_txns'),
    filterSubjects: [options.naming.subject('channel', 'txn_updated')],
    handler: async (message, manager) => {
      const event = TxnUpdated.decode(message.data);
      if (event.transaction === undefined) return;
      const txns = new PgTxns({ query: (sql, params = []) => manager.query(sql, [...params]) });
      await txns.upsert(channelTxnOf(event.transaction));
    },
    maxDeliver: 10,
    backoffMs: options.backoffMs ?? [1_000, 5_000, 30_000],
    ackWaitMs: 30_000,
    batchSizeMax: 200,
    fetchExpiresMs: 2_000,
    isolation: 'READ COMMITTED',
    logger: options.logger,
  });
}
