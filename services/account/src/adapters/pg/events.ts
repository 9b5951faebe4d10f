/**
 * The account service's events, encoded as protobuf (proto/paycore/account/v1/
 * events.proto) and written to the outbox in the caller's transaction.
 *
 * A batch of transfers writes all its events with one INSERT over unnest:
 * same table shape and header capture as the platform's writeOutbox, which
 * writes one row per statement and would cost one round trip per transfer.
 */
import { captureContextHeaders, subjectFor } from '@paycore/platform';
import {
  Side as ProtoSide,
  PendingState as ProtoPendingState,
} from '@paycore/proto/paycore/account/v1/account_service';
import { DaySealed, TransferPosted, TransferVoided } from '@paycore/proto/paycore/account/v1/events';
import type { PendingView, PostedTransfer, SealResult } from '../../application/model';
import type { AccountEventsPort } from '../../application/ports';
import type { Side } from '@paycore/money';
import type { Queryable } from './sql';

export type EventHeaders = Record<string, string>;

export interface OutboxMessage {
  readonly subject: string;
  readonly payload: Uint8Array;
  readonly headers: EventHeaders;
}

/** Subjects, with the run prefix tests use to isolate NATS streams. */
export class AccountEvents {
  readonly transferPosted: string;
  readonly transferVoided: string;
  readonly daySealed: string;
  constructor(prefix: string) {
    this.transferPosted = subjectFor(prefix, 'account', 'transfer_posted');
    this.transferVoided = subjectFor(prefix, 'account', 'transfer_voided');
    this.daySealed = subjectFor(prefix, 'account', 'day_sealed');
  }
}

export function protoSide(side: Side): ProtoSide {
  return side === 'DEBIT' ? ProtoSide.SIDE_DEBIT : ProtoSide.SIDE_CREDIT;
}

/** Trace context and biz code of the calling code path, captured where the request was made. */
export function headersFor(bizCode: string, captured: EventHeaders = captureContextHeaders()): EventHeaders {
  return { ...captured, 'Biz-Context': bizCode };
}

export function transferPostedMessage(
  subject: string,
  posted: PostedTransfer,
  headers: EventHeaders,
): OutboxMessage {
  const payload = TransferPosted.encode({
    transferId: posted.transferId,
    requestId: posted.requestId,
    bizCode: posted.bizCode,
    accountingDate: posted.accountingDate,
    legs: posted.legs.map((leg) => ({
      accountId: leg.accountId,
      subjectCode: leg.subjectCode,
      side: protoSide(leg.side),
      amount: { amountMinor: leg.amountMinor, currency: leg.currency },
      entrySeq: leg.entrySeq,
    })),
    postedAt: posted.postedAt,
    pendingId: posted.pendingId,
  }).finish();
  return { subject, payload, headers };
}

export function transferVoidedMessage(subject: string, pending: PendingView, voidedAt: Date): OutboxMessage {
  const payload = TransferVoided.encode({
    pendingId: pending.pendingId,
    bizCode: pending.bizCode,
    state:
      pending.state === 'EXPIRED'
        ? ProtoPendingState.PENDING_STATE_EXPIRED
        : ProtoPendingState.PENDING_STATE_CANCELLED,
    legs: pending.legs.map((leg) => ({
      accountId: leg.accountId,
      side: protoSide(leg.side),
      amount: { amountMinor: leg.amountMinor, currency: leg.currency },
    })),
    voidedAt,
  }).finish();
  return { subject, payload, headers: headersFor(pending.bizCode) };
}

export function daySealedMessage(subject: string, result: SealResult, bizCode: string): OutboxMessage {
  const payload = DaySealed.encode({
    accountingDate: result.accountingDate,
    totals: result.totals.map((t) => ({
      subjectCode: t.subjectCode,
      currency: t.currency,
      entryCount: t.entryCount,
      debitTotal: { amountMinor: t.debitTotal, currency: t.currency },
      creditTotal: { amountMinor: t.creditTotal, currency: t.currency },
    })),
    accountCount: result.accountCount,
    sealedAt: result.sealedAt,
  }).finish();
  return { subject, payload, headers: headersFor(bizCode) };
}

/** Outbox rows as unnest parameters: subjects, payloads, headers. */
export function outboxColumns(messages: readonly OutboxMessage[]): [string[], Buffer[], string[]] {
  return [
    messages.map((m) => m.subject),
    messages.map((m) => Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength)),
    messages.map((m) => JSON.stringify(m.headers)),
  ];
}

/** Inserts outbox rows in one statement, in the caller's transaction. */
export async function writeOutboxMany(sql: Queryable, messages: readonly OutboxMessage[]): Promise<void> {
  if (messages.length === 0) return;
  await sql.query(
    `INSERT INTO outbox (subject, payload, headers)
     SELECT s, p, h FROM unnest($1::text[], $2::bytea[], $3::jsonb[]) AS m(s, p, h)`,
    outboxColumns(messages),
  );
}

/** The events port of a transaction: voided transfers and sealed days. */
export class PgAccountEvents implements AccountEventsPort {
  constructor(
    private readonly sql: Queryable,
    private readonly subjects: AccountEvents,
  ) {}

  async transferVoided(pending: PendingView, voidedAt: Date): Promise<void> {
    await writeOutboxMany(this.sql, [transferVoidedMessage(this.subjects.transferVoided, pending, voidedAt)]);
  }

  async daySealed(result: SealResult, bizCode: string): Promise<void> {
    await writeOutboxMany(this.sql, [daySealedMessage(this.subjects.daySealed, result, bizCode)]);
  }
}
