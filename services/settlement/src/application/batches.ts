/**
 * Settlement days and batches. RunSettlementDay creates one batch per due
 * merchant, a page of merchants per transaction (ADR 0059; idempotent per
 * merchant and date: a unique key) and queues it
 * through the outbox onto the work-queue stream; any replica drives a queued
 * batch step by step, each step a guarded transition after an idempotent
 * call (account Transfer and channel-router CreatePayout take request ids
 * derived from the batch and attempt), so a batch resumed after a crash at
 * any step repeats nothing: the posting is made once and a payout is sent
 * at most once per attempt, and a new attempt only after the last one
 * failed for good.
 */
import assert from 'node:assert/strict';
import { peekClaim } from '@paycore/platform';
import { decidePayout, isFinal, payoutLegs, settlementLegs } from '../domain/batch';
import type { BusinessCalendar } from '../domain/cycles';
import { SettlementError } from '../domain/errors';
import type { AccountDirectory } from './accounts';
import { DEFAULT_PROFILE } from './clearing';
import type { BatchTotals } from '../domain/batch';
import type {
  AccountPort,
  BatchRecord,
  OutboxEvent,
  PayoutPort,
  Profile,
  SettlementStore,
  SettlementTx,
} from './ports';

type Tx = SettlementTx;

export const SETTLE_CODE = '10050101050001000000';
export const PAYOUT_CODE_PREFIX = '1005010106';
const MERCHANTS_PER_PAGE = 500;
const PAGES_MAX = 10_000;
const STEPS_MAX = 8;

export interface BatchEvents {
  batchSettled(batch: BatchRecord): OutboxEvent;
  payoutSucceeded(batch: BatchRecord): OutboxEvent;
  payoutFailed(batch: BatchRecord, reason: string, willRetry: boolean): OutboxEvent;
  batchDue(batchId: string): OutboxEvent;
}

export interface BatchOptions {
  readonly payoutChannelNo: string;
  readonly payoutAttemptsMax: number;
}

/** What one drive of a batch achieved: done (final) or waiting for the payout's outcome. */
export type DriveOutcome = 'FINAL' | 'WAITING';

export class Batches {
  constructor(
    private readonly store: SettlementStore,
    private readonly accounts: AccountDirectory,
    private readonly account: AccountPort,
    private readonly payouts: PayoutPort,
    private readonly calendar: BusinessCalendar,
    private readonly events: BatchEvents,
    private readonly options: BatchOptions,
  ) {}

  async runDay(requestId: string, settlementDate: string): Promise<{ created: bigint; total: bigint }> {
    const request = { requestId, operation: 'settlement.RunSettlementDay', payload: { settlementDate } };
    // The id is answered before any batch is created: a replay creates
    // nothing, and an id reused for another date is refused before its work.
    const peeked = await peekClaim<{ created: bigint; total: bigint }>(
      this.store,
      'settlement.run_day_claim',
      request,
    );
    if (peeked.kind === 'replay') return peeked.response;
    // Asks the calendar next: a missing year refuses the run before anything is created.
    this.calendar.addBusinessDays(settlementDate, 1);
    let created = 0n;
    let total = 0n;
    let after = '';
    for (let page = 0; page < PAGES_MAX; page++) {
      const result = await this.store.transaction('settlement.create_batches', 'READ COMMITTED', (tx) =>
        this.createPage(tx, settlementDate, after),
      );
      total += BigInt(result.listed);
      created += BigInt(result.created);
      if (result.last === undefined || result.listed < MERCHANTS_PER_PAGE) break;
      after = result.last;
    }
    return this.store.transaction('settlement.run_day', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<{ created: bigint; total: bigint }>(request);
      if (claim.kind === 'replay') return claim.response;
      const result = { created, total };
      await tx.remember(request, result);
      return result;
    });
  }

  async requestSettlement(
    requestId: string,
    merchantId: string,
    settlementDate: string,
  ): Promise<BatchRecord> {
    const request = {
      requestId,
      operation: 'settlement.RequestSettlement',
      payload: { merchantId, settlementDate },
    };
    // The answer is remembered whole: a replay answers the batch as it was
    // first answered (GetBatch shows it as it is now), byte for byte.
    const answer = await this.store.transaction('settlement.request_check', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<{ batchId: string; batch?: BatchRecord }>(request);
      if (claim.kind === 'replay') return claim.response;
      if (!(await tx.merchantExists(merchantId))) {
        throw new SettlementError('MERCHANT_NOT_FOUND', `merchant ${merchantId} is not registered`, {
          field: 'merchant_id',
        });
      }
      const { batch } = await this.createBatchIn(tx, merchantId, settlementDate, true);
      const remembered = { batchId: batch.batchId, batch };
      await tx.remember(request, remembered);
      return remembered;
    });
    if (answer.batch !== undefined) return answer.batch;
    // Claims remembered before answers were kept whole carry the id only.
    const batch = await this.store.batch(answer.batchId);
    assert.ok(batch !== null, 'a remembered batch exists');
    return batch;
  }

  /**
   * One page of due merchants in one transaction: their profiles in one
   * read, their batches in a handful of set-wise statements (each decision
   * the same `decision` RequestSettlement takes) and their BatchDue events in
   * one outbox write. A crash anywhere in the page rolls all of it back; the
   * rerun lists the same merchants again, and a merchant whose batch exists
   * (the unique key) is skipped, so nothing is created twice.
   */
  private async createPage(tx: Tx, settlementDate: string, after: string) {
    const merchants = await tx.merchantsDue(settlementDate, MERCHANTS_PER_PAGE, after);
    const profiles = await tx.profilesOf(merchants);
    const profileOf = (merchantId: string): Profile =>
      profiles.get(merchantId) ?? DEFAULT_PROFILE(merchantId);
    // merchantsDue leaves manual merchants out; one that turned manual since is left for its request.
    const due = merchants.filter((m) => profileOf(m).kind !== 'MANUAL');
    const batches = await tx.createBatches(
      due.map((merchantId) => ({ merchantId, onlyConfirmed: profileOf(merchantId).holdUnconfirmed })),
      settlementDate,
      (merchantId, carriedIn, totals) =>
        this.decision(profileOf(merchantId), settlementDate, carriedIn, totals),
    );
    await tx.publishMany(batches.map((b) => this.events.batchDue(b.batchId)));
    return { listed: merchants.length, created: batches.length, last: merchants[merchants.length - 1] };
  }

  /** What a batch pays and carries: the domain's decidePayout, and when a D0 hold is released. */
  private decision(profile: Profile, settlementDate: string, carriedIn: bigint, totals: BatchTotals) {
    const holdRate = profile.kind === 'D0' ? profile.d0HoldRate : '0';
    const decision = decidePayout(carriedIn, totals, profile.minimumPayoutMinor, holdRate);
    const held = holdRate !== '0' && decision.payoutMinor > 0n && decision.carriedOutMinor > 0n;
    return { ...decision, releaseOn: held ? this.calendar.addBusinessDays(settlementDate, 1) : null };
  }

  private async createBatchIn(tx: Tx, merchantId: string, settlementDate: string, manual: boolean) {
    const profile = (await tx.profile(merchantId)) ?? DEFAULT_PROFILE(merchantId);
    if (profile.kind === 'MANUAL' && !manual) {
      // Manual merchants are settled only on request; merchantsDue never lists them.
      assert.fail(`manual merchant ${merchantId} listed as due`);
    }
    const result = await tx.createBatch(
      merchantId,
      settlementDate,
      profile.holdUnconfirmed,
      (carriedIn, totals) => this.decision(profile, settlementDate, carriedIn, totals),
    );
    if (result.created) await tx.publish(this.events.batchDue(result.batch.batchId));
    return result;
  }

  /** Drives a batch as far as it goes now. */
  async drive(batchId: string): Promise<DriveOutcome> {
    for (let step = 0; step < STEPS_MAX; step++) {
      const batch = await this.store.batch(batchId);
      if (batch === null || isFinal(batch.state)) return 'FINAL';
      const progressed = await this.step(batch);
      if (!progressed) return 'WAITING';
    }
    return 'WAITING';
  }

  private async step(batch: BatchRecord): Promise<boolean> {
    switch (batch.state) {
      case 'CREATED':
        await this.post(batch);
        return true;
      case 'POSTED':
        await this.transitionTo(
          batch,
          batch.payoutMinor > 0n ? 'PAYING' : 'CARRIED',
          batch.payoutMinor > 0n ? { payoutAttempts: 1 } : {},
        );
        return true;
      case 'PAYING':
        return this.pay(batch);
      case 'PAYOUT_FAILED':
        if (batch.payoutAttempts >= this.options.payoutAttemptsMax) {
          await this.transitionTo(batch, 'EXCEPTION', {});
        } else {
          await this.transitionTo(batch, 'PAYING', {
            payoutAttempts: batch.payoutAttempts + 1,
            payoutTxnId: null,
          });
        }
        return true;
      default:
        return false;
    }
  }

  private async post(batch: BatchRecord): Promise<void> {
    const shares = await this.store.transaction('settlement.batch_shares', 'READ COMMITTED', (tx) =>
      tx.batchShares(batch.batchId),
    );
    const legs = settlementLegs(batch.merchantId, batch, shares);
    if (legs.length > 0) {
      await this.account.transfer(
        `settle-post:${batch.batchId}`,
        SETTLE_CODE,
        await this.accounts.legs(legs, batch.currency),
        batch.currency,
        `settlement batch ${batch.batchId}`,
      );
    }
    // Posted and on to its payout (or carried) in one transaction: two guarded
    // transitions, so a batch found POSTED (a crash of an older build) still moves on.
    await this.store.transaction('settlement.batch_posted', 'READ COMMITTED', async (tx) => {
      if (!(await tx.moveBatch(batch.batchId, 'POSTED'))) return;
      await tx.publish(this.events.batchSettled({ ...batch, state: 'POSTED' }));
      await tx.moveBatch(
        batch.batchId,
        batch.payoutMinor > 0n ? 'PAYING' : 'CARRIED',
        batch.payoutMinor > 0n ? { payoutAttempts: 1 } : {},
      );
    });
  }

  private payoutCode(): string {
    return `${PAYOUT_CODE_PREFIX}4001${this.options.payoutChannelNo}`;
  }

  /** One payout attempt: funds to the bank's clearing, CreatePayout, then its outcome. */
  private async pay(batch: BatchRecord): Promise<boolean> {
    const attempt = `${batch.batchId}:${batch.payoutAttempts}`;
    const channelNo = this.options.payoutChannelNo;
    let txn: { txnId: string; state: string };
    if (batch.payoutTxnId === null) {
      const profile = await this.store.transaction('settlement.profile', 'READ COMMITTED', (tx) =>
        tx.profile(batch.merchantId),
      );
      if (profile === null || profile.bankAccountNo === '') {
        await this.failPayout(batch, 'NO_BANK_ACCOUNT', attempt, false);
        return true;
      }
      const legs = payoutLegs(batch.merchantId, channelNo, batch.payoutMinor, false);
      await this.account.transfer(
        `settle-payout:${attempt}`,
        this.payoutCode(),
        await this.accounts.legs(legs, batch.currency),
        batch.currency,
        `payout ${attempt}`,
      );
      txn = await this.payouts.createPayout(
        `settle-payout:${attempt}`,
        this.payoutCode(),
        batch.payoutMinor,
        {
          accountNo: profile.bankAccountNo,
          accountName: profile.bankAccountName,
          bankCode: profile.bankCode,
        },
      );
      // An answer already final is recorded with its outcome in one transaction (below).
      if (txn.state !== 'SUCCESS') {
        await this.store.transaction('settlement.payout_sent', 'READ COMMITTED', async (tx) => {
          await tx.recordPayoutTxn(batch.batchId, txn.txnId);
        });
      }
    } else {
      txn = await this.payouts.queryPayout(batch.payoutTxnId);
    }
    if (txn.state === 'SUCCESS') {
      await this.store.transaction('settlement.payout_succeeded', 'READ COMMITTED', async (tx) => {
        await tx.recordPayoutTxn(batch.batchId, txn.txnId);
        if (await tx.moveBatch(batch.batchId, 'PAID', { payoutTxnId: txn.txnId })) {
          await tx.publish(this.events.payoutSucceeded({ ...batch, state: 'PAID', payoutTxnId: txn.txnId }));
        }
      });
      return true;
    }
    if (txn.state === 'FAIL') {
      await this.failPayout({ ...batch, payoutTxnId: txn.txnId }, `PAYOUT_${txn.state}`, attempt, true);
      return true;
    }
    return false;
  }

  private async failPayout(
    batch: BatchRecord,
    reason: string,
    attempt: string,
    fundsMoved: boolean,
  ): Promise<void> {
    if (fundsMoved) {
      const legs = payoutLegs(batch.merchantId, this.options.payoutChannelNo, batch.payoutMinor, true);
      await this.account.transfer(
        `settle-payout-return:${attempt}`,
        this.payoutCode(),
        await this.accounts.legs(legs, batch.currency),
        batch.currency,
        `payout returned ${attempt}`,
      );
    }
    const willRetry = fundsMoved && batch.payoutAttempts < this.options.payoutAttemptsMax;
    await this.store.transaction('settlement.payout_failed', 'READ COMMITTED', async (tx) => {
      if (await tx.moveBatch(batch.batchId, 'PAYOUT_FAILED', { payoutTxnId: batch.payoutTxnId })) {
        await tx.publish(this.events.payoutFailed({ ...batch, state: 'PAYOUT_FAILED' }, reason, willRetry));
        if (!willRetry) {
          await tx.moveBatch(batch.batchId, 'EXCEPTION');
        }
      }
    });
  }

  private async transitionTo(
    batch: BatchRecord,
    to: 'PAYING' | 'CARRIED' | 'EXCEPTION',
    set: { payoutAttempts?: number; payoutTxnId?: string | null },
  ): Promise<void> {
    await this.store.transaction(`settlement.batch_${to.toLowerCase()}`, 'READ COMMITTED', (tx) =>
      tx.moveBatch(batch.batchId, to, set),
    );
  }
}
