/**
 * The orchestration (DESIGN.md §5): drives each payment, refund and
 * withdrawal from its recorded state to a final one.
 *
 * Crash safety: a decision is recorded before the step it leads to is taken,
 * and every step is idempotent at the other service under a request id and a
 * payload derived from the flow's stored fields only (never the clock), so
 * any driver — the Pay call, the channel event consumer, the recovery worker,
 * another replica — can run any step again and is answered as a replay.
 * Decisions are guarded, table-driven transitions, so a flow is decided once.
 * (One decision is recorded with its outcome instead: a payment without a
 * channel part is decided by its tries alone, which any driver can replay, so
 * its CONFIRMING commits with SUCCEEDED after the confirms — docs/adr/0062.)
 *
 * A flow is read once and carried through its steps; each step writes with
 * one transaction and returns the flow as it now is.
 *
 * No refusal is retried in silence: a step the other service refuses for a
 * business reason either decides the flow (a refused try cancels it) or
 * opens an OPEN exception, which the recovery worker skips until an operator
 * resolves it (a later refusal opens a new one).
 */
import type { Logger } from 'pino';
import { isBizCodeShape, runWithBizCode } from '@paycore/context';
import type { OrderRecord, PaymentRecord } from './records';
import type { AccountDirectory } from './accounts';
import type { AccountPort, CashierStore, ChannelPort, StoredValuePort } from './ports';
import { PaymentDriver } from './payment-driver';
import { RefundDriver } from './refund-driver';
import { WithdrawalDriver } from './withdrawal-driver';

export interface DriverOptions {
  /** How long tries outlive the order's expiry, so a late channel success can still confirm. */
  readonly tryMarginMs: number;
  /** A flow still waiting on its channel this long after it started becomes an exception. */
  readonly exceptionWindowMs: number;
  /** How long a withdrawal's hold on the payer's balance lasts. */
  readonly withdrawalHoldMs: number;
  readonly nowMs: () => number;
}

export interface DriveOptions {
  /** Ask the channel about a waiting flow (the recovery worker's backstop to channel events). */
  readonly poll?: boolean;
}

export interface DriverDeps {
  readonly store: CashierStore;
  readonly accounts: AccountDirectory;
  readonly account: AccountPort;
  /** Lot-spending stored-value parts; a deployment without it refuses such parts at their try. */
  readonly storedValue?: StoredValuePort;
  readonly channel: ChannelPort;
  readonly logger: Logger;
  readonly options: DriverOptions;
}

export class Drivers {
  private readonly running = new Map<string, Promise<unknown>>();
  readonly payments: PaymentDriver;
  readonly refunds: RefundDriver;
  readonly withdrawals: WithdrawalDriver;

  constructor(private readonly deps: DriverDeps) {
    this.payments = new PaymentDriver(deps);
    this.refunds = new RefundDriver(deps);
    this.withdrawals = new WithdrawalDriver(deps);
  }

  /** One driver per flow per process at a time; a second caller waits for the first. */
  private single<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const existing = this.running.get(key);
    if (existing) return existing as Promise<T>;
    const promise = fn().finally(() => this.running.delete(key));
    this.running.set(key, promise);
    return promise;
  }

  /** Drives later, logging failures (the recovery worker retries what this misses). */
  kick(kind: 'payment' | 'refund' | 'withdrawal', id: string, delayMs = 20): void {
    setTimeout(() => {
      const run =
        kind === 'payment'
          ? this.drivePayment(id)
          : kind === 'refund'
            ? this.driveRefund(id)
            : this.driveWithdrawal(id);
      run.catch((err: unknown) =>
        this.deps.logger.warn({ err, [`${kind}_id`]: id }, `${kind} drive failed; recovery retries`),
      );
    }, delayMs).unref();
  }

  /** Drives a payment; with `carried`, from the records the caller already holds (no re-read). */
  drivePayment(
    paymentId: string,
    opts: DriveOptions = {},
    carried?: { payment: PaymentRecord; order: OrderRecord },
  ): Promise<{ payment: PaymentRecord; order: OrderRecord } | undefined> {
    return this.single(`payment:${paymentId}`, () =>
      this.payments.run(paymentId, opts.poll ?? false, carried),
    );
  }

  driveRefund(refundId: string, opts: DriveOptions = {}): Promise<void> {
    return this.single(`refund:${refundId}`, () => this.refunds.run(refundId, opts.poll ?? false));
  }

  driveWithdrawal(withdrawalId: string, opts: DriveOptions = {}): Promise<void> {
    return this.single(`withdrawal:${withdrawalId}`, () =>
      this.withdrawals.run(withdrawalId, opts.poll ?? false),
    );
  }

  postRelease(orderId: string): Promise<void> {
    return this.single(`release:${orderId}`, () => this.refunds.postRelease(orderId));
  }

  /** Closes a waiting channel payment (superseded by a new Pay); true when it was decided. */
  supersede(payment: PaymentRecord, order: OrderRecord): Promise<boolean> {
    return this.payments.supersede(payment, order);
  }
}

/** Runs `fn` with the flow's context code current, so outgoing calls, logs and spans carry it. */
export function withCode<T>(code: string, fn: () => Promise<T>): Promise<T> {
  return isBizCodeShape(code) ? runWithBizCode(code, fn) : fn();
}
