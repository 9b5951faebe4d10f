/**
 * Writing an event is an INSERT in the caller's transaction: the event exists
 * if and only if the state change that it reports committed. Publishing is
 * the relay's job (relay.ts).
 *
 * Once the writing transaction commits, the relay of this process is woken
 * (and, through the process's PgWakeups hub, the relays of its peers), so an
 * event leaves without waiting for the relay's backstop poll.
 *
 * The row captures, at write time, the trace context and business code of
 * the code path that produced the event, so the trace continues across the
 * relay even though the relay runs later, in another process.
 */
import type { EntityManager } from 'typeorm';
import { quoteSchema } from '../db/identifiers';
import { signalAfterCommit, wakeupChannel } from '../wakeup';
import { assertValidHeaders, captureContextHeaders, type EventHeaders } from './headers';

export interface OutboxEvent {
  readonly subject: string;
  /** The encoded protobuf message. */
  readonly payload: Uint8Array;
  /** Extra headers; they override captured ones of the same name. */
  readonly headers?: EventHeaders;
  /**
   * Schema of the outbox table. When absent the table is found through the
   * session search_path, which createDataSource sets to the service schema.
   */
  readonly schema?: string;
}

export interface OutboxRow {
  /** The outbox sequence (bigint as decimal text; Postgres bigserial). */
  readonly id: string;
  /** Becomes `Nats-Msg-Id`: JetStream drops a republish of it within the duplicate window. */
  readonly msgId: string;
}

/** Events larger than this belong in a table with a reference in the event. */
export const OUTBOX_PAYLOAD_BYTES_MAX = 512 * 1024;
const SUBJECT_PATTERN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** The wake-up channel on which writeOutbox signals the relay of `schema`. */
export function outboxWakeupChannel(schema: string): string {
  return wakeupChannel(schema, 'outbox');
}

export class InvalidOutboxEventError extends Error {
  override readonly name = 'InvalidOutboxEventError';
}

/** Inserts the event in the transaction of `manager`; call it inside inTransaction. */
export async function writeOutbox(manager: EntityManager, event: OutboxEvent): Promise<OutboxRow> {
  if (!SUBJECT_PATTERN.test(event.subject) || event.subject.length > 255) {
    throw new InvalidOutboxEventError(
      `subject ${JSON.stringify(event.subject)} is not a concrete NATS subject`,
    );
  }
  if (event.payload.byteLength > OUTBOX_PAYLOAD_BYTES_MAX) {
    throw new InvalidOutboxEventError(
      `payload of ${event.payload.byteLength} bytes exceeds ${OUTBOX_PAYLOAD_BYTES_MAX}`,
    );
  }
  // A write outside a transaction would make the event independent of the
  // state change: exactly the bug an outbox exists to prevent.
  if (!manager.queryRunner?.isTransactionActive) {
    throw new InvalidOutboxEventError('writeOutbox must run inside a transaction (use inTransaction)');
  }
  const headers: EventHeaders = { ...captureContextHeaders(), ...event.headers };
  assertValidHeaders(headers);
  const table = event.schema !== undefined ? `${quoteSchema(event.schema)}.outbox` : 'outbox';
  const payload = Buffer.from(event.payload.buffer, event.payload.byteOffset, event.payload.byteLength);
  const rows = await manager.query<{ id: string; msg_id: string }[]>(
    `INSERT INTO ${table} (subject, payload, headers) VALUES ($1, $2, $3::jsonb) RETURNING id::text AS id, msg_id::text AS msg_id`,
    [event.subject, payload, JSON.stringify(headers)],
  );
  const row = rows[0];
  if (!row) throw new Error('outbox insert returned no row');
  const schema = event.schema ?? connectionSchema(manager);
  if (schema !== undefined) signalAfterCommit(manager, outboxWakeupChannel(schema));
  return { id: row.id, msgId: row.msg_id };
}

/** Most events one writeOutboxMany statement carries. */
export const OUTBOX_EVENTS_PER_WRITE_MAX = 10_000;

/**
 * Inserts the events, in order, with one multi-row statement in the
 * transaction of `manager` (each validated as writeOutbox validates one, and
 * each capturing the same context headers); one row per event, in order.
 */
export async function writeOutboxMany(
  manager: EntityManager,
  events: readonly OutboxEvent[],
): Promise<OutboxRow[]> {
  if (events.length === 0) return [];
  if (events.length > OUTBOX_EVENTS_PER_WRITE_MAX) {
    throw new InvalidOutboxEventError(
      `${events.length} events exceed ${OUTBOX_EVENTS_PER_WRITE_MAX} per outbox write`,
    );
  }
  const schema = events[0]?.schema;
  for (const event of events) {
    if (!SUBJECT_PATTERN.test(event.subject) || event.subject.length > 255) {
      throw new InvalidOutboxEventError(
        `subject ${JSON.stringify(event.subject)} is not a concrete NATS subject`,
      );
    }
    if (event.payload.byteLength > OUTBOX_PAYLOAD_BYTES_MAX) {
      throw new InvalidOutboxEventError(
        `payload of ${event.payload.byteLength} bytes exceeds ${OUTBOX_PAYLOAD_BYTES_MAX}`,
      );
    }
    if (event.schema !== schema) {
      throw new InvalidOutboxEventError('one outbox write goes to one schema');
    }
  }
  // A write outside a transaction would make the event independent of the
  // state change: exactly the bug an outbox exists to prevent.
  if (!manager.queryRunner?.isTransactionActive) {
    throw new InvalidOutboxEventError('writeOutbox must run inside a transaction (use inTransaction)');
  }
  const captured = captureContextHeaders();
  const headers = events.map((event) => {
    const h: EventHeaders = { ...captured, ...event.headers };
    assertValidHeaders(h);
    return JSON.stringify(h);
  });
  const table = schema !== undefined ? `${quoteSchema(schema)}.outbox` : 'outbox';
  const payloads = events.map((e) =>
    Buffer.from(e.payload.buffer, e.payload.byteOffset, e.payload.byteLength),
  );
  // WITH ORDINALITY + ORDER BY: the bigserial ids follow the events' order (the relay publishes in id order).
  const rows = await manager.query<{ id: string; msg_id: string }[]>(
    `INSERT INTO ${table} (subject, payload, headers)
     SELECT subject, payload, headers FROM unnest($1::text[], $2::bytea[], $3::jsonb[]) WITH ORDINALITY
       AS e(subject, payload, headers, n) ORDER BY n
     RETURNING id::text AS id, msg_id::text AS msg_id`,
    [events.map((e) => e.subject), payloads, headers],
  );
  if (rows.length !== events.length) throw new Error('outbox insert returned fewer rows than events');
  const target = schema ?? connectionSchema(manager);
  if (target !== undefined) signalAfterCommit(manager, outboxWakeupChannel(target));
  // RETURNING follows the insert order, which ORDER BY n fixed; sorted by id to be certain.
  return rows
    .map((r) => ({ id: r.id, msgId: r.msg_id }))
    .sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : BigInt(a.id) > BigInt(b.id) ? 1 : 0));
}

/** The schema createDataSource gave the connection (its search_path's first entry). */
function connectionSchema(manager: EntityManager): string | undefined {
  const options = manager.connection.options;
  return 'schema' in options && typeof options.schema === 'string' ? options.schema : undefined;
}
