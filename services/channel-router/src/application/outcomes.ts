/**
 * Recording what a channel said about a transaction: the rules that used to
 * live in the store's SQL. Under the transaction's row lock, the state moves
 * only as the domain's table allows (through the guarded transition); the
 * first outcome of a new transaction (version 0) is always published, even
 * if it stays UNKNOWN, so every transaction is announced; details (channel
 * id, pay URL, failure) are kept with the change; a payment or payout that
 * fails or closes gives its daily-cap reservation back, once.
 */
import assert from 'node:assert/strict';
import { releaseFromCap } from '../domain/caps';
import { isFinal, releasesCap, transition, type TxnState } from '../domain/txn';
import type { ChangeSource, Txn } from './model';
import type { ChannelOutcome, ChannelStore, ChannelTx, TxnDetails } from './ports';

export interface ApplyResult {
  readonly txn: Txn;
  readonly changed: boolean;
}

function detailsOf(before: Txn, outcome: ChannelOutcome, next: TxnState): TxnDetails {
  return {
    version: before.version + 1n,
    final: isFinal(next),
    channelTxnNo: outcome.channelTxnNo || before.channelTxnNo,
    payUrl: outcome.payUrl || before.payUrl,
    failureCode: outcome.failureCode || before.failureCode,
    failureMessage: outcome.failureMessage || before.failureMessage,
    retryableElsewhere: next === 'FAIL' && outcome.retryableElsewhere === true,
  };
}

async function releaseCap(tx: ChannelTx, txn: Txn): Promise<void> {
  if (txn.capDate === undefined) return;
  const used = await tx.caps.lockUsage(txn.payChannel, txn.channelNo, txn.capDate);
  await tx.caps.setUsage(txn.payChannel, txn.channelNo, txn.capDate, releaseFromCap(used, txn.amount));
  await tx.transactions.clearCapDate(txn.txnId);
}

export async function recordOutcome(
  store: ChannelStore,
  txnId: string,
  outcome: ChannelOutcome,
  source: ChangeSource,
): Promise<ApplyResult> {
  return store.transaction('channel.record_outcome', 'READ COMMITTED', async (tx) => {
    const before = await tx.transactions.lock(txnId);
    assert.ok(before !== undefined, `transaction ${txnId} not found`);
    const next = outcome.state ?? before.state;
    const move = transition(before.state, next);
    const announce = before.version === 0n;
    if (!move.change && !announce) {
      if (outcome.channelTxnNo !== undefined && outcome.channelTxnNo !== '' && before.channelTxnNo === '')
        await tx.transactions.setChannelTxnNo(txnId, outcome.channelTxnNo);
      return { txn: before, changed: false };
    }
    const details = detailsOf(before, outcome, next);
    if (move.change) {
      const moved = await tx.transactions.moveTo(txnId, next, details);
      assert.ok(moved.changed, `locked ${txnId} refused ${before.state} → ${next}`);
      if (releasesCap(before.kind, next)) await releaseCap(tx, before);
    } else {
      await tx.transactions.recordDetails(txnId, details);
    }
    const after = await tx.transactions.lock(txnId);
    assert.ok(after !== undefined, `transaction ${txnId} vanished`);
    await tx.events.updated(after, announce ? undefined : before.state, source);
    return { txn: after, changed: true };
  });
}
