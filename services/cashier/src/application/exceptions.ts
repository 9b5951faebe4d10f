/**
 * The exception queue as operators use it. ResolveException applies the
 * operator's decision from every non-final state of the flow (CONFIRMING
 * included): SUCCEEDED moves it on to confirm (a payment stays CONFIRMING and
 * its driver confirms again), FAILED cancels it. A payment is refused FAILED
 * while the channel says it was paid (CHANNEL_ALREADY_PAID). A flow already
 * final only records the decision (the money is then handled by hand).
 */
import type { Logger } from 'pino';
import { assertRequestId, peekClaim } from '@paycore/platform';
import { CashierError, invalidField } from '../domain/errors';
import { isFinalPayment } from '../domain/states';
import type { Drivers } from './drivers';
import type { CashierStore, CashierTx, ChannelPort } from './ports';
import type { ExceptionRecord } from './records';
import { UUID_PATTERN } from './validate';

const EXCEPTIONS_PAGE_MAX = 500;

export interface ResolveInput {
  readonly requestId: string;
  readonly exceptionId: string;
  readonly resolution: 'SUCCEEDED' | 'FAILED' | undefined;
  readonly reason: string;
  readonly operator: string;
}

export class ExceptionDesk {
  constructor(
    private readonly store: CashierStore,
    private readonly drivers: Drivers,
    private readonly channel: ChannelPort,
    private readonly logger: Logger,
  ) {}

  list(includeResolved: boolean, pageSize: number): Promise<ExceptionRecord[]> {
    if (pageSize < 0 || pageSize > EXCEPTIONS_PAGE_MAX)
      throw invalidField('page_size', `must be 0 to ${EXCEPTIONS_PAGE_MAX}`);
    return this.store.exceptions(includeResolved, pageSize === 0 ? 100 : pageSize);
  }

  async resolve(input: ResolveInput): Promise<ExceptionRecord> {
    assertRequestId(input.requestId);
    if (input.resolution === undefined) throw invalidField('resolution', 'is required (SUCCEEDED or FAILED)');
    if (input.reason.trim().length < 1 || input.reason.length > 512)
      throw invalidField('reason', 'must be 1 to 512 characters');
    if (!UUID_PATTERN.test(input.exceptionId))
      throw new CashierError('EXCEPTION_NOT_FOUND', 'exception not found', { field: 'exception_id' });
    const resolution = input.resolution;
    const request = {
      requestId: input.requestId,
      operation: 'cashier.ResolveException',
      payload: { exceptionId: input.exceptionId, resolution, reason: input.reason },
    };
    // The id is answered before the channel is asked: a replay is answered
    // as the first time, whatever the channel says now.
    const peeked = await peekClaim(this.store, 'cashier.resolve-exception-claim', request);
    if (resolution === 'FAILED' && peeked.kind === 'fresh') await this.refuseFailedIfPaid(input.exceptionId);
    const resolved = await this.store.transaction(
      'cashier.resolve-exception',
      'READ COMMITTED',
      async (tx) => {
        const claim = await tx.claim<{ exceptionId: string }>(request);
        if (claim.kind === 'fresh') {
          await this.apply(tx, input.exceptionId, resolution, input.operator, input.reason);
          await tx.remember(request, { exceptionId: input.exceptionId });
        }
        const current = await tx.exceptions.byId(input.exceptionId);
        if (!current) throw new Error('exception vanished');
        return current;
      },
    );
    this.logger.warn(
      {
        exception_id: resolved.exceptionId,
        flow: resolved.flowKind,
        flow_id: resolved.flowId,
        resolution: resolved.resolution,
        operator: resolved.operator,
        reason: resolved.reason,
      },
      'exception resolved by an operator',
    );
    const kind =
      resolved.flowKind === 'PAYMENT' ? 'payment' : resolved.flowKind === 'REFUND' ? 'refund' : 'withdrawal';
    this.drivers.kick(kind, resolved.flowId, 0);
    return resolved;
  }

  /** FAILED for a payment the channel reports paid would strand the money: refused. */
  private async refuseFailedIfPaid(exceptionId: string): Promise<void> {
    const exceptions = await this.store.exceptions(true, EXCEPTIONS_PAGE_MAX);
    const e = exceptions.find((x) => x.exceptionId === exceptionId);
    if (e?.flowKind !== 'PAYMENT' || e.state !== 'OPEN') return;
    const payment = await this.store.payment(e.flowId);
    const txnId = payment?.parts.find((p) => p.kind === 'CHANNEL')?.channelTxnId;
    if (!payment || !txnId || isFinalPayment(payment.state)) return;
    const txn = await this.channel.query(txnId);
    if (txn.state === 'SUCCESS') {
      throw new CashierError(
        'CHANNEL_ALREADY_PAID',
        `the channel reports ${txnId} paid: resolve SUCCEEDED, or refund`,
        { metadata: { txn_id: txnId } },
      );
    }
  }

  private async apply(
    tx: CashierTx,
    exceptionId: string,
    resolution: 'SUCCEEDED' | 'FAILED',
    operator: string,
    reason: string,
  ): Promise<void> {
    const current = await tx.exceptions.byId(exceptionId, 'FOR UPDATE');
    if (!current)
      throw new CashierError('EXCEPTION_NOT_FOUND', `exception ${exceptionId} not found`, {
        field: 'exception_id',
      });
    if (current.state === 'RESOLVED') {
      if (current.resolution === resolution) return;
      throw new CashierError(
        'EXCEPTION_ALREADY_RESOLVED',
        `exception was resolved as ${current.resolution ?? ''}`,
      );
    }
    const succeeded = resolution === 'SUCCEEDED';
    if (current.flowKind === 'PAYMENT') {
      const payment = await tx.payments.byId(current.flowId);
      // CONFIRMING + SUCCEEDED: stays CONFIRMING, the driver confirms again once the cause is fixed.
      if (payment && !isFinalPayment(payment.state) && !(succeeded && payment.state === 'CONFIRMING')) {
        await tx.payments.moveTo(
          current.flowId,
          succeeded ? 'CONFIRMING' : 'CANCELLING',
          succeeded ? {} : { failureReason: 'RESOLVED_FAILED', failureMessage: reason },
        );
      }
    } else if (current.flowKind === 'WITHDRAWAL') {
      await tx.withdrawals.moveTo(
        current.flowId,
        succeeded ? 'CONFIRMING' : 'CANCELLING',
        succeeded ? undefined : 'RESOLVED_FAILED',
      );
    } else {
      const refund = await tx.refunds.byId(current.flowId);
      const part = refund?.parts.find((p) => p.kind === 'CHANNEL');
      if (part) await tx.refunds.moveChannel(current.flowId, part.partNo, succeeded ? 'SUCCESS' : 'FAIL');
    }
    await tx.exceptions.resolve(exceptionId, 'RESOLVED', { resolution, operator, reason });
  }
}
