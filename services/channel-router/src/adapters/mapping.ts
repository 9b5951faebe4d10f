/** Domain ↔ protobuf mapping shared by the gRPC handlers and the event writer. */
import {
  ChannelAction as PbAction,
  ChannelProtocol as PbProtocol,
  ChannelStatus as PbStatus,
  TxnKind as PbKind,
  TxnState as PbState,
  type ChannelTransaction,
} from '@paycore/proto/paycore/channel/v1/types';
import type { Txn } from '../application/model';
import type { ChannelAction, ChannelProtocol, ChannelStatus } from '../domain/model';
import type { TxnKind, TxnState } from '../domain/txn';

export const STATE_TO_PB: Readonly<Record<TxnState, PbState>> = {
  PROCESSING: PbState.TXN_STATE_PROCESSING,
  SUCCESS: PbState.TXN_STATE_SUCCESS,
  FAIL: PbState.TXN_STATE_FAIL,
  CLOSED: PbState.TXN_STATE_CLOSED,
  UNKNOWN: PbState.TXN_STATE_UNKNOWN,
};

const KIND_TO_PB: Readonly<Record<TxnKind, PbKind>> = {
  PAYMENT: PbKind.TXN_KIND_PAYMENT,
  REFUND: PbKind.TXN_KIND_REFUND,
  PAYOUT: PbKind.TXN_KIND_PAYOUT,
};

export const PROTOCOL_TO_PB: Readonly<Record<ChannelProtocol, PbProtocol>> = {
  ALIPAY: PbProtocol.CHANNEL_PROTOCOL_ALIPAY,
  WECHAT: PbProtocol.CHANNEL_PROTOCOL_WECHAT,
  BANK: PbProtocol.CHANNEL_PROTOCOL_BANK,
};

export const STATUS_TO_PB: Readonly<Record<ChannelStatus, PbStatus>> = {
  ENABLED: PbStatus.CHANNEL_STATUS_ENABLED,
  DISABLED: PbStatus.CHANNEL_STATUS_DISABLED,
};

export const ACTION_TO_PB: Readonly<Record<ChannelAction, PbAction>> = {
  PAY: PbAction.CHANNEL_ACTION_PAY,
  REFUND: PbAction.CHANNEL_ACTION_REFUND,
  QUERY: PbAction.CHANNEL_ACTION_QUERY,
  CLOSE: PbAction.CHANNEL_ACTION_CLOSE,
  PAYOUT: PbAction.CHANNEL_ACTION_PAYOUT,
  BILL: PbAction.CHANNEL_ACTION_BILL,
};

export function invert<K extends string, V extends number>(table: Readonly<Record<K, V>>): Map<V, K> {
  return new Map((Object.entries(table) as [K, V][]).map(([key, value]) => [value, key]));
}

export function txnToProto(txn: Txn): ChannelTransaction {
  return {
    txnId: txn.txnId,
    kind: KIND_TO_PB[txn.kind],
    state: STATE_TO_PB[txn.state],
    bizCode: txn.bizCode,
    payChannel: txn.payChannel,
    channelNo: txn.channelNo,
    amount: { amountMinor: txn.amount, currency: txn.currency },
    channelTxnNo: txn.channelTxnNo,
    originalTxnId: txn.originalTxnId,
    failureCode: txn.failureCode,
    failureMessage: txn.failureMessage,
    retryableElsewhere: txn.retryableElsewhere,
    payUrl: txn.payUrl,
    fee: { amountMinor: txn.fee, currency: txn.currency },
    createTime: txn.createdAt,
    updateTime: txn.updatedAt,
    finishTime: txn.finishedAt,
    version: txn.version,
  };
}
