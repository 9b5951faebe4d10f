/** Row mappers of the recon schema (snake_case columns → the application's rows). */
import type { DifferenceRow, RunRow } from '../../application/ports';
import type { Direction, DifferenceClass, ItemKind, TxnState } from '../../domain/model';
import type { DifferenceState, RunState } from '../../domain/states';
import { dateText } from './files';

export type Row = Record<string, unknown>;

function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return value.toString();
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value);
}
const big = (value: unknown): bigint => BigInt(text(value) === '' ? '0' : text(value));

export const DIFFERENCE_COLUMNS = `d.difference_id::text AS difference_id, d.run_id::text AS run_id, d.channel_no,
  d.bill_date::text AS bill_date, d.class, d.direction, d.delta_minor, d.kind, d.merchant_order_no,
  d.channel_txn_no, d.platform_txn_id, d.platform_amount_minor, d.channel_amount_minor, d.currency, d.biz_code,
  d.state, d.hold_until::text AS hold_until, d.suspense_minor, d.resolution, d.operator, d.reason, d.created_at,
  (SELECT t.state FROM channel_txns t WHERE t.txn_id = d.platform_txn_id) AS platform_state`;

export function differenceRow(row: Row): DifferenceRow & { createdAt: Date } {
  return {
    differenceId: text(row['difference_id']),
    runId: text(row['run_id']),
    channelNo: text(row['channel_no']),
    billDate: dateText(row['bill_date']),
    differenceClass: text(row['class']) as DifferenceClass,
    direction: text(row['direction']) as Direction,
    deltaMinor: big(row['delta_minor']),
    kind: text(row['kind']) as ItemKind,
    merchantOrderNo: text(row['merchant_order_no']),
    channelTxnNo: text(row['channel_txn_no']),
    platformTxnId: text(row['platform_txn_id']),
    platformAmountMinor: big(row['platform_amount_minor']),
    channelAmountMinor: big(row['channel_amount_minor']),
    currency: text(row['currency']),
    bizCode: text(row['biz_code']),
    state: text(row['state']) as DifferenceState,
    holdUntil:
      row['hold_until'] === null || row['hold_until'] === undefined ? null : dateText(row['hold_until']),
    suspenseMinor: big(row['suspense_minor']),
    resolution: row['resolution'] === null ? null : text(row['resolution']),
    operator: row['operator'] === null ? null : text(row['operator']),
    reason: row['reason'] === null ? null : text(row['reason']),
    platformState:
      row['platform_state'] === null || row['platform_state'] === undefined
        ? null
        : (text(row['platform_state']) as TxnState),
    createdAt: row['created_at'] instanceof Date ? row['created_at'] : new Date(text(row['created_at'])),
  };
}

export const RUN_COLUMNS = `run_id::text AS run_id, channel_no, bill_date::text AS bill_date, file_id::text AS file_id, state, finished_at`;

export function runRow(row: Row): RunRow {
  return {
    runId: text(row['run_id']),
    channelNo: text(row['channel_no']),
    billDate: dateText(row['bill_date']),
    fileId: text(row['file_id']),
    state: text(row['state']) as RunState,
    finishedAt: row['finished_at'] instanceof Date ? row['finished_at'] : null,
  };
}

export { big, text };
