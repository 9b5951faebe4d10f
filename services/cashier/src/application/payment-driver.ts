/**
 * A payment from TRYING to SUCCEEDED or FAILED (see drivers.ts for the rules
 * every driver keeps). Request ids and payloads come from the payment's
 * stored fields: `try:<payment>:<part>` with a timeout derived from the
 * order's expiry and the payment's creation, `pay:<payment>`,
 * `close:<payment>:<stored attempt number>`, `post:<payment>:<part>`.
 * A stored-value part that spends lots is held, consumed and released in
 * account's StoredValueService under consumption id `<payment>:<part>`
 * (docs/adr/0035), at the same steps as a balance part's reservation.
 */
import {
  partSource,
  merchantEscrow,
  merchantSettlement,
  topUpTarget,
  type AccountRef,
} from '../domain/accounts';
import { decideFromChannel } from '../domain/states';
import type { PartStateName } from '../domain/model';
import { completePayment, failPayment, orderCodeAfter } from './outcomes';
import {
  DependencyRefusal,
  type CashierTx,
  type ChannelTxn,
  type Leg,
  type LotSpend,
  type StoredValuePort,
} from './ports';
import type { OrderRecord, PartRecord, PaymentRecord } from './records';
import { withCode, type DriverDeps } from './drivers';

/** Steps of one drive; every flow is final in at most 5, the rest is headroom. */
const DRIVE_STEPS_MAX = 12;
const MIN_TRY_TIMEOUT_MS = 60_000;
const TRY_TIMEOUT_MAX_MS = 7 * 24 * 3_600_000;
/** Failure reason of a payment whose channel part recovery closes because no caller holds its pay URL. */
const ABANDONED = 'ABANDONED';

type Flow = { payment: PaymentRecord; order: OrderRecord };
/** The flow after a step; 'WAIT' (unchanged) or `waiting` (changed) when it must wait for the channel or a person. */
type Step = Flow | 'WAIT' | { readonly waiting: Flow } | undefined;

export class PaymentDriver {
  constructor(private readonly deps: DriverDeps) {}

  async run(paymentId: string, pollFirst: boolean, carried?: Flow): Promise<Flow | undefined> {
    let flow = carried ?? (await this.load(paymentId));
    let poll = pollFirst;
    for (let step = 0; step < DRIVE_STEPS_MAX && flow; step++) {
      const { payment } = flow;
      if (payment.state === 'SUCCEEDED' || payment.state === 'FAILED') return flow;
      const pollNow = poll;
      poll = false;
      // One line per step: with the trace id and context code the logger adds, an SRE follows a payment here.
      this.deps.logger.info(
        { payment_id: paymentId, order_id: payment.orderId, payment_state: payment.state },
        'payment step',
      );
      const current: Flow = flow;
      const next = await withCode(orderCodeAfter(payment), () => this.guarded(current, pollNow));
      if (next === 'WAIT') return flow;
      if (next !== undefined && 'waiting' in next) return next.waiting;
      flow = next;
    }
    if (flow)
      this.deps.logger.error({ payment_id: paymentId }, 'payment drive did not settle within its step bound');
    return flow;
  }

  private async load(paymentId: string): Promise<Flow | undefined> {
    const payment = await this.deps.store.payment(paymentId);
    if (!payment) return undefined;
    const order = await this.deps.store.order(payment.orderId);
    if (!order) throw new Error(`order of payment ${paymentId} vanished`);
    return { payment, order };
  }

  /** One step; a refusal that decides nothing opens an exception instead of being retried in silence. */
  private async guarded(flow: Flow, poll: boolean): Promise<Step> {
    try {
      return await this.step(flow, poll);
    } catch (err) {
      if (!(err instanceof DependencyRefusal)) throw err;
      await this.openException(
        flow.payment,
        `${flow.payment.state}: ${err.service} refused: ${err.reason} ${err.message}`,
      );
      return 'WAIT';
    }
  }

  private step(flow: Flow, poll: boolean): Promise<Step> {
    switch (flow.payment.state) {
      case 'TRYING':
        return this.tryParts(flow);
      case 'PROCESSING':
        return this.advanceChannel(flow, poll);
      case 'CONFIRMING':
        return this.confirmParts(flow);
      case 'CANCELLING':
        return this.cancelParts(flow);
      default:
        return Promise.resolve('WAIT');
    }
  }

  async openException(payment: PaymentRecord, detail: string): Promise<void> {
    const opened = await this.deps.store.transaction(
      'cashier.payment-exception',
      'READ COMMITTED',
      async (tx) => {
        await tx.payments.touch(payment.paymentId);
        return tx.exceptions.open({
          flowKind: 'PAYMENT',
          flowId: payment.paymentId,
          bizCode: orderCodeAfter(payment),
          detail,
        });
      },
    );
    this.deps.logger.error(
      { payment_id: payment.paymentId, opened, detail },
      'payment needs a person: exception',
    );
  }

  private beneficiary(order: OrderRecord, payment: PaymentRecord): AccountRef {
    if (order.kind === 'TOP_UP')
      return topUpTarget(order.payerId ?? payment.payerId, order.topUpTarget ?? 'BALANCE');
    if (order.merchantId === null) throw new Error(`payment order ${order.orderId} has no merchant`);
    return order.bizMode === 'ESCROW'
      ? merchantEscrow(order.merchantId)
      : merchantSettlement(order.merchantId);
  }

  private async legs({ order, payment }: Flow, part: PartRecord): Promise<Leg[]> {
    const source = await this.deps.accounts.resolve(
      partSource(part.kind, payment.payerId, part.channelNo ?? undefined),
      part.bizCode,
    );
    const target = await this.deps.accounts.resolve(this.beneficiary(order, payment), part.bizCode);
    return [
      { accountId: source, side: 'DEBIT', amountMinor: part.amountMinor },
      { accountId: target, side: 'CREDIT', amountMinor: part.amountMinor },
    ];
  }

  private lots(): StoredValuePort {
    if (!this.deps.storedValue)
      throw new Error('a stored-value part spends lots but no StoredValuePort is wired');
    return this.deps.storedValue;
  }

  private spend({ payment }: Flow, part: PartRecord): LotSpend | undefined {
    const sv = part.storedValue;
    return sv ? { ownerId: payment.payerId, ...sv } : undefined;
  }

  /** Reserves an internal part: a held consumption of lots, or a two-phase transfer. */
  private async reserve(flow: Flow, part: PartRecord): Promise<void> {
    const spend = this.spend(flow, part);
    if (spend) {
      await this.lots().tryConsume(
        pendingIdOf(flow.payment, part),
        part.bizCode,
        spend,
        this.tryTimeoutMs(flow),
      );
      return;
    }
    await this.deps.account.tryTransfer(
      pendingIdOf(flow.payment, part),
      part.bizCode,
      await this.legs(flow, part),
      this.tryTimeoutMs(flow),
    );
  }

  /** From stored fields only: a replayed try carries the same timeout. */
  private tryTimeoutMs({ order, payment }: Flow): number {
    const untilExpiry = order.expireAt.getTime() - payment.createdAt.getTime();
    return Math.min(
      TRY_TIMEOUT_MAX_MS,
      Math.max(MIN_TRY_TIMEOUT_MS, untilExpiry + this.deps.options.tryMarginMs),
    );
  }

  /** Moves the payment and the listed parts in one transaction; the flow as it now is. */
  private async record(
    flow: Flow,
    change: (tx: CashierTx) => Promise<boolean>,
    parts: readonly { partNo: number; to: PartStateName }[],
    name: string,
  ): Promise<Flow | undefined> {
    const moved = await this.deps.store.transaction(`cashier.${name}`, 'READ COMMITTED', async (tx) => {
      for (const p of parts) await tx.payments.movePart(flow.payment.paymentId, p.partNo, p.to);
      return change(tx);
    });
    if (!moved) return this.load(flow.payment.paymentId); // another driver moved it first
    const states = new Map(parts.map((p) => [p.partNo, p.to]));
    return {
      order: flow.order,
      payment: {
        ...flow.payment,
        parts: flow.payment.parts.map((p) => ({ ...p, state: states.get(p.partNo) ?? p.state })),
      },
    };
  }

  private async moveTo(
    flow: Flow,
    to: PaymentRecord['state'],
    parts: readonly { partNo: number; to: PartStateName }[],
    failure?: { reason: string; message: string },
  ): Promise<Flow | undefined> {
    const next = await this.record(
      flow,
      async (tx) =>
        (
          await tx.payments.moveTo(flow.payment.paymentId, to, {
            ...(failure ? { failureReason: failure.reason, failureMessage: failure.message } : {}),
          })
        ).changed,
      parts,
      `payment-${to.toLowerCase()}`,
    );
    if (!next || next.payment.state !== flow.payment.state) return next;
    return {
      ...next,
      payment: {
        ...next.payment,
        state: to,
        ...(failure ? { failureReason: failure.reason, failureMessage: failure.message.slice(0, 512) } : {}),
      },
    };
  }

  private async tryParts(flow: Flow): Promise<Step> {
    const tried: { partNo: number; to: PartStateName }[] = [];
    for (const part of flow.payment.parts) {
      if (part.kind === 'CHANNEL' || part.state !== 'PLANNED') continue;
      try {
        await this.reserve(flow, part);
      } catch (err) {
        if (!(err instanceof DependencyRefusal)) throw err;
        // The reservation was refused (insufficient balance or stored value, frozen, try after cancel): nothing of this part moved.
        return this.moveTo(flow, 'CANCELLING', tried, { reason: err.reason, message: err.message });
      }
      tried.push({ partNo: part.partNo, to: 'TRIED' });
    }
    const hasChannel = flow.payment.parts.some((p) => p.kind === 'CHANNEL');
    if (hasChannel) return this.moveTo(flow, 'PROCESSING', tried);
    // Without a channel part nothing but these tries decides the payment, so the confirms follow at
    // once and CONFIRMING is recorded in the transaction that records SUCCEEDED (docs/adr/0062). A
    // crash before it leaves the payment TRYING: the next driver replays the tries and the confirms.
    const triedNow = new Set(tried.map((t) => t.partNo));
    return this.confirmParts({
      ...flow,
      payment: {
        ...flow.payment,
        parts: flow.payment.parts.map((p) => (triedNow.has(p.partNo) ? { ...p, state: 'TRIED' } : p)),
      },
    });
  }

  /** Applies a channel state to a waiting payment; undefined when it has to wait. */
  private async decide(flow: Flow, txn: ChannelTxn): Promise<Flow | undefined> {
    const decision = decideFromChannel(txn.state);
    if (decision === 'WAIT') return undefined;
    if (decision === 'CONFIRM') return this.moveTo(flow, 'CONFIRMING', []);
    return this.moveTo(flow, 'CANCELLING', [], {
      reason: txn.state === 'CLOSED' ? 'CHANNEL_CLOSED' : 'CHANNEL_DECLINED',
      message: `${txn.failureCode} ${txn.failureMessage}`.trim(),
    });
  }

  private async createAtChannel(flow: Flow, part: PartRecord): Promise<Flow | undefined> {
    let txn: ChannelTxn;
    try {
      txn = await this.deps.channel.createPayment(
        `pay:${flow.payment.paymentId}`,
        part.bizCode,
        part.amountMinor,
        flow.order.subject,
      );
    } catch (err) {
      if (!(err instanceof DependencyRefusal)) throw err;
      // A definite refusal (no usable credentials, route gone): the payment fails with that reason.
      return this.moveTo(flow, 'CANCELLING', [], {
        reason: 'ROUTE_NOT_AVAILABLE',
        message: `${err.reason}: ${err.message}`,
      });
    }
    await this.deps.store.transaction('cashier.channel-txn', 'READ COMMITTED', (tx) =>
      tx.payments.recordChannelTxn(flow.payment.paymentId, part.partNo, txn.txnId, txn.payUrl),
    );
    const recorded: Flow = {
      ...flow,
      payment: {
        ...flow.payment,
        payUrl: txn.payUrl,
        parts: flow.payment.parts.map((p) =>
          p.partNo === part.partNo ? { ...p, channelTxnId: txn.txnId } : p,
        ),
      },
    };
    return (await this.decide(recorded, txn)) ?? recorded;
  }

  private async advanceChannel(flow: Flow, poll: boolean): Promise<Step> {
    const part = flow.payment.parts.find((p) => p.kind === 'CHANNEL');
    if (!part) throw new Error(`payment ${flow.payment.paymentId} is PROCESSING without a channel part`);
    if (part.channelTxnId === null) {
      const created = await this.createAtChannel(flow, part);
      if (created === undefined) return 'WAIT';
      if (created.payment.state !== 'PROCESSING') return created;
      if (!poll) return { waiting: created };
      // Recovery replayed a create whose caller never saw the answer: nobody holds the pay URL, so close it.
      // The intent is recorded first, so later passes close again rather than wait for the order's expiry.
      await this.deps.store.transaction('cashier.abandon', 'READ COMMITTED', (tx) =>
        tx.payments.markAbandoned(flow.payment.paymentId),
      );
      const abandoned = { ...created, payment: { ...created.payment, failureReason: ABANDONED } };
      return (await this.closeAtChannel(abandoned, ABANDONED)) ?? { waiting: abandoned };
    }
    if (!poll) return 'WAIT';
    const decided = await this.decide(flow, await this.deps.channel.query(part.channelTxnId));
    if (decided) return decided;
    return (await this.timeouts(flow)) ?? 'WAIT';
  }

  private async timeouts(flow: Flow): Promise<Flow | undefined> {
    const nowMs = this.deps.options.nowMs();
    if (flow.payment.failureReason === ABANDONED) return this.closeAtChannel(flow, ABANDONED);
    if (flow.order.expireAt.getTime() <= nowMs) return this.closeAtChannel(flow, 'ORDER_EXPIRED');
    if (nowMs - flow.payment.createdAt.getTime() > this.deps.options.exceptionWindowMs) {
      await this.openException(
        flow.payment,
        'the channel payment is still not final past the exception window',
      );
      return undefined;
    }
    await this.deps.store.transaction('cashier.touch', 'READ COMMITTED', (tx) =>
      tx.payments.touch(flow.payment.paymentId),
    );
    return undefined;
  }

  /** Closes the channel part; the outcome decides the payment (paid after all → CONFIRMING). Undefined: not yet. */
  async closeAtChannel(flow: Flow, reason: string): Promise<Flow | undefined> {
    const part = flow.payment.parts.find((p) => p.kind === 'CHANNEL');
    if (!part?.channelTxnId) return undefined;
    // A close that did not take must be asked again: a new request id per attempt, counted in the payment.
    const attempt = await this.deps.store.transaction('cashier.close-attempt', 'READ COMMITTED', (tx) =>
      tx.payments.nextCloseAttempt(flow.payment.paymentId),
    );
    const closed = await this.deps.channel.close(
      `close:${flow.payment.paymentId}:${attempt}`,
      part.channelTxnId,
    );
    if (closed === 'ALREADY_PAID' || closed.state === 'SUCCESS') return this.moveTo(flow, 'CONFIRMING', []);
    if (closed.state === 'CLOSED' || closed.state === 'FAIL') {
      return this.moveTo(flow, 'CANCELLING', [], {
        reason,
        message: `channel payment ${part.channelTxnId} ${closed.state}`,
      });
    }
    return undefined;
  }

  /** Closes an in-flight channel payment superseded by a new Pay and drives it; true when it ended. */
  async supersede(payment: PaymentRecord, order: OrderRecord): Promise<boolean> {
    const closed = await this.closeAtChannel({ payment, order }, 'SUPERSEDED');
    if (!closed) return false;
    const end = await this.run(payment.paymentId, false, closed);
    return end?.payment.state === 'FAILED';
  }

  /**
   * Confirms every reservation and posts the channel part. A confirm the
   * account refuses (the try expired while the channel was slow) is replaced
   * by a direct transfer of the same legs; if that is refused too (a frozen
   * or closed account), the payment goes to an OPEN exception.
   */
  private async confirmParts(flow: Flow): Promise<Step> {
    const confirmed: { partNo: number; to: PartStateName }[] = [];
    for (const part of flow.payment.parts) {
      if (part.state === 'CONFIRMED') continue;
      if (part.kind === 'CHANNEL') {
        await this.post(flow, part, 'channel part');
      } else {
        // Decided by an operator before the try ran: reserve, then confirm.
        if (part.state === 'PLANNED') await this.reserve(flow, part);
        if (part.storedValue) {
          // A refused confirm (the hold expired while the channel was slow) is not re-consumed
          // under another id: the refusal opens an exception for an operator (docs/adr/0035).
          await this.lots().confirmConsume(pendingIdOf(flow.payment, part), part.bizCode);
          confirmed.push({ partNo: part.partNo, to: 'CONFIRMED' });
          continue;
        }
        try {
          await this.deps.account.confirmTransfer(pendingIdOf(flow.payment, part), part.bizCode);
        } catch (err) {
          if (!(err instanceof DependencyRefusal)) throw err;
          await this.post(flow, part, `part ${part.partNo} after its confirm was refused (${err.reason})`);
        }
      }
      confirmed.push({ partNo: part.partNo, to: 'CONFIRMED' });
    }
    let paid: Flow | undefined;
    const done = await this.record(
      flow,
      async (tx) => {
        paid = undefined; // a retried transaction starts again
        if (flow.payment.state === 'TRYING') {
          // Straight from the tries (tryParts): the decision is recorded here, just before the outcome.
          const decided = await tx.payments.moveTo(flow.payment.paymentId, 'CONFIRMING');
          if (!decided.changed) return false;
        }
        paid = await completePayment(tx, flow.payment, flow.order, notificationBody);
        return paid !== undefined;
      },
      confirmed,
      'payment-succeeded',
    );
    if (!done || done.payment.state !== flow.payment.state || !paid) return done;
    return {
      order: paid.order,
      payment: { ...done.payment, state: 'SUCCEEDED', finishedAt: paid.payment.finishedAt },
    };
  }

  private async post(flow: Flow, part: PartRecord, memo: string): Promise<void> {
    await this.deps.account.transfer(
      `post:${flow.payment.paymentId}:${part.partNo}`,
      part.bizCode,
      await this.legs(flow, part),
      `payment ${flow.payment.paymentId} ${memo}`,
    );
  }

  private async cancelParts(flow: Flow): Promise<Flow | undefined> {
    const cancelled: { partNo: number; to: PartStateName }[] = [];
    for (const part of flow.payment.parts) {
      if (part.state === 'CANCELLED') continue;
      if (part.state === 'CONFIRMED' && part.storedValue) {
        // An operator's FAILED after the units were consumed: every unit goes back to its lots.
        await this.lots().refundConsumption(
          `reverse:${flow.payment.paymentId}:${part.partNo}`,
          part.bizCode,
          pendingIdOf(flow.payment, part),
          part.storedValue.quantity,
        );
      } else if (part.state === 'CONFIRMED') {
        // An operator's FAILED on a payment whose internal parts were confirmed: give them back.
        const [debit, credit] = await this.legs(flow, part);
        if (!debit || !credit) throw new Error('a part has two legs');
        await this.deps.account.transfer(
          `reverse:${flow.payment.paymentId}:${part.partNo}`,
          part.bizCode,
          [
            { ...credit, side: 'DEBIT' },
            { ...debit, side: 'CREDIT' },
          ],
          `payment ${flow.payment.paymentId} reversed`,
        );
      } else if (part.storedValue) {
        // As below: a cancel of a consumption never tried is an empty rollback, a late try is refused.
        await this.lots().cancelConsume(pendingIdOf(flow.payment, part), part.bizCode);
      } else if (part.kind !== 'CHANNEL') {
        // A cancel of a part never tried is an empty rollback: a late try is then refused by account.
        await this.deps.account.cancelTransfer(pendingIdOf(flow.payment, part), part.bizCode);
      }
      cancelled.push({ partNo: part.partNo, to: 'CANCELLED' });
    }
    if (flow.payment.failureReason === 'RESOLVED_FAILED') {
      // An operator decided the money did not move: make sure the channel agrees before releasing.
      await this.closeAtChannel(flow, 'RESOLVED_FAILED').catch(() => undefined);
    }
    const done = await this.record(flow, (tx) => failPayment(tx, flow.payment), cancelled, 'payment-failed');
    if (!done || done.payment.state !== 'CANCELLING') return done;
    return { ...done, payment: { ...done.payment, state: 'FAILED' } };
  }
}

export function pendingIdOf(payment: PaymentRecord, part: PartRecord): string {
  return `${payment.paymentId}:${part.partNo}`;
}

/** The merchant notification body (JSON, amounts as decimal strings of minor units). */
export function notificationBody(order: OrderRecord, payment: PaymentRecord): string {
  return JSON.stringify({
    event: 'payment_succeeded',
    order_id: order.orderId,
    merchant_id: order.merchantId,
    merchant_order_no: order.merchantOrderNo,
    payment_id: payment.paymentId,
    amount_minor: order.amountMinor.toString(),
    currency: order.currency,
    state: 'PAID',
    biz_code: order.bizCode,
    paid_at: (order.paidAt ?? new Date()).toISOString(),
  });
}
