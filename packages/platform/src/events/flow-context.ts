/**
 * The entity ids of the flow in progress (order_id, payment_id, account_id…,
 * see grpc/flow-fields.ts), carried from an RPC to the events it causes and on
 * to the events those cause, so that the inbox's one line per consumed event
 * names the same entities as the RPC that started it. In process: an
 * AsyncLocalStorage the gRPC kit and the inbox fill around handlers. Between
 * processes: the `Paycore-Flow` event header, compact JSON of string fields,
 * bounded (FLOW_HEADER_LENGTH_MAX; larger sets are cut, not refused, since
 * they are diagnostics and must never fail a business write).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { FlowFields } from '../grpc/flow-fields';

export const FLOW_NATS_HEADER = 'Paycore-Flow';
const FLOW_HEADER_LENGTH_MAX = 1_024;
const FIELDS_MAX = 24;
const KEY_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;

const storage = new AsyncLocalStorage<FlowFields>();

export function runWithFlowFields<T>(fields: FlowFields, fn: () => T): T {
  return storage.run(fields, fn);
}

export function currentFlowFields(): FlowFields | undefined {
  return storage.getStore();
}

/** The header value for the current flow, or undefined when there is none. */
export function flowHeaderValue(fields: FlowFields | undefined = currentFlowFields()): string | undefined {
  if (fields === undefined) return undefined;
  const kept: FlowFields = {};
  let length = 2;
  for (const [key, value] of Object.entries(fields)) {
    const entryLength = JSON.stringify(key).length + JSON.stringify(value).length + 2;
    if (length + entryLength > FLOW_HEADER_LENGTH_MAX) break;
    kept[key] = value;
    length += entryLength;
  }
  return Object.keys(kept).length === 0 ? undefined : JSON.stringify(kept);
}

/** The fields of a received header; anything malformed is dropped, never thrown. */
export function parseFlowHeader(value: string | undefined): FlowFields {
  if (value === undefined || value.length > FLOW_HEADER_LENGTH_MAX) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
  const fields: FlowFields = {};
  for (const [key, field] of Object.entries(parsed as Record<string, unknown>)) {
    if (Object.keys(fields).length >= FIELDS_MAX) break;
    if (KEY_PATTERN.test(key) && typeof field === 'string') fields[key] = field;
  }
  return fields;
}
