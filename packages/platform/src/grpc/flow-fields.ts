/**
 * The business identity of one RPC, for the per-RPC log line and the SERVER
 * span: which order, payment, refund, account, transfer, channel transaction…
 * it was about, and for how much. Read generically from the ts-proto request
 * (and response) objects, so every service gets it without writing a line:
 *
 * - every non-empty string field whose name ends in `Id` or `No`
 *   (`orderId` -> `order_id`, `channelTxnId` -> `channel_txn_id`,
 *   `channelNo` -> `channel_no`), at the top level and one message level down
 *   (`transfer.fromAccountId`, `order.orderId` of a response);
 * - a top-level `amount` ({amountMinor, currency}) as `amount` (minor units,
 *   decimal string: never a JS number) and `currency`.
 *
 * The request wins over the response for the same key. Bounded: at most
 * FIELDS_MAX fields, values cut at VALUE_LENGTH_MAX characters.
 */
import { trace } from '@opentelemetry/api';

export type FlowFields = Record<string, string>;

const FIELDS_MAX = 24;
const VALUE_LENGTH_MAX = 128;
const ID_NAME = /^[a-z][A-Za-z0-9]*(Id|No)$/;

/** Field names seen so far, snake-cased once: they are a schema's names, few and fixed. */
const snakeCases = new Map<string, string>();
const SNAKE_CASES_CACHED_MAX = 4_096;

function snakeCase(name: string): string {
  const known = snakeCases.get(name);
  if (known !== undefined) return known;
  const snake = name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  if (snakeCases.size < SNAKE_CASES_CACHED_MAX) snakeCases.set(name, snake);
  return snake;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Adds the id fields of `source` to `into`; returns how many fields `into` then holds. */
function collectIds(source: Record<string, unknown>, into: FlowFields, depth: number, count: number): number {
  for (const [name, value] of Object.entries(source)) {
    if (count >= FIELDS_MAX) return count;
    if (typeof value === 'string') {
      if (value === '' || !ID_NAME.test(name)) continue;
      const key = snakeCase(name);
      if (into[key] === undefined) {
        into[key] = value.slice(0, VALUE_LENGTH_MAX);
        count++;
      }
    } else if (depth > 0 && isRecord(value) && !(value instanceof Uint8Array)) {
      count = collectIds(value, into, depth - 1, count);
    }
  }
  return count;
}

function collectAmount(source: Record<string, unknown>, into: FlowFields): void {
  const amount = source['amount'];
  if (!isRecord(amount) || into['amount'] !== undefined) return;
  const minor = amount['amountMinor'];
  const currency = amount['currency'];
  if (typeof minor === 'bigint' || typeof minor === 'string') into['amount'] = String(minor);
  if (typeof currency === 'string' && currency !== '') into['currency'] = currency;
}

function collectFrom(source: unknown, fields: FlowFields): void {
  if (!isRecord(source)) return;
  collectIds(source, fields, 1, Object.keys(fields).length);
  collectAmount(source, fields);
  // A response's main entity carries the amount one level down (order.amount, payment.amount).
  for (const nested of Object.values(source)) if (isRecord(nested)) collectAmount(nested, fields);
}

/** Entity ids and amount of a request (and, when given, of its response). */
export function flowFields(request: unknown, response?: unknown): FlowFields {
  const fields: FlowFields = {};
  collectFrom(request, fields);
  collectFrom(response, fields);
  return fields;
}

/**
 * `flowFields(request, response)` from the request's fields already read
 * (the server reads them once per call, before the handler runs); the
 * request's object is not changed.
 */
export function withResponseFields(requestFields: Readonly<FlowFields>, response: unknown): FlowFields {
  const fields: FlowFields = { ...requestFields };
  collectFrom(response, fields);
  return fields;
}

/** The same fields as span attributes, `paycore.<name>` (the span file contract's names). */
export function flowAttributes(fields: FlowFields): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const [key, value] of Object.entries(fields)) attributes[`paycore.${key}`] = value;
  return attributes;
}

/**
 * Marks the span being handled (an RPC, an event, a worker tick) with the
 * state its flow reached, `paycore.state`, and optionally the amount, so
 * `paycore trace` shows it. For state changes made outside
 * `SqlTx.transition` (which reports its own) and outside an RPC's
 * `flowState` reader; a no-op without an active span.
 */
export function markFlowState(state: string, amount?: { amountMinor: bigint; currency: string }): void {
  const span = trace.getActiveSpan();
  if (span === undefined || state === '') return;
  span.setAttribute('paycore.state', state);
  if (amount !== undefined) {
    span.setAttribute('paycore.amount', amount.amountMinor.toString());
    if (amount.currency !== '') span.setAttribute('paycore.currency', amount.currency);
  }
}

/** The debit side of balanced legs: what a transfer or voucher moves (one currency assumed, the first leg's). */
export function debitTotal(
  legs: readonly { readonly side: unknown; readonly amountMinor: bigint; readonly currency: string }[],
  debit: unknown,
): { amountMinor: bigint; currency: string } | undefined {
  const first = legs[0];
  if (first === undefined) return undefined;
  let amountMinor = 0n;
  for (const leg of legs)
    if (leg.side === debit && leg.currency === first.currency) amountMinor += leg.amountMinor;
  return { amountMinor, currency: first.currency };
}
