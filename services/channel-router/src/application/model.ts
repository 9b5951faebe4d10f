/**
 * What the application passes around: a channel transaction as stored, in
 * domain terms (bigint minor units, epoch-ms dates), free of TypeORM and protobuf.
 */
import type { TxnKind, TxnState } from '../domain/txn';

export interface Txn {
  readonly txnId: string;
  readonly kind: TxnKind;
  readonly state: TxnState;
  readonly bizCode: string;
  readonly payChannel: string;
  readonly channelNo: string;
  readonly currency: string;
  readonly amount: bigint;
  readonly fee: bigint;
  readonly subject: string;
  readonly payee: PayeeRecord | undefined;
  readonly channelTxnNo: string;
  readonly originalTxnId: string;
  readonly failureCode: string;
  readonly failureMessage: string;
  readonly retryableElsewhere: boolean;
  readonly payUrl: string;
  /** The channel day whose cap counter still holds this amount; undefined once given back, or never reserved. */
  readonly capDate: string | undefined;
  readonly version: bigint;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly finishedAt: Date | undefined;
  readonly closeDeadline: Date;
  readonly syncAttempts: number;
}

export interface PayeeRecord {
  readonly accountNo: string;
  readonly accountName: string;
  readonly bankCode: string;
  readonly remark: string;
}

/** What caused a state change; carried in the event. */
export type ChangeSource = 'create' | 'callback' | 'status_sync' | 'query' | 'close' | 'refund' | 'payout';

export interface StatementRecord {
  readonly statementId: string;
  readonly channelNo: string;
  readonly billDate: string;
  readonly format: string;
  readonly checksumSha256: string;
  readonly lineCount: number;
  readonly sizeBytes: number;
}

/** What an idempotent channel operation remembers: the transaction it created or acted on. */
export interface TxnRef {
  readonly txnId: string;
}
