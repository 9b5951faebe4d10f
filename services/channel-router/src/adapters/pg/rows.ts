/**
 * Row shapes of the channel schema and their mapping to the application's
 * types, shared by the repositories (one file per aggregate), plus the one
 * SQL handle they run on.
 */
import type { RoundingMode } from '@paycore/money';
import type { SqlTx } from '@paycore/platform';
import type { PayeeRecord, Txn } from '../../application/model';
import type {
  ChannelAction,
  ChannelNumberConfig,
  ChannelProtocol,
  ChannelStatus,
  MaintenanceWindow,
  RouteConfig,
} from '../../domain/model';
import type { TxnKind, TxnState } from '../../domain/txn';

/** A transaction's SQL, or (for plain reads) one statement on the pool; only a transaction can `transition`. */
export type Sql = Pick<SqlTx, 'query'> & { readonly transition?: SqlTx['transition'] };

export const REGISTRY_ROWS_MAX = 1000;

export interface TxnRow {
  txn_id: string;
  kind: TxnKind;
  state: TxnState;
  biz_code: string;
  pay_channel: string;
  channel_no: string;
  currency: string;
  amount: string;
  fee: string;
  subject: string;
  payee: PayeeRecord | null;
  channel_txn_no: string;
  original_txn_id: string | null;
  failure_code: string;
  failure_message: string;
  retryable_elsewhere: boolean;
  pay_url: string;
  cap_date: string | null;
  version: string;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
  close_deadline: Date;
  sync_attempts: number;
}

export const TXN_COLUMNS = `txn_id, kind, state, biz_code, pay_channel, channel_no, currency, amount::text AS amount,
  fee::text AS fee, subject, payee, channel_txn_no, original_txn_id, failure_code, failure_message,
  retryable_elsewhere, pay_url, to_char(cap_date, 'YYYY-MM-DD') AS cap_date, version::text AS version,
  created_at, updated_at, finished_at, close_deadline, sync_attempts`;

export function toTxn(row: TxnRow): Txn {
  return {
    txnId: row.txn_id,
    kind: row.kind,
    state: row.state,
    bizCode: row.biz_code,
    payChannel: row.pay_channel,
    channelNo: row.channel_no,
    currency: row.currency,
    amount: BigInt(row.amount),
    fee: BigInt(row.fee),
    subject: row.subject,
    payee: row.payee ?? undefined,
    channelTxnNo: row.channel_txn_no,
    originalTxnId: row.original_txn_id ?? '',
    failureCode: row.failure_code,
    failureMessage: row.failure_message,
    retryableElsewhere: row.retryable_elsewhere,
    payUrl: row.pay_url,
    capDate: row.cap_date ?? undefined,
    version: BigInt(row.version),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at ?? undefined,
    closeDeadline: row.close_deadline,
    syncAttempts: row.sync_attempts,
  };
}

export interface ChannelRow {
  channel_no: string;
  name: string;
  protocol: ChannelProtocol;
  status: ChannelStatus;
  base_url: string;
  close_after_seconds: number;
  has_credentials: boolean;
}

export function toChannel(row: ChannelRow): ChannelNumberConfig {
  return {
    channelNo: row.channel_no,
    name: row.name,
    protocol: row.protocol,
    status: row.status,
    baseUrl: row.base_url,
    closeAfterSeconds: row.close_after_seconds,
    hasCredentials: row.has_credentials,
  };
}

export interface RouteRow {
  pay_channel: string;
  channel_no: string;
  fee_rate: string;
  rounding_mode: RoundingMode;
  currency: string;
  min_amount: string;
  max_amount: string;
  daily_cap: string;
  weight: number;
  priority: number;
  status: ChannelStatus;
  maintenance_windows: MaintenanceWindow[];
  supported_actions: ChannelAction[];
}

export function toRoute(row: RouteRow): RouteConfig {
  return {
    payChannel: row.pay_channel,
    channelNo: row.channel_no,
    feeRate: row.fee_rate,
    roundingMode: row.rounding_mode,
    currency: row.currency,
    minAmount: BigInt(row.min_amount),
    maxAmount: BigInt(row.max_amount),
    dailyCap: BigInt(row.daily_cap),
    weight: row.weight,
    priority: row.priority,
    status: row.status,
    maintenanceWindows: row.maintenance_windows,
    supportedActions: row.supported_actions,
  };
}

export const ROUTE_COLUMNS = `pay_channel, channel_no, fee_rate, rounding_mode, currency, min_amount::text AS min_amount,
  max_amount::text AS max_amount, daily_cap::text AS daily_cap, weight, priority, status, maintenance_windows,
  supported_actions`;
