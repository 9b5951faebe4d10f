/**
 * The cashier's use cases over the CashierStore port. Every mutating RPC
 * claims its request id first (the platform's idempotency primitive), in the
 * transaction that records what it is about to do; money movement is left to
 * the drivers (drivers.ts), which also finish flows after a crash. Handlers
 * (adapters/grpc) stay thin.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { runWithBizCode, type Catalogue } from '@paycore/context';
import { assertRequestId, canonicalRequestHash, peekClaim } from '@paycore/platform';
import {
  merchantEscrow,
  merchantSettlement,
  payerBalance,
  payerStoredValue,
  topUpTarget,
} from '../domain/accounts';
import {
  orderBizCode,
  topUpBizCode,
  withdrawBizCode,
  STORED_VALUE_PRODUCT,
  WALLET_PRODUCT,
} from '../domain/codes';
import { CashierError, invalidField } from '../domain/errors';
import { checkNotifyUrl } from '../domain/notify-url';
import {
  CURRENCY,
  NO_RISK_LIMITS,
  type BizModeName,
  type RiskLimits,
  type TopUpTargetName,
} from '../domain/model';
import { checkRisk } from '../domain/risk';
import type { AccountDirectory } from './accounts';
import type { Drivers } from './drivers';
import { ExceptionDesk } from './exceptions';
import { PaymentStarter, routeOrRefuse, type PayInput } from './pay';
import type { AccountPort, CashierStore, CashierTx, ChannelPort } from './ports';
import { RefundDesk } from './refunds';
import type {
  CouponRecord,
  ExceptionRecord,
  MerchantRecord,
  OrderRecord,
  PaymentRecord,
  RefundRecord,
  WithdrawalRecord,
} from './records';
import {
  ID_PATTERN,
  orderNotFound,
  requireAmount,
  requireId,
  requireSubject,
  UUID_PATTERN,
} from './validate';

const NOTIFY_KEY_PATTERN = /^[\x21-\x7e]{16,128}$/;
const PRODUCT_PATTERN = /^[0-9]{6}$/;
const ORDER_TTL_MAX_MS = 7 * 24 * 3_600_000;
const COUPON_TTL_DEFAULT_MS = 30 * 24 * 3_600_000;
/** The context code accounts are opened under (merchant settlement transfer flow). */
const ACCOUNT_OPENING_CODE = '10050101050000000000';

export interface CashierOptions {
  readonly orderTtlMs: number;
  readonly nowMs: () => number;
  /** Merchant notify_url may name loopback, link-local or private addresses (local development, tests). */
  readonly allowPrivateNotifyUrls: boolean;
}

export interface OrderView {
  readonly order: OrderRecord;
  readonly payments: readonly PaymentRecord[];
  readonly refunds: readonly RefundRecord[];
}

/** Pay refusals the caller gets as its error (also on replay: derived from the stored payment). */
const REFUSED_AT_START: ReadonlySet<string> = new Set([
  'INSUFFICIENT_BALANCE',
  'INSUFFICIENT_STORED_VALUE',
  'ROUTE_NOT_AVAILABLE',
]);

export class Cashier {
  private readonly starter: PaymentStarter;
  readonly refunds: RefundDesk;
  readonly exceptionDesk: ExceptionDesk;

  constructor(
    private readonly store: CashierStore,
    private readonly accounts: AccountDirectory,
    private readonly account: AccountPort,
    private readonly channel: ChannelPort,
    private readonly drivers: Drivers,
    private readonly catalogue: Catalogue,
    logger: Logger,
    private readonly options: CashierOptions,
  ) {
    this.starter = new PaymentStarter(store, channel, catalogue, options.nowMs);
    this.refunds = new RefundDesk(store, drivers);
    this.exceptionDesk = new ExceptionDesk(store, drivers, channel, logger);
  }

  // --------------------------------------------------------------- merchants

  async registerMerchant(input: {
    requestId: string;
    merchantId: string;
    name: string;
    notifyKey: string;
    limits: RiskLimits;
  }): Promise<MerchantRecord> {
    assertRequestId(input.requestId);
    requireId('merchant_id', input.merchantId);
    if (input.name.length < 1 || input.name.length > 128)
      throw invalidField('name', 'must be 1 to 128 characters');
    if (!NOTIFY_KEY_PATTERN.test(input.notifyKey))
      throw invalidField('notify_key', 'must be 16 to 128 printable ASCII characters');
    const l = input.limits;
    requireLimits(l);
    const request = {
      requestId: input.requestId,
      operation: 'cashier.RegisterMerchant',
      payload: {
        merchantId: input.merchantId,
        name: input.name,
        notifyKey: input.notifyKey,
        limits: { ...l },
      },
    };
    // The id is answered before any account is opened or the merchant looked up.
    const peeked = await peekClaim<{ merchantId: string }>(
      this.store,
      'cashier.register-merchant-claim',
      request,
    );
    if (peeked.kind === 'replay') return this.mustMerchant(peeked.response.merchantId);
    // Accounts are opened first (idempotent by their keys); the merchant then commits with its claim.
    const settlementAccountId = await this.accounts.resolve(
      merchantSettlement(input.merchantId),
      ACCOUNT_OPENING_CODE,
    );
    const escrowAccountId = await this.accounts.resolve(
      merchantEscrow(input.merchantId),
      ACCOUNT_OPENING_CODE,
    );
    const merchantId = await this.store.transaction(
      'cashier.register-merchant',
      'READ COMMITTED',
      async (tx) => {
        const claim = await tx.claim<{ merchantId: string }>(request);
        if (claim.kind === 'replay') return claim.response.merchantId;
        const merchant = await tx.merchants.insert({
          merchantId: input.merchantId,
          name: input.name,
          notifyKey: input.notifyKey,
          limits: l,
          settlementAccountId,
          escrowAccountId,
        });
        if (!merchant)
          throw new CashierError('MERCHANT_EXISTS', `merchant ${input.merchantId} exists`, {
            field: 'merchant_id',
          });
        await tx.events.merchantRegistered(merchant);
        await tx.remember(request, { merchantId: merchant.merchantId });
        return merchant.merchantId;
      },
    );
    return this.mustMerchant(merchantId);
  }

  async merchant(
    merchantId: string,
  ): Promise<{ merchant: MerchantRecord; settlementMinor: bigint; escrowMinor: bigint }> {
    const merchant = await this.mustMerchant(merchantId);
    const settlement = await this.account.balance(merchant.settlementAccountId);
    const escrow = await this.account.balance(merchant.escrowAccountId);
    return { merchant, settlementMinor: settlement.totalMinor, escrowMinor: escrow.totalMinor };
  }

  private async mustMerchant(merchantId: string): Promise<MerchantRecord> {
    const merchant = ID_PATTERN.test(merchantId) ? await this.store.merchant(merchantId) : undefined;
    if (!merchant)
      throw new CashierError('MERCHANT_NOT_FOUND', `merchant ${merchantId.slice(0, 64)} not found`, {
        field: 'merchant_id',
      });
    return merchant;
  }

  // ------------------------------------------------------------------ orders

  // eslint-disable-next-line max-lines-per-function -- order creation validates every field of the request in one place
  async createOrder(input: {
    requestId: string;
    merchantId: string;
    merchantOrderNo: string;
    amountMinor: bigint | undefined;
    currency: string | undefined;
    product: string;
    bizMode: BizModeName | undefined;
    subject: string;
    expireAt: Date | undefined;
    notifyUrl: string;
  }): Promise<OrderRecord> {
    assertRequestId(input.requestId);
    requireId('merchant_order_no', input.merchantOrderNo);
    const amountMinor = requireAmount('amount', input.amountMinor, input.currency);
    if (!PRODUCT_PATTERN.test(input.product)) throw invalidField('product', 'must be 6 digits');
    if (input.bizMode === undefined) throw invalidField('biz_mode', 'is required (INSTANT or ESCROW)');
    requireSubject(input.subject);
    const urlRefusal = checkNotifyUrl(input.notifyUrl, this.options.allowPrivateNotifyUrls);
    if (urlRefusal) throw urlRefusal;
    const now = this.options.nowMs();
    const expireAt = input.expireAt ?? new Date(now + this.options.orderTtlMs);
    if (expireAt.getTime() <= now || expireAt.getTime() > now + ORDER_TTL_MAX_MS) {
      throw invalidField('expire_time', 'must be in the future and at most 7 days ahead');
    }
    const payload = {
      merchantId: input.merchantId,
      merchantOrderNo: input.merchantOrderNo,
      amountMinor,
      product: input.product,
      bizMode: input.bizMode,
      subject: input.subject,
      expireAt: input.expireAt,
      notifyUrl: input.notifyUrl,
    };
    const request = { requestId: input.requestId, operation: 'cashier.CreatePaymentOrder', payload };
    const hash = canonicalRequestHash('cashier.CreatePaymentOrder', payload);
    const orderId = randomUUID();
    const orderCode = orderBizCode(input.product, input.bizMode);
    // One transaction: the claim (with its answer, the order id chosen above) is answered before the
    // merchant, its limits or the catalogue are consulted; a refusal after it rolls the claim back.
    return this.store.transaction('cashier.create-order', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claimAnswered<{ orderId: string }>(request, { orderId });
      if (claim.kind === 'replay')
        return (
          (await tx.orders.byId(claim.response.orderId)) ??
          Promise.reject(orderNotFound(claim.response.orderId))
        );
      const merchant = await this.orderMerchant(tx, input, orderCode, amountMinor);
      const order =
        (await tx.orders.insert({
          orderId,
          kind: 'PAYMENT',
          merchantId: merchant.merchantId,
          merchantOrderNo: input.merchantOrderNo,
          payerId: null,
          topUpTarget: null,
          amountMinor,
          currency: CURRENCY,
          product: input.product,
          bizMode: input.bizMode ?? 'INSTANT',
          orderCode,
          subject: input.subject,
          expireAt,
          notifyUrl: input.notifyUrl,
          requestHash: hash,
        })) ?? (await tx.orders.byMerchantNo(merchant.merchantId, input.merchantOrderNo));
      if (!order) throw new Error('order vanished after a conflicting insert');
      if (order.requestHash !== hash) {
        throw new CashierError(
          'ORDER_NO_REUSED',
          `merchant order number ${input.merchantOrderNo} exists with another payload`,
          { field: 'merchant_order_no', metadata: { order_id: order.orderId } },
        );
      }
      // The same order under another request id: that order is this request's answer too.
      if (order.orderId !== orderId) await tx.remember(request, { orderId: order.orderId });
      return order;
    });
  }

  /** The order's merchant, read in the order's transaction; refuses an unknown code or a too-big amount. */
  private async orderMerchant(
    tx: CashierTx,
    input: { merchantId: string; product: string; bizMode: BizModeName | undefined },
    orderCode: string,
    amountMinor: bigint,
  ): Promise<MerchantRecord> {
    const merchant = ID_PATTERN.test(input.merchantId)
      ? await tx.merchants.byId(input.merchantId)
      : undefined;
    if (!merchant)
      throw new CashierError('MERCHANT_NOT_FOUND', `merchant ${input.merchantId.slice(0, 64)} not found`, {
        field: 'merchant_id',
      });
    if (!this.catalogue.isKnown(orderCode)) {
      throw new CashierError(
        'UNKNOWN_BIZ_CODE',
        `product ${input.product} has no ${input.bizMode} pay flow (code ${orderCode})`,
        { field: 'product' },
      );
    }
    const tooBig = checkRisk(
      { ...NO_RISK_LIMITS, perTransactionMaxMinor: merchant.limits.perTransactionMaxMinor },
      { merchantDailyMinor: 0n, payerDailyMinor: 0n, payerPaymentsThisMinute: 0 },
      amountMinor,
    );
    if (tooBig) throw tooBig;
    return merchant;
  }

  async orderView(orderId: string): Promise<OrderView> {
    const order = await this.mustOrder(orderId);
    return {
      order,
      payments: await this.store.paymentsOfOrder(order.orderId),
      refunds: await this.store.refundsOfOrder(order.orderId),
    };
  }

  async orderViewByMerchantNo(merchantId: string, merchantOrderNo: string): Promise<OrderView> {
    const order = await this.store.orderByMerchantNo(merchantId, merchantOrderNo);
    if (!order)
      throw new CashierError(
        'ORDER_NOT_FOUND',
        `order ${merchantOrderNo.slice(0, 64)} of ${merchantId.slice(0, 64)} not found`,
      );
    return this.orderView(order.orderId);
  }

  private async mustOrder(orderId: string): Promise<OrderRecord> {
    const order = UUID_PATTERN.test(orderId) ? await this.store.order(orderId) : undefined;
    if (!order) throw orderNotFound(orderId);
    return order;
  }

  async payMethods(orderId: string, payerId: string) {
    requireId('payer_id', payerId);
    const order = await this.mustOrder(orderId);
    const allowed = this.catalogue.payChannelsFor(order.orderCode);
    const balanceOf = async (ref: ReturnType<typeof payerBalance>): Promise<bigint | undefined> => {
      const id = await this.accounts.find(ref);
      return id === undefined ? undefined : (await this.account.balance(id)).availableMinor;
    };
    const channels = await this.channel.listPayChannels(order.orderCode, order.amountMinor);
    return {
      balanceMinor: allowed.includes('0001') ? await balanceOf(payerBalance(payerId)) : undefined,
      storedValueMinor: allowed.includes('0003') ? await balanceOf(payerStoredValue(payerId)) : undefined,
      coupons: allowed.includes('0002')
        ? await this.store.availableCoupons(payerId, new Date(this.options.nowMs()))
        : [],
      payChannels: channels.filter((c) => !this.catalogue.isInternalPayChannel(c.payChannel)),
    };
  }

  // --------------------------------------------------------------------- pay

  async pay(input: PayInput): Promise<{ order: OrderRecord; payment: PaymentRecord }> {
    assertRequestId(input.requestId);
    requireId('payer_id', input.payerId);
    if (!UUID_PATTERN.test(input.orderId)) throw orderNotFound(input.orderId);
    let started = await this.starter.start(input);
    if (started.kind === 'in-flight') {
      await this.clearInFlight(started.paymentId, started.state);
      started = await this.starter.start(input);
      if (started.kind === 'in-flight') throw inFlightError(started.paymentId, started.state);
    }
    let result: { order: OrderRecord; payment: PaymentRecord } | undefined;
    if (started.kind === 'replay') {
      const payment = await this.store.payment(started.paymentId);
      const order = payment ? await this.store.order(payment.orderId) : undefined;
      if (payment && order) result = { payment, order };
    } else {
      const carried = { payment: started.payment, order: started.order };
      result = await runWithBizCode(started.order.orderCode, () =>
        this.drivers.drivePayment(started.payment.paymentId, {}, carried),
      );
    }
    if (!result) throw new Error('payment or order vanished');
    const p = result.payment;
    if (p.state === 'FAILED' && REFUSED_AT_START.has(p.failureReason)) {
      throw new CashierError(
        p.failureReason === 'INSUFFICIENT_BALANCE' || p.failureReason === 'INSUFFICIENT_STORED_VALUE'
          ? p.failureReason
          : 'ROUTE_NOT_AVAILABLE',
        `payment ${p.paymentId} failed: ${p.failureMessage}`,
        { metadata: { payment_id: p.paymentId } },
      );
    }
    return result;
  }

  /**
   * Anti-duplicate payment: an in-flight channel payment is closed at the
   * channel first (then its reservations are cancelled); if the channel says
   * it was paid, that payment completes and the order is not payable; any
   * other in-flight payment refuses the request with its state.
   */
  private async clearInFlight(paymentId: string, state: string): Promise<void> {
    const inFlight = await this.store.payment(paymentId);
    const order = inFlight ? await this.store.order(inFlight.orderId) : undefined;
    if (!inFlight || !order) return;
    if (
      inFlight.state === 'PROCESSING' &&
      inFlight.parts.some((p) => p.kind === 'CHANNEL' && p.channelTxnId)
    ) {
      if (await this.drivers.supersede(inFlight, order)) return;
      const after = await this.store.payment(paymentId);
      if (after?.state === 'SUCCEEDED')
        throw new CashierError('ORDER_NOT_PAYABLE', `order was paid by payment ${paymentId}`, {
          metadata: { order_state: 'PAID' },
        });
    }
    throw inFlightError(paymentId, state);
  }

  async closeOrder(input: {
    requestId: string;
    orderId: string;
    cause: 'CLOSED_BY_MERCHANT' | 'EXPIRED';
  }): Promise<OrderRecord> {
    assertRequestId(input.requestId);
    // The id is answered before the order is looked up: a reused id is refused as such, even for an unknown order.
    const peeked = await peekClaim<{ orderId: string }>(
      this.store,
      'cashier.close-order-claim',
      closeRequest(input),
    );
    if (peeked.kind === 'replay') return this.mustOrder(peeked.response.orderId);
    const order = await this.mustOrder(input.orderId);
    try {
      return await this.closeOnce(input, order);
    } catch (err) {
      if (!(err instanceof NeedsClear)) throw err;
      await this.clearInFlight(err.inFlight.paymentId, err.inFlight.state);
      return this.closeOnce(input, order);
    }
  }

  /** WAIT_PAY → CLOSED with its event, only when no payment is in flight (NeedsClear rolls the claim back). */
  private closeOnce(
    input: { requestId: string; orderId: string; cause: string },
    order: OrderRecord,
  ): Promise<OrderRecord> {
    const request = closeRequest({ ...input, orderId: order.orderId });
    return this.store.transaction('cashier.close-order', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<{ orderId: string }>(request);
      if (claim.kind === 'replay') return (await tx.orders.byId(order.orderId)) ?? order;
      const locked = await tx.orders.byId(order.orderId, 'FOR UPDATE');
      if (!locked) throw orderNotFound(order.orderId);
      let closed = locked;
      if (locked.state !== 'CLOSED') {
        if (locked.state !== 'WAIT_PAY')
          throw new CashierError('ORDER_NOT_PAYABLE', `order is ${locked.state}`, {
            metadata: { order_state: locked.state },
          });
        const inFlight = await tx.payments.inFlightOf(order.orderId);
        if (inFlight) throw new NeedsClear(inFlight);
        await tx.orders.moveTo(order.orderId, 'CLOSED', { closeCause: input.cause, closedAt: 'now' });
        closed = { ...locked, state: 'CLOSED', closeCause: input.cause };
        if (locked.kind === 'PAYMENT') await tx.events.paymentClosed(closed, input.cause);
      }
      await tx.remember(request, { orderId: order.orderId });
      return closed;
    });
  }

  async confirmReceipt(input: { requestId: string; orderId: string }): Promise<OrderRecord> {
    const order = await this.refunds.confirmReceipt(input);
    await this.drivers.postRelease(order.orderId);
    return (await this.store.order(order.orderId)) ?? order;
  }

  // ----------------------------------------------------------- wallet flows

  async topUp(input: {
    requestId: string;
    payerId: string;
    amountMinor: bigint | undefined;
    currency: string | undefined;
    payChannel: string;
    target: TopUpTargetName | undefined;
  }) {
    assertRequestId(input.requestId);
    requireId('payer_id', input.payerId);
    const amountMinor = requireAmount('amount', input.amountMinor, input.currency);
    if (input.target === undefined) throw invalidField('target', 'is required (BALANCE or STORED_VALUE)');
    const target = input.target;
    const code = topUpBizCode(target);
    const request = {
      requestId: `topup-order:${input.requestId}`.slice(0, 128),
      operation: 'cashier.TopUp',
      payload: { payerId: input.payerId, amountMinor, payChannel: input.payChannel, target },
    };
    // The id is answered before the payer's account is opened.
    const peeked = await peekClaim(this.store, 'cashier.top-up-claim', request);
    if (peeked.kind === 'fresh') await this.accounts.resolve(topUpTarget(input.payerId, target), code);
    const orderId = await this.store.transaction('cashier.top-up', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<{ orderId: string }>(request);
      if (claim.kind === 'replay') return claim.response.orderId;
      const order = await tx.orders.insert({
        orderId: randomUUID(),
        kind: 'TOP_UP',
        merchantId: null,
        merchantOrderNo: null,
        payerId: input.payerId,
        topUpTarget: target,
        amountMinor,
        currency: CURRENCY,
        product: target === 'BALANCE' ? WALLET_PRODUCT : STORED_VALUE_PRODUCT,
        bizMode: 'INSTANT',
        orderCode: code,
        subject: target === 'BALANCE' ? 'balance top-up' : 'stored value top-up',
        expireAt: new Date(this.options.nowMs() + this.options.orderTtlMs),
        notifyUrl: '',
        requestHash: canonicalRequestHash('cashier.TopUp', request.payload),
      });
      if (!order) throw new Error('top-up order was not inserted');
      await tx.remember(request, { orderId: order.orderId });
      return order.orderId;
    });
    return this.pay({
      requestId: input.requestId,
      orderId,
      payerId: input.payerId,
      parts: [{ kind: 'CHANNEL', amountMinor, payChannel: input.payChannel }],
    });
  }

  async withdraw(input: {
    requestId: string;
    payerId: string;
    amountMinor: bigint | undefined;
    currency: string | undefined;
    accountNo: string;
    accountName: string;
    bankCode: string;
  }): Promise<WithdrawalRecord> {
    assertRequestId(input.requestId);
    requireId('payer_id', input.payerId);
    const amountMinor = requireAmount('amount', input.amountMinor, input.currency);
    if (!/^[0-9]{8,32}$/.test(input.accountNo)) throw invalidField('account_no', 'must be 8 to 32 digits');
    if (input.accountName.length < 1 || input.accountName.length > 64)
      throw invalidField('account_name', 'must be 1 to 64 characters');
    if (!/^[A-Z0-9]{2,16}$/.test(input.bankCode))
      throw invalidField('bank_code', 'must be 2 to 16 of [A-Z0-9]');
    const payload = {
      payerId: input.payerId,
      amountMinor,
      accountNo: input.accountNo,
      accountName: input.accountName,
      bankCode: input.bankCode,
    };
    const request = { requestId: input.requestId, operation: 'cashier.Withdraw', payload };
    // The id is answered before the payer's balance or a route is looked up.
    const peeked = await peekClaim<{ withdrawalId: string }>(this.store, 'cashier.withdraw-claim', request);
    if (peeked.kind === 'replay') {
      await this.drivers.driveWithdrawal(peeked.response.withdrawalId);
      return this.withdrawalById(peeked.response.withdrawalId);
    }
    const balanceId = await this.accounts.find(payerBalance(input.payerId));
    if (balanceId === undefined)
      throw new CashierError('PAYER_NOT_FOUND', `payer ${input.payerId} has no balance`, {
        field: 'payer_id',
      });
    const route = await routeOrRefuse(this.channel, withdrawBizCode(), amountMinor, input.payerId, '4001');
    const withdrawalId = await this.store.transaction('cashier.withdraw', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<{ withdrawalId: string }>(request);
      if (claim.kind === 'replay') return claim.response.withdrawalId;
      const w = await tx.withdrawals.insert({
        withdrawalId: randomUUID(),
        requestId: input.requestId,
        requestHash: canonicalRequestHash(request.operation, payload),
        payerId: input.payerId,
        amountMinor,
        currency: CURRENCY,
        accountNo: input.accountNo,
        accountName: input.accountName,
        bankCode: input.bankCode,
        channelNo: route.channelNo,
        bizCode: route.bizCode,
      });
      await tx.remember(request, { withdrawalId: w.withdrawalId });
      return w.withdrawalId;
    });
    await this.drivers.driveWithdrawal(withdrawalId);
    return this.withdrawalById(withdrawalId);
  }

  async withdrawalById(withdrawalId: string): Promise<WithdrawalRecord> {
    const w = UUID_PATTERN.test(withdrawalId) ? await this.store.withdrawal(withdrawalId) : undefined;
    if (!w)
      throw new CashierError('WITHDRAWAL_NOT_FOUND', `withdrawal ${withdrawalId.slice(0, 64)} not found`, {
        field: 'withdrawal_id',
      });
    return w;
  }

  async issueCoupon(input: {
    requestId: string;
    payerId: string;
    amountMinor: bigint | undefined;
    currency: string | undefined;
    expireAt: Date | undefined;
  }): Promise<CouponRecord> {
    assertRequestId(input.requestId);
    requireId('payer_id', input.payerId);
    const amountMinor = requireAmount('amount', input.amountMinor, input.currency);
    const expireAt = input.expireAt ?? new Date(this.options.nowMs() + COUPON_TTL_DEFAULT_MS);
    if (expireAt.getTime() <= this.options.nowMs())
      throw invalidField('expire_time', 'must be in the future');
    const payload = { payerId: input.payerId, amountMinor, expireAt: input.expireAt };
    const request = { requestId: input.requestId, operation: 'cashier.IssueCoupon', payload };
    return this.store.transaction('cashier.issue-coupon', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<{ couponId: string }>(request);
      if (claim.kind === 'replay')
        return (
          (await tx.coupons.byId(claim.response.couponId)) ?? Promise.reject(new Error('coupon vanished'))
        );
      const coupon = await tx.coupons.insert({
        couponId: randomUUID(),
        requestId: input.requestId,
        requestHash: canonicalRequestHash(request.operation, payload),
        payerId: input.payerId,
        amountMinor,
        currency: CURRENCY,
        expireAt,
      });
      await tx.remember(request, { couponId: coupon.couponId });
      return coupon;
    });
  }

  listExceptions(includeResolved: boolean, pageSize: number): Promise<ExceptionRecord[]> {
    return this.exceptionDesk.list(includeResolved, pageSize);
  }
}

class NeedsClear extends Error {
  constructor(readonly inFlight: { paymentId: string; state: string }) {
    super('in flight');
  }
}

function inFlightError(paymentId: string, state: string): CashierError {
  return new CashierError('PAYMENT_IN_FLIGHT', `payment ${paymentId} of the order is ${state}`, {
    metadata: { payment_id: paymentId, payment_state: state },
  });
}

/** The idempotent request of ClosePaymentOrder, from the request's own fields. */
function closeRequest(input: { requestId: string; orderId: string; cause: string }) {
  return {
    requestId: input.requestId,
    operation: 'cashier.ClosePaymentOrder',
    payload: { orderId: input.orderId, cause: input.cause },
  };
}

function requireLimits(l: RiskLimits): void {
  if (
    l.perTransactionMaxMinor < 0n ||
    l.merchantDailyMaxMinor < 0n ||
    l.payerDailyMaxMinor < 0n ||
    l.payerPaymentsPerMinuteMax < 0
  ) {
    throw invalidField('risk_limits', 'limits are 0 (none) or positive');
  }
}
