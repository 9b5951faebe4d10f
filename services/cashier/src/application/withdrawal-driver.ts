/**
 * A withdrawal: hold the payer's balance (`try:withdraw:<id>`), pay out at
 * the channel (`payout:<id>`), then confirm the hold or cancel it. A payout
 * that succeeds after the hold expired debits the payer with a direct
 * transfer of the same legs (`withdraw-post:<id>`); if that is refused too,
 * the withdrawal goes to an OPEN exception. The payer never keeps both.
 */
import { channelClearing, payerBalance } from '../domain/accounts';
import { decideFromChannel } from '../domain/states';
import { DependencyRefusal, type ChannelTxn, type Leg } from './ports';
import type { WithdrawalRecord } from './records';
import { withCode, type DriverDeps } from './drivers';

const DRIVE_STEPS_MAX = 12;

export class WithdrawalDriver {
  constructor(private readonly deps: DriverDeps) {}

  async run(withdrawalId: string, pollFirst: boolean): Promise<void> {
    let w = await this.deps.store.withdrawal(withdrawalId);
    let poll = pollFirst;
    for (let step = 0; step < DRIVE_STEPS_MAX && w; step++) {
      if (w.state === 'SUCCEEDED' || w.state === 'FAILED') return;
      this.deps.logger.info({ withdrawal_id: w.withdrawalId, withdrawal_state: w.state }, 'withdrawal step');
      const current: WithdrawalRecord = w;
      const pollNow = poll;
      poll = false;
      const next = await withCode(w.bizCode, () => this.guarded(current, pollNow));
      if (next === 'WAIT') return;
      w = next;
    }
  }

  private async guarded(w: WithdrawalRecord, poll: boolean): Promise<WithdrawalRecord | 'WAIT' | undefined> {
    try {
      return await this.step(w, poll);
    } catch (err) {
      if (!(err instanceof DependencyRefusal)) throw err;
      await this.exception(w, `${w.state}: ${err.service} refused: ${err.reason} ${err.message}`);
      return 'WAIT';
    }
  }

  private async legs(w: WithdrawalRecord): Promise<Leg[]> {
    const from = await this.deps.accounts.resolve(payerBalance(w.payerId), w.bizCode);
    const to = await this.deps.accounts.resolve(channelClearing(w.channelNo), w.bizCode);
    return [
      { accountId: from, side: 'DEBIT', amountMinor: w.amountMinor },
      { accountId: to, side: 'CREDIT', amountMinor: w.amountMinor },
    ];
  }

  private async move(
    w: WithdrawalRecord,
    to: WithdrawalRecord['state'],
    reason?: string,
  ): Promise<WithdrawalRecord | undefined> {
    const moved = await this.deps.store.transaction(
      `cashier.withdrawal-${to.toLowerCase()}`,
      'READ COMMITTED',
      (tx) => tx.withdrawals.moveTo(w.withdrawalId, to, reason),
    );
    if (!moved.changed) return this.deps.store.withdrawal(w.withdrawalId);
    return { ...w, state: to, failureReason: reason ?? w.failureReason };
  }

  private async step(w: WithdrawalRecord, poll: boolean): Promise<WithdrawalRecord | 'WAIT' | undefined> {
    const pendingId = `withdraw:${w.withdrawalId}`;
    switch (w.state) {
      case 'TRYING':
        try {
          await this.deps.account.tryTransfer(
            pendingId,
            w.bizCode,
            await this.legs(w),
            this.deps.options.withdrawalHoldMs,
          );
        } catch (err) {
          if (!(err instanceof DependencyRefusal)) throw err;
          return this.move(w, 'CANCELLING', err.reason);
        }
        return this.move(w, 'PROCESSING');
      case 'PROCESSING':
        return this.payout(w, poll);
      case 'CONFIRMING':
        try {
          await this.deps.account.confirmTransfer(pendingId, w.bizCode);
        } catch (err) {
          if (!(err instanceof DependencyRefusal)) throw err;
          // The hold expired before the payout's success was known: debit the payer directly.
          await this.deps.account.transfer(
            `withdraw-post:${w.withdrawalId}`,
            w.bizCode,
            await this.legs(w),
            `withdrawal ${w.withdrawalId} after its hold expired`,
          );
        }
        return this.move(w, 'SUCCEEDED');
      case 'CANCELLING':
        await this.deps.account.cancelTransfer(pendingId, w.bizCode);
        return this.move(w, 'FAILED');
      default:
        return 'WAIT';
    }
  }

  private async payout(w: WithdrawalRecord, poll: boolean): Promise<WithdrawalRecord | 'WAIT' | undefined> {
    let txn: ChannelTxn | undefined;
    if (w.channelTxnId === null) {
      txn = await this.deps.channel.createPayout(`payout:${w.withdrawalId}`, w.bizCode, w.amountMinor, {
        accountNo: w.accountNo,
        accountName: w.accountName,
        bankCode: w.bankCode,
      });
      const id = txn.txnId;
      await this.deps.store.transaction('cashier.payout-txn', 'READ COMMITTED', (tx) =>
        tx.withdrawals.recordPayoutTxn(w.withdrawalId, id),
      );
    } else if (poll) {
      txn = await this.deps.channel.queryPayout(w.channelTxnId);
    }
    const decision = txn ? decideFromChannel(txn.state) : 'WAIT';
    if (decision === 'WAIT') {
      if (this.deps.options.nowMs() - w.createdAt.getTime() > this.deps.options.exceptionWindowMs) {
        await this.exception(
          w,
          `payout ${w.channelTxnId ?? ''} is still not final past the exception window`,
        );
      } else {
        await this.deps.store.transaction('cashier.withdrawal-touch', 'READ COMMITTED', (tx) =>
          tx.withdrawals.touch(w.withdrawalId),
        );
      }
      return 'WAIT';
    }
    return decision === 'CONFIRM'
      ? this.move(w, 'CONFIRMING')
      : this.move(w, 'CANCELLING', `PAYOUT_${txn?.state ?? 'FAIL'}`);
  }

  private async exception(w: WithdrawalRecord, detail: string): Promise<void> {
    await this.deps.store.transaction('cashier.withdrawal-exception', 'READ COMMITTED', async (tx) => {
      await tx.withdrawals.touch(w.withdrawalId);
      await tx.exceptions.open({
        flowKind: 'WITHDRAWAL',
        flowId: w.withdrawalId,
        bizCode: w.bizCode,
        detail,
      });
    });
    this.deps.logger.error({ withdrawal_id: w.withdrawalId, detail }, 'withdrawal needs a person: exception');
  }
}
