/**
 * The clearing consumer: cashier's merchant_registered, payment_succeeded
 * and refund_succeeded, through the platform's inbox in batch mode (the
 * inbox rows and the cleared items of a pull commit together, so an event
 * is cleared exactly once; consecutive payments are cleared set-based by
 * Clearing.payments, everything else one event at a time in stream order;
 * a batch that fails is cleared again one event per transaction, ADR 0048). Decodes protobuf into application facts; the
 * accounting day of a payment or refund is the China natural day of its
 * finish time (cashier's accounting day, @paycore/calendar).
 */
import type { DataSource, EntityManager } from 'typeorm';

import { chinaDayOf } from '@paycore/calendar';
import {
  InboxConsumer,
  type EventNaming,
  type InboxConsumerOptions,
  type InboxMessage,
  type NatsConnections,
  type PlatformLogSink,
} from '@paycore/platform';
import {
  MerchantRegistered,
  PaymentSucceeded,
  RefundSucceeded,
} from '@paycore/proto/paycore/cashier/v1/events';
import { PartKind } from '@paycore/proto/paycore/cashier/v1/cashier_service';
import {
  INTERNAL_CHANNEL_NO,
  type Clearing,
  type PaymentFact,
  type RefundFact,
} from '../../application/clearing';
import type { PgSettlementStore } from '../pg/store';

export const SETTLEMENT_SCHEMA = 'settlement';
/** Events per clearing transaction (one pull). */
const CLEARING_BATCH_MAX = 2_000;

export function paymentFact(event: PaymentSucceeded): PaymentFact {
  const order = event.order;
  const payment = event.payment;
  if (order === undefined || payment === undefined)
    throw new Error('payment_succeeded without order or payment');
  const channelPart = payment.parts.find((p) => p.kind === PartKind.PART_KIND_CHANNEL);
  const finishedAt = payment.finishedAt ?? order.paidAt ?? payment.createdAt;
  if (finishedAt === undefined) throw new Error(`payment ${payment.paymentId} has no finish time`);
  return {
    paymentId: payment.paymentId,
    orderId: order.orderId,
    merchantId: order.merchantId,
    merchantOrderNo: order.merchantOrderNo,
    amountMinor: order.amount?.amountMinor ?? 0n,
    currency: order.amount?.currency ?? 'CNY',
    bizCode: event.bizCode !== '' ? event.bizCode : order.bizCode,
    channelNo:
      channelPart?.channelNo !== undefined && channelPart.channelNo !== ''
        ? channelPart.channelNo
        : INTERNAL_CHANNEL_NO,
    channelTxnId: channelPart?.channelTxnId ?? '',
    payChannel: channelPart?.payChannel ?? '',
    accountingDate: chinaDayOf(finishedAt),
  };
}

export function refundFact(event: RefundSucceeded): RefundFact {
  const refund = event.refund;
  if (refund === undefined) throw new Error('refund_succeeded without refund');
  const finishedAt = refund.finishedAt ?? refund.createdAt;
  if (finishedAt === undefined) throw new Error(`refund ${refund.refundId} has no finish time`);
  return {
    refundId: refund.refundId,
    orderId: refund.orderId,
    merchantId: event.merchantId,
    amountMinor: refund.amount?.amountMinor ?? 0n,
    currency: refund.amount?.currency ?? 'CNY',
    bizCode: event.bizCode !== '' ? event.bizCode : refund.bizCode,
    accountingDate: chinaDayOf(finishedAt),
  };
}

export interface CashierEventsOptions {
  readonly dataSource: DataSource;
  readonly nats: NatsConnections;
  readonly naming: EventNaming;
  readonly clearing: Clearing;
  readonly store: PgSettlementStore;
  readonly logger?: PlatformLogSink;
  readonly backoffMs?: readonly number[];
}

/** One durable consumer on cashier's stream, so a payment is cleared before its refunds. */
export function cashierEventsConsumer(options: CashierEventsOptions): InboxConsumer {
  const { naming, clearing, store } = options;
  const registered = naming.subject('cashier', 'merchant_registered');
  const paid = naming.subject('cashier', 'payment_succeeded');
  const refunded = naming.subject('cashier', 'refund_succeeded');
  const handler = async (message: InboxMessage, manager: EntityManager): Promise<void> => {
    const tx = store.inManager(manager);
    if (message.subject === registered) {
      const event = MerchantRegistered.decode(message.data);
      const merchant = event.merchant;
      if (merchant === undefined) throw new Error('merchant_registered without merchant');
      await clearing.merchantRegistered(tx, merchant.merchantId, merchant.name, event.currency || 'CNY');
    } else if (message.subject === paid) {
      await clearing.payment(tx, paymentFact(PaymentSucceeded.decode(message.data)));
    } else if (message.subject === refunded) {
      await clearing.refund(tx, refundFact(RefundSucceeded.decode(message.data)));
    }
  };
  const batchHandler = async (messages: readonly InboxMessage[], manager: EntityManager): Promise<void> => {
    const tx = store.inManager(manager);
    let payments: PaymentFact[] = [];
    for (const message of messages) {
      if (message.subject === paid) {
        payments.push(paymentFact(PaymentSucceeded.decode(message.data)));
        continue;
      }
      await clearing.payments(tx, payments);
      payments = [];
      await handler(message, manager);
    }
    await clearing.payments(tx, payments);
  };
  return settlementInbox(options, {
    stream: naming.stream('cashier'),
    durable: naming.durable('settlement', 'clearing'),
    filterSubjects: [registered, paid, refunded],
    handler,
    batchHandler,
    maxDeliver: 20,
    batchSizeMax: CLEARING_BATCH_MAX,
    maxAckPending: 4 * CLEARING_BATCH_MAX,
    // A partial pull is cleared when it expires: the clearing latency of a trickle.
    fetchExpiresMs: 1_000,
  });
}

/** An inbox consumer of settlement's schema with the settings its consumers share. */
export function settlementInbox(
  options: {
    readonly dataSource: DataSource;
    readonly nats: NatsConnections;
    readonly logger?: PlatformLogSink;
    readonly backoffMs?: readonly number[];
  },
  consumer: Pick<InboxConsumerOptions, 'stream' | 'durable' | 'filterSubjects' | 'handler' | 'maxDeliver'> &
    Partial<Pick<InboxConsumerOptions, 'batchHandler' | 'batchSizeMax' | 'maxAckPending' | 'fetchExpiresMs'>>,
): InboxConsumer {
  return new InboxConsumer({
    dataSource: options.dataSource,
    schema: SETTLEMENT_SCHEMA,
    js: options.nats.js,
    jsm: options.nats.jsm,
    backoffMs: options.backoffMs ?? [500, 2_000, 10_000],
    ackWaitMs: 30_000,
    batchSizeMax: 200,
    fetchExpiresMs: 2_000,
    ...consumer,
    isolation: 'READ COMMITTED',
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
  });
}
