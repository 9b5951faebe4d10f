/** channel.txn_updated, written to the outbox in the transaction of the change it reports. */
import type { SqlTx } from '@paycore/platform';
import { TxnUpdated } from '@paycore/proto/paycore/channel/v1/events';
import { TxnState as PbState } from '@paycore/proto/paycore/channel/v1/types';
import type { TxnEvents } from '../../application/ports';
import type { ChangeSource, Txn } from '../../application/model';
import type { TxnState } from '../../domain/txn';
import { STATE_TO_PB, txnToProto } from '../mapping';

export class PgTxnEvents implements TxnEvents {
  constructor(
    private readonly tx: Pick<SqlTx, 'publish'>,
    private readonly subject: string,
  ) {}

  async updated(after: Txn, previous: TxnState | undefined, source: ChangeSource): Promise<void> {
    await this.tx.publish({
      subject: this.subject,
      payload: TxnUpdated.encode({
        transaction: txnToProto(after),
        previousState: previous === undefined ? PbState.TXN_STATE_UNSPECIFIED : STATE_TO_PB[previous],
        source,
      }).finish(),
      headers: { 'Biz-Context': after.bizCode },
    });
  }
}
