/**
 * `paycore trace <order id | payment id | refund id | trace id>`: one flow's
 * steps across every service, in time order, from the local platform's span
 * files (`<run dir>/spans/<service>.jsonl`, the span-file contract: one
 * finished span a line) and log lines (`<run dir>/logs/<service>.log`, pino
 * JSON with trace_id, span_id, biz_code and entity ids).
 *
 * How records are found: a 32-hex argument is a trace id; anything else is
 * an entity id, matched against the `paycore.*_id` span attributes and the
 * `*_id` log fields. The traces of the matching records are then taken
 * whole, and the entity ids those traces mention (a payment's order, an
 * order's payments and refunds) pull in their own traces — one expansion
 * round, at most TRACES_MAX traces — so an order id shows its payment and its
 * refunds even though each ran in a trace of its own.
 *
 * A span and the log line its handler wrote share a span id: the span is
 * kept and the log line only fills in state and amount when the span lacks
 * them. Log lines without a trace id are left out (they belong to no flow).
 */
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { formatMoney, isKnownCurrency } from '@paycore/client';

export interface TraceStep {
  readonly timeNs: bigint;
  readonly service: string;
  readonly step: string;
  readonly kind: string;
  readonly state: string;
  readonly amountMinor: string;
  readonly currency: string;
  readonly bizCode: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly durationMs: number | undefined;
  readonly status: string;
  readonly source: 'span' | 'log';
  readonly ids: Readonly<Record<string, string>>;
}

/** Span files rotate at 64 MiB (one old file kept); a log file is read up to the same bound. */
const FILE_BYTES_MAX = 64 * 1024 * 1024;
const FILES_MAX = 200;
const TRACES_MAX = 20;
const STEPS_MAX = 5_000;
const CHUNK_BYTES = 1024 * 1024;
const TRACE_ID_PATTERN = /^[0-9a-f]{32}$/;
const ENTITY_KEYS = [
  'order_id',
  'payment_id',
  'refund_id',
  'channel_txn_id',
  'transfer_id',
  'voucher_id',
  'withdrawal_id',
];

type Json = Record<string, unknown>;

const str = (value: unknown): string =>
  typeof value === 'string'
    ? value
    : typeof value === 'number' || typeof value === 'bigint'
      ? String(value)
      : '';

function entityIds(source: Json, prefix: string): Record<string, string> {
  const ids: Record<string, string> = {};
  for (const key of ENTITY_KEYS) {
    const value = str(source[`${prefix}${key}`]);
    if (value !== '') ids[key] = value;
  }
  return ids;
}

export function spanStep(record: Json): TraceStep | undefined {
  const traceId = str(record['traceId']);
  const start = str(record['startUnixNano']);
  if (!TRACE_ID_PATTERN.test(traceId) || !/^[0-9]+$/.test(start)) return undefined;
  const attributes = (
    typeof record['attributes'] === 'object' && record['attributes'] !== null ? record['attributes'] : {}
  ) as Json;
  const duration = record['durationMs'];
  return {
    timeNs: BigInt(start),
    service: str(record['service']),
    step: str(record['name']),
    kind: str(record['kind']),
    state: str(attributes['paycore.state']),
    amountMinor: str(attributes['paycore.amount']),
    currency: str(attributes['paycore.currency']),
    bizCode: str(attributes['paycore.biz_code']),
    traceId,
    spanId: str(record['spanId']),
    durationMs: typeof duration === 'number' ? duration : undefined,
    status: str(record['status']),
    source: 'span',
    ids: entityIds(attributes, 'paycore.'),
  };
}

function logTimeNs(value: unknown): bigint | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return BigInt(Math.round(value)) * 1_000_000n;
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    if (Number.isNaN(ms)) return undefined;
    const fraction = /\.([0-9]+)Z$/.exec(value)?.[1] ?? '';
    const extraNs = fraction.length > 3 ? BigInt(fraction.slice(3, 9).padEnd(6, '0')) : 0n;
    return BigInt(ms) * 1_000_000n + extraNs;
  }
  return undefined;
}

export function logStep(record: Json, fallbackService: string): TraceStep | undefined {
  const traceId = str(record['trace_id']);
  const timeNs = logTimeNs(record['time']);
  if (!TRACE_ID_PATTERN.test(traceId) || timeNs === undefined) return undefined;
  const step = str(record['rpc']) || str(record['subject']) || str(record['msg']);
  const state =
    str(record['state']) ||
    str(record['order_state']) ||
    str(record['payment_state']) ||
    str(record['refund_state']) ||
    str(record['txn_state']) ||
    str(record['outcome']);
  const duration = record['duration_ms'];
  return {
    timeNs,
    service: str(record['service']) || fallbackService,
    step,
    kind: str(record['rpc']) !== '' ? 'SERVER' : str(record['subject']) !== '' ? 'CONSUMER' : 'LOG',
    state,
    amountMinor: str(record['amount_minor']) || str(record['amount']),
    currency: str(record['currency']),
    bizCode: str(record['biz_code']),
    traceId,
    spanId: str(record['span_id']),
    durationMs: typeof duration === 'number' ? duration : undefined,
    status: str(record['outcome']) || str(record['level']),
    source: 'log',
    ids: entityIds(record, ''),
  };
}

/** Calls `onLine` for every complete line of the file's first FILE_BYTES_MAX bytes. */
function forEachLine(file: string, onLine: (line: string) => void): void {
  const size = Math.min(statSync(file).size, FILE_BYTES_MAX);
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(CHUNK_BYTES);
    let carry = '';
    for (let offset = 0; offset < size;) {
      const read = readSync(fd, buffer, 0, Math.min(CHUNK_BYTES, size - offset), offset);
      if (read <= 0) break;
      offset += read;
      const lines = (carry + buffer.toString('utf8', 0, read)).split('\n');
      carry = lines.pop() ?? '';
      for (const line of lines) onLine(line);
    }
    if (carry !== '') onLine(carry);
  } finally {
    closeSync(fd);
  }
}

export interface TraceFile {
  readonly file: string;
  readonly kind: 'span' | 'log';
  readonly service: string;
}

/** The span and log files of a run directory (rotated `.1` span files included). */
export function traceFiles(runDir: string): TraceFile[] {
  const files: TraceFile[] = [];
  const spans = path.join(runDir, 'spans');
  if (existsSync(spans)) {
    for (const name of readdirSync(spans).sort()) {
      const match = /^([a-z0-9-]+)\.jsonl(\.1)?$/.exec(name);
      if (match) files.push({ file: path.join(spans, name), kind: 'span', service: match[1] ?? '' });
    }
  }
  const logs = path.join(runDir, 'logs');
  if (existsSync(logs)) {
    for (const name of readdirSync(logs).sort()) {
      const match = /^([a-z0-9-]+)\.log$/.exec(name);
      if (match) files.push({ file: path.join(logs, name), kind: 'log', service: match[1] ?? '' });
    }
  }
  return files.slice(0, FILES_MAX);
}

function scan(files: readonly TraceFile[], needles: readonly string[]): TraceStep[] {
  const steps: TraceStep[] = [];
  for (const f of files) {
    forEachLine(f.file, (line) => {
      if (steps.length >= STEPS_MAX * 2 || !needles.some((needle) => line.includes(needle))) return;
      let record: Json;
      try {
        record = JSON.parse(line) as Json;
      } catch {
        return;
      }
      const step = f.kind === 'span' ? spanStep(record) : logStep(record, f.service);
      if (step) steps.push(step);
    });
  }
  return steps;
}

/** Spans win over the log line of the same span id; the log line fills what the span lacks. */
export function mergeSteps(steps: readonly TraceStep[]): TraceStep[] {
  const spans = new Map<string, TraceStep>();
  for (const s of steps) if (s.source === 'span' && s.spanId !== '') spans.set(`${s.traceId}/${s.spanId}`, s);
  const merged = new Map<string, TraceStep>();
  const others: TraceStep[] = [];
  for (const s of steps) {
    const key = `${s.traceId}/${s.spanId}`;
    const span = spans.get(key);
    if (s.source === 'span') {
      if (!merged.has(key)) merged.set(key, s);
    } else if (span) {
      const current = merged.get(key) ?? span;
      merged.set(key, {
        ...current,
        state: current.state || s.state,
        amountMinor: current.amountMinor || s.amountMinor,
        currency: current.currency || s.currency,
        bizCode: current.bizCode || s.bizCode,
        ids: { ...s.ids, ...current.ids },
      });
    } else {
      others.push(s);
    }
  }
  return [...merged.values(), ...others]
    .sort((a, b) => (a.timeNs < b.timeNs ? -1 : a.timeNs > b.timeNs ? 1 : a.service.localeCompare(b.service)))
    .slice(0, STEPS_MAX);
}

export function findFlow(files: readonly TraceFile[], id: string): TraceStep[] {
  const isTraceId = TRACE_ID_PATTERN.test(id);
  const first = scan(files, [id]).filter((s) =>
    isTraceId ? s.traceId === id : Object.values(s.ids).includes(id),
  );
  const traces = new Set(first.map((s) => s.traceId));
  if (traces.size === 0) return [];
  // One expansion round: the entity ids of these traces pull in their own traces.
  const whole = scan(files, [...traces]);
  const related = new Set<string>();
  for (const s of whole) for (const value of Object.values(s.ids)) related.add(value);
  related.delete(id);
  if (related.size > 0) {
    for (const s of scan(files, [...related].slice(0, 200))) {
      if (Object.values(s.ids).some((value) => related.has(value)) && traces.size < TRACES_MAX)
        traces.add(s.traceId);
    }
  }
  return mergeSteps(scan(files, [...traces]).filter((s) => traces.has(s.traceId)));
}

export function amountOf(step: TraceStep): string {
  if (!/^-?[0-9]+$/.test(step.amountMinor)) return step.amountMinor;
  if (step.currency !== '' && isKnownCurrency(step.currency)) {
    return `${formatMoney({ amountMinor: BigInt(step.amountMinor), currency: step.currency })} ${step.currency}`;
  }
  return `${step.amountMinor} (minor)`;
}

export function isoOf(timeNs: bigint): string {
  const ms = timeNs / 1_000_000n;
  const micros = (timeNs / 1_000n) % 1_000n;
  return new Date(Number(ms)).toISOString().replace('Z', `${micros.toString().padStart(3, '0')}Z`);
}
